#!/usr/bin/python3
"""The page `spotlight serve` answers GET / with, in a real browser: Debian's chromium, headless,
driven over the DevTools protocol (python3-websocket). A user types a sentence, presses the
Translate button; the translation, the n-best list and the attention maps must appear, with no
script error; Ctrl+Enter translates again from the keyboard; at a phone's width (390 px) nothing
is wider than the screen. Optionally saves a screenshot.

Usage: page_test.py URL EXPECTED_TRANSLATION [--screenshot FILE.png [--screenshot-text TEXT]]
Exit 0 when every check holds, 1 naming the checks that failed, 77 when chromium or
python3-websocket is missing (the caller reports the test as skipped)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

try:
    import websocket  # python3-websocket
except ImportError:
    print("SKIPPED: python3-websocket is not installed (scripts/install_deps.sh installs it)")
    sys.exit(77)

TIMEOUT = 60.0


class Browser:
    def __init__(self):
        exe = shutil.which("chromium") or shutil.which("chromium-browser")
        if exe is None:
            print("SKIPPED: chromium is not installed (scripts/install_deps.sh installs it)")
            sys.exit(77)
        self.profile = tempfile.mkdtemp(prefix="spotlight_chromium_")
        self.proc = subprocess.Popen(
            [exe, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-extensions", "--disable-background-networking", "--remote-debugging-port=0",
             "--user-data-dir=" + self.profile, "--window-size=900,1400", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.time() + TIMEOUT
        while not (os.path.exists(port_file) and open(port_file).read().count("\n") >= 1):
            if time.time() > deadline or self.proc.poll() is not None:
                raise RuntimeError("chromium did not start")
            time.sleep(0.05)
        port = open(port_file).read().split("\n")[0]
        targets = json.load(urllib.request.urlopen("http://127.0.0.1:%s/json/list" % port))
        page = [t for t in targets if t["type"] == "page"][0]
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=TIMEOUT,
                                              suppress_origin=True)
        self.next_id = 0
        self.events = []

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(method + ": " + json.dumps(msg["error"]))
                return msg.get("result", {})
            self.events.append(msg)

    def js(self, expression):
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                      awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError("script failed: " + expression)
        return r["result"].get("value")

    def wait_for(self, expression, what):
        deadline = time.time() + TIMEOUT
        while time.time() < deadline:
            if self.js(expression):
                return True
            time.sleep(0.05)
        raise RuntimeError("timed out waiting for " + what)

    def key(self, key, code, vk, modifiers=0, text=None):
        for kind in ("keyDown", "keyUp"):
            params = dict(type=kind, key=key, code=code, windowsVirtualKeyCode=vk,
                          modifiers=modifiers)
            if text is not None and kind == "keyDown":
                params["text"] = text
            self.call("Input.dispatchKeyEvent", **params)

    def click(self, selector):
        box = self.js("(() => { const r = document.querySelector(%s).getBoundingClientRect();"
                      " return [r.x + r.width / 2, r.y + r.height / 2]; })()" % json.dumps(selector))
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left",
                      clickCount=1)

    def close(self):
        try:
            self.ws.close()
        finally:
            self.proc.kill()
            self.proc.wait()
            shutil.rmtree(self.profile, ignore_errors=True)


def main():
    args = sys.argv[1:]
    shot, shot_text = None, "the dog runs"
    for flag in ("--screenshot", "--screenshot-text"):
        if flag in args:
            i = args.index(flag)
            if flag == "--screenshot":
                shot = args[i + 1]
            else:
                shot_text = args[i + 1]
            del args[i:i + 2]
    if len(args) != 2:
        print(__doc__)
        return 2
    url, expected = args
    failures = []

    def check(ok, what):
        print(("ok    " if ok else "FAIL  ") + what)
        if not ok:
            failures.append(what)

    b = Browser()
    try:
        b.call("Page.enable")
        b.call("Runtime.enable")
        b.call("Page.navigate", url=url)
        b.wait_for("document.readyState === 'complete' && !!document.getElementById('go')",
                   "the page to load")
        b.wait_for("document.getElementById('pair').textContent.length > 0",
                   "the language pair (the page asks /languages)")
        check(b.js("document.getElementById('pair').textContent") == "(en \u2192 fr)",
              "the page names the language pair it asked /languages for")
        # Type a sentence (as key input into the focused text box) and press the button.
        b.js("document.getElementById('text').focus()")
        check(b.js("document.activeElement.id") == "text", "the text box has the focus on load")
        b.call("Input.insertText", text="the dog runs")
        b.click("#go")
        b.wait_for("document.querySelectorAll('#view table.hm').length > 0",
                   "the attention maps after pressing Translate")
        got = b.js("document.getElementById('translation').textContent")
        check(got == expected, "the translation is shown: %r (translate gives %r)" % (got, expected))
        n = b.js("Array.from(document.querySelectorAll('#alternatives li'))"
                 ".filter((li) => li.offsetHeight > 0).length")
        check(n >= 2, "the n-best list is shown (%d entries)" % n)
        maps = b.js("document.querySelectorAll('#view .maps')[0].querySelectorAll('table.hm').length")
        check(maps >= 2, "every head's cross-attention map is drawn (%d maps)" % maps)
        check(b.js("document.querySelectorAll('#view td.al').length") > 0,
              "the word alignment is outlined")
        # Every attention kind draws: switch the selector to each.
        for kind in ("encoder", "decoder", "cross"):
            b.js("(() => { const s = document.querySelector('#view select');"
                 " s.value = %s; s.dispatchEvent(new Event('change')); })()" % json.dumps(kind))
            cap = b.js("document.querySelector('#view .maps caption').textContent")
            check(kind in cap or (kind == "cross" and "cross-attention" in cap),
                  "the %s maps draw (%r)" % (kind, cap))
        # From the keyboard alone: new text, then Ctrl+Enter.
        b.js("(() => { const t = document.getElementById('text'); t.value = ''; t.focus(); })()")
        b.call("Input.insertText", text="a cat")
        b.js("document.getElementById('translation').textContent = ''")
        b.key("Enter", "Enter", 13, modifiers=2, text="\r")
        b.wait_for("document.getElementById('translation').textContent.length > 1 &&"
                   " document.getElementById('translation').textContent !== '\\u2026'",
                   "a translation after Ctrl+Enter")
        check(True, "Ctrl+Enter translates from the keyboard")
        # Tab reaches the button and the options.
        order = []
        for _ in range(4):
            b.key("Tab", "Tab", 9)
            order.append(b.js("document.activeElement.id"))
        check(order[:3] == ["go", "beam", "nbest"], "Tab moves text box → button → options (%s)" % order)
        errors = [e for e in b.events if e.get("method") == "Runtime.exceptionThrown" or
                  (e.get("method") == "Runtime.consoleAPICalled" and
                   e["params"].get("type") == "error")]
        check(not errors, "no script error (%d)" % len(errors))
        if shot:
            b.js("(() => { document.getElementById('text').value = %s;"
                 " document.getElementById('translation').textContent = ''; })()"
                 % json.dumps(shot_text))
            b.click("#go")
            b.wait_for("document.getElementById('translation').textContent.length > 1 &&"
                       " document.getElementById('translation').textContent !== '\\u2026'",
                       "the screenshot's translation")
            b.js("document.activeElement.blur()")
            png = b.call("Page.captureScreenshot", format="png", captureBeyondViewport=False)
            import base64
            with open(shot, "wb") as f:
                f.write(base64.b64decode(png["data"]))
        # A phone's width: nothing wider than the screen (the maps scroll inside their box).
        b.call("Emulation.setDeviceMetricsOverride", width=390, height=844, deviceScaleFactor=2,
               mobile=True)
        b.js("new Promise((r) => setTimeout(r, 200))")
        width = b.js("document.documentElement.scrollWidth")
        screen = b.js("window.innerWidth")  # the layout viewport: 390 px, give or take a scrollbar
        wide = b.js("Array.from(document.querySelectorAll('body *')).filter((e) =>"
                    " e.getBoundingClientRect().right > 390 && !e.closest('.maps'))"
                    ".slice(0, 3).map((e) => e.tagName + '#' + e.id + '.' + e.className)")
        check(width <= screen and not wide,
              "at 390 px wide the page is %d px wide in a %d px viewport %s" % (width, screen, wide))
    finally:
        b.close()
    if failures:
        print("%d check(s) failed" % len(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

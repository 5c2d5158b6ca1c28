#!/usr/bin/python3
"""Load client for scripts/bench_serve.sh (standard library only, loopback only).

  serve_load.py load URL SRC --clients C [--max-requests N]
      C clients, each sending one sentence at a time (LibreTranslate's POST /translate, JSON,
      keep-alive connections) until the sentences of SRC (at most N) are translated once.
      Prints one JSON line: sentences/s, latency p50/p95/p99 (ms), mean batch size (sentences per
      batch, from /metrics), errors.
  serve_load.py soak URL SRC --clients C --seconds S
      The same, cycling through SRC for S seconds; prints requests done and errors.
  serve_load.py alone CKPT SRC --sentences N [--threads T] [--compute-type float|int8]
      The time `spotlight translate` takes for each sentence alone: one process (the model
      loaded once), fed one line at a time on a pipe as a user types, each answer awaited
      before the next line. Prints the per-sentence times (ms) and their median."""
import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from urllib.parse import urlparse


def percentile(xs, p):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def metrics(url):
    u = urlparse(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    c.request("GET", "/metrics")
    text = c.getresponse().read().decode()
    c.close()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def run_clients(url, sentences, clients, deadline=None):
    """Each client takes the next sentence (cycling when deadline is given) and waits for its
    answer. Returns (latencies in s, errors, wall seconds)."""
    u = urlparse(url)
    lock = threading.Lock()
    state = {"next": 0}
    latencies, errors = [], []
    by_index = {}

    def client():
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
        while True:
            with lock:
                i = state["next"]
                if deadline is None and i >= len(sentences):
                    break
                if deadline is not None and time.time() >= deadline:
                    break
                state["next"] = i + 1
            body = json.dumps({"q": sentences[i % len(sentences)], "source": "en",
                               "target": "fr"})
            t0 = time.perf_counter()
            try:
                conn.request("POST", "/translate", body, {"Content-Type": "application/json"})
                r = conn.getresponse()
                data = r.read()
                ok = r.status == 200 and "translatedText" in json.loads(data)
            except (OSError, http.client.HTTPException, ValueError) as e:
                ok = False
                data = str(e).encode()
                conn.close()
                conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
            dt = time.perf_counter() - t0
            with lock:
                (latencies if ok else errors).append(dt if ok else data[:200])
                if ok:
                    by_index[i] = dt
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, errors, time.perf_counter() - t0, by_index


def main():
    args = sys.argv[1:]
    if len(args) < 3:
        print(__doc__)
        return 2
    mode = args[0]

    def opt(name, default):
        return type(default)(args[args.index(name) + 1]) if name in args else default

    if mode in ("load", "soak"):
        url, src = args[1], args[2]
        sentences = [l.rstrip("\n") for l in open(src, encoding="utf-8")]
        clients = opt("--clients", 1)
        if mode == "load":
            sentences = sentences[:opt("--max-requests", len(sentences))]
            before = metrics(url)
            lat, err, wall, by_index = run_clients(url, sentences, clients)
            after = metrics(url)
            batches = after["spotlight_batch_sentences_count"] - before["spotlight_batch_sentences_count"]
            texts = after["spotlight_batch_sentences_sum"] - before["spotlight_batch_sentences_sum"]
            print(json.dumps({"clients": clients, "sentences": len(lat), "errors": len(err),
                              "seconds": wall, "sentences_per_s": len(lat) / wall,
                              "p50_ms": 1e3 * percentile(lat, 50),
                              "p95_ms": 1e3 * percentile(lat, 95),
                              "p99_ms": 1e3 * percentile(lat, 99),
                              "mean_batch": texts / batches if batches else 0.0,
                              "first_error": err[0].decode("utf-8", "replace") if err else "",
                              "by_sentence_ms": [round(1e3 * by_index.get(i, float("nan")), 3)
                                                 for i in range(len(sentences))]}))
        else:
            lat, err, wall, _ = run_clients(url, sentences, clients,
                                         deadline=time.time() + opt("--seconds", 60.0))
            print(json.dumps({"clients": clients, "requests": len(lat), "errors": len(err),
                              "seconds": wall}))
        return 0
    if mode == "alone":
        ckpt, src = args[1], args[2]
        binary = os.environ.get("SPOTLIGHT", "build/spotlight")
        sentences = [l.rstrip("\n") for l in open(src, encoding="utf-8")][:opt("--sentences", 100)]
        cmd = [binary, "translate", "-c", ckpt, "--threads", str(opt("--threads", 2))]
        if "--compute-type" in args:
            cmd += ["--compute-type", opt("--compute-type", "float")]
        p = subprocess.Popen(cmd, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1)
        p.stdin.write("a dog .\n")  # the first answer waits for the model to load
        p.stdin.flush()
        p.stdout.readline()
        times = []
        for s in sentences:
            t0 = time.perf_counter()
            p.stdin.write(s + "\n")
            p.stdin.flush()
            p.stdout.readline()
            times.append(time.perf_counter() - t0)
        p.stdin.close()
        p.wait()
        print(json.dumps({"sentences": len(times), "median_ms": 1e3 * statistics.median(times),
                          "by_sentence_ms": [round(1e3 * t, 3) for t in times]}))
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())

// The attention view shared by `spotlight attend`'s page and `spotlight serve`'s: every map of
// one sentence pair (encoder self-attention, decoder masked self-attention, cross-attention; each
// layer, each head or their mean) as heatmaps, and the word alignment. D is what
// `spotlight attend --json` writes (attention_json); the view is built inside `root`, replacing
// what it held. No network, no library: plain DOM.
function showAttention(D, root) {
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };
  let tip = document.getElementById("tip");
  if (!tip) { tip = el("div"); tip.id = "tip"; document.body.appendChild(tip); }
  const kinds = {
    cross: {rows: D.target_pieces, cols: D.source_pieces, w: D.cross, name: "cross-attention"},
    encoder: {rows: D.source_pieces, cols: D.source_pieces, w: D.encoder,
              name: "encoder self-attention"},
    decoder: {rows: D.decoder_input_pieces, cols: D.decoder_input_pieces, w: D.decoder,
              name: "decoder self-attention"}
  };
  const color = (w) => "hsl(215, 75%, " + (100 - 62 * Math.min(1, Math.max(0, w))) + "%)";
  function heatmap(caption, rows, cols, w, big, marks) {
    const t = el("table", "hm map" + (big ? " big" : ""));
    t.createCaption().textContent = caption;
    const head = el("tr");
    head.appendChild(el("th"));
    for (const c of cols) head.appendChild(el("th", "col", c));
    t.appendChild(head);
    rows.forEach((r, i) => {
      const tr = el("tr");
      tr.appendChild(el("th", "row", r));
      cols.forEach((c, j) => {
        const td = el("td", "c");
        td.style.background = color(w[i][j]);
        if (marks && marks.has(i + "," + j)) td.classList.add("al");
        const label = r + " \u2192 " + c + ": " + w[i][j].toFixed(4);
        td.title = label;
        td.addEventListener("mousemove", (ev) => {
          tip.textContent = label; tip.style.display = "block";
          tip.style.left = (ev.clientX + 12) + "px"; tip.style.top = (ev.clientY + 12) + "px";
        });
        td.addEventListener("mouseleave", () => { tip.style.display = "none"; });
        tr.appendChild(td);
      });
      t.appendChild(tr);
    });
    return t;
  }
  const mean = (layer) => layer[0].map((row, i) => row.map((_, j) =>
    layer.reduce((s, h) => s + h[i][j], 0) / layer.length));
  function select(label, options) {
    const l = el("label", "", label + " ");
    const s = el("select");
    for (const [value, text] of options) s.appendChild(new Option(text, value));
    l.appendChild(s);
    return [l, s];
  }

  root.replaceChildren();
  const sent = el("p", "sent");
  sent.append(el("b", "", "source"), " ", el("span", "src", D.source), el("br"),
              el("b", "", "target"), " ", el("span", "tgt", D.target));
  const controls = el("div", "controls");
  const [kl, kind] = select("attention", [
    ["cross", "decoder cross-attention (target rows, source columns)"],
    ["encoder", "encoder self-attention"], ["decoder", "decoder masked self-attention"]]);
  const [ll, layer] = select("layer", []);
  const [hl, head] = select("head", []);
  controls.append(kl, ll, hl);
  const note = el("p", "note", "Each row is one query position and sums to 1 over its columns: " +
    "how much that position reads each key. Darker is more. Cross-attention rows are the " +
    "target pieces the decoder produces (each row is the step that predicts it); decoder " +
    "self-attention rows and columns are the pieces it reads (<s> first), and a row sees only " +
    "its own and earlier columns. Pieces are SentencePiece pieces; \u2581 starts a word. Hover " +
    "a cell for its weight.");
  const maps = el("div", "maps");
  const A = D.alignment;
  const anote = el("p", "note", "The cross-attention of " +
    (A.layer === 0 ? "all decoder layers" : "decoder layer " + A.layer) + ", averaged over " +
    "heads, summed over each source word's pieces and averaged over each target word's pieces. " +
    "Each target word is aligned to the source word it weighs most (outlined): ");
  anote.appendChild(el("code", "moses", A.moses));
  const align = el("div", "maps");
  align.appendChild(heatmap("word alignment (target rows, source columns)", A.target_words,
      A.source_words, A.weights, true, new Set(A.pairs.map((p) => p[1] + "," + p[0]))));
  root.append(sent, controls, note, maps, el("h2", "", "Word alignment"), anote, align);

  function fillSelectors() {
    const k = kinds[kind.value];
    const keepL = layer.value, keepH = head.value;
    layer.replaceChildren(); head.replaceChildren();
    k.w.forEach((_, l) => layer.appendChild(new Option("layer " + (l + 1), l)));
    head.appendChild(new Option("all heads", "all"));
    head.appendChild(new Option("mean of heads", "mean"));
    for (let h = 0; h < D.heads; ++h) head.appendChild(new Option("head " + (h + 1), h));
    if (keepL !== "" && keepL < k.w.length) layer.value = keepL;
    if (keepH !== "") head.value = keepH;
  }
  function draw() {
    const k = kinds[kind.value], l = +layer.value, h = head.value;
    maps.replaceChildren();
    const title = k.name + ", layer " + (l + 1);
    if (h === "all") {
      k.w[l].forEach((w, i) => maps.appendChild(
        heatmap(title + ", head " + (i + 1), k.rows, k.cols, w, false)));
    } else if (h === "mean") {
      maps.appendChild(heatmap(title + ", mean of " + D.heads + " heads", k.rows, k.cols,
                               mean(k.w[l]), true));
    } else {
      maps.appendChild(heatmap(title + ", head " + (+h + 1), k.rows, k.cols, k.w[l][+h], true));
    }
  }
  kind.addEventListener("change", () => { fillSelectors(); draw(); });
  layer.addEventListener("change", draw);
  head.addEventListener("change", draw);
  fillSelectors();
  draw();
}

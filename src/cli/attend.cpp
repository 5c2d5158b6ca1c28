// spotlight attend — where each head of each layer looks, for one sentence: translates it (or
// force-decodes a given translation), records every attention weight (attention_maps.h) and
// writes one self-contained HTML page (heatmaps, layer and head selectors, the word
// alignment), an SVG of the cross-attention, or the raw weights as JSON.
#include <spdlog/spdlog.h>

#include <cmath>
#include <memory>

#include "spotlight/check.h"
#include "spotlight/cli/commands.h"
#include "spotlight/cli/common.h"
#include "spotlight/data/corpus.h"
#include "spotlight/decode/attention_maps.h"
#include "spotlight/decode/translator.h"
#include "spotlight/parallel.h"
#include "spotlight/train/checkpoint.h"

namespace spotlight {

namespace {
struct AttendArgs : DecodeArgs {
  std::string src, tgt, output;  // default attention.html, or stdout with --json
  bool json = false;
  long layer = -1;  // alignment layer, -1: the last
};

std::vector<std::string> pieces(const Vocab& v, const std::vector<int>& ids) {
  std::vector<std::string> out;
  for (int id : ids) out.push_back(v.piece(id));
  return out;
}

// [layer][head][query][key], weights rounded to 4 decimals (the page stays small).
nlohmann::json weights_json(const std::vector<Tensor>& layers) {
  nlohmann::json out = nlohmann::json::array();
  for (const Tensor& t : layers) {
    const long heads = t.dim(0), q = t.dim(1), k = t.dim(2);
    nlohmann::json l = nlohmann::json::array();
    for (long h = 0; h < heads; ++h) {
      nlohmann::json rows = nlohmann::json::array();
      for (long i = 0; i < q; ++i) {
        nlohmann::json row = nlohmann::json::array();
        for (long j = 0; j < k; ++j)
          row.push_back(std::round(t.data()[(h * q + i) * k + j] * 1e4f) / 1e4);
        rows.push_back(std::move(row));
      }
      l.push_back(std::move(rows));
    }
    out.push_back(std::move(l));
  }
  return out;
}

nlohmann::json maps_json(const AttentionMaps& m, const Vocab& v, const std::string& source,
                         const std::string& target, long layer) {
  const std::vector<int> sw = word_of_pieces(v, m.src), tw = word_of_pieces(v, m.tgt);
  const auto words = word_weights(mean_cross_attention(m, layer), tw, sw);
  const auto aligned = hard_alignment(words);
  nlohmann::json pairs = nlohmann::json::array();
  for (const auto& [s, t] : aligned) pairs.push_back({s, t});
  return {{"source", source},
          {"target", target},
          {"heads", m.heads},
          {"source_pieces", pieces(v, m.src)},
          {"target_pieces", pieces(v, m.tgt)},
          {"decoder_input_pieces", pieces(v, m.tgt_in)},
          {"encoder", weights_json(m.encoder)},
          {"decoder", weights_json(m.decoder)},
          {"cross", weights_json(m.cross)},
          {"alignment",
           {{"layer", layer},
            {"source_words", words_of_pieces(v, m.src)},
            {"target_words", words_of_pieces(v, m.tgt)},
            {"weights", words},
            {"pairs", pairs},
            {"moses", alignment_string(aligned)}}}};
}

// The page: data as JSON in a script element (every "<" escaped, so no string can close it), drawn
// by inline script into tables. No network, no external file.
const char* kPage = R"HTML(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Spotlight attention: @TITLE@</title>
<style>
body { font: 14px system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.3em; } h2 { font-size: 1.1em; margin-top: 1.5em; }
.sent { background: #f4f6f8; padding: .6em .8em; border-radius: 4px; }
.controls label { margin-right: 1.2em; }
.maps { display: flex; flex-wrap: wrap; gap: 1.2em; margin-top: 1em; }
.map caption { font-weight: 600; padding-bottom: .3em; }
table.hm { border-collapse: collapse; }
table.hm td.c { width: 18px; height: 18px; padding: 0; border: 1px solid #fff; }
table.hm.big td.c { width: 26px; height: 26px; }
table.hm td.c.al { outline: 2px solid #d33; outline-offset: -2px; }
table.hm th { font-weight: normal; font-size: 12px; white-space: nowrap; padding: 0 4px; }
table.hm th.col { writing-mode: vertical-rl; transform: rotate(180deg); text-align: left;
                  padding: 4px 0; height: auto; }
table.hm th.row { text-align: right; }
#tip { position: fixed; pointer-events: none; background: #222; color: #fff; padding: 3px 6px;
       border-radius: 3px; font-size: 12px; display: none; }
.note { color: #555; max-width: 60em; }
</style>
</head>
<body>
<h1>Where the model looks</h1>
<p class="sent"><b>source</b> <span id="src"></span><br><b>target</b> <span id="tgt"></span></p>
<div class="controls">
<label>attention <select id="kind">
<option value="cross">decoder cross-attention (target rows, source columns)</option>
<option value="encoder">encoder self-attention</option>
<option value="decoder">decoder masked self-attention</option>
</select></label>
<label>layer <select id="layer"></select></label>
<label>head <select id="head"></select></label>
</div>
<p class="note">Each row is one query position and sums to 1 over its columns: how much that
position reads each key. Darker is more. Cross-attention rows are the target pieces the decoder
produces (each row is the step that predicts it); decoder self-attention rows and columns are the
pieces it reads (&lt;s&gt; first), and a row sees only its own and earlier columns. Pieces are
SentencePiece pieces; &#9601; starts a word. Hover a cell for its weight.</p>
<div id="maps" class="maps"></div>
<h2>Word alignment</h2>
<p class="note">The cross-attention of <span id="alayer"></span>, averaged over heads, summed
over each source word's pieces and averaged over each target word's pieces. Each target word is
aligned to the source word it weighs most (outlined): <code id="moses"></code></p>
<div id="align" class="maps"></div>
<div id="tip"></div>
<script>
const D = @DATA@;
const kinds = {
  cross: {rows: D.target_pieces, cols: D.source_pieces, w: D.cross, name: "cross-attention"},
  encoder: {rows: D.source_pieces, cols: D.source_pieces, w: D.encoder, name: "encoder self-attention"},
  decoder: {rows: D.decoder_input_pieces, cols: D.decoder_input_pieces, w: D.decoder,
            name: "decoder self-attention"}
};
const $ = (id) => document.getElementById(id);
const tip = $("tip");
function color(w) { return "hsl(215, 75%, " + (100 - 62 * Math.min(1, Math.max(0, w))) + "%)"; }
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}
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
function mean(layer) {
  return layer[0].map((row, i) => row.map((_, j) =>
    layer.reduce((s, h) => s + h[i][j], 0) / layer.length));
}
function fillSelectors() {
  const k = kinds[$("kind").value];
  const layer = $("layer"), head = $("head");
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
  const k = kinds[$("kind").value], l = +$("layer").value, h = $("head").value;
  const maps = $("maps");
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
$("src").textContent = D.source;
$("tgt").textContent = D.target;
const A = D.alignment;
$("alayer").textContent = A.layer === 0 ? "all decoder layers" : "decoder layer " + A.layer;
$("moses").textContent = A.moses;
$("align").appendChild(heatmap("word alignment (target rows, source columns)", A.target_words,
    A.source_words, A.weights, true, new Set(A.pairs.map((p) => p[1] + "," + p[0]))));
$("kind").addEventListener("change", () => { fillSelectors(); draw(); });
$("layer").addEventListener("change", draw);
$("head").addEventListener("change", draw);
fillSelectors();
draw();
</script>
</body>
</html>
)HTML";

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
  return s;
}

std::string page(const nlohmann::json& data) {
  // "<" only occurs inside JSON strings, where \u003c means the same: no "</script>" or "<!--"
  // in a sentence can end or change the script element.
  std::string json = replace_all(data.dump(), "<", "\\u003c");
  std::string html = replace_all(kPage, "@TITLE@", xml_escape(data["source"].get<std::string>()));
  return replace_all(html, "@DATA@", json);
}

// The head-averaged cross-attention at the alignment layer as an SVG heatmap, pieces on both
// axes, the word alignment outlined (the README's picture).
std::string svg(const AttentionMaps& m, const Vocab& v, long layer) {
  const auto w = mean_cross_attention(m, layer);
  const std::vector<int> sw = word_of_pieces(v, m.src), tw = word_of_pieces(v, m.tgt);
  const auto pairs = hard_alignment(word_weights(w, tw, sw));
  const auto src = pieces(v, m.src), tgt = pieces(v, m.tgt);
  auto longest = [](const std::vector<std::string>& s) {
    size_t n = 0;
    for (const auto& x : s) n = std::max(n, x.size());
    return static_cast<double>(n);
  };
  const double cell = 22, left = 16 + 7.5 * longest(tgt), top = 16 + 7.5 * longest(src);
  const std::string caption1 = "cross-attention, " +
                               (layer == 0 ? std::string("all decoder layers")
                                           : "decoder layer " + std::to_string(layer)) +
                               ", mean of " + std::to_string(m.heads) + " heads";
  const std::string caption2 = "outlined: the word alignment " + alignment_string(pairs);
  const double width = std::max(left + cell * static_cast<double>(src.size()) + 16,
                                16 + 6.6 * static_cast<double>(std::max(caption1.size(), caption2.size())));
  const double height = top + cell * static_cast<double>(tgt.size()) + 56;
  std::string out;
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
                "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"12\">\n"
                "<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n",
                width, height, width, height);
  out += buf;
  for (size_t j = 0; j < src.size(); ++j) {
    std::snprintf(buf, sizeof buf,
                  "<text transform=\"translate(%.1f %.1f) rotate(-90)\">%s</text>\n",
                  left + cell * (static_cast<double>(j) + 0.7), top - 6,
                  xml_escape(src[j]).c_str());
    out += buf;
  }
  for (size_t i = 0; i < tgt.size(); ++i) {
    std::snprintf(buf, sizeof buf, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
                  left - 6, top + cell * (static_cast<double>(i) + 0.7),
                  xml_escape(tgt[i]).c_str());
    out += buf;
    for (size_t j = 0; j < src.size(); ++j) {
      const float x = w[i][j];
      const bool aligned =
          tw[i] >= 0 && sw[j] >= 0 &&
          std::find(pairs.begin(), pairs.end(), std::pair{sw[j], tw[i]}) != pairs.end();
      std::snprintf(buf, sizeof buf,
                    "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.0f\" height=\"%.0f\" "
                    "fill=\"hsl(215,75%%,%.1f%%)\"%s><title>%s \xE2\x86\x92 %s: %.4f</title></rect>\n",
                    left + cell * static_cast<double>(j), top + cell * static_cast<double>(i),
                    cell - 1, cell - 1, 100.0 - 62.0 * std::clamp(x, 0.0f, 1.0f),
                    aligned ? " stroke=\"#d33\" stroke-width=\"2\"" : "",
                    xml_escape(tgt[i]).c_str(), xml_escape(src[j]).c_str(), x);
      out += buf;
    }
  }
  std::snprintf(buf, sizeof buf,
                "<text x=\"8\" y=\"%.1f\" fill=\"#555\">%s</text>\n"
                "<text x=\"8\" y=\"%.1f\" fill=\"#555\">%s</text>\n</svg>\n",
                height - 28, xml_escape(caption1).c_str(), height - 10,
                xml_escape(caption2).c_str());
  out += buf;
  return out;
}
}  // namespace

void add_attend_command(CLI::App& app, CommandAction& action) {
  auto a = std::make_shared<AttendArgs>();
  CLI::App* cmd = app.add_subcommand(
      "attend", "Show where each attention head looks for one sentence (HTML, SVG or JSON)");
  add_decode_options(cmd, *a);
  cmd->add_option("--src", a->src, "the source sentence")->required();
  cmd->add_option("--tgt", a->tgt, "its translation, force-decoded (default: the model's own)");
  cmd->add_option("-o,--output", a->output,
                  "output file: .html (default attention.html), .svg (the cross-attention), or "
                  "- for stdout (the default with --json)");
  cmd->add_flag("--json", a->json, "write the raw weights as JSON instead of a page");
  cmd->add_option("--alignment-layer", a->layer,
                  "decoder layer whose cross-attention gives the word alignment, 1…L; 0 "
                  "averages all (default: the last)")
      ->check(CLI::NonNegativeNumber);
  cmd->footer(R"(Examples:
  spotlight attend -c runs/multi30k_en_fr/checkpoints/best --src "a dog runs on the beach ." -o view.html
  spotlight attend -c CKPT --src "a dog runs ." --tgt "un chien court ." -o view.html
  spotlight attend -c CKPT --src "a dog runs ." -o cross.svg
  spotlight attend -c CKPT --src "a dog runs ." --json -o weights.json

The page is one file with no network access: a heatmap per layer and head for the encoder's
self-attention, the decoder's masked self-attention and the cross-attention, a head selector,
and the word alignment. JSON: source_pieces, target_pieces, decoder_input_pieces, and
encoder / decoder / cross weights indexed [layer][head][query][key], plus the alignment.)");
  cmd->callback([a, &action] {
    action = [a] {
      if (a->threads > 0) set_threads(a->threads);
      if (a->output.empty()) a->output = a->json ? "-" : "attention.html";
      const OpenCheckpoint ck = open_checkpoint(a->checkpoint);
      const Transformer& model = *ck.model;
      const Vocab& vocab = *ck.vocab;
      require(valid_utf8(a->src) && valid_utf8(a->tgt), "--src and --tgt must be valid UTF-8");
      bool truncated = false;
      const std::vector<int> src = encode_source(model, vocab, a->src, &truncated);
      require(!src.empty(), "--src: the sentence is empty");
      if (truncated)
        spdlog::warn("--src is longer than the model's {} positions; it was truncated",
                     model.cfg.max_positions - 1);
      std::vector<int> tgt;
      std::string target = a->tgt;
      if (!a->tgt.empty()) {
        tgt = encode_source(model, vocab, a->tgt, &truncated);
        require(!truncated, "--tgt is longer than the model's " +
                                std::to_string(model.cfg.max_positions - 1) + " positions");
      } else {
        const auto t = translate_lines(model, vocab, {a->src}, decode_config(ck.config, *a), 1);
        tgt = t.front().front().ids;
        target = t.front().front().text;
        spdlog::info("translation: {}", target);
      }
      const long layers = model.cfg.decoder_layers;
      const long layer = a->layer < 0 ? layers : a->layer;
      require(layer <= layers, "--alignment-layer " + std::to_string(layer) + ": the model has " +
                                   std::to_string(layers) + " decoder layers (0 averages them all)");
      const AttentionMaps m = attention_maps(model, src, tgt);
      const nlohmann::json data = maps_json(m, vocab, a->src, target, layer);
      std::string text;
      if (a->json)
        text = data.dump() + "\n";
      else if (a->output.ends_with(".svg"))
        text = svg(m, vocab, layer);
      else
        text = page(data);
      write_text_output(a->output, text);
      if (a->output != "-")
        spdlog::info("wrote {} ({} bytes; alignment {})", a->output, text.size(),
                     data["alignment"]["moses"].get<std::string>());
      return 0;
    };
  });
}

}  // namespace spotlight

// spotlight attend — where each head of each layer looks, for one sentence: translates it (or
// force-decodes a given translation), records every attention weight (attention_maps.h) and
// writes one self-contained HTML page (heatmaps, layer and head selectors, the word
// alignment), an SVG of the cross-attention, or the raw weights as JSON.
#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include <cmath>
#include <memory>

#include "spotlight/check.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/pages.h"
#include "cli/svg.h"
#include "spotlight/data/corpus.h"
#include "spotlight/decode/attention_maps.h"
#include "spotlight/decode/search.h"
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

// The head-averaged cross-attention at the alignment layer as an SVG heatmap, pieces on both
// axes, the word alignment outlined (the README's picture).
std::string svg(const AttentionMaps& m, const Vocab& v, long layer) {
  const auto w = mean_cross_attention(m, layer);
  const std::vector<int> sw = word_of_pieces(v, m.src), tw = word_of_pieces(v, m.tgt);
  const auto pairs = hard_alignment(word_weights(w, tw, sw));
  const auto src = piece_strings(v, m.src), tgt = piece_strings(v, m.tgt);
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
  Svg out(width, height);
  for (size_t j = 0; j < src.size(); ++j)
    out.vertical_text(left + cell * (static_cast<double>(j) + 0.7), top - 6, src[j]);
  for (size_t i = 0; i < tgt.size(); ++i) {
    out.text(left - 6, top + cell * (static_cast<double>(i) + 0.7), tgt[i], "text-anchor=\"end\"");
    for (size_t j = 0; j < src.size(); ++j) {
      const float x = w[i][j];
      const bool aligned =
          tw[i] >= 0 && sw[j] >= 0 &&
          std::find(pairs.begin(), pairs.end(), std::pair{sw[j], tw[i]}) != pairs.end();
      const std::string style =
          fmt::format("fill=\"hsl(215,75%,{:.1f}%)\"{}", 100.0 - 62.0 * std::clamp(x, 0.0f, 1.0f),
                      aligned ? " stroke=\"#d33\" stroke-width=\"2\"" : "");
      out.rect(left + cell * static_cast<double>(j), top + cell * static_cast<double>(i), cell - 1,
               cell - 1, style, fmt::format("{} \u2192 {}: {:.4f}", tgt[i], src[j], x));
    }
  }
  out.text(8, height - 28, caption1, "fill=\"#555\"");
  out.text(8, height - 10, caption2, "fill=\"#555\"");
  return out.finish();
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
      apply_compute_type(ck, decode_config(ck.config, *a).compute_type);
      const Transformer& model = *ck.model;
      const Vocab& vocab = *ck.vocab;
      require(valid_utf8(a->src) && valid_utf8(a->tgt), "--src and --tgt must be valid UTF-8");
      bool truncated = false;
      const std::vector<int> src = encode_source(model, vocab, a->src, &truncated);
      require(!src.empty(), "--src: the sentence is empty");
      if (truncated)
        spdlog::warn("--src is longer than the model's {} positions; it was truncated",
                     max_source_pieces(model.cfg));
      std::vector<int> tgt;
      std::string target = a->tgt;
      if (!a->tgt.empty()) {
        tgt = encode_source(model, vocab, a->tgt, &truncated);
        require(!truncated, "--tgt is longer than the model's " +
                                std::to_string(max_source_pieces(model.cfg)) + " positions");
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
      const nlohmann::json data = attention_json(m, vocab, a->src, target, layer);
      std::string text;
      if (a->json)
        text = data.dump() + "\n";
      else if (a->output.ends_with(".svg"))
        text = svg(m, vocab, layer);
      else
        text = attend_page(data);
      write_text_output(a->output, text);
      if (a->output != "-")
        spdlog::info("wrote {} ({} bytes; alignment {})", a->output, text.size(),
                     data["alignment"]["moses"].get<std::string>());
      return 0;
    };
  });
}

}  // namespace spotlight

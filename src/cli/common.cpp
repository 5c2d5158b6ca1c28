#include "cli/common.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "spotlight/atomic_file.h"
#include "spotlight/blas.h"
#include "spotlight/check.h"
#include "spotlight/data/corpus.h"

namespace spotlight {

std::vector<std::string> read_text_lines(const std::string& path) {
  if (path != "-") return read_lines(path);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(std::cin, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    require(valid_utf8(line), "<stdin>:" + std::to_string(lines.size() + 1) + ": invalid UTF-8");
    lines.push_back(std::move(line));
  }
  return lines;
}

void require_input_file(const std::string& path, std::string_view flag) {
  namespace fs = std::filesystem;
  const std::string what = std::string(flag) + " " + path + ": ";
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  require_usage(fs::exists(st), what + "no such file");
  require_usage(!fs::is_directory(st), what + "is a directory, not a file");
  std::ifstream probe(path);
  if (!probe.good()) require_usage(false, what + "cannot be read (" + std::strerror(errno) + ")");
}

void write_text_output(const std::string& path, const std::string& text) {
  if (path.empty() || path == "-") {
    const bool ok =
        std::fwrite(text.data(), 1, text.size(), stdout) == text.size() && std::fflush(stdout) == 0;
    require(ok, "cannot write to standard output (disk full or closed pipe?)");
    return;
  }
  write_file_atomically(path, text);
}

namespace {
// sacreBLEU's BLEUScore._verbose: "70.1/48.2/35.0/26.1 (BP = 0.981 ratio = 0.981 hyp_len = 123
// ref_len = 125)".
std::string bleu_verbose(const BleuResult& b) {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "%.1f/%.1f/%.1f/%.1f (BP = %.3f ratio = %.3f hyp_len = %ld ref_len = %ld)",
                b.precisions[0], b.precisions[1], b.precisions[2], b.precisions[3], b.bp, b.ratio,
                b.hyp_len, b.ref_len);
  return buf;
}
std::string two_decimals(double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f", x);
  return buf;
}
}  // namespace

std::string bleu_line(const BleuResult& b) {
  return "BLEU|" + b.signature + " = " + two_decimals(b.score) + " " + bleu_verbose(b);
}

nlohmann::json scores_json(const BleuResult& b, const ChrfResult& c) {
  return {{"bleu",
           {{"name", "BLEU"},
            {"score", b.score},
            {"signature", b.signature},
            {"verbose_score", bleu_verbose(b)},
            {"precisions", b.precisions},
            {"bp", b.bp},
            {"ratio", b.ratio},
            {"hyp_len", b.hyp_len},
            {"ref_len", b.ref_len}}},
          {"chrf", {{"name", "chrF2"}, {"score", c.score}, {"signature", c.signature}}}};
}

std::string scores_text(const BleuResult& b, const ChrfResult& c) {
  return bleu_line(b) + "\n" + "chrF2|" + c.signature + " = " + two_decimals(c.score) + "\n";
}

std::string xml_escape(std::string_view s) {
  std::string out;
  for (char ch : s) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += ch;
    }
  }
  return out;
}

void add_gemm_option(CLI::App* cmd) {
  const std::string help =
      gemm_backend_available(GemmBackend::onednn)
          ? "GEMM library: onednn or openblas (default: $SPOTLIGHT_GEMM, else onednn)"
          : "GEMM library: openblas (this build has no oneDNN)";
  cmd->add_option_function<std::string>(
         "--gemm", [](const std::string& v) { set_gemm_backend(parse_gemm_backend(v, "--gemm")); },
         help)
      ->type_name("NAME");
}

void add_compute_type_option(CLI::App* cmd, std::string& compute_type) {
  cmd->add_option("--compute-type", compute_type,
                  "float, or int8: the linear layers multiply in int8 with per-row scales, as "
                  "CTranslate2 does (needs oneDNN; default: the checkpoint's decode.compute_type)")
      ->check(CLI::IsMember({"float", "int8"}));
}

void apply_compute_type(const OpenCheckpoint& ck, const std::string& compute_type) {
  if (compute_type == "int8")
    ck.model->set_int8(true);  // a loaded model is float
  else
    ck.model->keep_output_rows();
}

void add_decode_options(CLI::App* cmd, DecodeArgs& a) {
  cmd->add_option("-c,--checkpoint", a.checkpoint,
                  "checkpoint directory, or a run directory (output_dir: its checkpoints/best)")
      ->required();
  auto* beam = cmd->add_option("--beam", a.beam, "beam size (default: the config's decode.beam)")
                   ->check(CLI::PositiveNumber);
  cmd->add_flag("--greedy", a.greedy, "greedy decoding (beam 1)")->excludes(beam);
  cmd->add_option("--alpha", a.alpha, "length normalisation: score / length^alpha");
  cmd->add_option("--patience", a.patience,
                  "a sentence's search stops once ceil(patience*beam) hypotheses have finished "
                  "(default: the config's decode.patience; 1 is fairseq's early stop; no effect "
                  "with --greedy or beam 1)")
      ->check(CLI::Range(0.01, 1000.0));
  cmd->add_option("--batch-size", a.batch_size, "sentences per decoding batch")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--threads", a.threads, "compute threads (default: one per core)")->check(CLI::PositiveNumber);
  add_gemm_option(cmd);
  add_compute_type_option(cmd, a.compute_type);
}

void add_workers_option(CLI::App* cmd, int& workers) {
  cmd->add_option("--workers", workers,
                  "batches decoded at once, each on one thread of its own, as CTranslate2's "
                  "inter_threads (default 1: one batch at a time over --threads; 2 on 2 cores "
                  "translates a file faster, one line alone no faster)")
      ->check(CLI::Range(1, 64));
}

DecodeConfig decode_config(const Config& c, const DecodeArgs& a) {
  DecodeConfig d = c.decode;
  if (a.greedy) d.beam = 1;
  if (a.beam > 0) d.beam = a.beam;
  if (a.alpha >= 0) d.alpha = a.alpha;
  if (a.patience > 0) d.patience = a.patience;
  if (a.batch_size > 0) d.batch_size = a.batch_size;
  if (!a.compute_type.empty()) d.compute_type = a.compute_type;
  return d;
}

}  // namespace spotlight

// common.h — pieces shared by the CLI commands: reading text files or stdin, writing output
// files atomically, and printing scores the way sacreBLEU does.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "spotlight/config.h"
#include "spotlight/eval/bleu.h"
#include "spotlight/eval/chrf.h"
#include "spotlight/train/checkpoint.h"

namespace spotlight {

// Lines of a UTF-8 text file, or of stdin for "-" (invalid UTF-8 names the line).
std::vector<std::string> read_text_lines(const std::string& path);
// A usage error (exit 2) naming the flag and the path unless `path` is a readable regular file,
// e.g. "--ref refs.fr: no such file".
void require_input_file(const std::string& path, std::string_view flag);
// Writes text to path atomically (temporary file, then rename), or to stdout for "-" / "".
void write_text_output(const std::string& path, const std::string& text);

// sacreBLEU 2's `-f text` line (scores to two decimals, as `-w 2`):
// "BLEU|nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:spotlight-0.1.0 = 41.23
//  70.1/48.2/35.0/26.1 (BP = 0.981 ratio = 0.981 hyp_len = 123 ref_len = 125)" (one line)
std::string bleu_line(const BleuResult& b);
// {"bleu": {...}, "chrf": {...}}, each with sacreBLEU's JSON fields (name, score, signature,
// verbose_score for BLEU) and the details (precisions, bp, ratio, hyp_len, ref_len).
nlohmann::json scores_json(const BleuResult& b, const ChrfResult& c);
// The BLEU line and the chrF line
// "chrF2|nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:spotlight-0.1.0 = 55.34",
// each ending in a newline.
std::string scores_text(const BleuResult& b, const ChrfResult& c);

// Text for XML/HTML/SVG content and attribute values: & < > " escaped.
std::string xml_escape(std::string_view s);

// --gemm openblas|onednn on every command that computes: the GEMM library (blas.h), set while
// the options are parsed (process-wide, like --threads).
void add_gemm_option(CLI::App* cmd);

// Decoding options shared by translate, eval, attend and serve: -c/--checkpoint, --beam,
// --greedy, --alpha, --patience, --batch-size, --threads, --gemm.
struct DecodeArgs {
  std::string checkpoint;
  long beam = 0;  // 0: the checkpoint's decode.beam
  bool greedy = false;
  double alpha = -1.0;
  double patience = 0.0;  // 0: the checkpoint's decode.patience
  long batch_size = 0;
  int threads = 0;
  std::string compute_type;  // empty: the checkpoint's decode.compute_type
  int workers = 1;           // batches decoded at once (translate and eval: add_workers_option)
};
void add_decode_options(CLI::App* cmd, DecodeArgs& a);
// --workers N on translate and eval: N batches at once, one thread each (TranslateOptions).
void add_workers_option(CLI::App* cmd, int& workers);
// --compute-type float|int8 (also on score and bench).
void add_compute_type_option(CLI::App* cmd, std::string& compute_type);
// Quantizes the checkpoint's model for int8 decoding when compute_type says so (blas.h);
// in float, keeps the output layer's rows gathered once (Transformer::keep_output_rows).
void apply_compute_type(const OpenCheckpoint& ck, const std::string& compute_type);
// The checkpoint's decode section with the options given on the command line applied.
DecodeConfig decode_config(const Config& c, const DecodeArgs& a);

}  // namespace spotlight

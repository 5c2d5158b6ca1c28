// spotlight bench — training and decoding speed on real batches, next to the sgemm roof.
//
// Training: batches cut from the config's training corpus exactly as `spotlight train` cuts them
// (token-count batches of similar lengths, shuffled), timed through the trainer's own
// forward_backward, clipping and Adam. Decoding: greedy and beam search over the first N lines
// of a test file with a trained checkpoint (an untrained model's outputs all run to the length
// limit, so its decoding speed means nothing). Every figure is the median of several runs, with
// the spread (min–max) beside it.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "spotlight/blas.h"
#include "spotlight/parallel.h"
#include "spotlight/check.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "spotlight/data/batcher.h"
#include "spotlight/data/vocab.h"
#include "spotlight/decode/translator.h"
#include "spotlight/train/checkpoint.h"
#include "spotlight/train/loss_step.h"
#include "spotlight/train/optimizer.h"
#include "spotlight/train/progress.h"
#include "spotlight/train/schedule.h"
#include "spotlight/train/setup.h"

namespace spotlight {

namespace {
using Clock = std::chrono::steady_clock;
using json = nlohmann::ordered_json;

struct BenchArgs {
  std::string config = "configs/multi30k_en_fr.json", checkpoint;
  std::string src = "data/multi30k/tok/test_2016_flickr.en";
  std::vector<std::string> overrides;  // --set key.path=value, applied to --config
  int threads = 2;
  long runs = 3, steps = 20, warmup = 5, sentences = 1000, batch_size = 64;
  bool json = false, no_train = false, no_decode = false, no_sgemm = false;
  std::string compute_type;  // decoding; empty: the checkpoint's decode.compute_type
  bool latency = false;
  int workers = 1;  // decoding: batches at once (TranslateOptions::workers)
};

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Median and spread of per-run figures.
struct Stat {
  double median = 0.0, min = 0.0, max = 0.0;
  std::vector<double> runs;
};
Stat stat(std::vector<double> v) {
  Stat s;
  s.runs = v;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  s.median = n == 0 ? 0.0 : (n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]));
  s.min = n == 0 ? 0.0 : v.front();
  s.max = n == 0 ? 0.0 : v.back();
  return s;
}
json to_json(const Stat& s) {
  auto r1 = [](double x) { return std::round(x * 10.0) / 10.0; };
  json runs = json::array();
  for (double x : s.runs) runs.push_back(r1(x));
  return {{"median", r1(s.median)}, {"min", r1(s.min)}, {"max", r1(s.max)}, {"runs", runs}};
}
std::string fmt(const Stat& s, const char* unit = "") {
  char buf[96];
  std::snprintf(buf, sizeof buf, "%9.1f%s  (%.1f–%.1f)", s.median, unit, s.min, s.max);
  return buf;
}

struct TrainResult {
  Stat tok_per_s, ms_per_step, forward_ms, loss_ms, backward_ms, update_ms, gflops;
  double tgt_tokens_per_step = 0.0, pad_fraction = 0.0, gflop_per_step = 0.0;
  double peak_rss_mb = 0.0;
};

TrainResult bench_train(const Config& cfg_in, const std::string& checkpoint, const BenchArgs& a) {
  Config cfg = cfg_in;
  std::unique_ptr<Vocab> vocab;
  std::unique_ptr<Transformer> model;
  if (!checkpoint.empty()) {
    OpenCheckpoint ck = open_checkpoint(checkpoint);
    vocab = std::move(ck.vocab);
    model = std::move(ck.model);
  } else {
    for (const auto& f : cfg.data.train_files())
      require(std::filesystem::exists(f),
              "bench: training file " + f +
                  " is missing; get the corpus first (scripts/get_data.sh multi30k) or pass "
                  "--config with other data.train files");
    vocab = prepare_vocabulary(cfg);
  }
  const TrainingData corpus = open_training_data(cfg, *vocab, a.threads);
  const PairMix& mix = *corpus.mix;
  if (checkpoint.empty()) model = new_model(cfg, mix);  // as `spotlight train` builds it
  const ModelConfig& m = model->cfg;
  const Batcher batcher(mix, batcher_options(cfg));
  Rng data_rng(123);
  std::deque<EpochPlan> epochs;  // the spans below point into these
  std::vector<std::span<const uint32_t>> plan;  // the batches in order, over epochs
  const size_t needed = static_cast<size_t>(a.warmup + a.runs * a.steps);
  while (plan.size() < needed) {  // a small corpus: repeat its epochs
    epochs.push_back(batcher.plan(data_rng));
    require(epochs.back().size() >= 1, "bench: the training corpus gave no batch");
    for (long k = 0; k < epochs.back().size() && plan.size() < needed; ++k)
      plan.push_back(epochs.back().batch(k));
  }

  Adam adam(model->params(), adam_config(cfg.train));
  const LrSchedule schedule = LrSchedule::from_config(cfg.train);
  Transformer::Cache cache;
  Rng drop_rng(7);
  long step = 0;
  TrainResult r;
  std::vector<double> tok_s, ms, fwd, lss, bwd, upd, gflops;
  double tgt_tokens = 0.0, padded = 0.0, flops_all = 0.0;
  for (long run = -1; run < a.runs; ++run) {  // run -1: warm-up (buffers grow, caches fill)
    const long n = run < 0 ? a.warmup : a.steps;
    StepTimes times;
    double update_s = 0.0, tokens = 0.0, flops = 0.0;
    const auto t0 = Clock::now();
    for (long k = 0; k < n; ++k) {
      const Batch b = batcher.make(plan[static_cast<size_t>(step)]);  // read from the store
      const LossStats st = forward_backward(*model, cache, std::span<const Batch>(&b, 1),
                                            static_cast<float>(cfg.train.label_smoothing),
                                            drop_rng, &times);
      const auto t1 = Clock::now();
      clip_grad_norm(model->params(), cfg.train.clip_norm);
      adam.step(schedule.lr(++step));
      update_s += seconds_since(t1);
      tokens += static_cast<double>(st.tokens);
      flops += 3.0 * forward_flops(m, b.batch, b.src_len_max, b.tgt_len_max, model->output_size());
      if (run >= 0) padded += static_cast<double>(b.batch * b.tgt_len_max);
    }
    const double wall = seconds_since(t0);
    if (run < 0) continue;
    tok_s.push_back(tokens / wall);
    ms.push_back(1000.0 * wall / static_cast<double>(n));
    fwd.push_back(1000.0 * times.forward / static_cast<double>(n));
    lss.push_back(1000.0 * times.loss / static_cast<double>(n));
    bwd.push_back(1000.0 * times.backward / static_cast<double>(n));
    upd.push_back(1000.0 * update_s / static_cast<double>(n));
    gflops.push_back(flops / wall / 1e9);
    tgt_tokens += tokens;
    flops_all += flops;
  }
  r.tok_per_s = stat(tok_s);
  r.ms_per_step = stat(ms);
  r.forward_ms = stat(fwd);
  r.loss_ms = stat(lss);
  r.backward_ms = stat(bwd);
  r.update_ms = stat(upd);
  r.gflops = stat(gflops);
  const double steps = static_cast<double>(a.runs * a.steps);
  r.tgt_tokens_per_step = tgt_tokens / steps;
  r.pad_fraction = 1.0 - tgt_tokens / padded;
  r.gflop_per_step = flops_all / steps / 1e9;
  r.peak_rss_mb = peak_rss_mb();
  return r;
}

struct DecodeResult {
  Stat sent_per_s, tok_per_s;
  long sentences = 0, output_tokens = 0;
  // --latency: each sentence translated alone (its median over the runs), in ms: median, p90
  // and max over the sentences.
  double latency_p50 = 0.0, latency_p90 = 0.0, latency_max = 0.0;
};

double percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5)];
}

DecodeResult bench_decode(const OpenCheckpoint& ck, const std::vector<std::string>& lines,
                          long beam, const BenchArgs& a) {
  DecodeConfig d = ck.config.decode;
  d.beam = beam;
  d.max_len_a = 1.5;
  d.max_len_b = 10;
  d.patience = 1.0;  // fairseq's early stop, as the PyTorch peer searches
  d.batch_size = a.batch_size;
  std::vector<double> sps, tps;
  DecodeResult r;
  r.sentences = static_cast<long>(lines.size());
  for (long run = 0; run < a.runs; ++run) {
    TranslateReport report;
    const auto t0 = Clock::now();
    TranslateOptions o;
    o.workers = a.workers;
    translate_lines(*ck.model, *ck.vocab, lines, d, o, &report);
    const double wall = seconds_since(t0);
    sps.push_back(static_cast<double>(lines.size()) / wall);
    tps.push_back(static_cast<double>(report.output_tokens) / wall);
    r.output_tokens = report.output_tokens;
  }
  r.sent_per_s = stat(sps);
  r.tok_per_s = stat(tps);
  if (a.latency) {
    std::vector<std::vector<double>> per(lines.size());
    for (long run = 0; run < a.runs; ++run)
      for (size_t i = 0; i < lines.size(); ++i) {
        const auto t0 = Clock::now();
        translate_lines(*ck.model, *ck.vocab, {lines[i]}, d, 1);
        per[i].push_back(1000.0 * seconds_since(t0));
      }
    std::vector<double> ms;
    for (auto& v : per) ms.push_back(percentile(v, 0.5));
    r.latency_p50 = percentile(ms, 0.5);
    r.latency_p90 = percentile(ms, 0.9);
    r.latency_max = percentile(ms, 1.0);
  }
  return r;
}

struct GemmShape {
  long m, n, k;
  Op op_a, op_b;
  const char* what;
};

// The best of several calls for each transformer-shaped product, in GFLOP/s.
json bench_sgemm(double& median_gflops) {
  const GemmShape shapes[] = {
      {4096, 256, 256, Op::N, Op::T, "x·Wᵀ (attention projection)"},
      {4096, 1024, 256, Op::N, Op::T, "x·W1ᵀ (fc1)"},
      {4096, 256, 1024, Op::N, Op::T, "h·W2ᵀ (fc2)"},
      {4096, 8000, 256, Op::N, Op::T, "h·Eᵀ (logits)"},
      {8000, 256, 4096, Op::T, Op::N, "dlᵀ·h (embedding gradient)"},
      {4096, 256, 8000, Op::N, Op::N, "dl·E (logits input gradient)"},
      {256, 1024, 4096, Op::T, Op::N, "dyᵀ·x (fc1 weight gradient)"},
  };
  json out = json::array();
  std::vector<double> all;
  for (const GemmShape& s : shapes) {
    const long ar = s.op_a == Op::N ? s.m : s.k, ac = s.op_a == Op::N ? s.k : s.m;
    const long br = s.op_b == Op::N ? s.k : s.n, bc = s.op_b == Op::N ? s.n : s.k;
    Tensor a({ar, ac}), b({br, bc}), c({s.m, s.n});
    a.fill(0.5f);
    b.fill(0.25f);
    double best = 1e30;
    for (int rep = 0; rep < 5; ++rep) {
      const auto t0 = Clock::now();
      gemm(a.view(), s.op_a, b.view(), s.op_b, c.view());
      best = std::min(best, seconds_since(t0));
    }
    const double g = 2.0 * static_cast<double>(s.m * s.n * s.k) / best / 1e9;
    all.push_back(g);
    out.push_back({{"m", s.m},
                   {"n", s.n},
                   {"k", s.k},
                   {"op", std::string(s.op_a == Op::N ? "N" : "T") + (s.op_b == Op::N ? "N" : "T")},
                   {"what", s.what},
                   {"gflops", std::round(g * 10.0) / 10.0}});
  }
  median_gflops = stat(all).median;
  return out;
}

int run_bench(const BenchArgs& a) {
  set_threads(a.threads);
  require(a.runs >= 1 && a.steps >= 1 && a.warmup >= 0 && a.sentences >= 1,
          "bench: --runs, --steps and --sentences must be positive");
  require_usage(a.checkpoint.empty() || a.overrides.empty(),
                "bench: --set changes --config, but --checkpoint brings its own config; give one");
  const Config cfg =
      a.checkpoint.empty() ? load_config(a.config, a.overrides) : checkpoint_config(a.checkpoint);
  json j;
  j["threads"] = a.threads;
  j["config"] = a.checkpoint.empty() ? a.config : a.checkpoint;
  j["model"] = cfg.to_json()["model"];  // the shape measured, so two sides can be matched
  j["gemm"] = gemm_backend_name(gemm_backend());
  j["blas"] = blas_description();
  auto say = [&](const std::string& s) {
    if (!a.json) std::fprintf(stderr, "bench: %s\n", s.c_str());
  };

  std::string table;
  char line[256];
  say("GEMM: " + blas_description());
  if (!a.no_train) {
    say("training: " + std::to_string(a.warmup) + " warm-up steps, then " +
        std::to_string(a.runs) + " runs of " + std::to_string(a.steps) + " steps");
    const TrainResult t = bench_train(cfg, a.checkpoint, a);
    j["train"] = {{"threads", a.threads},
                  {"tgt_tokens_per_s", std::round(t.tok_per_s.median * 10) / 10},
                  {"ms_per_step", std::round(t.ms_per_step.median * 10) / 10},
                  {"tgt_tokens_per_s_stat", to_json(t.tok_per_s)},
                  {"ms_per_step_stat", to_json(t.ms_per_step)},
                  {"forward_ms", to_json(t.forward_ms)},
                  {"projection_loss_ms", to_json(t.loss_ms)},
                  {"backward_ms", to_json(t.backward_ms)},
                  {"update_ms", to_json(t.update_ms)},
                  {"gflops", to_json(t.gflops)},
                  {"tgt_tokens_per_step", std::round(t.tgt_tokens_per_step)},
                  {"pad_fraction", std::round(t.pad_fraction * 1000) / 1000},
                  {"gflop_per_step", std::round(t.gflop_per_step * 100) / 100},
                  {"runs", a.runs},
                  {"steps_per_run", a.steps}};
    j["peak_rss_mb"] = std::round(t.peak_rss_mb);
    table += "training (" + std::to_string(a.threads) + " threads, " + std::to_string(a.runs) +
             " runs × " + std::to_string(a.steps) + " steps; median (min–max))\n";
    table += "  target tokens/s   " + fmt(t.tok_per_s) + "\n";
    table += "  ms/step           " + fmt(t.ms_per_step) + "\n";
    table += "    forward         " + fmt(t.forward_ms) + "\n";
    table += "    output + loss   " + fmt(t.loss_ms) + "   (projection, loss and their backward)\n";
    table += "    backward        " + fmt(t.backward_ms) + "\n";
    table += "    clip + Adam     " + fmt(t.update_ms) + "\n";
    table += "  achieved GFLOP/s  " + fmt(t.gflops) + "\n";
    std::snprintf(line, sizeof line,
                  "  batch: %.0f target tokens/step, %.1f%% padding, %.2f GFLOP/step\n"
                  "  peak RSS          %9.0f MB\n",
                  t.tgt_tokens_per_step, 100 * t.pad_fraction, t.gflop_per_step, t.peak_rss_mb);
    table += line;
  }
  if (!a.no_decode) {
    if (a.checkpoint.empty()) {
      say("decoding skipped: it needs --checkpoint DIR (a trained model)");
    } else {
      const OpenCheckpoint ck = open_checkpoint(a.checkpoint);
      const std::string compute_type =
          a.compute_type.empty() ? ck.config.decode.compute_type : a.compute_type;
      apply_compute_type(ck, compute_type);
      std::vector<std::string> lines = read_text_lines(a.src);
      require_usage(!lines.empty(), "bench: " + a.src + " holds no sentence to decode");
      if (static_cast<long>(lines.size()) > a.sentences) lines.resize(static_cast<size_t>(a.sentences));
      json dj;
      table += "decoding (" + std::to_string(lines.size()) + " sentences of " + a.src +
               ", batches of " + std::to_string(a.batch_size) +
               (a.workers > 1 ? ", " + std::to_string(a.workers) + " at once" : "") +
               ", limit 1.5·len + 10)\n";
      for (long beam : {1L, 5L}) {
        const char* name = beam == 1 ? "greedy" : "beam5";
        say(std::string("decoding: ") + name + ", " + std::to_string(a.runs) + " runs");
        const DecodeResult d = bench_decode(ck, lines, beam, a);
        dj[name] = {{"sentences_per_s", std::round(d.sent_per_s.median * 10) / 10},
                    {"tgt_tokens_per_s", std::round(d.tok_per_s.median * 10) / 10},
                    {"sentences_per_s_stat", to_json(d.sent_per_s)},
                    {"tgt_tokens_per_s_stat", to_json(d.tok_per_s)},
                    {"sentences", d.sentences},
                    {"output_tokens", d.output_tokens}};
        table += std::string("  ") + (beam == 1 ? "greedy " : "beam 5 ") + " sentences/s " +
                 fmt(d.sent_per_s) + "   target tokens/s " + fmt(d.tok_per_s) + "\n";
        if (a.latency) {
          dj[name]["latency_ms"] = {{"p50", d.latency_p50}, {"p90", d.latency_p90}, {"max", d.latency_max}};
          std::snprintf(line, sizeof line,
                        "          one sentence alone: p50 %.2f ms, p90 %.2f ms, max %.2f ms\n",
                        d.latency_p50, d.latency_p90, d.latency_max);
          table += line;
        }
      }
      dj["compute_type"] = compute_type;
      dj["latency"] = a.latency;
      dj["batch_size"] = a.batch_size;
      dj["threads"] = a.threads;
      dj["workers"] = a.workers;
      j["decode"] = dj;
    }
  }
  if (!a.no_sgemm) {
    say("sgemm roof on transformer-shaped products");
    double median = 0.0;
    j["sgemm"] = bench_sgemm(median);
    j["sgemm_gflops"] = std::round(median * 10) / 10;
    std::snprintf(line, sizeof line, "sgemm roof (%d threads, median of %zu shapes) %.1f GFLOP/s\n",
                  a.threads, j["sgemm"].size(), median);
    table += line;
    for (const auto& s : j["sgemm"]) {
      std::snprintf(line, sizeof line, "  %5ld×%-5ld×%-5ld %s %7.1f GFLOP/s  %s\n",
                    s["m"].get<long>(), s["n"].get<long>(), s["k"].get<long>(),
                    s["op"].get<std::string>().c_str(), s["gflops"].get<double>(),
                    s["what"].get<std::string>().c_str());
      table += line;
    }
  }
  if (!j.contains("peak_rss_mb")) j["peak_rss_mb"] = std::round(peak_rss_mb());
  if (a.json)
    std::printf("%s\n", j.dump().c_str());
  else
    std::fputs(table.c_str(), stdout);
  return 0;
}
}  // namespace

void add_bench_command(CLI::App& app, CommandAction& action) {
  auto a = std::make_shared<BenchArgs>();
  CLI::App* cmd = app.add_subcommand(
      "bench", "Measure training and decoding speed (median and spread of several runs)");
  cmd->add_option("--config", a->config,
                  "config whose model shape and training data are benchmarked (default "
                  "configs/multi30k_en_fr.json)");
  cmd->add_option("--set", a->overrides,
                  "override a value of --config, key.path=value (repeatable), e.g. "
                  "model.d_model=256");
  cmd->add_option("-c,--checkpoint", a->checkpoint,
                  "trained checkpoint: its model and vocabulary are used, and decoding is timed");
  cmd->add_option("--src", a->src, "source sentences to decode (default test_2016_flickr.en)");
  cmd->add_option("--threads", a->threads, "compute threads (default 2)")->check(CLI::PositiveNumber);
  add_gemm_option(cmd);
  cmd->add_option("--compute-type", a->compute_type, "decoding: float or int8 (default: the checkpoint's decode.compute_type)")
      ->check(CLI::IsMember({"float", "int8"}));
  cmd->add_flag("--latency", a->latency,
                "decoding: also translate each sentence alone and report the median, p90 and "
                "max ms per sentence (one-sentence latency; use with --sentences 200 --threads 1)");
  cmd->add_option("--workers", a->workers,
                  "decoding: batches decoded at once, one thread each (translate --workers; "
                  "default 1)")
      ->check(CLI::Range(1, 64));
  cmd->add_option("--runs", a->runs, "timed runs per measurement (default 3)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--steps", a->steps, "training steps per run (default 20)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--warmup", a->warmup, "untimed training steps first (default 5)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--sentences", a->sentences, "sentences decoded per run (default 1000)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--batch-size", a->batch_size, "sentences per decoding batch (default 64)")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--json", a->json, "print one JSON object instead of the table");
  cmd->add_flag("--no-train", a->no_train, "skip the training measurement");
  cmd->add_flag("--no-decode", a->no_decode, "skip the decoding measurement");
  cmd->add_flag("--no-sgemm", a->no_sgemm, "skip the sgemm roof measurement");
  cmd->footer(R"(Examples:
  spotlight bench                                    # training speed, multi30k_en_fr shape
  spotlight bench --threads 1 --runs 5
  spotlight bench --set model.d_model=256 --set model.ffn=1024 --set model.encoder_layers=3 \
      --set model.decoder_layers=3                   # another model shape
  spotlight bench -c runs/multi30k_en_fr/checkpoints/best --json   # + greedy and beam 5
  spotlight bench -c runs/multi30k_en_fr/checkpoints/best --no-train --no-sgemm --threads 1 \
      --sentences 200 --batch-size 1 --latency --compute-type int8   # one sentence at a time
  spotlight bench -c CKPT --no-train --no-sgemm --threads 2 --workers 2   # two batches at once
  spotlight bench --no-train --no-decode --gemm openblas   # the sgemm roof of one backend
  scripts/bench.sh --peer                            # side by side with the PyTorch peer

Training batches come from the config's data.train (scripts/get_data.sh multi30k), cut as
`spotlight train` cuts them. Decoding needs a trained checkpoint: an untrained model's
outputs all run to the length limit.)");
  cmd->callback([a, &action] { action = [a] { return run_bench(*a); }; });
}

}  // namespace spotlight

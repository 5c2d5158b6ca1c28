// spotlight plot — how training runs went: training and validation loss, validation BLEU and the
// learning rate against updates, read from each run's metrics.jsonl and drawn as one SVG (or an
// HTML page holding it), several runs overlaid in different colours.
#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>

#include "spotlight/check.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/svg.h"

namespace spotlight {

namespace {
namespace fs = std::filesystem;

struct Series {
  std::vector<double> x, y;
};
struct RunCurves {
  std::string name;
  Series train_loss, valid_loss, bleu, lr;
};

// Reads DIR/metrics.jsonl (or the file itself). A last line cut short by a running or killed
// trainer is skipped with a warning; any other bad line is an error naming file and line.
RunCurves read_run(const std::string& run) {
  fs::path path(run);
  if (fs::is_directory(path)) path /= "metrics.jsonl";
  std::ifstream f(path, std::ios::binary);
  require(f.good(), "cannot read " + path.string() +
                        " (give a run directory holding metrics.jsonl, or the file itself)");
  RunCurves c;
  c.name = fs::path(run).filename().empty() ? fs::path(run).parent_path().filename().string()
                                            : fs::path(run).filename().string();
  if (c.name == "metrics.jsonl") c.name = path.parent_path().filename().string();
  std::vector<std::string> lines;
  for (std::string l; std::getline(f, l);) lines.push_back(l);
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].empty()) continue;
    const auto j = nlohmann::json::parse(lines[i], nullptr, false);
    const std::string where = path.string() + ":" + std::to_string(i + 1);
    if (j.is_discarded() || !j.is_object()) {
      require(i + 1 == lines.size(), where + ": not a JSON object");
      spdlog::warn("{}: an incomplete last line (a run still writing?) is skipped", where);
      continue;
    }
    auto num = [&](const char* key, double& out) {
      const auto it = j.find(key);
      if (it == j.end() || !it->is_number()) return false;
      out = it->get<double>();
      return std::isfinite(out);
    };
    double step = 0, v = 0;
    if (!num("step", step)) continue;
    const std::string type = j.value("type", "");
    if (type == "train") {
      if (num("loss", v)) c.train_loss.x.push_back(step), c.train_loss.y.push_back(v);
      if (num("lr", v)) c.lr.x.push_back(step), c.lr.y.push_back(v);
    } else if (type == "valid") {
      if (num("loss", v)) c.valid_loss.x.push_back(step), c.valid_loss.y.push_back(v);
      if (num("bleu", v)) c.bleu.x.push_back(step), c.bleu.y.push_back(v);
    }
  }
  require(!c.train_loss.x.empty() || !c.valid_loss.x.empty(),
          path.string() + ": no training or validation records (is it a Spotlight metrics.jsonl?)");
  return c;
}

// Tick positions: steps of 1, 2 or 5 × 10^k, about five over [lo, hi].
std::vector<double> ticks(double lo, double hi) {
  const double raw = (hi - lo) / 5.0;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (raw <= m * mag) {
      step = m * mag;
      break;
    }
  std::vector<double> t;
  for (double v = std::ceil(lo / step) * step; v <= hi + step * 1e-9; v += step)
    t.push_back(std::abs(v) < step * 1e-9 ? 0.0 : v);
  return t;
}

const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                         "#9467bd", "#8c564b", "#e377c2", "#17becf"};

struct Line {
  const Series* s;
  std::string color;
  bool dashed;
};

// One panel at vertical offset `top`: axes, ticks, grid, title and the lines.
void panel(Svg& out, const std::string& title, const std::vector<Line>& lines, double x_max,
           double top) {
  const double left = 70, width = 620, height = 170;
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const Line& l : lines)
    for (double v : l.s->y) lo = std::min(lo, v), hi = std::max(hi, v);
  out.text(left, top - 8, title, "font-weight=\"bold\"");
  out.rect(left, top, width, height, "fill=\"none\" stroke=\"#999\"");
  if (!std::isfinite(lo)) {
    out.text(left + 10, top + 24, "no data", "fill=\"#777\"");
    return;
  }
  if (hi - lo < 1e-12 * std::max(1.0, std::abs(hi))) lo -= 0.5 * std::max(std::abs(lo), 1e-6), hi += 0.5 * std::max(std::abs(hi), 1e-6);
  const double pad = 0.05 * (hi - lo);
  lo -= pad, hi += pad;
  auto X = [&](double v) { return left + width * v / x_max; };
  auto Y = [&](double v) { return top + height * (1.0 - (v - lo) / (hi - lo)); };
  for (double t : ticks(lo, hi)) {
    out.line(left, Y(t), left + width, Y(t), "stroke=\"#eee\"");
    out.text(left - 6, Y(t) + 4, fmt::format("{:g}", t), "text-anchor=\"end\"");
  }
  for (double t : ticks(0, x_max)) {
    out.line(X(t), top, X(t), top + height, "stroke=\"#eee\"");
    out.text(X(t), top + height + 16, fmt::format("{:g}", t), "text-anchor=\"middle\"");
  }
  for (const Line& l : lines) {
    if (l.s->x.empty()) continue;
    std::vector<std::pair<double, double>> pts;
    for (size_t i = 0; i < l.s->x.size(); ++i) pts.emplace_back(X(l.s->x[i]), Y(l.s->y[i]));
    out.polyline(pts, "fill=\"none\" stroke=\"" + l.color + "\" stroke-width=\"1.5\"" +
                          (l.dashed ? " stroke-dasharray=\"5 3\"" : ""));
    if (l.s->x.size() == 1)  // a single point would draw nothing
      out.circle(pts[0].first, pts[0].second, 2.5, "fill=\"" + l.color + "\"");
  }
}

std::string plot_svg(const std::vector<RunCurves>& runs, bool xmlns) {
  double x_max = 1;
  for (const RunCurves& r : runs)
    for (const Series* s : {&r.train_loss, &r.valid_loss, &r.bleu, &r.lr})
      for (double x : s->x) x_max = std::max(x_max, x);
  const double legend = 30 + 18.0 * static_cast<double>(runs.size()), panel_h = 230;
  const double height = legend + 3 * panel_h + 20;
  Svg out(720, height, xmlns);
  std::vector<Line> loss, bleu, lr;
  for (size_t i = 0; i < runs.size(); ++i) {
    const std::string color = kColors[i % std::size(kColors)];
    const RunCurves& r = runs[i];
    loss.push_back({&r.train_loss, color, false});
    loss.push_back({&r.valid_loss, color, true});
    bleu.push_back({&r.bleu, color, false});
    lr.push_back({&r.lr, color, false});
    const double y = 20 + 18.0 * static_cast<double>(i);
    out.line(70, y, 100, y, "stroke=\"" + color + "\" stroke-width=\"2\"");
    out.text(108, y + 4, r.name);
  }
  panel(out, "loss (training solid, validation dashed)", loss, x_max, legend + 20);
  panel(out, "validation BLEU", bleu, x_max, legend + 20 + panel_h);
  panel(out, "learning rate", lr, x_max, legend + 20 + 2 * panel_h);
  out.text(380, height - 4, "updates", "text-anchor=\"middle\"");
  return out.finish();
}

struct PlotArgs {
  std::vector<std::string> runs;
  std::string output = "curves.svg";
};
}  // namespace

void add_plot_command(CLI::App& app, CommandAction& action) {
  auto a = std::make_shared<PlotArgs>();
  CLI::App* cmd = app.add_subcommand(
      "plot", "Plot training runs: loss, validation BLEU and learning rate against updates");
  cmd->add_option("--run", a->runs, "run directory (or its metrics.jsonl); repeat to overlay runs")
      ->required();
  cmd->add_option("-o,--output", a->output,
                  "output file: .svg (default curves.svg) or .html, - for SVG on stdout");
  cmd->footer(R"(Examples:
  spotlight plot --run runs/multi30k_en_fr -o curves.svg
  spotlight plot --run runs/multi30k_en_fr --run runs/m30k_cosine -o compare.html

Reads each run's metrics.jsonl (the "train" and "valid" records spotlight train writes) and draws
three panels over updates: training (solid) and validation (dashed) loss, validation BLEU, and
the learning rate; one colour per run. Works on a run that is still training.)");
  cmd->callback([a, &action] {
    action = [a] {
      std::vector<RunCurves> runs;
      for (const std::string& r : a->runs) runs.push_back(read_run(r));
      std::string text;
      if (a->output.ends_with(".html")) {
        text = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
               "<title>Spotlight training curves</title>\n</head>\n<body>\n" +
               plot_svg(runs, false) + "</body>\n</html>\n";
      } else {
        text = plot_svg(runs, true);
      }
      write_text_output(a->output, text);
      if (a->output != "-") spdlog::info("wrote {} ({} runs)", a->output, runs.size());
      return 0;
    };
  });
}

}  // namespace spotlight

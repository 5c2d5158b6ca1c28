#include "spotlight/serve/metrics.h"

#include <algorithm>
#include <cstdio>

namespace spotlight {

namespace {
std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}
}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double v) {
  const size_t k = static_cast<size_t>(
      std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  ++counts_[k];  // k == bounds_.size(): above every bound (+Inf only)
  sum_ += v;
  ++count_;
}

std::string Histogram::text(const std::string& name, const std::string& help) const {
  std::string out = "# HELP " + name + " " + help + "\n# TYPE " + name + " histogram\n";
  long cumulative = 0;
  for (size_t k = 0; k < bounds_.size(); ++k) {
    cumulative += counts_[k];
    out += name + "_bucket{le=\"" + number(bounds_[k]) + "\"} " + std::to_string(cumulative) + "\n";
  }
  out += name + "_bucket{le=\"+Inf\"} " + std::to_string(count_) + "\n";
  out += name + "_sum " + number(sum_) + "\n" + name + "_count " + std::to_string(count_) + "\n";
  return out;
}

ServerMetrics::ServerMetrics()
    : latency_({0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}),
      batch_sentences_({1, 2, 4, 8, 16, 32, 64, 128, 256, 512}) {}

void ServerMetrics::request(const std::string& endpoint, int status, double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  ++requests_[{endpoint, status}];
  latency_.observe(seconds);
}

void ServerMetrics::batch(const BatchReport& b) {
  std::lock_guard<std::mutex> lock(mu_);
  ++batches_;
  sentences_ += b.sentences;
  output_tokens_ += b.output_tokens;
  decode_seconds_ += b.seconds;
  batch_sentences_.observe(static_cast<double>(b.sentences));
}

void ServerMetrics::texts(long n) {
  std::lock_guard<std::mutex> lock(mu_);
  texts_ += n;
}

std::string ServerMetrics::text(long queued) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out =
      "# HELP spotlight_requests_total HTTP requests answered, by endpoint and status.\n"
      "# TYPE spotlight_requests_total counter\n";
  for (const auto& [key, n] : requests_)
    out += "spotlight_requests_total{endpoint=\"" + key.first + "\",status=\"" +
           std::to_string(key.second) + "\"} " + std::to_string(n) + "\n";
  auto counter = [&](const std::string& name, const std::string& help, const std::string& v) {
    out += "# HELP " + name + " " + help + "\n# TYPE " + name + " counter\n" + name + " " + v + "\n";
  };
  counter("spotlight_texts_total", "Texts (q entries) translated.", std::to_string(texts_));
  counter("spotlight_sentences_total", "Sentences decoded (a text may hold several).",
          std::to_string(sentences_));
  counter("spotlight_output_tokens_total", "Output tokens (with EOS) of the best translations.",
          std::to_string(output_tokens_));
  counter("spotlight_batches_total", "Batches decoded.", std::to_string(batches_));
  counter("spotlight_decode_seconds_total", "Time spent decoding batches.", number(decode_seconds_));
  out += latency_.text("spotlight_request_duration_seconds",
                       "Time from a request's arrival to its answer.");
  out += batch_sentences_.text("spotlight_batch_sentences", "Sentences per decoded batch.");
  out += "# HELP spotlight_queue_sentences Sentences waiting for a batch.\n"
         "# TYPE spotlight_queue_sentences gauge\nspotlight_queue_sentences " +
         std::to_string(queued) + "\n";
  return out;
}

}  // namespace spotlight

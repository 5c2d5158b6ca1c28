// metrics.h — the server's counters in Prometheus' text exposition format (version 0.0.4), for
// GET /metrics: requests by endpoint and status, texts and sentences translated, request latency
// and batch sizes as histograms, the queue depth. Thread-safe: HTTP threads count requests, the
// batcher's worker counts batches.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "spotlight/serve/batcher.h"

namespace spotlight {

// Cumulative buckets, as Prometheus histograms are: count of observations ≤ each bound.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);
  // The _bucket, _sum and _count lines of metric `name` (its # HELP and # TYPE first).
  std::string text(const std::string& name, const std::string& help) const;

 private:
  std::vector<double> bounds_;
  std::vector<long> counts_;  // per bound (not cumulative; summed when written), then +Inf
  double sum_ = 0.0;
  long count_ = 0;
};

class ServerMetrics {
 public:
  ServerMetrics();
  void request(const std::string& endpoint, int status, double seconds);
  void batch(const BatchReport& b);
  void texts(long n);  // texts of a request answered
  // Everything, with the queue depth given (the batcher knows it).
  std::string text(long queued) const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, long> requests_;
  long texts_ = 0, sentences_ = 0, batches_ = 0, output_tokens_ = 0;
  double decode_seconds_ = 0.0;
  Histogram latency_, batch_sentences_;
};

}  // namespace spotlight

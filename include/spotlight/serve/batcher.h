// batcher.h — translation of concurrent requests in shared batches. A request's texts are cut
// into sentences (when splitting is on) and queued; a worker thread gathers sentences from
// every waiting request, up to a token budget or until the oldest has waited a few
// milliseconds, and decodes them together with the batched search (Translator: sorted by
// length, decoded), then routes each result back and joins a text's sentences again
// (join_sentences). A batch takes sentences from the waiting requests in turn (one each per
// round), so a request of many texts, or one long paragraph, is spread over several batches and
// cannot hold back a small request that came after it. Sentences with different decoding
// settings (beam, n-best, alignment) never share a batch; the oldest request's settings go
// first. The queue is bounded: a request that would overfill it is refused at once (QueueFull).
// With several workers (RequestBatcherOptions::workers) that many batches are decoded at once,
// each on its worker's thread alone (InlineLoops); with one, a batch's products are split over
// the compute pool.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "spotlight/check.h"
#include "spotlight/config.h"
#include "spotlight/data/sentence_split.h"
#include "spotlight/data/vocab.h"
#include "spotlight/decode/translator.h"
#include "spotlight/model/transformer.h"

namespace spotlight {

// How one request is decoded (the rest, alpha and patience and length limits, is the
// checkpoint's decode config).
struct DecodeSettings {
  long beam = 1;              // 1: greedy
  long nbest = 1;             // translations per text, best first
  long alignment_layer = -1;  // word alignments as TranslateOptions says; -1: none

  auto key() const { return std::tuple(beam, nbest, alignment_layer); }
  bool operator==(const DecodeSettings& o) const { return key() == o.key(); }
};

struct RequestBatcherOptions {
  long max_batch_tokens = 2048;  // source pieces gathered into one batch (at least one sentence)
  std::chrono::microseconds max_wait{5000};  // how long the oldest sentence waits for company
  long max_queued = 1024;        // sentences waiting at most; a request beyond it is refused
  bool split = false;            // cut texts into sentences (SentenceSplitter)
  int workers = 1;               // batches decoded at once, one thread each (1 … 64)
};

// The queue is full (HTTP 429) or the batcher is stopping (HTTP 503).
struct QueueFull : Error {
  using Error::Error;
};
struct Stopping : Error {
  using Error::Error;
};

// What a batch was, for metrics.
struct BatchReport {
  long sentences = 0, source_tokens = 0, output_tokens = 0;
  long requests = 0;  // requests it took sentences from
  double seconds = 0.0;
};

// (Not `Batcher`: data/batcher.h has the training batches' spotlight::Batcher, and two classes
// of one name are an ODR violation that the linker resolves silently.)
class RequestBatcher {
 public:
  using Result = std::vector<std::vector<Translation>>;  // per text, best first

  // model, vocab and decode must outlive the batcher. on_batch is called on the worker thread
  // after each batch (with several workers, from each of them).
  RequestBatcher(const Transformer& model, const Vocab& vocab, const DecodeConfig& decode,
                 const RequestBatcherOptions& o,
                 std::function<void(const BatchReport&)> on_batch = {});
  ~RequestBatcher();  // drain()
  RequestBatcher(const RequestBatcher&) = delete;
  RequestBatcher& operator=(const RequestBatcher&) = delete;

  // Throws Error naming the problem unless the settings fit the model and the search (checked
  // before anything is queued).
  void check(const DecodeSettings& s) const;
  // Queues the texts (valid UTF-8) of one request: the future's result[i] holds the
  // translations of texts[i]. Throws Error for bad settings, QueueFull when they do not fit in
  // the queue, Stopping after drain() began. An empty list is answered at once.
  std::future<Result> submit(std::vector<std::string> texts, const DecodeSettings& s);
  // Runs f() on a worker thread between its batches (with one worker, nothing else computes
  // meanwhile; with several, f's loops run inline as the batches' do) and returns its result or
  // throws its exception. Throws Stopping after drain() began.
  template <class F>
  auto exclusive(F&& f) -> decltype(f()) {
    auto task = std::make_shared<std::packaged_task<decltype(f())()>>(std::forward<F>(f));
    auto result = task->get_future();
    enqueue([task] { (*task)(); });
    return result.get();
  }
  // Stops taking requests and returns once everything queued is translated.
  void drain();

  long queued() const;  // sentences waiting, not yet in a batch
  const RequestBatcherOptions& options() const { return o_; }

 private:
  struct Request;
  struct Item {  // one sentence of a request, in a batch
    std::shared_ptr<Request> request;
    size_t index;
  };
  void enqueue(std::function<void()> task);
  void run(size_t worker);
  std::vector<Item> next_batch(std::unique_lock<std::mutex>& lock);
  void translate(size_t worker, const std::vector<Item>& batch);
  Result finish(Request& r) const;

  const Transformer& model_;
  const Vocab& vocab_;
  const DecodeConfig decode_;
  const RequestBatcherOptions o_;
  std::function<void(const BatchReport&)> on_batch_;
  // Each worker's translators, one per decoding settings.
  std::vector<std::map<std::tuple<long, long, long>, std::unique_ptr<Translator>>> translators_;
  std::mutex route_mu_;  // results going back to their requests (a request spans batches)
  std::mutex split_mu_;                        // the splitter keeps state: one caller at a time
  std::unique_ptr<SentenceSplitter> splitter_;  // when o_.split

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Request>> waiting_;  // oldest first; each has sentences not yet taken
  std::deque<std::function<void()>> tasks_;       // exclusive() calls, run before the next batch
  long queued_ = 0, queued_tokens_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace spotlight

#include "spotlight/serve/batcher.h"

#include <algorithm>

namespace spotlight {

using Clock = std::chrono::steady_clock;

struct Batcher::Request {
  std::vector<std::string> texts;
  std::vector<long> tokens;  // source pieces of each text (its EOS included)
  DecodeSettings settings;
  Clock::time_point arrived;
  size_t next = 0;  // the first text not yet taken into a batch
  size_t done = 0;  // texts translated
  Result result;
  std::promise<Result> promise;
};

Batcher::Batcher(const Transformer& model, const Vocab& vocab, const DecodeConfig& decode,
                 const BatcherOptions& o, std::function<void(const BatchReport&)> on_batch)
    : model_(model), vocab_(vocab), decode_(decode), o_(o), on_batch_(std::move(on_batch)) {
  require(o.max_batch_tokens >= 1 && o.max_queued >= 1 && o.max_wait.count() >= 0,
          "batcher: the token budget and the queue must hold at least one, the wait be >= 0");
  worker_ = std::thread([this] { run(); });
}

Batcher::~Batcher() { drain(); }

void Batcher::check(const DecodeSettings& s) const {
  DecodeConfig d = decode_;
  d.beam = s.beam;
  require(s.alignment_layer >= -1, "the alignment layer must be -1 (none), 0 (all) or a layer");
  check_translate_options(model_.cfg, d, TranslateOptions{s.nbest, o_.split, s.alignment_layer});
}

std::future<Batcher::Result> Batcher::submit(std::vector<std::string> texts,
                                             const DecodeSettings& s) {
  check(s);
  auto r = std::make_shared<Request>();
  r->settings = s;
  r->tokens.reserve(texts.size());
  long tokens = 0;
  for (const std::string& t : texts) {  // the budget's measure, outside the lock
    r->tokens.push_back(static_cast<long>(encode_source(model_, vocab_, t).size()) + 1);
    tokens += r->tokens.back();
  }
  r->texts = std::move(texts);
  r->result.resize(r->texts.size());
  std::future<Result> f = r->promise.get_future();
  if (r->texts.empty()) {
    r->promise.set_value({});
    return f;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) throw Stopping("the server is shutting down");
    const long n = static_cast<long>(r->texts.size());
    if (queued_ + n > o_.max_queued)
      throw QueueFull("the translation queue is full (" + std::to_string(queued_) + " of " +
                      std::to_string(o_.max_queued) + " texts waiting): try again shortly");
    r->arrived = Clock::now();
    queued_ += n;
    queued_tokens_ += tokens;
    waiting_.push_back(std::move(r));
  }
  cv_.notify_all();
  return f;
}

void Batcher::drain() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

long Batcher::queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queued_;
}

void Batcher::enqueue(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) throw Stopping("the server is shutting down");
    tasks_.push_back(std::move(task));
  }
  cv_.notify_all();
}

void Batcher::run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stopping_ || !waiting_.empty() || !tasks_.empty(); });
    if (!tasks_.empty()) {
      std::function<void()> task = std::move(tasks_.front());
      tasks_.pop_front();
      lock.unlock();
      task();  // a packaged_task: its exception goes to its caller
      lock.lock();
      continue;
    }
    if (waiting_.empty()) return;  // stopping, and nothing left
    std::vector<Item> batch = next_batch(lock);
    lock.unlock();
    translate(batch);
    lock.lock();
  }
}

// Waits (lock held) until the budget is full or the oldest text has waited max_wait, then takes
// texts of the oldest request's settings from the waiting requests in turn.
std::vector<Batcher::Item> Batcher::next_batch(std::unique_lock<std::mutex>& lock) {
  const Clock::time_point deadline = waiting_.front()->arrived + o_.max_wait;
  cv_.wait_until(lock, deadline,
                 [&] { return stopping_ || queued_tokens_ >= o_.max_batch_tokens; });
  const DecodeSettings key = waiting_.front()->settings;
  std::vector<Item> batch;
  long tokens = 0;
  for (bool took = true; took && tokens < o_.max_batch_tokens;) {
    took = false;  // one round: the next text of every waiting request with these settings
    for (const auto& r : waiting_) {
      if (!(r->settings == key) || r->next == r->texts.size()) continue;
      const long t = r->tokens[r->next];
      if (!batch.empty() && tokens + t > o_.max_batch_tokens) continue;
      batch.push_back({r, r->next++});
      tokens += t;
      took = true;
      if (tokens >= o_.max_batch_tokens) break;
    }
  }
  queued_ -= static_cast<long>(batch.size());
  queued_tokens_ -= tokens;
  std::erase_if(waiting_, [](const auto& r) { return r->next == r->texts.size(); });
  return batch;
}

void Batcher::translate(const std::vector<Item>& batch) {
  const Clock::time_point start = Clock::now();
  const DecodeSettings& s = batch.front().request->settings;
  BatchReport report;
  try {
    std::unique_ptr<Translator>& tr = translators_[s.key()];
    if (!tr) {
      DecodeConfig d = decode_;
      d.beam = s.beam;
      tr = std::make_unique<Translator>(model_, vocab_, d,
                                        TranslateOptions{s.nbest, o_.split, s.alignment_layer});
    }
    const TranslateReport before = tr->report();
    for (const Item& it : batch) tr->add(it.request->texts[it.index]);
    report.sentences = tr->queued_sentences();
    Result out = tr->translate_queued();
    report.output_tokens = tr->report().output_tokens - before.output_tokens;
    for (size_t k = 0; k < batch.size(); ++k) {
      Request& r = *batch[k].request;
      r.result[batch[k].index] = std::move(out[k]);
      if (++r.done == r.texts.size()) r.promise.set_value(std::move(r.result));
    }
  } catch (...) {  // every request of the batch gets the error, once
    for (const Item& it : batch) {
      Request& r = *it.request;
      if (r.done == r.texts.size()) continue;
      r.done = r.texts.size();
      r.promise.set_exception(std::current_exception());
    }
  }
  report.texts = static_cast<long>(batch.size());
  std::vector<const Request*> seen;
  for (const Item& it : batch) {
    report.source_tokens += it.request->tokens[it.index];
    if (std::find(seen.begin(), seen.end(), it.request.get()) == seen.end())
      seen.push_back(it.request.get());
  }
  report.requests = static_cast<long>(seen.size());
  report.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (on_batch_) on_batch_(report);
}

}  // namespace spotlight

#include "spotlight/serve/batcher.h"

#include <algorithm>

#include "spotlight/parallel.h"

namespace spotlight {

using Clock = std::chrono::steady_clock;

struct RequestBatcher::Request {
  std::vector<std::string> sentences;    // every text's sentences, in order
  std::vector<std::vector<int>> ids;     // their source pieces
  std::vector<size_t> first, count;      // per text: its first sentence and how many
  DecodeSettings settings;
  Clock::time_point arrived;
  size_t next = 0;  // the first sentence not yet taken into a batch
  size_t done = 0;  // sentences translated
  bool failed = false;
  std::vector<std::vector<Translation>> parts;  // per sentence, best first
  std::promise<Result> promise;

  long tokens(size_t s) const { return static_cast<long>(ids[s].size()) + 1; }  // with EOS
};

RequestBatcher::RequestBatcher(const Transformer& model, const Vocab& vocab,
                               const DecodeConfig& decode, const RequestBatcherOptions& o,
                               std::function<void(const BatchReport&)> on_batch)
    : model_(model), vocab_(vocab), decode_(decode), o_(o), on_batch_(std::move(on_batch)) {
  require(o.max_batch_tokens >= 1 && o.max_queued >= 1 && o.max_wait.count() >= 0,
          "batcher: the token budget and the queue must hold at least one, the wait be >= 0");
  require(o.workers >= 1 && o.workers <= 64,
          "--workers " + std::to_string(o.workers) + ": expected 1 to 64 batches at once");
  if (o.split) splitter_ = std::make_unique<SentenceSplitter>();
  translators_.resize(static_cast<size_t>(o.workers));
  for (size_t w = 0; w < translators_.size(); ++w)
    workers_.emplace_back([this, w] {
      if (translators_.size() == 1) return run(w);
      const InlineLoops inline_loops;
      run(w);
    });
}

RequestBatcher::~RequestBatcher() { drain(); }

void RequestBatcher::check(const DecodeSettings& s) const {
  DecodeConfig d = decode_;
  d.beam = s.beam;
  require(s.alignment_layer >= -1, "the alignment layer must be -1 (none), 0 (all) or a layer");
  check_translate_options(model_.cfg, d, TranslateOptions{s.nbest, o_.split, s.alignment_layer});
}

std::future<RequestBatcher::Result> RequestBatcher::submit(std::vector<std::string> texts,
                                             const DecodeSettings& s) {
  check(s);
  auto r = std::make_shared<Request>();
  r->settings = s;
  long tokens = 0;
  for (const std::string& t : texts) {  // cut and encoded outside the queue's lock
    std::vector<std::string> pieces;
    if (splitter_) {
      std::lock_guard<std::mutex> lock(split_mu_);
      pieces = splitter_->split(t);
    } else {
      pieces = {t};
    }
    r->first.push_back(r->sentences.size());
    r->count.push_back(pieces.size());
    for (std::string& p : pieces) {
      r->ids.push_back(encode_source(model_, vocab_, p));
      r->sentences.push_back(std::move(p));
      tokens += r->tokens(r->sentences.size() - 1);
    }
  }
  r->parts.resize(r->sentences.size());
  std::future<Result> f = r->promise.get_future();
  if (r->sentences.empty()) {
    r->promise.set_value(Result(texts.size()));
    return f;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) throw Stopping("the server is shutting down");
    const long n = static_cast<long>(r->sentences.size());
    if (queued_ + n > o_.max_queued)
      throw QueueFull("the translation queue is full (" + std::to_string(queued_) + " of " +
                      std::to_string(o_.max_queued) + " sentences waiting, " +
                      std::to_string(n) + " more asked): try again shortly");
    r->arrived = Clock::now();
    queued_ += n;
    queued_tokens_ += tokens;
    waiting_.push_back(std::move(r));
  }
  cv_.notify_all();
  return f;
}

void RequestBatcher::drain() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (std::thread& w : workers_)
    if (w.joinable()) w.join();
}

long RequestBatcher::queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queued_;
}

void RequestBatcher::enqueue(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) throw Stopping("the server is shutting down");
    tasks_.push_back(std::move(task));
  }
  cv_.notify_all();
}

void RequestBatcher::run(size_t worker) {
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
    if (waiting_.empty()) {
      if (stopping_) return;  // nothing left
      continue;               // another worker took it all
    }
    std::vector<Item> batch = next_batch(lock);
    if (batch.empty()) continue;  // taken by another worker while this one waited
    lock.unlock();
    translate(worker, batch);
    lock.lock();
  }
}

// Waits (lock held) until the budget is full or the oldest text has waited max_wait, then takes
// sentences of the oldest request's settings from the waiting requests in turn.
std::vector<RequestBatcher::Item> RequestBatcher::next_batch(std::unique_lock<std::mutex>& lock) {
  const Clock::time_point deadline = waiting_.front()->arrived + o_.max_wait;
  cv_.wait_until(lock, deadline,
                 [&] { return stopping_ || queued_tokens_ >= o_.max_batch_tokens; });
  if (waiting_.empty()) return {};  // another worker took everything meanwhile
  const DecodeSettings key = waiting_.front()->settings;
  std::vector<Item> batch;
  long tokens = 0;
  for (bool took = true; took && tokens < o_.max_batch_tokens;) {
    took = false;  // one round: the next sentence of every waiting request with these settings
    for (const auto& r : waiting_) {
      if (!(r->settings == key) || r->next == r->sentences.size()) continue;
      const long t = r->tokens(r->next);
      if (!batch.empty() && tokens + t > o_.max_batch_tokens) continue;
      batch.push_back({r, r->next++});
      tokens += t;
      took = true;
      if (tokens >= o_.max_batch_tokens) break;
    }
  }
  queued_ -= static_cast<long>(batch.size());
  queued_tokens_ -= tokens;
  std::erase_if(waiting_, [](const auto& r) { return r->next == r->sentences.size(); });
  return batch;
}

// A request whose every sentence is translated: its texts' sentences joined back.
RequestBatcher::Result RequestBatcher::finish(Request& r) const {
  Result out(r.first.size());
  for (size_t t = 0; t < out.size(); ++t) {
    const auto b = r.parts.begin() + static_cast<long>(r.first[t]);
    const std::vector<std::vector<Translation>> parts(std::make_move_iterator(b),
                                                      std::make_move_iterator(b + static_cast<long>(r.count[t])));
    const std::vector<std::vector<int>> ids(r.ids.begin() + static_cast<long>(r.first[t]),
                                            r.ids.begin() + static_cast<long>(r.first[t] + r.count[t]));
    out[t] = join_sentences(vocab_, ids, parts, r.settings.alignment_layer >= 0);
  }
  return out;
}

void RequestBatcher::translate(size_t worker, const std::vector<Item>& batch) {
  const Clock::time_point start = Clock::now();
  const DecodeSettings& s = batch.front().request->settings;
  BatchReport report;
  try {
    std::unique_ptr<Translator>& tr = translators_[worker][s.key()];
    if (!tr) {  // sentences in, so the translator splits nothing
      DecodeConfig d = decode_;
      d.beam = s.beam;
      tr = std::make_unique<Translator>(model_, vocab_, d,
                                        TranslateOptions{s.nbest, false, s.alignment_layer});
    }
    const long before = tr->report().output_tokens;
    for (const Item& it : batch) tr->add(it.request->sentences[it.index]);
    std::vector<std::vector<Translation>> out = tr->translate_queued();
    report.output_tokens = tr->report().output_tokens - before;
    std::lock_guard<std::mutex> lock(route_mu_);
    for (size_t k = 0; k < batch.size(); ++k) {
      Request& r = *batch[k].request;
      if (r.failed) continue;
      r.parts[batch[k].index] = std::move(out[k]);
      if (++r.done == r.sentences.size()) r.promise.set_value(finish(r));
    }
  } catch (...) {  // every request of the batch gets the error, once
    std::lock_guard<std::mutex> lock(route_mu_);
    for (const Item& it : batch) {
      Request& r = *it.request;
      if (r.failed || r.done == r.sentences.size()) continue;
      r.failed = true;
      r.promise.set_exception(std::current_exception());
    }
  }
  report.sentences = static_cast<long>(batch.size());
  std::vector<const Request*> seen;
  for (const Item& it : batch) {
    report.source_tokens += it.request->tokens(it.index);
    if (std::find(seen.begin(), seen.end(), it.request.get()) == seen.end())
      seen.push_back(it.request.get());
  }
  report.requests = static_cast<long>(seen.size());
  report.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (on_batch_) on_batch_(report);
}

}  // namespace spotlight

// batcher_test.cpp — batching across requests, on a tiny trained model: each request gets
// exactly the translations `translate` gives its texts; texts of several requests share a batch;
// a request of many texts is spread over batches and cannot hold back a small one behind it;
// settings never mix within a batch; a full queue refuses at once; drain finishes what is queued
// and then refuses.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <latch>
#include <mutex>
#include <thread>

#include "spotlight/serve/batcher.h"
#include "spotlight/train/checkpoint.h"
#include "support/toy_corpus.h"

using namespace spotlight;

namespace {

struct Model {
  testing::ToyRun toy{"batcher"};
  OpenCheckpoint ck;
  Model() { ck = open_checkpoint(toy.train_quietly(60).string()); }
};
Model& model() {
  static Model m;
  return m;
}

const std::vector<std::string> kTexts = {"the dog runs",     "a red ball with the cat",
                                         "",                 "the man sits in the park",
                                         "a small woman",    "the big blue cat runs in the street",
                                         "a dog with a ball"};

// The translations Translator gives each text alone (the reference).
std::vector<std::vector<Translation>> alone(const std::vector<std::string>& texts,
                                            const DecodeSettings& s) {
  Model& m = model();
  DecodeConfig d = m.ck.config.decode;
  d.beam = s.beam;
  std::vector<std::vector<Translation>> out;
  for (const std::string& t : texts) {
    Translator tr(*m.ck.model, *m.ck.vocab, d, TranslateOptions{s.nbest, false, s.alignment_layer});
    tr.add(t);
    out.push_back(tr.translate_queued().front());
  }
  return out;
}

// The translations Translator gives the texts queued together, in this order: the same batch
// the batcher forms of them, so the same arithmetic on any BLAS kernel.
std::vector<std::vector<Translation>> together(const std::vector<std::string>& texts,
                                               const DecodeSettings& s) {
  Model& m = model();
  DecodeConfig d = m.ck.config.decode;
  d.beam = s.beam;
  Translator tr(*m.ck.model, *m.ck.vocab, d, TranslateOptions{s.nbest, false, s.alignment_layer});
  for (const std::string& t : texts) tr.add(t);
  return tr.translate_queued();
}

std::vector<std::string> texts_of(const std::vector<std::vector<Translation>>& r) {
  std::vector<std::string> out;
  for (const auto& ts : r)
    for (const Translation& t : ts) out.push_back(t.text);
  return out;
}

// Holds the batcher's worker (an exclusive() call that waits) until release().
struct Hold {
  std::latch started{1}, go{1};
  std::thread t;
  explicit Hold(RequestBatcher& b) {
    t = std::thread([&] {
      b.exclusive([&] {
        started.count_down();
        go.wait();
        return 0;
      });
    });
    started.wait();
  }
  void release() {
    go.count_down();
    t.join();
  }
};

}  // namespace

TEST_SUITE_BEGIN("e2e");

TEST_CASE("batcher: concurrent requests share batches and each gets its own translations") {
  Model& m = model();
  const DecodeSettings greedy{1, 1, -1}, beam{4, 2, 1};
  std::vector<BatchReport> batches;
  std::mutex mu;
  RequestBatcherOptions o;
  o.max_wait = std::chrono::milliseconds(50);
  RequestBatcher b(*m.ck.model, *m.ck.vocab, m.ck.config.decode, o, [&](const BatchReport& r) {
    std::lock_guard<std::mutex> lock(mu);
    batches.push_back(r);
  });
  Hold hold(b);  // everything below is queued before the first batch forms
  std::vector<std::future<RequestBatcher::Result>> greedy_results, beam_results;
  for (const std::string& t : kTexts) greedy_results.push_back(b.submit({t}, greedy));
  beam_results.push_back(b.submit(kTexts, beam));
  CHECK(b.queued() == 2 * static_cast<long>(kTexts.size()));
  hold.release();
  const auto want_greedy = together(kTexts, greedy), want_beam = together(kTexts, beam);
  for (size_t i = 0; i < kTexts.size(); ++i) {
    CAPTURE(i);
    const RequestBatcher::Result r = greedy_results[i].get();
    REQUIRE(r.size() == 1);
    CHECK(texts_of(r) == texts_of({want_greedy[i]}));
  }
  const RequestBatcher::Result r = beam_results[0].get();
  REQUIRE(r.size() == kTexts.size());
  CHECK(texts_of(r) == texts_of(want_beam));
  for (size_t i = 0; i < kTexts.size(); ++i) {
    CAPTURE(i);
    REQUIRE(r[i].size() == want_beam[i].size());
    for (size_t k = 0; k < r[i].size(); ++k) CHECK(r[i][k].alignment == want_beam[i][k].alignment);
  }
  b.drain();
  // Two batches: the seven one-text greedy requests together, the beam request apart.
  REQUIRE(batches.size() == 2);
  CHECK(batches[0].requests == 7);
  CHECK(batches[0].sentences == 7);
  CHECK(batches[1].requests == 1);
  CHECK(batches[1].sentences == 7);
  CHECK(b.queued() == 0);
}

TEST_CASE("batcher: two workers decode two batches at once, and each request gets its own "
          "translations") {
  Model& m = model();
  const DecodeSettings greedy{1, 1, -1}, beam{4, 2, 1};
  const auto want_greedy = alone(kTexts, greedy), want_beam = alone(kTexts, beam);
  RequestBatcherOptions o;
  o.workers = 2;
  o.max_batch_tokens = 1;  // one sentence per batch: each decoded as alone() decodes it
  std::mutex mu;
  long sentences = 0;
  RequestBatcher b(*m.ck.model, *m.ck.vocab, m.ck.config.decode, o, [&](const BatchReport& r) {
    std::lock_guard<std::mutex> lock(mu);
    sentences += r.sentences;
  });
  // Two exclusive() calls meet only if two workers run them at the same time.
  std::atomic<int> arrived{0};
  auto meet = [&] {
    return b.exclusive([&] {
      ++arrived;
      const auto t0 = std::chrono::steady_clock::now();
      while (arrived < 2 && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(20))
        std::this_thread::yield();
      return arrived.load() == 2;
    });
  };
  std::future<bool> other = std::async(std::launch::async, meet);
  CHECK(meet());
  CHECK(other.get());
  // Four clients at once, each with every text as a greedy request of its own and all of them
  // as one beam request.
  std::vector<std::thread> clients;
  std::vector<std::vector<RequestBatcher::Result>> got(4);
  for (size_t c = 0; c < got.size(); ++c)
    clients.emplace_back([&, c] {
      std::vector<std::future<RequestBatcher::Result>> f;
      for (const std::string& t : kTexts) f.push_back(b.submit({t}, greedy));
      f.push_back(b.submit(kTexts, beam));
      for (auto& x : f) got[c].push_back(x.get());
    });
  for (auto& t : clients) t.join();
  for (size_t c = 0; c < got.size(); ++c) {
    CAPTURE(c);
    REQUIRE(got[c].size() == kTexts.size() + 1);
    for (size_t i = 0; i < kTexts.size(); ++i)
      CHECK(texts_of(got[c][i]) == texts_of({want_greedy[i]}));
    const RequestBatcher::Result& r = got[c].back();
    CHECK(texts_of(r) == texts_of(want_beam));
    for (size_t i = 0; i < kTexts.size(); ++i) {
      REQUIRE(r[i].size() == want_beam[i].size());
      for (size_t k = 0; k < r[i].size(); ++k)
        CHECK(r[i][k].alignment == want_beam[i][k].alignment);
    }
  }
  b.drain();
  CHECK(sentences == 4 * 2 * static_cast<long>(kTexts.size()));  // the empty text too
  o.workers = 0;
  CHECK_THROWS_WITH_AS(RequestBatcher(*m.ck.model, *m.ck.vocab, m.ck.config.decode, o),
                       doctest::Contains("--workers 0"), Error);
}

TEST_CASE("batcher: a request of many texts is spread over batches, a small one goes first") {
  Model& m = model();
  const DecodeSettings greedy{1, 1, -1};
  std::vector<BatchReport> batches;  // written by the worker; read after drain()
  std::vector<bool> small_done;      // after each batch: is the small request answered?
  std::shared_future<RequestBatcher::Result> small_seen;
  RequestBatcherOptions o;
  // Room for two short sentences: the big request's first and the small one (its EOS counts).
  const long short_tokens =
      static_cast<long>(encode_source(*m.ck.model, *m.ck.vocab, "the dog runs").size()) + 1;
  o.max_batch_tokens = 2 * short_tokens;
  o.max_wait = std::chrono::milliseconds(0);
  RequestBatcher b(*m.ck.model, *m.ck.vocab, m.ck.config.decode, o, [&](const BatchReport& r) {
    batches.push_back(r);
    small_done.push_back(small_seen.wait_for(std::chrono::seconds(0)) == std::future_status::ready);
  });
  std::vector<std::string> big;
  for (int i = 0; i < 12; ++i) big.push_back(kTexts[static_cast<size_t>(i) % kTexts.size()]);
  Hold hold(b);
  auto big_result = b.submit(big, greedy);                  // first in the queue
  small_seen = b.submit({"the dog runs"}, greedy).share();  // behind it
  hold.release();
  const RequestBatcher::Result all = big_result.get();
  b.drain();
  CHECK(texts_of(small_seen.get()) == texts_of(alone({"the dog runs"}, greedy)));
  CHECK(texts_of(all) == texts_of(alone(big, greedy)));
  // The first batch took the big request's first text and the small request's one: the small
  // request was answered after one batch of the big one's many.
  REQUIRE(batches.size() >= 4);
  CHECK(batches[0].requests == 2);
  CHECK(small_done[0]);
  long texts = 0;
  for (const BatchReport& r : batches) {
    CHECK((r.source_tokens <= o.max_batch_tokens || r.sentences == 1));  // a long one alone
    texts += r.sentences;
  }
  CHECK(texts == 13);
}

TEST_CASE("batcher: a long paragraph is decoded sentence by sentence over several batches") {
  Model& m = model();
  const DecodeSettings beam{3, 2, 1};  // n-best and alignments joined across the sentences
  // "!" ends a sentence before a lower-case word too (a "." there would not: UAX #29).
  const std::string paragraph =
      "the dog runs! a red ball with the cat! the man sits in the park! a small woman! "
      "the big blue cat runs in the street! a dog with a ball!";
  std::vector<BatchReport> batches;
  std::vector<bool> small_done;
  std::shared_future<RequestBatcher::Result> small_seen;
  RequestBatcherOptions o;
  o.split = true;
  auto tokens = [&](const char* t) {
    return static_cast<long>(encode_source(*m.ck.model, *m.ck.vocab, t).size()) + 1;
  };
  o.max_batch_tokens = tokens("the dog runs!") + tokens("the dog runs");  // room for two
  o.max_wait = std::chrono::milliseconds(0);
  RequestBatcher b(*m.ck.model, *m.ck.vocab, m.ck.config.decode, o, [&](const BatchReport& r) {
    batches.push_back(r);
    small_done.push_back(small_seen.wait_for(std::chrono::seconds(0)) == std::future_status::ready);
  });
  Hold hold(b);
  auto big = b.submit({paragraph, "", "a cat! a dog!"}, beam);
  small_seen = b.submit({"the dog runs"}, beam).share();
  CHECK(b.queued() == 6 + 1 + 2 + 1);  // sentences, the empty text counting one
  hold.release();
  const RequestBatcher::Result got = big.get();
  b.drain();
  // What translate gives the same texts, each split and joined by Translator itself.
  DecodeConfig d = m.ck.config.decode;
  d.beam = beam.beam;
  Translator tr(*m.ck.model, *m.ck.vocab, d, TranslateOptions{beam.nbest, true, beam.alignment_layer});
  for (const char* t : {paragraph.c_str(), "", "a cat! a dog!"}) tr.add(t);
  const auto want = tr.translate_queued();
  REQUIRE(got.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    CAPTURE(i);
    REQUIRE(got[i].size() == want[i].size());
    for (size_t k = 0; k < got[i].size(); ++k) {
      CHECK(got[i][k].text == want[i][k].text);
      CHECK(got[i][k].alignment == want[i][k].alignment);
      CHECK(got[i][k].ids == want[i][k].ids);
      CHECK(got[i][k].tokens == want[i][k].tokens);
    }
  }
  CHECK(batches.size() >= 4);  // ten sentences, about two a batch
  CHECK(small_done[0]);        // the small request rode in the first batch
}

TEST_CASE("batcher: a full queue refuses at once, bad settings before queueing, drain then refuses") {
  Model& m = model();
  RequestBatcherOptions o;
  o.max_queued = 3;
  RequestBatcher b(*m.ck.model, *m.ck.vocab, m.ck.config.decode, o);
  const DecodeSettings greedy{1, 1, -1};
  Hold hold(b);
  auto first = b.submit({"the dog runs", "a cat"}, greedy);
  CHECK_THROWS_AS(b.submit({"a", "b"}, greedy), QueueFull);  // 2 + 2 > 3
  auto second = b.submit({"a man"}, greedy);                  // 2 + 1 fits
  CHECK(b.queued() == 3);
  CHECK_THROWS_WITH_AS(b.submit({"x"}, DecodeSettings{2, 3, -1}), doctest::Contains("--nbest 3"),
                       Error);
  CHECK_THROWS_WITH_AS(b.submit({"x"}, DecodeSettings{1, 1, 9}), doctest::Contains("decoder layers"),
                       Error);
  CHECK(b.submit({}, greedy).get().empty());
  hold.release();
  std::thread drainer([&] { b.drain(); });
  CHECK(first.get().size() == 2);  // queued before the drain: translated
  CHECK(second.get().size() == 1);
  drainer.join();
  CHECK_THROWS_AS(b.submit({"late"}, greedy), Stopping);
  CHECK_THROWS_AS(b.exclusive([] { return 1; }), Stopping);
}

TEST_SUITE_END();

// Batcher: token-count batches that respect max_tokens, cover every pair once per epoch, are
// reproducible from an Rng state (resume) and differ between epochs; the validation plan is
// sorted and fixed.
#include "spotlight/data/batcher.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <vector>

#include "spotlight/check.h"
#include "spotlight/rng.h"

using namespace spotlight;

namespace {

// A hand-built corpus of P pairs with random lengths in [1, max_len], ids ≥ 4; pair p comes from
// file line 10·p + 1, so Batch::ids can be told apart from pair indices.
ParallelCorpus random_corpus(long P, long max_len, uint64_t seed) {
  Rng rng(seed);
  ParallelCorpus c;
  c.offsets.push_back(0);
  for (long p = 0; p < P; ++p) {
    for (int side = 0; side < 2; ++side) {
      const long n = 1 + rng.below(static_cast<uint32_t>(max_len));
      for (long i = 0; i < n; ++i) c.tokens.push_back(4 + static_cast<int>(rng.below(50)));
      c.offsets.push_back(static_cast<long>(c.tokens.size()));
    }
    c.lines.push_back(10 * p + 1);
  }
  c.lines_read = 10 * P;
  return c;
}

// Checks that a plan holds every pair 0..P-1 exactly once and every batch fits max_tokens
// (unless it is a single pair).
void check_plan(const Batcher& batcher, const BatchPlan& plan, long P, long max_tokens) {
  std::vector<int> seen(static_cast<size_t>(P), 0);
  for (const auto& batch : plan) {
    REQUIRE(!batch.empty());
    long S = 0, T = 0;
    for (long p : batch) {
      REQUIRE(p >= 0);
      REQUIRE(p < P);
      ++seen[static_cast<size_t>(p)];
      S = std::max(S, batcher.src_len(p));
      T = std::max(T, batcher.tgt_len(p));
    }
    const long B = static_cast<long>(batch.size());
    if (B > 1) {
      CHECK(B * S <= max_tokens);
      CHECK(B * T <= max_tokens);
    }
  }
  CHECK(std::all_of(seen.begin(), seen.end(), [](int n) { return n == 1; }));
}

}  // namespace

TEST_SUITE_BEGIN("unit");

TEST_CASE("an epoch covers every pair once in batches within max_tokens") {
  const ParallelCorpus c = random_corpus(500, 30, 1);
  BatcherOptions o;
  o.max_tokens = 200;
  o.pool_size = 120;
  const Batcher batcher(c, o);
  Rng rng(7);
  const BatchPlan plan = batcher.plan(rng);
  check_plan(batcher, plan, c.size(), o.max_tokens);
  CHECK(plan.size() > 10);
  // Length sorting keeps padding low: most padded slots hold real tokens.
  long real = 0, padded = 0;
  for (const auto& batch : plan) {
    long T = 0;
    for (long p : batch) {
      real += batcher.tgt_len(p);
      T = std::max(T, batcher.tgt_len(p));
    }
    padded += T * static_cast<long>(batch.size());
  }
  CHECK(static_cast<double>(real) / static_cast<double>(padded) > 0.8);
}

TEST_CASE("batches carry the corpus pairs framed by EOS/BOS, with file line numbers as ids") {
  const ParallelCorpus c = random_corpus(60, 10, 2);
  BatcherOptions o;
  o.max_tokens = 64;
  o.pad_id = 0;
  o.bos_id = 2;
  o.eos_id = 3;
  const Batcher batcher(c, o);
  Rng rng(3);
  const BatchPlan plan = batcher.plan(rng);
  Rng same(3);
  const std::vector<Batch> batches = batcher.epoch(same);
  REQUIRE(batches.size() == plan.size());
  long total = 0;
  for (size_t k = 0; k < plan.size(); ++k) {
    const Batch& b = batches[k];
    REQUIRE(b.batch == static_cast<long>(plan[k].size()));
    CHECK(b.batch * b.src_len_max <= o.max_tokens);
    CHECK(b.batch * b.tgt_len_max <= o.max_tokens);
    for (long i = 0; i < b.batch; ++i) {
      const long p = plan[k][static_cast<size_t>(i)];
      CHECK(b.ids[static_cast<size_t>(i)] == 10 * p + 1);
      const auto s = c.src(p), t = c.tgt(p);
      const long S = b.src_len_max, T = b.tgt_len_max;
      CHECK(b.src_len[static_cast<size_t>(i)] == static_cast<int>(s.size()) + 1);
      CHECK(b.tgt_len[static_cast<size_t>(i)] == static_cast<int>(t.size()) + 1);
      for (size_t j = 0; j < s.size(); ++j) CHECK(b.src[static_cast<size_t>(i * S) + j] == s[j]);
      CHECK(b.src[static_cast<size_t>(i * S) + s.size()] == o.eos_id);
      CHECK(b.tgt_in[static_cast<size_t>(i * T)] == o.bos_id);
      CHECK(b.tgt_out[static_cast<size_t>(i * T) + t.size()] == o.eos_id);
      for (size_t j = 0; j < t.size(); ++j) {
        CHECK(b.tgt_in[static_cast<size_t>(i * T) + j + 1] == t[j]);
        CHECK(b.tgt_out[static_cast<size_t>(i * T) + j] == t[j]);
      }
    }
    total += b.batch;
  }
  CHECK(total == c.size());
}

TEST_CASE("the same Rng state gives the same plan and successive epochs differ") {
  const ParallelCorpus c = random_corpus(300, 20, 4);
  BatcherOptions o;
  o.max_tokens = 150;
  o.pool_size = 100;
  const Batcher batcher(c, o);
  Rng a(11), b(11);
  const BatchPlan first = batcher.plan(a);
  CHECK(batcher.plan(b) == first);
  CHECK(a.state() == b.state());
  const BatchPlan second = batcher.plan(a);
  CHECK(second != first);
  check_plan(batcher, second, c.size(), o.max_tokens);
  Rng other(12);
  CHECK(batcher.plan(other) != first);

  // Resume: a saved state rebuilds the interrupted epoch's plan exactly.
  Rng data(5);
  batcher.plan(data);  // epoch 1
  const auto saved = data.state();
  const BatchPlan epoch2 = batcher.plan(data);
  const BatchPlan epoch3 = batcher.plan(data);
  Rng resumed;
  resumed.set_state(saved);
  CHECK(batcher.plan(resumed) == epoch2);
  CHECK(batcher.plan(resumed) == epoch3);
}

TEST_CASE("a pair longer than max_tokens forms a batch of its own") {
  ParallelCorpus c = random_corpus(40, 5, 6);
  // Append a pair with a 50-piece source and a 2-piece target.
  c.tokens.insert(c.tokens.end(), 50, 7);
  c.offsets.push_back(static_cast<long>(c.tokens.size()));
  c.tokens.insert(c.tokens.end(), 2, 8);
  c.offsets.push_back(static_cast<long>(c.tokens.size()));
  c.lines.push_back(999);
  BatcherOptions o;
  o.max_tokens = 30;
  const Batcher batcher(c, o);
  const long big = c.size() - 1;
  for (int shuffle = 0; shuffle < 2; ++shuffle) {
    o.shuffle = shuffle == 1;
    const Batcher b2(c, o);
    Rng rng(1);
    const BatchPlan plan = b2.plan(rng);
    check_plan(b2, plan, c.size(), o.max_tokens);
    const auto it = std::find_if(plan.begin(), plan.end(), [&](const auto& batch) {
      return std::find(batch.begin(), batch.end(), big) != batch.end();
    });
    REQUIRE(it != plan.end());
    CHECK(it->size() == 1);
  }
  CHECK(batcher.make(std::vector<long>{big}).ids == std::vector<long>{999});
}

TEST_CASE("the validation plan is sorted by length, fixed, and leaves the Rng alone") {
  const ParallelCorpus c = random_corpus(200, 25, 8);
  BatcherOptions o;
  o.max_tokens = 120;
  o.shuffle = false;
  const Batcher batcher(c, o);
  const BatchPlan plan = batcher.plan();
  check_plan(batcher, plan, c.size(), o.max_tokens);
  CHECK(batcher.plan() == plan);
  Rng rng(9);
  const auto before = rng.state();
  CHECK(batcher.plan(rng) == plan);
  CHECK(rng.state() == before);
  // Target lengths never decrease along the plan; ties are broken by source length.
  long prev_t = 0, prev_s = 0;
  for (const auto& batch : plan)
    for (long p : batch) {
      CHECK(batcher.tgt_len(p) >= prev_t);
      if (batcher.tgt_len(p) == prev_t) CHECK(batcher.src_len(p) >= prev_s);
      prev_t = batcher.tgt_len(p);
      prev_s = batcher.src_len(p);
    }
  CHECK(batcher.epoch().size() == plan.size());
}

TEST_CASE("the batcher refuses nonsensical options and pairs") {
  const ParallelCorpus c = random_corpus(10, 5, 10);
  BatcherOptions o;
  o.max_tokens = 0;
  CHECK_THROWS_WITH_AS(Batcher(c, o), doctest::Contains("max_tokens"), Error);
  o.max_tokens = 100;
  o.pool_size = 0;
  CHECK_THROWS_WITH_AS(Batcher(c, o), doctest::Contains("pool_size"), Error);
  o.pool_size = 10;
  const Batcher batcher(c, o);
  CHECK_THROWS_WITH_AS(batcher.make(std::vector<long>{10}), doctest::Contains("outside"), Error);
  // An empty corpus gives an empty plan.
  const ParallelCorpus empty = random_corpus(0, 5, 11);
  const Batcher none(empty, o);
  Rng rng(1);
  CHECK(none.plan(rng).empty());
  CHECK(none.plan().empty());
}

TEST_SUITE_END();

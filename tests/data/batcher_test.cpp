// Batcher: token-count batches that respect max_tokens, cover every pair once per epoch, are
// reproducible from an Rng state (resume) and differ between epochs; the shuffle reaches across
// the whole corpus; corpus weights hold; the validation plan is sorted and fixed. The pairs come
// from corpus stores (data/store.h) written from hand-made ids.
#include "spotlight/data/batcher.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "spotlight/check.h"
#include "spotlight/rng.h"
#include "support/text_files.h"

using namespace spotlight;
using spotlight::testing::TempDir;

namespace {

using Plan = std::vector<std::vector<uint32_t>>;

Plan batches(const EpochPlan& p) {
  Plan out;
  for (long k = 0; k < p.size(); ++k) {
    const auto b = p.batch(k);
    out.emplace_back(b.begin(), b.end());
  }
  return out;
}

// A store of P pairs with random lengths in [1, max_len], ids ≥ 4 (and the ids kept in memory
// to compare with), opened as a one-corpus mix.
struct RandomCorpus {
  TempDir dir;
  std::vector<std::vector<int>> src, tgt;
  std::unique_ptr<CorpusStore> store;
  std::unique_ptr<PairMix> mix;
  long size() const { return static_cast<long>(src.size()); }

  RandomCorpus(long P, long max_len, uint64_t seed, const std::string& name = "batcher")
      : dir(name + std::to_string(seed)) {
    Rng rng(seed);
    StoreWriter w(dir.file("c.store"), 60);
    for (long p = 0; p < P; ++p) {
      std::vector<int> sides[2];
      for (auto& side : sides) {
        const long n = 1 + rng.below(static_cast<uint32_t>(max_len));
        for (long i = 0; i < n; ++i) side.push_back(4 + static_cast<int>(rng.below(50)));
      }
      w.add(sides[0], sides[1]);
      src.push_back(sides[0]);
      tgt.push_back(sides[1]);
    }
    w.commit({});
    store = std::make_unique<CorpusStore>(dir.file("c.store"));
    mix = std::make_unique<PairMix>(std::vector<MixCorpus>{{store.get(), 1.0}}, 1000);
  }
};

// Checks that a plan holds every pair 0..P-1 exactly once and every batch fits max_tokens
// (unless it is a single pair).
void check_plan(const Batcher& batcher, const Plan& plan, long P, long max_tokens) {
  std::vector<int> seen(static_cast<size_t>(P), 0);
  for (const auto& batch : plan) {
    REQUIRE(!batch.empty());
    long S = 0, T = 0;
    for (uint32_t p : batch) {
      REQUIRE(p < P);
      ++seen[p];
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
  const RandomCorpus c(500, 30, 1);
  BatcherOptions o;
  o.max_tokens = 200;
  o.pool_size = 120;
  const Batcher batcher(*c.mix, o);
  Rng rng(7);
  const Plan plan = batches(batcher.plan(rng));
  check_plan(batcher, plan, c.size(), o.max_tokens);
  CHECK(plan.size() > 10);
  // Length sorting keeps padding low: most padded slots hold real tokens.
  long real = 0, padded = 0;
  for (const auto& batch : plan) {
    long T = 0;
    for (uint32_t p : batch) {
      real += batcher.tgt_len(p);
      T = std::max(T, batcher.tgt_len(p));
    }
    padded += T * static_cast<long>(batch.size());
  }
  CHECK(static_cast<double>(real) / static_cast<double>(padded) > 0.8);
}

TEST_CASE("batches carry the corpus pairs framed by EOS/BOS, with file line numbers as ids") {
  const RandomCorpus c(60, 10, 2);
  BatcherOptions o;
  o.max_tokens = 64;
  o.pad_id = 0;
  o.bos_id = 2;
  o.eos_id = 3;
  const Batcher batcher(*c.mix, o);
  Rng rng(3);
  const Plan plan = batches(batcher.plan(rng));
  std::vector<Batch> made;
  for (const auto& pairs : plan) made.push_back(batcher.make(pairs));
  long total = 0;
  for (size_t k = 0; k < plan.size(); ++k) {
    const Batch& b = made[k];
    REQUIRE(b.batch == static_cast<long>(plan[k].size()));
    CHECK(b.batch * b.src_len_max <= o.max_tokens);
    CHECK(b.batch * b.tgt_len_max <= o.max_tokens);
    for (long i = 0; i < b.batch; ++i) {
      const uint32_t p = plan[k][static_cast<size_t>(i)];
      CHECK(b.ids[static_cast<size_t>(i)] == p);
      const auto& s = c.src[p];
      const auto& t = c.tgt[p];
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
  const RandomCorpus c(300, 20, 4);
  BatcherOptions o;
  o.max_tokens = 150;
  o.pool_size = 100;
  const Batcher batcher(*c.mix, o);
  Rng a(11), b(11);
  const Plan first = batches(batcher.plan(a));
  CHECK(batches(batcher.plan(b)) == first);
  CHECK(a.state() == b.state());
  const Plan second = batches(batcher.plan(a));
  CHECK(second != first);
  check_plan(batcher, second, c.size(), o.max_tokens);
  Rng other(12);
  CHECK(batches(batcher.plan(other)) != first);

  // Resume: a saved state rebuilds the interrupted epoch's plan exactly.
  Rng data(5);
  batcher.plan(data);  // epoch 1
  const auto saved = data.state();
  const Plan epoch2 = batches(batcher.plan(data));
  const Plan epoch3 = batches(batcher.plan(data));
  Rng resumed;
  resumed.set_state(saved);
  CHECK(batches(batcher.plan(resumed)) == epoch2);
  CHECK(batches(batcher.plan(resumed)) == epoch3);
}

TEST_CASE("a pair longer than max_tokens forms a batch of its own") {
  TempDir dir("batcher_long");
  StoreWriter w(dir.file("c.store"), 60);
  Rng r(6);
  for (int p = 0; p < 40; ++p)
    w.add(std::vector<int>(1 + r.below(5), 5), std::vector<int>(1 + r.below(5), 6));
  w.add(std::vector<int>(50, 7), std::vector<int>(2, 8));  // a 50-piece source, line 40
  w.commit({});
  const CorpusStore store(dir.file("c.store"));
  const PairMix mix({{&store, 1.0}}, 100);
  const uint32_t big = 40;
  BatcherOptions o;
  o.max_tokens = 30;
  for (int shuffle = 0; shuffle < 2; ++shuffle) {
    o.shuffle = shuffle == 1;
    const Batcher b2(mix, o);
    Rng rng(1);
    const Plan plan = batches(b2.plan(rng));
    check_plan(b2, plan, 41, o.max_tokens);
    const auto it = std::find_if(plan.begin(), plan.end(), [&](const auto& batch) {
      return std::find(batch.begin(), batch.end(), big) != batch.end();
    });
    REQUIRE(it != plan.end());
    CHECK(it->size() == 1);
    CHECK(b2.make(std::vector<uint32_t>{big}).ids == std::vector<long>{40});
  }
}

// The plan as Spotlight made it before the corpus stores (an in-memory corpus, vectors of pair
// indices): Fisher–Yates over all pairs, a stable sort by (target, source) length per pool, a
// greedy cut, then a shuffle of the batch order. Kept here so that the data order of every run
// is shown to be unchanged.
namespace {
Plan previous_plan(const std::vector<long>& S, const std::vector<long>& T, long max_tokens,
                   long pool, Rng& rng) {
  std::vector<long> order(S.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<long>(i);
  for (size_t i = order.size(); i > 1; --i)
    std::swap(order[i - 1], order[rng.below(static_cast<uint32_t>(i))]);
  Plan out;
  for (size_t begin = 0; begin < order.size(); begin += static_cast<size_t>(pool)) {
    const size_t end = std::min(order.size(), begin + static_cast<size_t>(pool));
    std::stable_sort(order.begin() + static_cast<long>(begin), order.begin() + static_cast<long>(end),
                     [&](long a, long b) { return T[a] != T[b] ? T[a] < T[b] : S[a] < S[b]; });
    std::vector<uint32_t> batch;
    long bs = 0, bt = 0;
    for (size_t i = begin; i < end; ++i) {
      const long p = order[i];
      const long s = std::max(bs, S[p]), t = std::max(bt, T[p]);
      const long b = static_cast<long>(batch.size()) + 1;
      if (!batch.empty() && (b * s > max_tokens || b * t > max_tokens)) {
        out.push_back(batch);
        batch.clear();
        bs = bt = 0;
      }
      batch.push_back(static_cast<uint32_t>(p));
      bs = std::max(bs, S[p]);
      bt = std::max(bt, T[p]);
    }
    if (!batch.empty()) out.push_back(batch);
  }
  for (size_t i = out.size(); i > 1; --i) std::swap(out[i - 1], out[rng.below(static_cast<uint32_t>(i))]);
  return out;
}
}  // namespace

TEST_CASE("with one corpus of weight 1 the plan is the one the in-memory batcher made") {
  const RandomCorpus c(3000, 40, 41);
  BatcherOptions o;
  o.max_tokens = 500;
  o.pool_size = 700;
  const Batcher batcher(*c.mix, o);
  std::vector<long> S, T;
  for (long p = 0; p < c.size(); ++p) {
    S.push_back(static_cast<long>(c.src[static_cast<size_t>(p)].size()) + 1);
    T.push_back(static_cast<long>(c.tgt[static_cast<size_t>(p)].size()) + 1);
  }
  Rng a(17), b(17);
  for (int epoch = 0; epoch < 3; ++epoch) {
    CHECK(batches(batcher.plan(a)) == previous_plan(S, T, o.max_tokens, o.pool_size, b));
    CHECK(a.state() == b.state());
  }
}

TEST_CASE("the shuffle reaches across the whole corpus, not only within a pool") {
  const RandomCorpus c(2000, 20, 21);
  BatcherOptions o;
  o.max_tokens = 200;
  o.pool_size = 100;  // 20 pools
  const Batcher batcher(*c.mix, o);
  Rng rng(3);
  const EpochPlan p = batcher.plan(rng);
  check_plan(batcher, batches(p), c.size(), o.max_tokens);
  // The first pool's pairs (the first 100 drawn) come from all over the corpus: every tenth of
  // it supplies some (with a shuffle local to stretches of the file, one tenth would supply all).
  std::vector<int> tenth(10, 0);
  for (size_t i = 0; i < 100; ++i) ++tenth[p.pairs[i] / 200];
  CHECK(std::count(tenth.begin(), tenth.end(), 0) == 0);
}

TEST_CASE("corpus weights: whole weights repeat every pair, fractions draw a fresh subset") {
  // Corpus A (300 pairs) weight 2.5, corpus B (1000 pairs) weight 0.3.
  const RandomCorpus a(300, 10, 31, "weights_a"), b(1000, 10, 32, "weights_b");
  const PairMix mix({{a.store.get(), 2.5}, {b.store.get(), 0.3}}, 1000);
  CHECK(mix.epoch_size() == 2 * 300 + 150 + 300);
  BatcherOptions o;
  o.max_tokens = 300;
  const Batcher batcher(mix, o);
  Rng rng(5);
  std::vector<long> seen(1300, 0);
  const int epochs = 40;
  std::vector<uint32_t> first_b;
  for (int e = 0; e < epochs; ++e) {
    const EpochPlan p = batcher.plan(rng);
    REQUIRE(static_cast<long>(p.pairs.size()) == mix.epoch_size());
    std::vector<int> in_epoch(1300, 0);
    for (uint32_t g : p.pairs) ++in_epoch[g];
    for (size_t g = 0; g < 300; ++g) CHECK((in_epoch[g] == 2 || in_epoch[g] == 3));
    for (size_t g = 300; g < 1300; ++g) CHECK(in_epoch[g] <= 1);  // without replacement
    for (size_t g = 0; g < 1300; ++g) seen[g] += in_epoch[g];
    if (e == 0)
      for (size_t g = 300; g < 1300; ++g)
        if (in_epoch[g] != 0) first_b.push_back(static_cast<uint32_t>(g));
    CHECK(mix.corpus_of(300) == 1);
    CHECK(mix.line(300) == 0);
  }
  // Over 40 epochs each A pair is drawn 2.5 times per epoch on average, each B pair 0.3 times:
  // the mean over a corpus is exact (fixed counts per epoch), single pairs vary binomially
  // (40 draws at p = 0.5 or 0.3: within ±5 standard deviations).
  for (size_t g = 0; g < 300; ++g) {
    const double extra = static_cast<double>(seen[g] - 2 * epochs);
    CHECK(std::abs(extra - 0.5 * epochs) <= 5 * std::sqrt(epochs * 0.25));
  }
  for (size_t g = 300; g < 1300; ++g)
    CHECK(std::abs(static_cast<double>(seen[g]) - 0.3 * epochs) <= 5 * std::sqrt(epochs * 0.21));
  // The fraction is a fresh subset each epoch, not the same 300 pairs.
  CHECK(first_b.size() == 300);
  CHECK(std::count_if(seen.begin() + 300, seen.end(), [](long n) { return n == 0; }) < 10);
  // Weights 1 are every kept pair once, with no draws of the Rng for them.
  const PairMix plain({{a.store.get(), 1.0}, {b.store.get(), 1.0}}, 1000);
  Rng r1(9), r2(9);
  const auto pairs = plain.epoch_pairs(&r1);
  CHECK(pairs.size() == 1300);
  CHECK(r1.state() == r2.state());
  CHECK_THROWS_WITH_AS(PairMix({{a.store.get(), -1.0}}, 10), doctest::Contains("weight"), Error);
}

TEST_CASE("the validation plan is sorted by length, fixed, and leaves the Rng alone") {
  const RandomCorpus c(200, 25, 8);
  BatcherOptions o;
  o.max_tokens = 120;
  o.shuffle = false;
  const Batcher batcher(*c.mix, o);
  const Plan plan = batches(batcher.plan());
  check_plan(batcher, plan, c.size(), o.max_tokens);
  CHECK(batches(batcher.plan()) == plan);
  Rng rng(9);
  const auto before = rng.state();
  CHECK(batches(batcher.plan(rng)) == plan);
  CHECK(rng.state() == before);
  // Target lengths never decrease along the plan; ties are broken by source length.
  long prev_t = 0, prev_s = 0;
  for (const auto& batch : plan)
    for (uint32_t p : batch) {
      CHECK(batcher.tgt_len(p) >= prev_t);
      if (batcher.tgt_len(p) == prev_t) CHECK(batcher.src_len(p) >= prev_s);
      prev_t = batcher.tgt_len(p);
      prev_s = batcher.src_len(p);
    }
  CHECK(batcher.epoch().size() == plan.size());
}

TEST_CASE("the batcher refuses nonsensical options and pairs") {
  const RandomCorpus c(10, 5, 10);
  BatcherOptions o;
  o.max_tokens = 0;
  CHECK_THROWS_WITH_AS(Batcher(*c.mix, o), doctest::Contains("max_tokens"), Error);
  o.max_tokens = 100;
  o.pool_size = 0;
  CHECK_THROWS_WITH_AS(Batcher(*c.mix, o), doctest::Contains("pool_size"), Error);
  o.pool_size = 10;
  const Batcher batcher(*c.mix, o);
  CHECK_THROWS_WITH_AS(batcher.make(std::vector<uint32_t>{10}), doctest::Contains("outside"), Error);
  // An empty corpus gives an empty plan.
  const RandomCorpus empty(0, 5, 11);
  const Batcher none(*empty.mix, o);
  Rng rng(1);
  CHECK(none.plan(rng).size() == 0);
  CHECK(none.plan().size() == 0);
}

TEST_SUITE_END();

// The compute pool: chunks cover every index once, nested loops run inline, errors come back to
// the caller; and the parallel kernels give the same results with 1, 2 or 3 threads (split
// GEMMs, dropout masks, column reductions, the loss), so the thread count never changes what a
// model computes beyond float rounding of split products.
#include "spotlight/parallel.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "spotlight/blas.h"
#include "spotlight/check.h"
#include "spotlight/kernels.h"
#include "spotlight/train/loss.h"
#include "support/grad_check.h"
#include "support/near.h"

using namespace spotlight;
using testing::Tol;

namespace {
// Restores the default thread count when a test case ends.
struct ThreadsGuard {
  int saved = threads();
  ~ThreadsGuard() { set_threads(saved); }
};
// A split product against the whole one: another blocking of the same sums, equal to rounding
// (support/near.h). The entries are dot products of length 200–300 of values in [−1, 1]; atol
// 64 ε·max |b| covers their regrouping (√300 ≈ 17 roundings of the largest entry's size), rtol
// 1e-5 the rest.
Tol split_tol(const Tensor& one) { return testing::scaled_tol(one, 1e-5, 64); }
}  // namespace

TEST_SUITE_BEGIN("unit");

TEST_CASE("parallel_for covers 0..n-1 exactly once in contiguous chunks, for 1 to 3 threads") {
  ThreadsGuard guard;
  for (int t : {1, 2, 3}) {
    set_threads(t);
    CHECK(threads() == t);
    for (long n : {0L, 1L, 7L, 1000L, 100003L}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      std::atomic<long> chunks{0};
      parallel_for(n, 1, [&](long b, long e) {
        CHECK(b < e);
        ++chunks;
        for (long i = b; i < e; ++i) ++hits[static_cast<size_t>(i)];
      });
      for (long i = 0; i < n; ++i) REQUIRE(hits[static_cast<size_t>(i)] == 1);
      CHECK(chunks <= std::max(1L, std::min<long>(t, n)));
    }
    // min_chunk keeps small loops on the calling thread.
    std::atomic<long> chunks{0};
    parallel_for(100, 1000, [&](long b, long e) {
      ++chunks;
      CHECK(b == 0);
      CHECK(e == 100);
    });
    CHECK(chunks == 1);
  }
}

TEST_CASE("parallel_for: nested loops run inline and an exception reaches the caller") {
  ThreadsGuard guard;
  set_threads(2);
  std::atomic<long> total{0};
  parallel_for(64, 1, [&](long b, long e) {
    for (long i = b; i < e; ++i)
      parallel_for(10, 1, [&](long b2, long e2) { total += e2 - b2; });  // inline
  });
  CHECK(total == 640);
  CHECK_THROWS_WITH_AS(parallel_for(1000, 1,
                                    [&](long b, long e) {
                                      if (e == 1000) require(false, "the last chunk failed");
                                    }),
                       doctest::Contains("the last chunk failed"), Error);
  // The pool still works afterwards.
  total = 0;
  parallel_for(1000, 1, [&](long b, long e) { total += e - b; });
  CHECK(total == 1000);
  CHECK_THROWS_AS(set_threads(0), Error);
}

TEST_CASE("parallel_for from two threads at once: each loop covers its own range exactly once") {
  ThreadsGuard guard;
  set_threads(2);
  std::atomic<bool> wrong{false};
  auto loops = [&] {
    for (int round = 0; round < 5000 && !wrong; ++round) {
      std::vector<int> hits(257, 0);  // each index written by one chunk only
      parallel_for(257, 1, [&](long b, long e) {
        for (long i = b; i < e; ++i) ++hits[static_cast<size_t>(i)];
      });
      for (int h : hits) wrong = wrong || h != 1;
    }
  };
  std::thread other(loops);
  loops();
  other.join();
  CHECK(!wrong);
}

TEST_CASE("run_workers: every job once, on that many threads at once, loops inline, errors back") {
  ThreadsGuard guard;
  set_threads(2);
  const auto caller = std::this_thread::get_id();
  SUBCASE("one worker: the jobs in order, on the calling thread, their loops over the pool") {
    std::vector<long> seen;
    run_workers(1, 5, [&](int w, long j) {
      CHECK(w == 0);
      CHECK(std::this_thread::get_id() == caller);
      seen.push_back(j);
      CHECK(loop_threads() == 2);  // what the products split by: the pool
      std::atomic<int> chunks{0};
      parallel_for(1000, 1, [&](long, long) {
        ++chunks;
        CHECK(loop_threads() == 1);  // nested: inline
      });
      CHECK(chunks == 2);
    });
    CHECK(seen == std::vector<long>{0, 1, 2, 3, 4});
  }
  SUBCASE("two workers: both run jobs at the same time; each job once; loops run inline") {
    std::vector<std::atomic<int>> done(50);
    std::atomic<int> inside{0};
    std::mutex mu;
    std::set<std::thread::id> ids;
    std::set<int> workers;
    run_workers(2, 50, [&](int w, long j) {
      {
        std::lock_guard<std::mutex> lock(mu);
        ids.insert(std::this_thread::get_id());
        workers.insert(w);
      }
      if (j < 2) {  // the first two jobs wait for each other: they run at once or time out
        ++inside;
        const auto t0 = std::chrono::steady_clock::now();
        while (inside < 2 && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(20))
          std::this_thread::yield();
        CHECK(inside == 2);
      }
      CHECK(loop_threads() == 1);  // the products do not split for a pool they do not use
      std::atomic<int> chunks{0};
      parallel_for(1000, 1, [&](long b, long e) {
        ++chunks;
        CHECK(b == 0);
        CHECK(e == 1000);
      });
      CHECK(chunks == 1);
      ++done[static_cast<size_t>(j)];
    });
    for (auto& d : done) CHECK(d == 1);
    CHECK(ids.size() == 2);
    CHECK(ids.count(caller) == 1);
    CHECK(workers == std::set<int>{0, 1});
    CHECK(loop_threads() == 2);  // the caller's loops go over the pool again
  }
  SUBCASE("an exception stops the jobs not yet started and reaches the caller") {
    std::atomic<long> ran{0};
    CHECK_THROWS_WITH(run_workers(2, 1000,
                                  [&](int, long j) {
                                    ++ran;
                                    if (j == 3) throw Error("job 3 failed");
                                    std::this_thread::sleep_for(std::chrono::milliseconds(1));
                                  }),
                      "job 3 failed");
    CHECK(ran < 1000);
    // The pool still works afterwards.
    std::atomic<int> chunks{0};
    parallel_for(1000, 1, [&](long, long) { ++chunks; });
    CHECK(chunks == 2);
  }
}

TEST_CASE("split GEMMs equal the single-threaded product and kernels do not depend on threads") {
  ThreadsGuard guard;
  Rng rng(5);
  // Large enough to be split: by rows (m ≥ n) and by columns (m < n), every transpose.
  Tensor a({300, 200}), b({200, 300}), w({300, 200});
  testing::fill_uniform(a, rng);
  testing::fill_uniform(b, rng);
  testing::fill_uniform(w, rng);
  Tensor logits({96, 500});
  testing::fill_uniform(logits, rng);
  std::vector<int> targets(96);
  for (size_t i = 0; i < targets.size(); ++i) targets[i] = static_cast<int>((i * 37) % 500);
  targets[5] = 0;  // a pad row

  struct Result {
    Tensor nn, nt, tn, tt, cs, dgamma, dbias, dlogits;
    DropoutMask mask;
    double loss = 0.0;
  };
  auto compute = [&](int t) {
    set_threads(t);
    Result r;
    r.nn.resize({300, 300});
    r.nt.resize({300, 300});
    r.tn.resize({200, 200});
    r.tt.resize({200, 200});
    r.cs.resize({40, 300});
    gemm(a.view(), Op::N, b.view(), Op::N, r.nn.view());      // 300×300, rows split
    gemm(a.view(), Op::N, w.view(), Op::T, r.nt.view());      // 300×300
    gemm(a.view(), Op::T, w.view(), Op::N, r.tn.view());      // 200×200, k = 300
    gemm(w.view(), Op::T, b.view(), Op::T, r.tt.view());     // 200×200, k = 300
    gemm(a.view().block(0, 0, 40, 200), Op::N, w.view(), Op::T, r.cs.view());  // columns split
    Rng drop(11);
    Tensor y;
    dropout(0.3f, drop, a, r.mask, y);
    std::vector<float> mean(300), rstd(300), gamma(200, 1.5f), beta(200, 0.0f);
    Tensor normed({300, 200}), dx({300, 200});
    layer_norm(a.view(), gamma.data(), beta.data(), 1e-5f, normed.view(), mean.data(),
               rstd.data());
    r.dgamma = Tensor({200});
    Tensor dbeta({200});
    layer_norm_backward(a.view(), gamma.data(), mean.data(), rstd.data(), w.view(), dx.view(),
                        r.dgamma.data(), dbeta.data());
    r.dbias = Tensor({300});
    add_bias_backward(b.view().block(0, 0, 200, 300), r.dbias.data());
    r.loss = cross_entropy(logits, targets, 0, 0.1f, 1.0f, &r.dlogits).loss;
    return r;
  };
  const Result one = compute(1);
  for (int t : {2, 3}) {
    const Result many = compute(t);
    CAPTURE(t);
    testing::expect_near("nn", many.nn, one.nn, split_tol(one.nn));
    testing::expect_near("nt", many.nt, one.nt, split_tol(one.nt));
    testing::expect_near("tn", many.tn, one.tn, split_tol(one.tn));
    testing::expect_near("tt", many.tt, one.tt, split_tol(one.tt));
    testing::expect_near("column split", many.cs, one.cs, split_tol(one.cs));
    // Element-wise and column-owned work: bit for bit.
    CHECK(many.mask.keep == one.mask.keep);
    for (long j = 0; j < 200; ++j) REQUIRE(many.dgamma[j] == one.dgamma[j]);
    for (long j = 0; j < 300; ++j) REQUIRE(many.dbias[j] == one.dbias[j]);
    for (long i = 0; i < one.dlogits.size(); ++i) REQUIRE(many.dlogits[i] == one.dlogits[i]);
    CHECK(many.loss == one.loss);
  }
}

TEST_SUITE_END();

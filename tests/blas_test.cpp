// gemm on views, on each backend (OpenBLAS and, where built, oneDNN): every transpose
// combination, strided column blocks (as attention heads use), beta accumulation, one row, the
// products split over the compute pool by rows and by columns, and a shape mismatch reported as
// an error — all against a naive product; no thread beside the pool's; the backend's choice and
// its errors; and the line naming the library in use.
#include "spotlight/blas.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <mutex>
#include <string>
#include <vector>

#include "spotlight/check.h"
#include "spotlight/parallel.h"
#include "support/grad_check.h"
#include "support/near.h"

using namespace spotlight;

namespace {
// gemm on strided blocks (every ld > cols) of every transpose against the naive product:
// op(A) m×k, op(B) k×n, C an m×n block of a larger c, with alpha and beta; c outside the
// block stays untouched.
void check_strided_gemm(long m, long k, long n, uint64_t seed) {
  Rng rng(seed);
  const long w = std::max(m, k) + 3, wb = std::max(k, n) + 3;
  Tensor a({w, w}), b({wb, wb}), c({m + 3, n + 5});
  testing::fill_uniform(a, rng);
  testing::fill_uniform(b, rng);
  testing::fill_uniform(c, rng);
  for (Op oa : {Op::N, Op::T})
    for (Op ob : {Op::N, Op::T}) {
      CAPTURE(static_cast<int>(oa));
      CAPTURE(static_cast<int>(ob));
      const MatView va = oa == Op::N ? a.view().block(1, 2, m, k) : a.view().block(1, 2, k, m);
      const MatView vb = ob == Op::N ? b.view().block(2, 1, k, n) : b.view().block(2, 1, n, k);
      const Tensor before = c;
      const MatView vc = c.view().block(2, 3, m, n);
      gemm(va, oa, vb, ob, vc, 0.5f, 2.0f);
      // The naive product in double; the float32 one may round each of the k products and sums
      // in any order (every BLAS kernel blocks differently), so the bar is the standard bound
      // for a dot product, k·u·Σ|terms| (u = ε/2), with ε for u and two more steps for alpha and
      // beta: |c − ref| ≤ (k + 2)·ε·(0.5·Σ|a·b| + 2·|c₀|), whatever the kernel.
      for (long i = 0; i < m; ++i)
        for (long j = 0; j < n; ++j) {
          double s = 0.0, terms = 0.0;
          for (long p = 0; p < k; ++p) {
            const double x = (oa == Op::N ? va.at(i, p) : va.at(p, i)) *
                             static_cast<double>(ob == Op::N ? vb.at(p, j) : vb.at(j, p));
            s += x;
            terms += std::fabs(x);
          }
          const double c0 = before.view().at(i + 2, j + 3);
          const testing::Tol tol{0.0, testing::noise_atol(0.5 * terms + 2.0 * std::fabs(c0),
                                                          static_cast<double>(k + 2))};
          CHECK(testing::near(vc.at(i, j), 0.5 * s + 2.0 * c0, tol));
        }
      CHECK(c.view().at(0, 0) == before.view().at(0, 0));  // outside the block: untouched
      CHECK(c.view().at(2, n + 3) == before.view().at(2, n + 3));
    }
}

// The backends this build has; a test sets each in turn and restores the process's own.
std::vector<GemmBackend> backends() {
  std::vector<GemmBackend> b = {GemmBackend::openblas};
  if (gemm_backend_available(GemmBackend::onednn)) b.push_back(GemmBackend::onednn);
  return b;
}

struct BackendScope {
  explicit BackendScope(GemmBackend b) : saved(gemm_backend()) { set_gemm_backend(b); }
  ~BackendScope() { set_gemm_backend(saved); }
  GemmBackend saved;
};

long process_threads() {
  long n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/task")) ++n;
  return n;
}
}  // namespace

TEST_SUITE_BEGIN("unit");

TEST_CASE("gemm equals the naive product for all transposes, on strided views, with beta") {
  for (GemmBackend b : backends()) {
    CAPTURE(gemm_backend_name(b));
    BackendScope scope(b);
    check_strided_gemm(3, 4, 5, 81);
    Tensor a({6, 10}), c({7, 9});
    CHECK_THROWS_WITH_AS(gemm(a.view(), Op::N, a.view(), Op::N, c.view()),
                         doctest::Contains("gemm: shape mismatch"), Error);
  }
}

TEST_CASE("gemm with one row equals the naive product") {
  for (GemmBackend b : backends()) {
    CAPTURE(gemm_backend_name(b));
    BackendScope scope(b);
    check_strided_gemm(1, 20, 30, 82);
    check_strided_gemm(30, 20, 1, 83);
  }
}

TEST_CASE("gemm split over two threads by rows and by columns equals the naive product") {
  const int saved_threads = threads();
  set_threads(2);
  for (GemmBackend b : backends()) {
    CAPTURE(gemm_backend_name(b));
    BackendScope scope(b);
    check_strided_gemm(150, 110, 70, 84);  // ≥ 4 MFLOP: rows split in blocks of 32 (m ≥ n)
    check_strided_gemm(70, 110, 150, 85);  // columns split (m < n)
  }
  set_threads(saved_threads);
}

TEST_CASE("gemm starts no thread beside the compute pool's, on any backend") {
  // oneDNN's Debian build threads with OpenMP: without gemm() keeping each call on one thread,
  // the first product from each pool thread would start an OpenMP team of its own.
  const int saved_threads = threads();
  set_threads(2);
  Tensor a({256, 256}), b({256, 256}), c({256, 256});
  Rng rng(86);
  testing::fill_uniform(a, rng);
  testing::fill_uniform(b, rng);
  {
    BackendScope scope(GemmBackend::openblas);
    gemm(a.view(), Op::N, b.view(), Op::T, c.view());  // the pool and OpenBLAS are up
  }
  const long before = process_threads();
  for (GemmBackend be : backends()) {
    CAPTURE(gemm_backend_name(be));
    BackendScope scope(be);
    for (int i = 0; i < 3; ++i) {
      gemm(a.view(), Op::N, b.view(), Op::T, c.view());
      gemm(a.view().block(0, 0, 1, 256), Op::N, b.view(), Op::N, c.view().block(0, 0, 1, 256));
    }
    CHECK(process_threads() == before);
  }
  set_threads(saved_threads);
}

TEST_CASE("the GEMM backend: parsed by name, refused with the option's name, described") {
  CHECK(parse_gemm_backend("openblas", "--gemm") == GemmBackend::openblas);
  CHECK(parse_gemm_backend("OpenBLAS", "--gemm") == GemmBackend::openblas);
  CHECK_THROWS_WITH_AS(parse_gemm_backend("mkl", "--gemm"),
                       doctest::Contains("--gemm: unknown GEMM backend 'mkl' (openblas or onednn)"),
                       UsageError);
  if (gemm_backend_available(GemmBackend::onednn)) {
    CHECK(parse_gemm_backend("onednn", "--gemm") == GemmBackend::onednn);
    const std::string d = blas_description(GemmBackend::onednn);
    MESSAGE(d);
    CHECK(d.starts_with("oneDNN 2."));
    CHECK(d.find(", ISA ") != std::string::npos);
    CHECK(d.find("compute pool " + std::to_string(threads()) + " thread") != std::string::npos);
  } else {
    CHECK_THROWS_WITH_AS(parse_gemm_backend("onednn", "SPOTLIGHT_GEMM"),
                         doctest::Contains("built without oneDNN"), UsageError);
  }
  // The process's backend: SPOTLIGHT_GEMM's when set (scripts/test.sh runs the suite under each).
  if (const char* env = std::getenv("SPOTLIGHT_GEMM"); env != nullptr && *env != '\0')
    CHECK(gemm_backend_name(gemm_backend()) == std::string(env));
}

namespace {
// gemm_int8 against the float product it approximates: each quantized value is off by at most
// half a step (max|x[r,:]|/254 for x, max|W[i,:]|/2R for W), so |y − x·Wᵀ| ≤ k·(δx·|w|max + δw·|x|max
// + δx·δw) — a bound from the arithmetic, not a tolerance picked to pass.
void check_int8(long n, long k, long out, uint64_t seed) {
  Rng rng(seed);
  Tensor x({n, k + 3}), w({out, k}), y({n, out + 2});
  testing::fill_uniform(x, rng);
  testing::fill_uniform(w, rng);
  for (long j = 0; j < k; ++j) w.view().row(1)[j] = 0.0f;  // a row of zeros: outputs exactly 0
  for (long j = 0; j < k; ++j) x.view().row(0)[j] *= 50.0f;  // rows of other scales
  const MatView xv = x.view().block(0, 1, n, k), yv = y.view().block(0, 1, n, out);
  const Int8Matrix q = quantize_rows(w.view());
  // oneDNN's blocked kernels exist for AVX-512 with VNNI (and AMX): there the weight must be
  // packed, or every product would repack it.
  if (int8_vnni() && blas_description(GemmBackend::onednn).find("avx512_core") != std::string::npos)
    CHECK(q.packed != nullptr);
  gemm_int8(xv, q, yv);
  // The packed kernels (rows in padded chunks) and dnnl_gemm_u8s8s32 on the plain weight sum
  // the same int32 products: the same floats, bit for bit.
  Tensor y_plain({n, out});
  gemm_int8(xv, quantize_rows(w.view(), false), y_plain.view());
  long differ = 0;
  for (long r = 0; r < n; ++r)
    for (long i = 0; i < out; ++i) differ += yv.at(r, i) != y_plain.view().at(r, i);
  CHECK(differ == 0);
  for (long r = 0; r < n; ++r) {
    double ax = 0.0;
    for (long j = 0; j < k; ++j) ax = std::max(ax, std::fabs(static_cast<double>(xv.at(r, j))));
    for (long i = 0; i < out; ++i) {
      double aw = 0.0, ref = 0.0;
      for (long j = 0; j < k; ++j) {
        aw = std::max(aw, std::fabs(static_cast<double>(w.view().at(i, j))));
        ref += static_cast<double>(xv.at(r, j)) * w.view().at(i, j);
      }
      const double dx = ax / 254.0, dw = aw / (2.0 * q.range);
      const double bound = static_cast<double>(k) * (dx * aw + dw * ax + dx * dw) + 1e-6 * ax * aw;
      if (i == 1) CHECK(yv.at(r, i) == 0.0f);
      else CHECK(std::fabs(yv.at(r, i) - ref) <= bound);
    }
  }
}
}  // namespace

TEST_CASE("gemm_int8 approximates the float product within its quantization bound") {
  if (!int8_available()) {
    MESSAGE("skipped: this build has no oneDNN");
    return;
  }
  // Row counts on and off the packed kernels' chunk sizes (1, 2, 4, 8, 16; remainders padded).
  for (const long n : {1L, 3L, 7L, 16L, 17L, 40L})
    check_int8(n, n == 7 ? 128 : 256, n == 7 ? 200 : 64, 87 + static_cast<uint64_t>(n));
  const int saved_threads = threads();
  set_threads(2);
  check_int8(64, 256, 512, 89);   // plain: split over the pool by output columns
  check_int8(100, 256, 512, 90);  // packed: chunks of rows over the pool
  check_int8(600, 256, 128, 91);  // packed, 256-row chunks (a narrow output) over the pool
  set_threads(saved_threads);
  check_int8(300, 128, 64, 92);   // 256-row chunks, the last one 44 rows padded to 48
  Tensor x({2, 5}), c({2, 3}), w({3, 4});
  CHECK_THROWS_WITH_AS(gemm_int8(x.view(), quantize_rows(w.view()), c.view()),
                       doctest::Contains("gemm_int8: shape mismatch"), Error);
}

TEST_CASE("quantize_rows rounds each weight to its nearest step, on and off the eight lanes") {
  // q[i, j] is the step nearest W[i, j] · R / max|W[i,:]| (within half a step of it, computed in
  // double; a tie may go either way, as the product rounds or not before), |q| ≤ R; rows of
  // every length around the eight-lane blocks.
  for (const long k : {1L, 7L, 8L, 9L, 15L, 16L, 17L, 130L}) {
    CAPTURE(k);
    Rng rng(static_cast<uint64_t>(300 + k));
    Tensor w({3, k});
    testing::fill_uniform(w, rng);
    for (long j = 0; j < k; ++j) w.view().row(2)[j] = static_cast<float>(j % 5) - 2.0f;
    const Int8Matrix q = quantize_rows(w.view(), false);
    long wrong = 0;
    for (long i = 0; i < 3; ++i) {
      const float* wr = w.view().row(i);
      float amax = 0.0f;
      for (long j = 0; j < k; ++j) amax = std::max(amax, std::fabs(wr[j]));
      const float s = static_cast<float>(q.range) / amax;
      int32_t sum = 0;
      for (long j = 0; j < k; ++j) {
        const double exact = static_cast<double>(wr[j]) * static_cast<double>(s);
        const int8_t got = q.q[static_cast<size_t>(i * k + j)];
        wrong += std::fabs(got - exact) > 0.5 + 1e-5 || std::abs(got) > q.range;
        sum += got;
      }
      CHECK(q.compensation[static_cast<size_t>(i)] == -128 * sum);
      CHECK(q.inv_scale[static_cast<size_t>(i)] == amax / static_cast<float>(q.range));
    }
    CHECK(wrong == 0);
    // The activations' side (uint8 with the +128 shift), through a product with this k.
    if (int8_available()) check_int8(5, k, 24, 400 + static_cast<uint64_t>(k));
  }
}

TEST_CASE("gemm_int8 adds the bias and hands over every row once, final, to rows_done") {
  if (!int8_available()) {
    MESSAGE("skipped: this build has no oneDNN");
    return;
  }
  const int saved_threads = threads();
  for (const int t : {1, 2}) {
    set_threads(t);
    // 5,798 columns: chunks of 16 rows (split over 2 threads); 128 columns and 300 rows: one
    // chunk of 256 and one of 44 on a thread, two of 160 (padded to 192) on two; plain and
    // packed; into c, and into the threads' own buffers (c.data null).
    for (const long out : {5798L, 128L}) {
      for (const bool pack : {true, false}) {
        for (const bool into_c : {true, false}) {
          CAPTURE(t);
          CAPTURE(out);
          CAPTURE(pack);
          CAPTURE(into_c);
          const long n = out == 128 ? 300 : 70, k = 128;
          Rng rng(93);
          Tensor x({n, k}), w({out, k}), bias({out}), y({n, out}), y_bias({n, out});
          testing::fill_uniform(x, rng);
          testing::fill_uniform(w, rng);
          testing::fill_uniform(bias, rng);
          const Int8Matrix q = quantize_rows(w.view(), pack);
          gemm_int8(x.view(), q, y.view());
          // rows_done sees each row once, already final (bias added), in the view it is handed
          // (c's own rows when c is given): its rows are copied out there and compared after.
          std::vector<int> seen(static_cast<size_t>(n), 0);
          Tensor handed({n, out});
          long wrong_place = 0;
          std::mutex m;
          const MatView c = into_c ? y_bias.view() : MatView{nullptr, n, out, out};
          gemm_int8(x.view(), q, c, bias.data(), [&](long r0, long r1, const MatView& rows) {
            std::lock_guard<std::mutex> lock(m);
            wrong_place += rows.rows != r1 - r0 || rows.cols != out ||
                           (into_c && rows.data != y_bias.view().row(r0));
            for (long r = r0; r < r1; ++r) {
              ++seen[static_cast<size_t>(r)];
              std::copy_n(rows.row(r - r0), out, handed.view().row(r));
            }
          });
          long bad_bias = 0, bad_rows = 0;
          for (long r = 0; r < n; ++r) {
            for (long i = 0; i < out; ++i) {
              // z·sx + b in one pass against (z·sx) + b: a rounding or two of the operands'
              // size apart (the sum may cancel: bounded by the operands, not the result).
              const float yi = y.view().at(r, i), want = yi + bias[i];
              const float got = handed.view().at(r, i);
              bad_bias += std::fabs(got - want) >
                          1e-6f * (std::fabs(yi) + std::fabs(bias[i]) + 1.0f);
              if (into_c) bad_rows += got != y_bias.view().at(r, i);  // final when handed over
            }
            bad_rows += seen[static_cast<size_t>(r)] != 1;
          }
          CHECK(wrong_place == 0);
          CHECK(bad_bias == 0);
          CHECK(bad_rows == 0);
        }
      }
    }
  }
  set_threads(saved_threads);
}

TEST_CASE("gemm_int8 at full scale does not saturate, and NaN stays NaN") {
  if (!int8_available()) {
    MESSAGE("skipped: this build has no oneDNN");
    return;
  }
  // Every operand at its row's maximum: the u8·s8 products are all 255·R, the largest there
  // are; a kernel whose pairwise sums saturated int16 would come out far below k·1.0·2.0.
  const long k = 512;
  Tensor x({3, k}), w({4, k}), y({3, 4});
  x.fill(1.0f);
  w.fill(2.0f);
  for (long j = 0; j < k; ++j) x.view().row(1)[j] = -1.0f;
  x.view().row(2)[5] = std::numeric_limits<float>::quiet_NaN();
  w.view().row(3)[7] = std::numeric_limits<float>::infinity();
  gemm_int8(x.view(), quantize_rows(w.view()), y.view());
  for (long i = 0; i < 3; ++i) {
    CAPTURE(i);
    CHECK(y.view().at(0, i) == doctest::Approx(2.0 * k).epsilon(1e-6));
    CHECK(y.view().at(1, i) == doctest::Approx(-2.0 * k).epsilon(1e-6));
    CHECK(std::isnan(y.view().at(2, i)));  // a NaN input: NaN out, as the float product
  }
  for (long r = 0; r < 3; ++r) CHECK(std::isnan(y.view().at(r, 3)));  // an infinite weight
}

TEST_CASE("blas_description names the OpenBLAS version, core, threads and OPENBLAS_CORETYPE") {
  const std::string d = blas_description(GemmBackend::openblas);
  MESSAGE(d);
  CHECK(d.starts_with("OpenBLAS 0."));
  CHECK(d.find(", core ") != std::string::npos);
  CHECK(d.find(", 1 OpenBLAS thread, ") != std::string::npos);  // gemm() keeps OpenBLAS at 1
  const std::string pool = "compute pool " + std::to_string(threads()) + " thread";
  CHECK(d.find(pool) != std::string::npos);
  // The environment is read, never set, here: the line reports whatever the run was given.
  const char* requested = std::getenv("OPENBLAS_CORETYPE");
  if (requested != nullptr)
    CHECK(d.find("OPENBLAS_CORETYPE=" + std::string(requested) + " (from the environment") !=
          std::string::npos);
  else
    CHECK(d.find("OPENBLAS_CORETYPE unset") != std::string::npos);
}

TEST_SUITE_END();

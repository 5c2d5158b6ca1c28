// blas.cpp — gemm() on OpenBLAS or oneDNN (SPOTLIGHT_HAVE_ONEDNN), split over the compute pool.
#include "spotlight/blas.h"

#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <tuple>

#ifdef SPOTLIGHT_HAVE_ONEDNN
#include <oneapi/dnnl/dnnl.hpp>
#include <oneapi/dnnl/dnnl_debug.h>

// Debian's oneDNN threads with OpenMP (libgomp): each call would start a team of one thread per
// core on top of the compute pool. The OpenMP thread count is per thread, so every thread that
// calls dnnl_sgemm sets its own to 1 once. Declared here (the OpenMP C API, stable since 1.0)
// rather than through omp.h, which clang finds only with its own runtime's headers.
extern "C" void omp_set_num_threads(int n);
#endif

#include "spotlight/check.h"
#include "spotlight/parallel.h"
#include "vec.h"  // private: src/vec.h

namespace spotlight {

namespace {

// OpenBLAS runs single-threaded inside each call: the products are split over the one compute
// pool (parallel.h) instead, so its own threads never spin beside ours. Done once, before the
// first product (and before blas_description() reports the count).
void single_threaded_openblas() {
  static const bool single = (openblas_set_num_threads(1), true);
  (void)single;
}

#ifdef SPOTLIGHT_HAVE_ONEDNN
void single_threaded_onednn() {
  thread_local const bool single = (omp_set_num_threads(1), true);
  (void)single;
}
#endif

#ifdef SPOTLIGHT_HAVE_ONEDNN
// "avx512_core_amx": oneDNN's name of the instruction set its kernels use, without "cpu_isa_".
std::string isa_name() {
  std::string s = dnnl_cpu_isa2str(dnnl_get_effective_cpu_isa());
  if (s.rfind("cpu_isa_", 0) == 0) s.erase(0, 8);
  return s;
}
#endif

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& ch : out) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return out;
}

constexpr GemmBackend kDefaultBackend =
#ifdef SPOTLIGHT_HAVE_ONEDNN
    GemmBackend::onednn;
#else
    GemmBackend::openblas;
#endif

// -1 until resolved; then the GemmBackend's value.
std::atomic<int> g_backend{-1};

// One single-threaded product of the backend on blocks of the caller's views.
void call(GemmBackend backend, const MatView& a, Op op_a, const MatView& b, Op op_b,
          const MatView& c, long k, float alpha, float beta) {
  if (backend == GemmBackend::openblas) {
    cblas_sgemm(CblasRowMajor, op_a == Op::N ? CblasNoTrans : CblasTrans,
                op_b == Op::N ? CblasNoTrans : CblasTrans, static_cast<int>(c.rows),
                static_cast<int>(c.cols), static_cast<int>(k), alpha, a.data,
                static_cast<int>(a.ld), b.data, static_cast<int>(b.ld), beta, c.data,
                static_cast<int>(c.ld));
    return;
  }
#ifdef SPOTLIGHT_HAVE_ONEDNN
  single_threaded_onednn();
  const dnnl_status_t status =
      dnnl_sgemm(op_a == Op::N ? 'N' : 'T', op_b == Op::N ? 'N' : 'T', c.rows, c.cols, k, alpha,
                 a.data, a.ld, b.data, b.ld, beta, c.data, c.ld);
  require(status == dnnl_success, [&] {
    return "oneDNN sgemm failed (" + std::string(dnnl_status2str(status)) + ") on " +
           std::to_string(c.rows) + "x" + std::to_string(k) + " · " + std::to_string(k) + "x" +
           std::to_string(c.cols) + "; --gemm openblas avoids it";
  });
#endif
}

}  // namespace

const char* gemm_backend_name(GemmBackend b) {
  return b == GemmBackend::onednn ? "onednn" : "openblas";
}

bool gemm_backend_available(GemmBackend b) {
  return b == GemmBackend::openblas || kDefaultBackend == GemmBackend::onednn;
}

GemmBackend parse_gemm_backend(std::string_view name, std::string_view where) {
  const std::string n = lower(name);
  require_usage(n == "openblas" || n == "onednn", std::string(where) +
                                                       ": unknown GEMM backend '" +
                                                       std::string(name) + "' (openblas or onednn)");
  const GemmBackend b = n == "onednn" ? GemmBackend::onednn : GemmBackend::openblas;
  require_usage(gemm_backend_available(b),
                std::string(where) +
                    ": this spotlight was built without oneDNN: install libdnnl-dev "
                    "(scripts/install_deps.sh) and rebuild, or use openblas");
  return b;
}

GemmBackend gemm_backend() {
  int b = g_backend.load(std::memory_order_relaxed);
  if (b < 0) {
    const char* env = std::getenv("SPOTLIGHT_GEMM");
    const GemmBackend chosen = env != nullptr && *env != '\0'
                                   ? parse_gemm_backend(env, "SPOTLIGHT_GEMM (environment)")
                                   : kDefaultBackend;
    b = static_cast<int>(chosen);
    g_backend.store(b, std::memory_order_relaxed);
  }
  return static_cast<GemmBackend>(b);
}

void set_gemm_backend(GemmBackend b) {
  require_usage(gemm_backend_available(b), "this spotlight was built without oneDNN");
  g_backend.store(static_cast<int>(b), std::memory_order_relaxed);
}

std::string blas_description() { return blas_description(gemm_backend()); }

std::string blas_description(GemmBackend backend) {
  const std::string pool =
      "compute pool " + std::to_string(threads()) + " thread" + (threads() == 1 ? "" : "s");
#ifdef SPOTLIGHT_HAVE_ONEDNN
  if (backend == GemmBackend::onednn) {
    const dnnl_version_t* v = dnnl_version();
    return "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
           std::to_string(v->patch) + ", ISA " + isa_name() +
           ", 1 OpenMP thread per call, " + pool;
  }
#endif
  single_threaded_openblas();
  // openblas_get_config(): "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH ... Haswell MAX_THREADS=64".
  const std::string config = openblas_get_config();
  const size_t version_end = config.find(' ', config.find(' ') + 1);
  const std::string core = openblas_get_corename();
  const int blas_threads = openblas_get_num_threads();
  std::string s = config.substr(0, version_end) + ", core " + core + ", " +
                  std::to_string(blas_threads) + " OpenBLAS thread" +
                  (blas_threads == 1 ? "" : "s") + ", " + pool;
  const char* requested = std::getenv("OPENBLAS_CORETYPE");
  if (requested == nullptr) {
    s += ", OPENBLAS_CORETYPE unset (OpenBLAS chose the core)";
  } else {
    s += ", OPENBLAS_CORETYPE=" + std::string(requested) + " (from the environment";
    // An unknown name, or a build without DYNAMIC_ARCH, falls back silently: say so.
    if (lower(requested) != lower(core)) s += "; not honoured, core " + core + " in use";
    s += ")";
  }
  return s;
}

// Rows whose largest magnitude is below this quantize to zeros (127/amax would overflow).
constexpr float kTiny = 1e-30f;

// Thirty-two and eight bytes, for narrowing eight int32 lanes to their low bytes.
using Bytes32 = int8_t __attribute__((vector_size(32)));
using Bytes8 = int8_t __attribute__((vector_size(8)));

// Quantizes one row: out[j] = round(x[j]·s) + offset with s = range / max|x|, clamped to
// ±range; returns 1/s, the factor back to float (0 for a row of zeros or below kTiny; NaN for a
// row that holds NaN or infinity, whose outputs are then written as offset and come out NaN).
// Rounds to nearest by adding and subtracting 1.5·2^23, which vectorises where nearbyint does not.
template <class T>
float quantize_row(const float* x, long n, float range, int offset, T* out) {
  const float amax = row_max_abs(x, n);
  if (!std::isfinite(amax) || amax < kTiny) {
    std::fill_n(out, n, static_cast<T>(offset));
    return std::isfinite(amax) ? 0.0f : amax;
  }
  const float s = range / amax;
  constexpr float kShifter = 12582912.0f;
  // Eight lanes at a time, then the tail: the same arithmetic in both. The clamped integers
  // fit a byte (signed, or unsigned after the offset), so each lane's low byte is its value:
  // one byte shuffle keeps those (a converting narrow is scalarised on AVX2, where the plain
  // loop compiled to masked blends).
  static_assert(sizeof(T) == 1 && std::endian::native == std::endian::little);
  const f8 lo = f8{} - range, hi = f8{} + range;
  long j = 0;
  for (; j + 8 <= n; j += 8) {
    f8 v = (load8(x + j) * s + kShifter) - kShifter;
    v = v > hi ? hi : (v < lo ? lo : v);
    const Bytes32 lanes = (Bytes32)(__builtin_convertvector(v, i8) + offset);
    const Bytes8 b = __builtin_shufflevector(lanes, lanes, 0, 4, 8, 12, 16, 20, 24, 28);
    std::memcpy(out + j, &b, sizeof b);
  }
  for (; j < n; ++j) {
    float v = (x[j] * s + kShifter) - kShifter;
    v = v > range ? range : (v < -range ? -range : v);
    out[j] = static_cast<T>(static_cast<int>(v) + offset);
  }
  return amax / range;
}

bool int8_available() { return kDefaultBackend == GemmBackend::onednn; }

bool int8_vnni() {
#ifdef SPOTLIGHT_HAVE_ONEDNN
  const dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
  return isa == dnnl_cpu_isa_avx512_core_vnni || isa == dnnl_cpu_isa_avx512_core_bf16 ||
         isa == dnnl_cpu_isa_avx512_core_amx || isa == dnnl_cpu_isa_avx2_vnni;
#else
  return false;
#endif
}

#ifdef SPOTLIGHT_HAVE_ONEDNN
// The packed weight: q as the K×N operand of a matmul (dims {cols, rows}), in the blocked layout
// oneDNN's brgemm kernels chose for it (e.g. BA16a64b4a), which is the same for every row count.
struct PackedInt8 {
  dnnl::memory::desc desc;
  dnnl::memory weights;  // owns its buffer
};

namespace {

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// A product takes its rows in chunks, quantizing, multiplying and scaling each in turn while it
// is in cache: as many rows as keep a chunk's int32 sums within 256 KB (of a 2 MB L2), 16 to 256
// (16 for the 5,798-wide output projection, 256 for a 128-wide layer: fewer kernel calls, each
// with a fixed cost of several µs; measured on AMX, 320 rows of a 128×128 layer: 19.7 µs in
// chunks of 16, 11.0 µs in one). A chunk of r rows runs the primitive made for the
// smallest bucket ≥ r (1, 2, 4, 8, 16, 32, 48, 64, 128, 192, 256), reading and writing padded
// buffers, so each weight shape needs at most eleven primitives, made once (oneDNN's brgemm
// kernels are compiled for fixed dimensions; with a run-time row count it falls back to a GEMM
// that repacks the weight on every call).
long chunk_rows(long out) {
  long r = 256;
  while (r > 16 && r * out * 4 > 256 * 1024) r /= 2;
  return r;
}
long bucket_rows(long r) {
  if (r > 64) return (r + 63) / 64 * 64;
  if (r > 16) return r <= 32 ? 32 : (r <= 48 ? 48 : 64);
  long b = 1;
  while (b < r) b *= 2;
  return b;
}

// u8 [rows, k] · s8 [k, n] → s32 [rows, n]. (Measured, oneDNN 2.6.3 on AMX: a binary-multiply
// post-op for the per-column factors made the kernels 2–10× slower, runtime output scales made
// it leave brgemm for a GEMM that repacks, and a source zero point or f32 output changed
// nothing; so the scaling stays in gemm_int8's own pass.)
dnnl::matmul::primitive_desc int8_matmul_desc(long rows, long k, long n,
                                              const dnnl::memory::desc& weights) {
  using dt = dnnl::memory::data_type;
  using tag = dnnl::memory::format_tag;
  const dnnl::memory::desc src({rows, k}, dt::u8, tag::ab), dst({rows, n}, dt::s32, tag::ab);
  return {dnnl::matmul::desc(src, weights, dst), cpu_engine()};
}

// The primitive for (rows, k, n) on weights laid out as `packed`, with memory objects for its
// source and destination (pointed at the caller's buffers per call), made on first use by each
// thread (oneDNN's own primitive cache makes the second thread's cheap). No primitive if oneDNN
// would want another weight layout for this row count.
struct Int8Primitive {
  std::optional<dnnl::matmul> matmul;
  dnnl::memory src, dst;
};
Int8Primitive& int8_primitive(long rows, long k, long n, const dnnl::memory::desc& packed) {
  thread_local std::map<std::tuple<long, long, long>, Int8Primitive> cache;
  auto [it, added] = cache.try_emplace({rows, k, n});
  Int8Primitive& p = it->second;
  if (added) {
    try {
      using dt = dnnl::memory::data_type;
      using tag = dnnl::memory::format_tag;
      auto pd = int8_matmul_desc(rows, k, n, dnnl::memory::desc({k, n}, dt::s8, tag::any));
      if (pd.weights_desc() == packed) {
        p.matmul = dnnl::matmul(int8_matmul_desc(rows, k, n, packed));
        p.src = dnnl::memory(pd.src_desc(), cpu_engine(), DNNL_MEMORY_NONE);
        p.dst = dnnl::memory(pd.dst_desc(), cpu_engine(), DNNL_MEMORY_NONE);
      }
    } catch (const dnnl::error&) {
      p.matmul.reset();  // no kernel for this shape: the caller takes dnnl_gemm_u8s8s32
    }
  }
  return p;
}

std::shared_ptr<const PackedInt8> pack_int8(const Int8Matrix& m) {
  using dt = dnnl::memory::data_type;
  using tag = dnnl::memory::format_tag;
  single_threaded_onednn();
  try {
    auto pd = int8_matmul_desc(1, m.cols, m.rows,
                               dnnl::memory::desc({m.cols, m.rows}, dt::s8, tag::any));
    // Without a blocked int8 kernel (AVX2, AVX-512 without VNNI: oneDNN 2.6 then picks its
    // GEMM-based matmul and a plain layout, which repacks per call anyway) a copy gains nothing.
    if (pd.weights_desc().data.format_desc.blocking.inner_nblks == 0) return nullptr;
    const dnnl::memory::desc plain({m.cols, m.rows}, dt::s8, tag::ba);  // q is [rows, cols]
    auto packed = std::make_shared<PackedInt8>();
    packed->desc = pd.weights_desc();
    packed->weights = dnnl::memory(packed->desc, cpu_engine());
    dnnl::memory source(plain, cpu_engine(), const_cast<int8_t*>(m.q.data()));
    dnnl::stream stream(cpu_engine());
    dnnl::reorder(source, packed->weights).execute(stream, source, packed->weights);
    stream.wait();
    return packed;
  } catch (const dnnl::error&) {
    return nullptr;
  }
}

// Whether oneDNN has a blocked kernel for `rows` rows of this packed weight (it depends on the
// shape only, so the calling thread's answer holds for every thread).
bool has_packed_kernel(const Int8Matrix& w, long rows) {
  single_threaded_onednn();
  return int8_primitive(bucket_rows(rows), w.cols, w.rows, w.packed->desc).matmul.has_value();
}

// acc [rows, n] (leading dimension n) = xu [rows, k] · Wqᵀ in int32, without the compensation,
// in the blocked kernel (has_packed_kernel); xu and acc hold bucket_rows(rows) rows (the padding
// is scratch).
void packed_product(const Int8Matrix& w, const uint8_t* xu, long rows, int32_t* acc) {
  single_threaded_onednn();
  const long k = w.cols, n = w.rows;
  Int8Primitive& p = int8_primitive(bucket_rows(rows), k, n, w.packed->desc);
  require(p.matmul.has_value(), "gemm_int8: no packed kernel for this shape");
  thread_local dnnl::stream stream(cpu_engine());
  try {
    p.src.set_data_handle(const_cast<uint8_t*>(xu));
    p.dst.set_data_handle(acc);
    p.matmul->execute(stream, {{DNNL_ARG_SRC, p.src},
                               {DNNL_ARG_WEIGHTS, w.packed->weights},
                               {DNNL_ARG_DST, p.dst}});
  } catch (const dnnl::error& e) {
    require(false, "oneDNN int8 matmul failed (" + std::string(e.what()) +
                       "); --compute-type float avoids it");
  }
}

// acc [rows, n] (leading dimension ld) = xu [rows, k] · Wqᵀ in int32 (columns i0 … i0 + n of
// the output), without the compensation: dnnl_gemm_u8s8s32 on the plain weight.
void plain_product(const Int8Matrix& w, long i0, long n, const uint8_t* xu, long rows,
                   int32_t* acc, long ld) {
  single_threaded_onednn();
  const long k = w.cols;
  const int32_t zero = 0;
  const dnnl_status_t status =
      dnnl_gemm_u8s8s32('N', 'T', 'F', rows, n, k, 1.0f, xu, k, 0, w.q.data() + i0 * k, k, 0,
                        0.0f, acc, ld, &zero);
  require(status == dnnl_success, [&] {
    return "oneDNN int8 gemm failed (" + std::string(dnnl_status2str(status)) +
           "); --compute-type float avoids it";
  });
}

}  // namespace
#else
struct PackedInt8 {};
#endif

Int8Matrix quantize_rows(const MatView& w, bool pack) {
  Int8Matrix m;
  m.rows = w.rows;
  m.cols = w.cols;
  m.range = int8_vnni() ? 127 : 63;
  m.q.resize(static_cast<size_t>(w.rows * w.cols));
  m.inv_scale.resize(static_cast<size_t>(w.rows));
  m.compensation.resize(static_cast<size_t>(w.rows));
  for (long i = 0; i < w.rows; ++i) {
    int8_t* q = m.q.data() + i * w.cols;
    m.inv_scale[static_cast<size_t>(i)] =
        quantize_row(w.row(i), w.cols, static_cast<float>(m.range), 0, q);
    int32_t sum = 0;
    for (long j = 0; j < w.cols; ++j) sum += q[j];
    m.compensation[static_cast<size_t>(i)] = -128 * sum;
  }
#ifdef SPOTLIGHT_HAVE_ONEDNN
  if (pack && w.rows > 0 && w.cols > 0) m.packed = pack_int8(m);
#else
  (void)pack;
#endif
  return m;
}

void gemm_int8(const MatView& x, const Int8Matrix& w, const MatView& c, const float* bias,
               const RowsDone& rows_done) {
  require(x.cols == w.cols && c.rows == x.rows && c.cols == w.rows, [&] {
    return "gemm_int8: shape mismatch: x is " + std::to_string(x.rows) + "x" +
           std::to_string(x.cols) + ", W is " + std::to_string(w.rows) + "x" +
           std::to_string(w.cols) + ", c is " + std::to_string(c.rows) + "x" +
           std::to_string(c.cols);
  });
  require(int8_available(), "int8 products need oneDNN: this spotlight was built without it "
                            "(install libdnnl-dev, scripts/install_deps.sh, and rebuild)");
#ifdef SPOTLIGHT_HAVE_ONEDNN
  const long n = x.rows, k = x.cols, out = w.rows;
  if (n == 0 || out == 0) return;
  // Buffers of the calling thread (the plain path's quantized x, the input rows' factors),
  // grown as needed and kept: no allocation per product. (Named through references: inside the
  // lambdas below, a thread_local's own name would mean the worker's instance.)
  thread_local std::vector<uint8_t> tls_xq;
  thread_local std::vector<float> tls_x_inv;
  std::vector<uint8_t>& xq = tls_xq;
  std::vector<float>& x_inv = tls_x_inv;
  const double ops = 2.0 * static_cast<double>(n) * static_cast<double>(out) *
                     static_cast<double>(k);
  // Over the pool from 4 MOP, as gemm() splits: then chunks of at most one thread's share of
  // the rows (a multiple of 16), so that every thread gets one (320 rows of a 128-wide layer
  // on 2 threads: two chunks of 160, each padded to 192, instead of 256 and 64).
  const int pool_threads = loop_threads();
  const bool split = ops >= 4e6 && pool_threads > 1;
  long chunk = chunk_rows(out);
  if (split) {
    const long share = (n + pool_threads - 1) / pool_threads;
    chunk = std::min(chunk, std::max(16L, (share + 15) / 16 * 16));
  }
  const long count = (n + chunk - 1) / chunk, padded_chunk = bucket_rows(chunk);
  x_inv.resize(std::max(x_inv.size(), static_cast<size_t>(n)));
  // Rows r0 … r1 of x as unsigned bytes (x quantized + 128) into `to`, row r0 first.
  auto quantize = [&](long r0, long r1, uint8_t* to) {
    for (long r = r0; r < r1; ++r)
      x_inv[static_cast<size_t>(r)] = quantize_row(x.row(r), k, 127.0f, 128, to + (r - r0) * k);
  };
  // c[r, i] = (acc[r, i] + compensation[i]) · sx[r] / s[i] (+ bias[i]): the +128 shift of x
  // taken back out, then both factors; acc's rows from r0, leading dimension ld, columns i0 ….
  // dst: rows r0 … r1 of c, or of a thread's buffer (c.data null).
  auto finish = [&](long r0, long r1, const int32_t* acc, long ld, long i0, long cols,
                    const MatView& dst) {
    const int32_t* comp = w.compensation.data() + i0;
    const float* inv = w.inv_scale.data() + i0;
    for (long r = r0; r < r1; ++r) {
      const int32_t* a = acc + (r - r0) * ld + i0;
      float* y = dst.row(r - r0) + i0;
      const float sx = x_inv[static_cast<size_t>(r)];
      if (bias != nullptr) {
        const float* b = bias + i0;
        for (long i = 0; i < cols; ++i)
          y[i] = static_cast<float>(a[i] + comp[i]) * (sx * inv[i]) + b[i];
      } else {
        for (long i = 0; i < cols; ++i) y[i] = static_cast<float>(a[i] + comp[i]) * (sx * inv[i]);
      }
    }
  };
  // Packed: by chunks of rows (each: quantize, one product into the thread's int32 buffer, which
  // stays in L2, scale into c, rows_done), over the pool.
  const long last = n - (count - 1) * chunk;  // the last chunk's rows
  if (w.packed && has_packed_kernel(w, chunk) && has_packed_kernel(w, last)) {
    // Each thread quantizes its chunk into its own buffer: the kernel reads a chunk's padding
    // rows too (bucket_rows), which in a shared buffer would be the next chunk's, being
    // written by another thread.
    auto chunks = [&](long b0, long b1) {
      thread_local std::vector<uint8_t> tls_chunk_x;
      thread_local std::vector<int32_t> tls_acc;
      thread_local std::vector<float> tls_rows;
      std::vector<uint8_t>& xc = tls_chunk_x;
      std::vector<int32_t>& acc = tls_acc;
      std::vector<float>& own = tls_rows;
      xc.resize(std::max(xc.size(), static_cast<size_t>(padded_chunk * k)));
      acc.resize(std::max(acc.size(), static_cast<size_t>(padded_chunk * out)));
      if (c.data == nullptr) own.resize(std::max(own.size(), static_cast<size_t>(chunk * out)));
      for (long b = b0; b < b1; ++b) {
        const long r0 = b * chunk, r1 = std::min(n, r0 + chunk);
        const MatView dst = c.data != nullptr ? c.block(r0, 0, r1 - r0, out)
                                              : MatView{own.data(), r1 - r0, out, out};
        quantize(r0, r1, xc.data());
        packed_product(w, xc.data(), r1 - r0, acc.data());
        finish(r0, r1, acc.data(), out, 0, out, dst);
        if (rows_done) rows_done(r0, r1, dst);
      }
    };
    if (split && count > 1) {
      parallel_for(count, 1, chunks);
    } else {
      chunks(0, count);
    }
    return;
  }
  xq.resize(std::max(xq.size(), static_cast<size_t>(n * k)));
  quantize(0, n, xq.data());
  // Plain: over the pool by columns of the output (rows of W), as gemm() splits.
  thread_local std::vector<int32_t> tls_acc;
  thread_local std::vector<float> tls_all;
  std::vector<int32_t>& acc = tls_acc;
  acc.resize(std::max(acc.size(), static_cast<size_t>(n * out)));
  MatView dst = c;
  if (c.data == nullptr) {
    tls_all.resize(std::max(tls_all.size(), static_cast<size_t>(n * out)));
    dst = {tls_all.data(), n, out, out};
  }
  auto columns = [&](long i0, long cols) {
    plain_product(w, i0, cols, xq.data(), n, acc.data() + i0, out);
    finish(0, n, acc.data(), out, i0, cols, dst);
  };
  constexpr long kBlock = 64;
  if (!split || out < 2 * kBlock) {
    columns(0, out);
  } else {
    parallel_for((out + kBlock - 1) / kBlock, 1, [&](long b0, long b1) {
      const long i0 = b0 * kBlock;
      columns(i0, std::min(out, b1 * kBlock) - i0);
    });
  }
  if (rows_done) rows_done(0, n, dst);
#else
  (void)bias;
  (void)rows_done;
#endif
}

void gemm(const MatView& a, Op op_a, const MatView& b, Op op_b, const MatView& c, float alpha,
          float beta) {
  const long m = op_a == Op::N ? a.rows : a.cols;
  const long k = op_a == Op::N ? a.cols : a.rows;
  const long kb = op_b == Op::N ? b.rows : b.cols;
  const long n = op_b == Op::N ? b.cols : b.rows;
  require(k == kb && c.rows == m && c.cols == n, [&] {
    return "gemm: shape mismatch: op(a) is " + std::to_string(m) + "x" + std::to_string(k) +
           ", op(b) is " + std::to_string(kb) + "x" + std::to_string(n) + ", c is " +
           std::to_string(c.rows) + "x" + std::to_string(c.cols);
  });
  if (m == 0 || n == 0) return;
  if (k == 0) {  // empty sum: c = beta · c
    for (long i = 0; i < m; ++i)
      for (long j = 0; j < n; ++j) c.at(i, j) = beta == 0.0f ? 0.0f : beta * c.at(i, j);
    return;
  }
  const GemmBackend backend = gemm_backend();
  if (backend == GemmBackend::openblas) single_threaded_openblas();
  constexpr long kBlock = 32;  // split points are multiples of the kernels' register blocking
  const double flops = 2.0 * static_cast<double>(m) * static_cast<double>(n) *
                       static_cast<double>(k);
  if (flops < 4e6 || loop_threads() == 1 || std::max(m, n) < 2 * kBlock) {
    call(backend, a, op_a, b, op_b, c, k, alpha, beta);
  } else if (m >= n) {  // split the rows of c (and of op(a))
    parallel_for((m + kBlock - 1) / kBlock, 1, [&](long b0, long b1) {
      const long r0 = b0 * kBlock, r = std::min(m, b1 * kBlock) - r0;
      call(backend, op_a == Op::N ? a.block(r0, 0, r, k) : a.block(0, r0, k, r), op_a, b, op_b,
           c.block(r0, 0, r, n), k, alpha, beta);
    });
  } else {  // split the columns of c (and of op(b))
    parallel_for((n + kBlock - 1) / kBlock, 1, [&](long c0b, long c1b) {
      const long c0 = c0b * kBlock, w = std::min(n, c1b * kBlock) - c0;
      call(backend, a, op_a, op_b == Op::N ? b.block(0, c0, k, w) : b.block(c0, 0, w, k), op_b,
           c.block(0, c0, m, w), k, alpha, beta);
    });
  }
}

}  // namespace spotlight

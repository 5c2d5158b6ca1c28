// blas.h — the only door to a BLAS. Every matmul of the model, forward or backward, is a gemm on
// MatViews: C = alpha · op(A) · op(B) + beta · C, op = identity or transpose. Views may be column
// blocks of wider matrices (attention heads), which BLAS handles through ld. Large products are
// split into row or column blocks over the compute threads (parallel.h); each block is one
// single-threaded call of the backend.
//
// Two backends compute float32 products: OpenBLAS (always built: the reference and the
// fallback) and oneDNN's dnnl_sgemm (when the build found libdnnl-dev; then the default). The
// choice is process-wide, like the thread count: set_gemm_backend() (the commands' --gemm), else
// SPOTLIGHT_GEMM=openblas|onednn in the environment, else oneDNN where built.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "spotlight/tensor.h"

namespace spotlight {

enum class Op { N, T };

// c [M, N] = alpha · op(a) [M, K] · op(b) [K, N] + beta · c. Shapes are checked.
void gemm(const MatView& a, Op op_a, const MatView& b, Op op_b, const MatView& c,
          float alpha = 1.0f, float beta = 0.0f);

enum class GemmBackend { openblas, onednn };

const char* gemm_backend_name(GemmBackend b);  // "openblas", "onednn"
bool gemm_backend_available(GemmBackend b);    // built into this binary
// "openblas" or "onednn" (any case); a UsageError naming `where` (an option, a variable) for
// another name, or for oneDNN in a build without it.
GemmBackend parse_gemm_backend(std::string_view name, std::string_view where);
// The backend in use (resolved on first use: SPOTLIGHT_GEMM, else the build's default; an
// invalid SPOTLIGHT_GEMM throws a UsageError here, so main asks once before any work).
GemmBackend gemm_backend();
// Not while products run on other threads (the commands set it while parsing options).
void set_gemm_backend(GemmBackend b);

// int8 products, as CTranslate2 computes them on x86 (oneDNN's u8·s8 → s32 GEMM; a build without
// oneDNN has none). A weight W [out, in] is quantized once, per row: Wq[i,:] = round(W[i,:]·s[i]),
// s[i] = R / max|W[i,:]|. Each product quantizes the rows of x the same way on the fly (dynamic
// scales, 127 / max|x[r,:]|), multiplies in int8 with int32 sums, and scales back:
//   y[r,i] = Σ_j xq[r,j]·Wq[i,j] / (sx[r]·s[i]).
// x goes in as unsigned bytes xq + 128; the shift is taken back out by a per-column int32
// offset, −128·Σ_j Wq[i,j], computed with the weight. R = 127 where the CPU has VNNI (its u8·s8
// dot products sum in int32); elsewhere R = 63, so that the AVX2/AVX-512 pairwise int16 sums of
// u8·s8 products (at most 2·255·63 = 32,130) cannot saturate ("reduce range", as PyTorch's
// fbgemm does).
//
// The weight is also packed once into the blocked layout oneDNN's int8 matmul kernels read
// (brgemm; VNNI or AMX tiles), as CTranslate2 pre-packs: dnnl_gemm_u8s8s32 on the plain q would
// repack W on every call, which costs more than the product for the few rows of a decoding step.
struct PackedInt8;  // blas.cpp
struct Int8Matrix {
  long rows = 0, cols = 0;
  int range = 127;                     // R
  std::vector<int8_t> q;               // [rows, cols]
  std::vector<float> inv_scale;        // [rows] 1 / s[i] (0 for a row of zeros)
  std::vector<int32_t> compensation;   // [rows] −128·Σ_j q[i,j]
  // q in oneDNN's blocked layout; null where oneDNN has no such kernel (or packing was not
  // asked for): then each product goes through dnnl_gemm_u8s8s32 on q. Shared by copies.
  std::shared_ptr<const PackedInt8> packed;
  size_t bytes() const { return q.size() + 8 * static_cast<size_t>(rows); }
};
bool int8_available();
// The CPU's int8 dot products add in int32 without saturating (VNNI, AMX): R = 127.
bool int8_vnni();
// pack = false leaves `packed` null (tests compare the two paths; they give the same int32 sums).
Int8Matrix quantize_rows(const MatView& w, bool pack = true);
// c [N, w.rows] = x [N, w.cols] · dequantized(W)ᵀ (+ bias [w.rows] on every row, if given),
// overwritten. rows_done(r0, r1, rows), if given, is called once for each block of rows
// [r0, r1) as soon as they are final (`rows`: those rows of c), on the thread that computed them
// (blocks run in parallel), while they are still in cache: for a row-wise pass that would
// otherwise read them back from memory. With c.data null (c giving only the shape), the rows
// go to a buffer of the thread instead, valid during rows_done only: for a consumer that needs
// no more (a search's best columns of each row), the product never reaches memory.
using RowsDone = std::function<void(long r0, long r1, const MatView& rows)>;
void gemm_int8(const MatView& x, const Int8Matrix& w, const MatView& c, const float* bias = nullptr,
               const RowsDone& rows_done = {});

// One line naming the GEMM library that gemm() runs on, as the library reports it: for OpenBLAS
// its version, the kernel set (core) in use, its own thread count (1: gemm() splits over the
// compute pool instead), the compute pool's threads, and OPENBLAS_CORETYPE if the environment
// sets it; for oneDNN its version, the instruction set its kernels use, and the compute pool's
// threads. E.g.
//   OpenBLAS 0.3.21, core Haswell, 1 OpenBLAS thread, compute pool 2 threads,
//   OPENBLAS_CORETYPE=Haswell (from the environment)
//   oneDNN 2.6.3, ISA avx512_core_amx, 1 OpenMP thread per call, compute pool 2 threads
// Results that are equal only up to rounding differ between backends and cores, so test and
// benchmark logs start with this line.
std::string blas_description();
std::string blas_description(GemmBackend b);

}  // namespace spotlight

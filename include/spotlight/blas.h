// blas.h — the only door to cblas_sgemm. Every matmul of the model, forward or backward, is a
// gemm on MatViews: C = alpha · op(A) · op(B) + beta · C, op = identity or transpose. Views may
// be column blocks of wider matrices (attention heads), which BLAS handles through ld. Large
// products are split into row or column blocks over the compute threads (parallel.h).
#pragma once

#include "spotlight/tensor.h"

namespace spotlight {

enum class Op { N, T };

// c [M, N] = alpha · op(a) [M, K] · op(b) [K, N] + beta · c. Shapes are checked.
void gemm(const MatView& a, Op op_a, const MatView& b, Op op_b, const MatView& c,
          float alpha = 1.0f, float beta = 0.0f);


}  // namespace spotlight

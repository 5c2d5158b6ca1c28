#include "spotlight/layers/embedding.h"

#include <cmath>

#include "spotlight/check.h"
#include "spotlight/parallel.h"

namespace spotlight {

Embedding::Embedding(const std::string& name, long vocab, long dim, int pad)
    : weight(name, {vocab, dim}), pad_id(pad) {}

float Embedding::scale() const {
  return std::sqrt(static_cast<float>(dim()));
}

void Embedding::init(Rng& rng) {
  const float sd = 1.0f / std::sqrt(static_cast<float>(dim()));
  for (long i = 0; i < weight.value.size(); ++i) weight.value[i] = sd * rng.normal();
  if (pad_id >= 0 && pad_id < vocab())
    for (long j = 0; j < dim(); ++j) weight.value.view().at(pad_id, j) = 0.0f;
}

void Embedding::forward(std::span<const int> ids, Tensor& y) const {
  const long n = static_cast<long>(ids.size()), d = dim(), v = vocab();
  y.resize({n, d});
  const float s = scale();
  for (long i = 0; i < n; ++i) {
    const int id = ids[static_cast<size_t>(i)];
    require(id >= 0 && id < v, [&] {
      return weight.name + ": token id " + std::to_string(id) + " out of range [0, " +
             std::to_string(v) + ")";
    });
    const float* e = weight.value.view().row(id);
    float* out = y.view().row(i);
    for (long j = 0; j < d; ++j) out[j] = s * e[j];
  }
}

void Embedding::backward(std::span<const int> ids, const Tensor& dy) {
  const long d = dim();
  require(dy.rows() == static_cast<long>(ids.size()) && dy.cols() == d,
          [&] { return weight.name + ": gradient shape mismatch"; });
  const float s = scale();
  // Rows of one id add into the same gradient row: threads own column ranges instead.
  parallel_for(d, 64, [&](long j0, long j1) {
    for (size_t i = 0; i < ids.size(); ++i) {
      if (ids[i] == pad_id) continue;
      float* g = weight.grad.view().row(ids[i]);
      const float* r = dy.view().row(static_cast<long>(i));
      for (long j = j0; j < j1; ++j) g[j] += s * r[j];
    }
  });
}

}  // namespace spotlight

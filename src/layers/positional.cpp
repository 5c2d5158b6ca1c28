#include "spotlight/layers/positional.h"

#include <cmath>

#include "spotlight/check.h"

namespace spotlight {

SinusoidalPositions::SinusoidalPositions(long max_positions, long dim) {
  require(dim % 2 == 0, "sinusoidal positions need an even model dimension");
  table.resize({max_positions, dim});
  for (long p = 0; p < max_positions; ++p)
    for (long i = 0; i < dim; i += 2) {
      const double w = std::exp(static_cast<double>(i) * (-std::log(10000.0) / dim));
      table.view().at(p, i) = static_cast<float>(std::sin(p * w));
      table.view().at(p, i + 1) = static_cast<float>(std::cos(p * w));
    }
}

void SinusoidalPositions::add(Tensor& x, long batch, long len, long offset) const {
  require(x.rows() == batch * len && x.cols() == table.cols(), "positions: input shape mismatch");
  require(offset + len <= max_positions(), [&] {
    return "sequence of " + std::to_string(offset + len) +
           " positions exceeds model.max_positions = " + std::to_string(max_positions());
  });
  for (long b = 0; b < batch; ++b)
    for (long t = 0; t < len; ++t) {
      float* r = x.view().row(b * len + t);
      const float* pe = table.view().row(offset + t);
      for (long j = 0; j < x.cols(); ++j) r[j] += pe[j];
    }
}

}  // namespace spotlight

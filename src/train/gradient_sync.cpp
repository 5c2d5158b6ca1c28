#include "spotlight/train/gradient_sync.h"

#include <algorithm>

#include "spotlight/check.h"

namespace spotlight {

GradientSync::GradientSync(Communicator& comm, Transformer& model) : comm_(comm), model_(model) {
  const ParamList& params = model.params();
  long n = 0;
  for (const Param* p : params) {
    offset_.push_back(n);
    n += p->grad.size();
  }
  offset_.push_back(n);
  flat_.assign(static_cast<size_t>(n), 0.0f);
  pending_.resize(model.gradient_ranges().size());
}

void GradientSync::begin(const Transformer::Cache& cache, bool earlier) {
  cache_ = &cache;
  earlier_ = earlier;
  next_ = 0;
}

void GradientSync::ready(long first, long last) {
  const auto& ranges = model_.gradient_ranges();
  require(next_ < ranges.size() && ranges[next_] == std::make_pair(first, last),
          "GradientSync: gradients reported out of order");
  const ParamList& params = model_.params();
  for (long i = first; i < last; ++i) {
    const float* g = params[static_cast<size_t>(i)]->grad.data();
    float* out = flat_.data() + offset_[static_cast<size_t>(i)];
    const long n = params[static_cast<size_t>(i)]->grad.size();
    if (earlier_) {
      const float* s = cache_->grad_sum[static_cast<size_t>(i)].data();
      for (long j = 0; j < n; ++j) out[j] = s[j] + g[j];
    } else {
      std::copy_n(g, n, out);
    }
  }
  const long b = offset_[static_cast<size_t>(first)], e = offset_[static_cast<size_t>(last)];
  pending_[next_++] =
      comm_.start_sum(std::span<float>(flat_.data() + b, static_cast<size_t>(e - b)));
  comm_.progress();
}

void GradientSync::finish() {
  const auto& ranges = model_.gradient_ranges();
  while (next_ < ranges.size()) ready(ranges[next_].first, ranges[next_].second);
  for (auto& p : pending_) comm_.wait(p, "the gradient all-reduce");
  const ParamList& params = model_.params();
  for (size_t i = 0; i < params.size(); ++i)
    std::copy_n(flat_.data() + offset_[i], params[i]->grad.size(), params[i]->grad.data());
  cache_ = nullptr;
}

}  // namespace spotlight

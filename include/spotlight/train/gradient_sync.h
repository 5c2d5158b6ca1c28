// gradient_sync.h — an update's gradients summed over the ranks of a distributed run, in
// buckets overlapped with the backward pass: as the backward pass completes a part of the model
// (a layer, Transformer::gradient_ranges()), that part's gradients are packed into its place in
// one flat buffer (with the rank's earlier batches' sum added on the way) and a non-blocking
// in-place all-reduce of it is started; the rest of the backward pass runs while it travels.
// finish() waits for every bucket and unpacks the sums into the parameters' gradients.
// The flat buffer is made once: no step allocates.
#pragma once

#include <vector>

#include "spotlight/model/transformer.h"
#include "spotlight/train/distributed.h"

namespace spotlight {

class GradientSync {
 public:
  GradientSync(Communicator& comm, Transformer& model);

  // Before the update's last backward pass; `earlier`: cache.grad_sum holds this rank's other
  // batches' gradients (update_gradient's result).
  void begin(const Transformer::Cache& cache, bool earlier);
  // The hook for the last backward pass (Transformer::GradientsReady).
  void ready(long first, long last);
  // Completes every bucket not reported (a rank without batches reports none), waits for all,
  // and leaves the sums in p->grad.
  void finish();

  long buckets() const { return static_cast<long>(model_.gradient_ranges().size()); }
  long floats() const { return static_cast<long>(flat_.size()); }

 private:
  Communicator& comm_;
  Transformer& model_;
  std::vector<long> offset_;  // where parameter i starts in flat_
  std::vector<float> flat_;
  std::vector<Communicator::Pending> pending_;  // one per bucket, in reporting order
  const Transformer::Cache* cache_ = nullptr;
  bool earlier_ = false;
  size_t next_ = 0;  // buckets started this update
};

}  // namespace spotlight

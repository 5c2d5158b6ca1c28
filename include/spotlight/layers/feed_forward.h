// feed_forward.h — position-wise feed-forward: y = fc2(dropout(act(fc1(x)))).
//   fc1: [F, D], fc2: [D, F]; act = ReLU (default) or GELU; dropout here is fairseq's
//   activation_dropout.
#pragma once

#include "spotlight/kernels.h"
#include "spotlight/layers/linear.h"

namespace spotlight {

struct FeedForward {
  Linear fc1, fc2;
  Activation act = Activation::relu;
  float dropout = 0.0f;

  struct Cache {
    // ReLU needs no `pre`: hidden > 0 exactly where fc1's output was > 0 and dropout kept it,
    // and where dropout dropped it the gradient is 0 anyway — so hidden stands in for it.
    Tensor pre;     // [N, F] fc1 output (activation input); GELU only, empty for ReLU
    Tensor hidden;  // [N, F] after activation and dropout (fc2 input)
    DropoutMask mask;  // [N, F] dropout, empty when off
  };
  // Backward scratch: nothing in it outlives a call, so every feed-forward of a model can share
  // one (the caller's Workspace holds it).
  struct Scratch {
    Tensor dhidden;  // [N, F]
  };

  FeedForward() = default;
  // Parameters are named prefix + "fc1" and prefix + "fc2" (fairseq style).
  FeedForward(const std::string& prefix, long dim, long ffn, Activation act, float dropout);
  void init(Rng& rng) {
    fc1.init(rng);
    fc2.init(rng);
  }
  void collect(ParamList& ps) {
    fc1.collect(ps);
    fc2.collect(ps);
  }

  // x [N, D] → y [N, D]. Dropout is active iff rng is given (training).
  void forward(const Tensor& x, Cache& c, Tensor& y, Rng* rng) const;
  void backward(const Tensor& x, const Cache& c, const Tensor& dy, Scratch& s, Tensor& dx);

};

}  // namespace spotlight

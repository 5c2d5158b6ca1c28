#include "spotlight/layers/feed_forward.h"

namespace spotlight {

FeedForward::FeedForward(const std::string& prefix, long dim, long ffn, Activation a, float p)
    : fc1(prefix + "fc1", dim, ffn), fc2(prefix + "fc2", ffn, dim), act(a), dropout(p) {}

void FeedForward::forward(const Tensor& x, Cache& c, Tensor& y, Rng* rng) const {
  if (act == Activation::relu) {  // in place: backward needs only the output (see Cache)
    fc1.forward(x, c.hidden);
    activation(act, c.hidden.view(), c.hidden.view());
    c.pre.resize({0});
  } else {
    fc1.forward(x, c.pre);
    c.hidden.resize_like(c.pre);
    activation(act, c.pre.view(), c.hidden.view());
  }
  if (rng != nullptr)
    spotlight::dropout(dropout, *rng, c.hidden, c.mask, c.hidden);
  else
    c.mask.clear();
  fc2.forward(c.hidden, y);
}

void FeedForward::backward(const Tensor& x, const Cache& c, const Tensor& dy, Scratch& s,
                           Tensor& dx) {
  fc2.backward(c.hidden, dy, &s.dhidden);                                     // undo fc2
  dropout_backward(c.mask, s.dhidden, s.dhidden);                              // undo dropout
  const Tensor& act_in = act == Activation::relu ? c.hidden : c.pre;  // (see Cache)
  activation_backward(act, act_in.view(), s.dhidden.view(), s.dhidden.view());  // undo act
  fc1.backward(x, s.dhidden, &dx);                                            // undo fc1
}

}  // namespace spotlight

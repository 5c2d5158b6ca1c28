// residual.h — the residual sub-block around every sublayer (attention or feed-forward), the one
// place where pre-norm and post-norm differ:
//   pre-norm  (default):         y = x + dropout(f(LN(x)))
//   post-norm (original paper):  y = LN(x + dropout(f(x)))
// f is passed as a callable, so encoder and decoder layers share this code for all their blocks.
#pragma once

#include <algorithm>

#include "spotlight/kernels.h"
#include "spotlight/layers/layer_norm.h"
#include "spotlight/model_config.h"  // Norm

namespace spotlight {

struct Residual {
  LayerNorm norm;
  Norm kind = Norm::pre;
  float dropout = 0.0f;  // on the sublayer output (fairseq's dropout)

  struct Cache {
    LayerNorm::Cache ln;
    Tensor normed;  // [N, D] pre-norm: LN(x), the sublayer input
    DropoutMask mask;  // [N, D] dropout, empty when off
    Tensor sum;     // [N, D] post-norm: x + dropout(f(x)), the LayerNorm input
  };
  // Scratch: nothing in it outlives a call, so every residual block of a model can share one
  // (the caller's Workspace holds it).
  struct Scratch {
    Tensor out;              // [N, D] forward: the sublayer's output, needed only until the add
    Tensor dsum, dout, din;  // [N, D] backward
  };

  Residual() = default;
  Residual(const std::string& norm_name, long dim, Norm k, float p)
      : norm(norm_name, dim), kind(k), dropout(p) {}
  void collect(ParamList& ps) { norm.collect(ps); }

  // The input f sees: LN(x) in pre-norm, x itself in post-norm.
  const Tensor& sublayer_input(const Tensor& x, const Cache& c) const {
    return kind == Norm::pre ? c.normed : x;
  }

  // f(const Tensor& in, Tensor& out). Dropout is active iff rng is given.
  template <class F>
  void forward(const Tensor& x, Cache& c, Scratch& s, Tensor& y, Rng* rng, F&& f) const {
    if (kind == Norm::pre) norm.forward(x, c.ln, c.normed);
    Tensor& out = s.out;  // [N, D] sublayer output, dropped out in place
    f(sublayer_input(x, c), out);
    if (rng != nullptr)
      spotlight::dropout(dropout, *rng, out, c.mask, out);
    else
      c.mask.clear();
    if (kind == Norm::pre) {
      add(x, out, y);
    } else {
      add(x, out, c.sum);
      norm.forward(c.sum, c.ln, y);
    }
  }

  // fb(const Tensor& in, const Tensor& dout, Tensor& din): the sublayer's backward, din
  // overwritten. dx overwritten; must not alias dy.
  template <class FB>
  void backward(const Tensor& x, const Cache& c, const Tensor& dy, Scratch& s, Tensor& dx,
                FB&& fb) {
    const Tensor* dsum = &dy;  // gradient at x + dropout(f(.))
    if (kind == Norm::post) {
      norm.backward(c.sum, c.ln, dy, s.dsum);  // undo the LayerNorm after the sum
      dsum = &s.dsum;
    }
    dropout_backward(c.mask, *dsum, s.dout);  // undo dropout
    fb(sublayer_input(x, c), s.dout, s.din);   // undo f
    if (kind == Norm::pre) {
      norm.backward(x, c.ln, s.din, dx);  // undo LN(x)
      add_to(dx, *dsum);                 // + the identity path
    } else {
      add(s.din, *dsum, dx);  // f's path + the identity path
    }
  }
};

// A stack's closing LayerNorm: applied in pre-norm stacks, the identity (a copy) in post-norm
// ones, whose layers already end in a LayerNorm.
inline void final_norm_forward(const LayerNorm& ln, bool on, const Tensor& x, LayerNorm::Cache& c,
                               Tensor& y) {
  if (on) {
    ln.forward(x, c, y);
  } else {
    y.resize_like(x);
    std::copy_n(x.data(), x.size(), y.data());
  }
}
// dx overwritten.
inline void final_norm_backward(LayerNorm& ln, bool on, const Tensor& x, const LayerNorm::Cache& c,
                                const Tensor& dy, Tensor& dx) {
  if (on) {
    ln.backward(x, c, dy, dx);
  } else {
    dx.resize_like(dy);
    std::copy_n(dy.data(), dy.size(), dx.data());
  }
}

}  // namespace spotlight

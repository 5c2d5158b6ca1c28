// The gradient check catches the bugs it exists for. Each case builds a deliberately broken
// backward from the real pieces — a transposed weight gradient, the attention backward without
// its 1/sqrt(Dh), and the attention backward without the mask — and shows the check rejecting
// it by more than an order of magnitude beyond kGradTol, while the correct backward passes.
#include "support/grad_check.h"

#include <doctest/doctest.h>

#include <cmath>

#include "spotlight/blas.h"
#include "spotlight/layers/attention.h"

using namespace spotlight;
using namespace spotlight::testing;

namespace {
enum class Bug { none, missing_scale, unmasked_backward };

struct AttentionSetup {
  static constexpr long batch = 2, t = 6, d = 16, heads = 2;  // Dh = 8
  Rng rng{61};
  MultiHeadAttention mha{"attn", d, heads, 0.0f};
  std::vector<int> len{6, 3};
  Mask mask{len, true, 0};
  MultiHeadAttention::Cache c;
  Tensor x{batch * t, d}, y, w{batch * t, d};

  AttentionSetup() {
    mha.init(rng);
    fill_uniform(x, rng);
    fill_uniform(w, rng);
  }
  double f() {
    mha.forward(x, x, batch, mask, c, y, nullptr);
    return dot(y, w);
  }
  // MultiHeadAttention::backward rebuilt from its public pieces, with `bug` injected.
  void backward(Bug bug) {
    f();
    for (Param* p : {&mha.q_proj.weight, &mha.k_proj.weight, &mha.v_proj.weight}) p->grad.zero();
    Tensor dctx, dprobs, dq, dk, dv, probs = c.probs;
    mha.out_proj.backward(c.ctx, w, &dctx);
    if (bug == Bug::unmasked_backward) {  // softmax recomputed over all keys in backward
      for (long b = 0; b < batch; ++b)
        for (long h = 0; h < heads; ++h) {
          const MatView s = probs.view().block(((b * heads + h) * t), 0, t, t);
          gemm(c.q.view().block(b * t, h * 8, t, 8), Op::N, c.k.view().block(b * t, h * 8, t, 8),
               Op::T, s);
          masked_softmax(s, 1.0f / std::sqrt(8.0f), Mask{}, b);
        }
    }
    const Tensor none;
    const DropoutMask no_dropout;
    attend_backward(c.q, c.k, c.v, batch, heads, probs, no_dropout, none, dctx, dprobs, dq, dk,
                    dv);
    if (bug ==
        Bug::missing_scale) {  // dS without its 1/sqrt(Dh): dq, dk come out sqrt(Dh)× too big
      for (long i = 0; i < dq.size(); ++i) dq[i] *= std::sqrt(8.0f);
      for (long i = 0; i < dk.size(); ++i) dk[i] *= std::sqrt(8.0f);
    }
    Tensor dx;
    mha.q_proj.backward(x, dq, &dx);
    mha.k_proj.backward(x, dk, &dx, true);
    mha.v_proj.backward(x, dv, &dx, true);
  }
  double worst(const std::vector<Param*>& ps) {
    double e = 0.0;
    for (Param* p : ps)
      e = std::max(e, check_gradient(p->value, p->grad, [&] { return f(); }).rel_error);
    return e;
  }
};

Tensor transposed(const Tensor& g) {
  Tensor t({g.dim(1), g.dim(0)});
  for (long i = 0; i < g.dim(0); ++i)
    for (long j = 0; j < g.dim(1); ++j) t.view().at(j, i) = g.view().at(i, j);
  return t;
}
}  // namespace

TEST_CASE("the correct attention backward passes the check") {
  AttentionSetup s;
  s.backward(Bug::none);
  const double e = s.worst({&s.mha.q_proj.weight, &s.mha.k_proj.weight, &s.mha.v_proj.weight});
  MESSAGE("correct backward: worst relative error " << e);
  CHECK(e < kGradTol);
}

TEST_CASE("a missing 1/sqrt(Dh) in the attention backward fails the check") {
  AttentionSetup s;
  s.backward(Bug::missing_scale);
  const double e = s.worst({&s.mha.q_proj.weight, &s.mha.k_proj.weight});
  MESSAGE("missing 1/sqrt(Dh): relative error " << e);
  CHECK(e > 30 * kGradTol);
}

TEST_CASE("a mask applied in forward but not in backward fails the check") {
  AttentionSetup s;
  s.backward(Bug::unmasked_backward);
  const double e = s.worst({&s.mha.q_proj.weight, &s.mha.k_proj.weight, &s.mha.v_proj.weight});
  MESSAGE("unmasked backward: relative error " << e);
  CHECK(e > 30 * kGradTol);
}

TEST_CASE("a transposed weight gradient fails the check") {
  Rng rng(62);
  Linear lin("fc", 6, 6);
  lin.init(rng);
  Tensor x({5, 6}), y, w({5, 6});
  fill_uniform(x, rng);
  fill_uniform(w, rng);
  lin.backward(x, w, nullptr);
  auto f = [&] {
    lin.forward(x, y);
    return dot(y, w);
  };
  const double ok = check_gradient(lin.weight.value, lin.weight.grad, f).rel_error;
  const double bad = check_gradient(lin.weight.value, transposed(lin.weight.grad), f).rel_error;
  MESSAGE("correct dW: " << ok << ", transposed dW: " << bad);
  CHECK(ok < kGradTol);
  CHECK(bad > 30 * kGradTol);
}

// The gradient check catches the bugs it exists for. Each case builds a deliberately broken
// backward from the real pieces — a transposed weight gradient, the attention backward without
// its 1/sqrt(Dh), the attention backward without the mask, and a softmax backward whose rows no
// longer sum to zero — and shows the check rejecting it by more than 30× its bar (noise floor +
// kGradTol·‖numeric‖, support/grad_check.h), while the correct backward passes. The last bug also
// breaks the key bias's exact zero, which the zero rule (|db_k| ≤ key_bias_zero_atol) catches.
#include "support/grad_check.h"

#include <doctest/doctest.h>

#include <cmath>

#include "spotlight/blas.h"
#include "spotlight/layers/attention.h"

using namespace spotlight;
using namespace spotlight::testing;

namespace {
enum class Bug { none, missing_scale, unmasked_backward, uncentered_softmax };

struct AttentionSetup {
  static constexpr long batch = 2, t = 6, d = 16, heads = 2;  // Dh = 8
  Rng rng{61};
  MultiHeadAttention mha{"attn", d, heads, 0.0f};
  std::vector<int> len{6, 3};
  Keys mask = Keys::causal_padded(len);
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
    for (Param* p : {&mha.q_proj.weight, &mha.k_proj.weight, &mha.v_proj.weight, &mha.q_proj.bias,
                     &mha.k_proj.bias, &mha.v_proj.bias})
      p->grad.zero();
    Attended core = c;  // the forward's results; the unmasked bug rewrites its probs
    Tensor& probs = core.probs;
    Tensor dctx;
    mha.out_proj.backward(c.ctx, w, &dctx);
    if (bug == Bug::unmasked_backward) {  // softmax recomputed over all keys in backward
      for (long b = 0; b < batch; ++b)
        for (long h = 0; h < heads; ++h) {
          const MatView s = probs.view().block(((b * heads + h) * t), 0, t, t);
          gemm(c.q.view().block(b * t, h * 8, t, 8), Op::N, c.k.view().block(b * t, h * 8, t, 8),
               Op::T, s);
          masked_softmax(s, 1.0f / std::sqrt(8.0f), t, false);
        }
    }
    AttendGrads g;
    attend_backward({c.q, c.k, c.v, batch, heads}, core, dctx, g);
    Tensor &dq = g.dq, &dk = g.dk, &dv = g.dv;
    if (bug ==
        Bug::missing_scale) {  // dS without its 1/sqrt(Dh): dq, dk come out sqrt(Dh)× too big
      for (long i = 0; i < dq.size(); ++i) dq[i] *= std::sqrt(8.0f);
      for (long i = 0; i < dk.size(); ++i) dk[i] *= std::sqrt(8.0f);
    }
    if (bug == Bug::uncentered_softmax) {  // dS = P∘dP/sqrt(Dh), without − rowsum(P∘dP)
      const float scale = 1.0f / std::sqrt(8.0f);
      for (long b = 0; b < batch; ++b)
        for (long h = 0; h < heads; ++h) {
          Tensor dp({t, t}), extra({t, t});  // dP = dctx·vᵀ; the term the bug leaves in dS
          gemm(dctx.view().block(b * t, h * 8, t, 8), Op::N, c.v.view().block(b * t, h * 8, t, 8),
               Op::T, dp.view());
          const MatView p = probs.view().block((b * heads + h) * t, 0, t, t);
          for (long i = 0; i < t; ++i) {
            double rowsum = 0.0;
            for (long j = 0; j < t; ++j) rowsum += p.at(i, j) * dp.view().at(i, j);
            for (long j = 0; j < t; ++j)
              extra.view().at(i, j) = scale * p.at(i, j) * static_cast<float>(rowsum);
          }
          gemm(extra.view(), Op::N, c.k.view().block(b * t, h * 8, t, 8), Op::N,
               dq.view().block(b * t, h * 8, t, 8), 1.0f, 1.0f);  // dq += extra·k
          gemm(extra.view(), Op::T, c.q.view().block(b * t, h * 8, t, 8), Op::N,
               dk.view().block(b * t, h * 8, t, 8), 1.0f, 1.0f);  // dk += extraᵀ·q
        }
    }
    Tensor dx;
    mha.q_proj.backward(x, dq, &dx);
    mha.k_proj.backward(x, dk, &dx, true);
    mha.v_proj.backward(x, dv, &dx, true);
  }
  // The worst excess (error in units of the bar; at most 1 passes) over the parameters.
  double worst(const std::vector<Param*>& ps) {
    double e = 0.0;
    for (Param* p : ps)
      e = std::max(e, check_gradient(p->value, p->grad, [&] { return f(); }).excess());
    return e;
  }
  // max |db_k| in units of its zero bar.
  double key_bias_excess() const {
    return max_abs(mha.k_proj.bias.grad) / key_bias_zero_atol(mha.k_proj.weight.grad);
  }
};

Tensor transposed(const Tensor& g) {
  Tensor t({g.dim(1), g.dim(0)});
  for (long i = 0; i < g.dim(0); ++i)
    for (long j = 0; j < g.dim(1); ++j) t.view().at(j, i) = g.view().at(i, j);
  return t;
}
}  // namespace

TEST_SUITE_BEGIN("unit");

TEST_CASE("the correct attention backward passes the check") {
  AttentionSetup s;
  s.backward(Bug::none);
  const double e = s.worst({&s.mha.q_proj.weight, &s.mha.k_proj.weight, &s.mha.v_proj.weight,
                            &s.mha.q_proj.bias, &s.mha.v_proj.bias});
  MESSAGE("correct backward: worst error " << e << "× the bar; key bias " << s.key_bias_excess()
                                           << "× its zero bar");
  CHECK(e <= 1.0);
  CHECK(s.key_bias_excess() <= 1.0);
}

TEST_CASE("a missing 1/sqrt(Dh) in the attention backward fails the check") {
  AttentionSetup s;
  s.backward(Bug::missing_scale);
  const double e = s.worst({&s.mha.q_proj.weight, &s.mha.k_proj.weight});
  MESSAGE("missing 1/sqrt(Dh): " << e << "× the bar");
  CHECK(e > 30);
}

TEST_CASE("a mask applied in forward but not in backward fails the check") {
  AttentionSetup s;
  s.backward(Bug::unmasked_backward);
  const double e = s.worst({&s.mha.q_proj.weight, &s.mha.k_proj.weight, &s.mha.v_proj.weight});
  MESSAGE("unmasked backward: " << e << "× the bar");
  CHECK(e > 30);
}

TEST_CASE("a softmax backward whose rows do not sum to zero fails the check and the key-bias zero") {
  AttentionSetup s;
  s.backward(Bug::uncentered_softmax);
  const double e = s.worst({&s.mha.q_proj.weight, &s.mha.k_proj.weight});
  MESSAGE("uncentered softmax backward: " << e << "× the bar; key bias " << s.key_bias_excess()
                                          << "× its zero bar");
  CHECK(e > 30);
  CHECK(s.key_bias_excess() > 1000);
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
  const double ok = check_gradient(lin.weight.value, lin.weight.grad, f).excess();
  const double bad = check_gradient(lin.weight.value, transposed(lin.weight.grad), f).excess();
  MESSAGE("correct dW: " << ok << "× the bar, transposed dW: " << bad << "×");
  CHECK(ok <= 1.0);
  CHECK(bad > 30);
}

TEST_CASE("a gradient below the differences' noise is judged by the noise floor") {
  // f rounds to float32 around 1000 (one ulp ≈ 6e-5), so a step of h = 1e-2 cannot resolve
  // its slope of 1e-4: the central difference is 0 or a few ulps over 2h, pure noise, and the
  // relative error of the correct gradient is O(1). The floor ε·|f|/2h ≈ 6e-3 accepts it.
  Tensor x({1}), g({1});
  x[0] = 0.3f;
  g[0] = 1e-4f;
  auto f = [&] { return static_cast<double>(1000.0f + 1e-4f * x[0]); };
  const GradCheck r = check_gradient(x, g, f);
  MESSAGE("relative error " << r.rel_error() << ", noise floor " << r.noise);
  CHECK(r.rel_error() > 0.5);
  CHECK(r.noise > 30 * std::fabs(g[0]));
  CHECK(r.passes());
  // The floor is the differences' noise, not a free pass: a gradient of 1 for this f fails.
  g[0] = 1.0f;
  CHECK(!check_gradient(x, g, f).passes());
}

TEST_SUITE_END();

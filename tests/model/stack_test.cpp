// Encoder and decoder stacks on continuous inputs: dx and the decoder's memory gradient (the sum
// of every layer's cross-attention gradient) against finite differences, pre- and post-norm,
// with all three dropouts on.
#include <doctest/doctest.h>

#include "spotlight/model/decoder.h"
#include "support/grad_check.h"

using namespace spotlight;
using namespace spotlight::testing;

namespace {
LayerShape shape(Norm norm) {
  return {16, 4, 20, norm, Activation::gelu, 0.1f, 0.1f, 0.1f};
}
}  // namespace

TEST_SUITE_BEGIN("unit");

TEST_CASE("encoder stack: input gradient matches finite differences") {
  for (Norm norm : {Norm::pre, Norm::post}) {
    CAPTURE(norm == Norm::pre);
    Rng rng(91);
    Encoder enc("encoder.", 2, shape(norm));
    enc.init(rng);
    const long batch = 2, s = 5;
    const std::vector<int> len = {5, 3};
    Encoder::Cache c;
    Workspace ws;
    Tensor x({batch * s, 16}), mem, w({batch * s, 16}), dx;
    fill_uniform(x, rng);
    fill_uniform(w, rng);
    auto f = [&] {
      Rng drop(5);
      enc.forward(x, batch, Keys::padded(len), c, ws, mem, &drop);
      return dot(mem, w);
    };
    f();
    enc.backward(x, c, w, ws, dx);
    expect_gradients({{"x", &x, &dx}}, f);
  }
}

TEST_CASE("decoder stack: input and memory gradients match finite differences") {
  for (Norm norm : {Norm::pre, Norm::post}) {
    CAPTURE(norm == Norm::pre);
    Rng rng(92);
    Decoder dec("decoder.", 3, shape(norm));
    dec.init(rng);
    const long batch = 2, t = 4, s = 6;
    const std::vector<int> tlen = {4, 2}, slen = {3, 6};
    Decoder::Cache c;
    Workspace ws;
    Tensor x({batch * t, 16}), mem({batch * s, 16}), h, w({batch * t, 16}), dx, dmem;
    fill_uniform(x, rng);
    fill_uniform(mem, rng);
    fill_uniform(w, rng);
    auto f = [&] {
      Rng drop(6);
      dec.forward(x, mem, batch, Keys::causal_padded(tlen), Keys::padded(slen), c, ws, h,
                  &drop);
      return dot(h, w);
    };
    f();
    dec.backward(x, mem, c, w, ws, dx, dmem);
    expect_gradients({{"x", &x, &dx}, {"memory", &mem, &dmem}}, f);
  }
}

TEST_SUITE_END();

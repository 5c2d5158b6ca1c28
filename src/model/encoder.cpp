#include "spotlight/model/encoder.h"

#include <algorithm>

namespace spotlight {

EncoderLayer::EncoderLayer(const std::string& p, const LayerShape& s)
    : self_attn(p + "self_attn", s.dim, s.heads, s.attention_dropout),
      self_block(p + "self_attn_layer_norm", s.dim, s.norm, s.dropout),
      ff(p, s.dim, s.ffn, s.activation, s.activation_dropout),
      ff_block(p + "final_layer_norm", s.dim, s.norm, s.dropout) {}

void EncoderLayer::collect(ParamList& ps) {
  self_attn.collect(ps);
  self_block.collect(ps);
  ff.collect(ps);
  ff_block.collect(ps);
}

void EncoderLayer::forward(const Tensor& x, long batch, const Keys& keys, Cache& c, Workspace& ws,
                           Tensor& y, Rng* rng) const {
  self_block.forward(x, c.r_attn, ws.residual, c.mid, rng, [&](const Tensor& in, Tensor& out) {
    self_attn.forward(in, in, batch, keys, c.attn, out, rng);
  });
  ff_block.forward(c.mid, c.r_ff, ws.residual, y, rng,
                   [&](const Tensor& in, Tensor& out) { ff.forward(in, c.ff, out, rng); });
}

void EncoderLayer::backward(const Tensor& x, const Cache& c, const Tensor& dy, Workspace& ws,
                            Tensor& dx) {
  ff_block.backward(c.mid, c.r_ff, dy, ws.residual, ws.dmid1,  // undo the feed-forward block
                    [&](const Tensor& in, const Tensor& dout, Tensor& din) {
                      ff.backward(in, c.ff, dout, ws.feed_forward, din);
                    });
  self_block.backward(x, c.r_attn, ws.dmid1, ws.residual, dx,  // undo the self-attention block
                      [&](const Tensor& in, const Tensor& dout, Tensor& din) {
                        self_attn.backward(in, in, c.attn, dout, ws.attention, din, ws.dkv);
                        add_to(din, ws.dkv);  // q and k/v read the same input
                      });
}

Encoder::Encoder(const std::string& prefix, long n, const LayerShape& s)
    : layer_norm(prefix + "layer_norm", s.dim), final_norm(s.norm == Norm::pre) {
  layers.reserve(static_cast<size_t>(n));
  for (long i = 0; i < n; ++i) layers.emplace_back(prefix + "layers." + std::to_string(i) + ".", s);
}

void Encoder::init(Rng& rng) {
  for (auto& l : layers) l.init(rng);
  layer_norm.init();
}

void Encoder::collect(ParamList& ps) {
  for (auto& l : layers) l.collect(ps);
  if (final_norm) layer_norm.collect(ps);
}

void Encoder::forward(const Tensor& x, long batch, const Keys& keys, Cache& c, Workspace& ws,
                      Tensor& memory, Rng* rng) const {
  const size_t n = layers.size();
  c.layers.resize(n);
  c.outs.resize(n);
  for (size_t i = 0; i < n; ++i)
    layers[i].forward(i == 0 ? x : c.outs[i - 1], batch, keys, c.layers[i], ws, c.outs[i], rng);
  const Tensor& top = n == 0 ? x : c.outs.back();
  final_norm_forward(layer_norm, final_norm, top, c.ln, memory);
}

void Encoder::backward(const Tensor& x, const Cache& c, const Tensor& dmemory, Workspace& ws,
                       Tensor& dx, const std::function<void(size_t)>& layer_done) {
  const size_t n = layers.size();
  const Tensor& top = n == 0 ? x : c.outs.back();
  Tensor* d = &ws.dlayer[0];
  final_norm_backward(layer_norm, final_norm, top, c.ln, dmemory, *d);  // undo the final norm
  for (size_t i = n; i-- > 0;) {
    Tensor* next = i == 0 ? &dx : (d == &ws.dlayer[0] ? &ws.dlayer[1] : &ws.dlayer[0]);
    layers[i].backward(i == 0 ? x : c.outs[i - 1], c.layers[i], *d, ws, *next);
    if (layer_done) layer_done(i);
    d = next;
  }
  if (n == 0) {
    dx.resize_like(*d);
    std::copy_n(d->data(), d->size(), dx.data());
  }
}

}  // namespace spotlight

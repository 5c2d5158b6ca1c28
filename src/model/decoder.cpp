#include "spotlight/model/decoder.h"

#include <algorithm>
#include <numeric>

#include "spotlight/check.h"

namespace spotlight {

DecoderLayer::DecoderLayer(const std::string& p, const LayerShape& s)
    : self_attn(p + "self_attn", s.dim, s.heads, s.attention_dropout),
      self_block(p + "self_attn_layer_norm", s.dim, s.norm, s.dropout),
      encoder_attn(p + "encoder_attn", s.dim, s.heads, s.attention_dropout),
      cross_block(p + "encoder_attn_layer_norm", s.dim, s.norm, s.dropout),
      ff(p, s.dim, s.ffn, s.activation, s.activation_dropout),
      ff_block(p + "final_layer_norm", s.dim, s.norm, s.dropout) {}

void DecoderLayer::init(Rng& rng) {
  self_attn.init(rng);
  encoder_attn.init(rng);
  ff.init(rng);
}

void DecoderLayer::collect(ParamList& ps) {
  self_attn.collect(ps);
  self_block.collect(ps);
  encoder_attn.collect(ps);
  cross_block.collect(ps);
  ff.collect(ps);
  ff_block.collect(ps);
}

void DecoderLayer::forward(const Tensor& x, const Tensor& memory, long batch, const Keys& self_keys,
                           const Keys& memory_keys, Cache& c, Workspace& ws, Tensor& y,
                           Rng* rng) const {
  self_block.forward(x, c.r_self, ws.residual, c.mid1, rng, [&](const Tensor& in, Tensor& out) {
    self_attn.forward(in, in, batch, self_keys, c.self, out, rng);
  });
  cross_block.forward(c.mid1, c.r_cross, ws.residual, c.mid2, rng,
                      [&](const Tensor& in, Tensor& out) {
                        encoder_attn.forward(in, memory, batch, memory_keys, c.cross, out, rng);
                      });
  ff_block.forward(c.mid2, c.r_ff, ws.residual, y, rng,
                   [&](const Tensor& in, Tensor& out) { ff.forward(in, c.ff, out, rng); });
}

void DecoderLayer::step(const Tensor& x, DecoderState& st, size_t i, Tensor& y) const {
  Cache& c = st.layers[i];
  Residual::Scratch& rs = st.ws.residual;
  self_block.forward(x, c.r_self, rs, c.mid1, nullptr, [&](const Tensor& in, Tensor& out) {
    self_attn.step(in, st.self[i], c.self, out);
  });
  cross_block.forward(c.mid1, c.r_cross, rs, c.mid2, nullptr, [&](const Tensor& in, Tensor& out) {
    // One query block per sentence: its beams read the sentence's memory block together.
    Keys keys = Keys::padded(st.mem_len);
    keys.block = st.mem_block;
    encoder_attn.attend_cached(in, st.memory[i], st.batch / st.group, keys, c.cross, out);
  });
  ff_block.forward(c.mid2, c.r_ff, rs, y, nullptr,
                   [&](const Tensor& in, Tensor& out) { ff.forward(in, c.ff, out, nullptr); });
}

void DecoderLayer::backward(const Tensor& x, const Tensor& memory, const Cache& c, const Tensor& dy,
                            Workspace& ws, Tensor& dx, Tensor& dmemory) {
  ff_block.backward(c.mid2, c.r_ff, dy, ws.residual, ws.dmid2,  // undo the feed-forward block
                    [&](const Tensor& in, const Tensor& dout, Tensor& din) {
                      ff.backward(in, c.ff, dout, ws.feed_forward, din);
                    });
  cross_block.backward(c.mid1, c.r_cross, ws.dmid2, ws.residual, ws.dmid1,  // undo cross-attention
                       [&](const Tensor& in, const Tensor& dout, Tensor& din) {
                         encoder_attn.backward(in, memory, c.cross, dout, ws.attention, din,
                                               ws.dkv);
                         add_to(dmemory, ws.dkv);  // every layer reads the memory
                       });
  self_block.backward(x, c.r_self, ws.dmid1, ws.residual, dx,  // undo the self-attention block
                      [&](const Tensor& in, const Tensor& dout, Tensor& din) {
                        self_attn.backward(in, in, c.self, dout, ws.attention, din, ws.dkv);
                        add_to(din, ws.dkv);
                      });
}

Decoder::Decoder(const std::string& prefix, long n, const LayerShape& s)
    : layer_norm(prefix + "layer_norm", s.dim), final_norm(s.norm == Norm::pre) {
  layers.reserve(static_cast<size_t>(n));
  for (long i = 0; i < n; ++i) layers.emplace_back(prefix + "layers." + std::to_string(i) + ".", s);
}

void Decoder::init(Rng& rng) {
  for (auto& l : layers) l.init(rng);
  layer_norm.init();
}

void Decoder::collect(ParamList& ps) {
  for (auto& l : layers) l.collect(ps);
  if (final_norm) layer_norm.collect(ps);
}

void Decoder::forward(const Tensor& x, const Tensor& memory, long batch, const Keys& self_keys,
                      const Keys& memory_keys, Cache& c, Workspace& ws, Tensor& h,
                      Rng* rng) const {
  const size_t n = layers.size();
  c.layers.resize(n);
  c.outs.resize(n);
  for (size_t i = 0; i < n; ++i)
    layers[i].forward(i == 0 ? x : c.outs[i - 1], memory, batch, self_keys, memory_keys,
                      c.layers[i], ws, c.outs[i], rng);
  const Tensor& top = n == 0 ? x : c.outs.back();
  final_norm_forward(layer_norm, final_norm, top, c.ln, h);
}

void DecoderState::select(std::span<const int> rows, long new_group) {
  const long n = static_cast<long>(rows.size());
  const long g_new = new_group > 0 ? new_group : group;
  require(n % g_new == 0, "DecoderState::select: rows must come in whole groups");
  for (int r : rows) require(r >= 0 && r < batch, "DecoderState::select: row out of range");
  // Each group keeps reading the memory block of the group its rows come from.
  spare_block.clear();
  spare_len.clear();
  for (long g = 0; g < n / g_new; ++g) {
    const long from = rows[static_cast<size_t>(g * g_new)] / group;
    for (long j = 1; j < g_new; ++j)
      require(rows[static_cast<size_t>(g * g_new + j)] / group == from,
              "DecoderState::select: the rows of a group must come from one group");
    spare_block.push_back(mem_block[static_cast<size_t>(from)]);
    spare_len.push_back(mem_len[static_cast<size_t>(from)]);
  }
  mem_block.swap(spare_block);
  mem_len.swap(spare_len);
  for (StepCache& kv : self) kv.reorder(rows);  // the memory stays where it is
  batch = n;
  group = g_new;
}

void DecoderState::expand(long copies) {
  require(copies >= 1, "DecoderState::expand: at least one copy");
  std::vector<int> rows;
  for (long r = 0; r < batch; ++r)
    for (long c = 0; c < copies; ++c) rows.push_back(static_cast<int>(r));
  select(rows, group * copies);
}

void Decoder::start(const Tensor& memory, long batch, std::span<const int> src_len, long capacity,
                    DecoderState& st) const {
  require(batch > 0 && memory.rows() % batch == 0 && static_cast<long>(src_len.size()) == batch,
          "Decoder::start: memory and source lengths do not match the batch");
  const size_t n = layers.size();
  st.batch = batch;
  st.group = 1;
  st.capacity = capacity;
  st.length = 0;
  st.mem_block.resize(static_cast<size_t>(batch));
  std::iota(st.mem_block.begin(), st.mem_block.end(), 0);
  st.mem_len.assign(src_len.begin(), src_len.end());
  st.self.resize(n);
  st.memory.resize(n);
  st.layers.resize(n);
  st.outs.resize(n);
  for (size_t i = 0; i < n; ++i) {
    layers[i].self_attn.start_cache(batch, capacity, st.self[i]);
    layers[i].encoder_attn.cache_memory(memory, batch, st.memory[i]);  // once per sentence
  }
}

void Decoder::step(const Tensor& x, DecoderState& st, Tensor& h) const {
  require(st.length < st.capacity, "Decoder::step: output longer than the cache capacity");
  const size_t n = layers.size();
  for (size_t i = 0; i < n; ++i) layers[i].step(i == 0 ? x : st.outs[i - 1], st, i, st.outs[i]);
  final_norm_forward(layer_norm, final_norm, n == 0 ? x : st.outs.back(), st.ln, h);
  ++st.length;
}

void Decoder::backward(const Tensor& x, const Tensor& memory, const Cache& c, const Tensor& dh,
                       Workspace& ws, Tensor& dx, Tensor& dmemory,
                       const std::function<void(size_t)>& layer_done) {
  const size_t n = layers.size();
  const Tensor& top = n == 0 ? x : c.outs.back();
  dmemory.resize_like(memory);
  dmemory.zero();
  Tensor* d = &ws.dlayer[0];
  final_norm_backward(layer_norm, final_norm, top, c.ln, dh, *d);  // undo the final norm
  for (size_t i = n; i-- > 0;) {
    Tensor* next = i == 0 ? &dx : (d == &ws.dlayer[0] ? &ws.dlayer[1] : &ws.dlayer[0]);
    layers[i].backward(i == 0 ? x : c.outs[i - 1], memory, c.layers[i], *d, ws, *next, dmemory);
    if (layer_done) layer_done(i);
    d = next;
  }
  if (n == 0) {
    dx.resize_like(*d);
    std::copy_n(d->data(), d->size(), dx.data());
  }
}

}  // namespace spotlight

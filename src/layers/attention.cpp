#include "spotlight/layers/attention.h"

#include <cmath>

#include "spotlight/blas.h"
#include "spotlight/check.h"
#include "spotlight/parallel.h"
#include "vec.h"  // private: src/vec.h

namespace spotlight {

namespace {
// Column block of head h for sentence b: `rows` rows from b·stride, cols [h·Dh, (h+1)·Dh).
MatView head(const Tensor& x, long b, long stride, long rows, long h, long dh) {
  return x.view().block(b * stride, h * dh, rows, dh);
}
MatView head(const Tensor& x, long b, long t, long h, long dh) { return head(x, b, t, t, h, dh); }
// The [Tq, Tk] block of sentence b, head h in a [B, H, Tq, Tk] tensor.
MatView scores_block(const Tensor& p, long b, long h, long heads, long tq, long tk) {
  return {const_cast<float*>(p.data()) + ((b * heads + h) * tq) * tk, tq, tk, tk};
}
// Runs fn(b, h) for every sentence and head, the pairs split over the threads (each pair's
// products are small and independent; nested gemms run inline on the calling thread).
template <class F>
void for_heads(long batch, long heads, F&& fn) {
  parallel_for(batch * heads, 4, [&](long p0, long p1) {
    for (long p = p0; p < p1; ++p) fn(p / heads, p % heads);
  });
}

// attend() for one query row per block and no dropout (a decoding step): all heads of row b in
// one pass over its keys and then its values, rows read whole (eight lanes at a time, then the
// head's tail), instead of 2·H one-row products on column blocks. When a head's width is a
// multiple of 8, the lane sums of eight (key, head) dots are reduced together (lane_sums8: a
// fifth of a step's attention time, one thread, 4 heads of 32, on the Ice Lake Xeon; what is
// left is mostly reading the cached keys and values). Same arithmetic as the general path up
// to summation order.
float dot(const float* a, const float* b, long n) {
  f8 acc = f8{};
  long e = 0;
  for (; e + 8 <= n; e += 8) acc += load8(a + e) * load8(b + e);
  float sum = 0.0f;
  for (int lane = 0; lane < 8; ++lane) sum += acc[lane];
  for (; e < n; ++e) sum += a[e] * b[e];
  return sum;
}
void add_scaled(float* y, float w, const float* x, long n) {  // y += w·x
  long e = 0;
  for (; e + 8 <= n; e += 8) store8(y + e, load8(y + e) + w * load8(x + e));
  for (; e < n; ++e) y[e] += w * x[e];
}
template <class KeyBlock>
void attend_one_query(const Tensor& q, const Tensor& k, const Tensor& v, long heads,
                      const Keys& keys, float scale, long stride, long tk, KeyBlock&& key_block,
                      Tensor& probs, Tensor& ctx) {
  const long batch = q.rows(), d = q.cols(), dh = d / heads;
  parallel_for(batch, 8, [&](long b0, long b1) {
    for (long b = b0; b < b1; ++b) {
      const float* qb = q.view().row(b);
      const long first = key_block(b) * stride;
      const int* gathered = keys.gather.empty() ? nullptr : keys.gather.data() + b * stride;
      auto key_row = [&](long j) { return gathered != nullptr ? gathered[j] : first + j; };
      float* p = probs.data() + b * heads * tk;  // [H, tk]
      if (dh % 8 == 0) {  // the (key, head) dots eight at a time, reduced together
        f8 acc[8];
        float* to[8];
        int pending = 0;
        for (long j = 0; j < tk; ++j) {
          const float* kj = k.view().row(key_row(j));
          for (long h = 0; h < heads; ++h) {
            f8 a = f8{};
            for (long e = h * dh; e < (h + 1) * dh; e += 8) a += load8(qb + e) * load8(kj + e);
            acc[pending] = a;
            to[pending] = p + h * tk + j;
            if (++pending == 8) {
              const f8 sums = lane_sums8(acc);
              for (int l = 0; l < 8; ++l) *to[l] = sums[l];
              pending = 0;
            }
          }
        }
        for (int l = 0; l < pending; ++l) {
          float sum = 0.0f;
          for (int lane = 0; lane < 8; ++lane) sum += acc[l][lane];
          *to[l] = sum;
        }
      } else {
        for (long j = 0; j < tk; ++j) {  // scores of every head against key j
          const float* kj = k.view().row(key_row(j));
          for (long h = 0; h < heads; ++h) p[h * tk + j] = dot(qb + h * dh, kj + h * dh, dh);
        }
      }
      for (long h = 0; h < heads; ++h)  // each head's row is query 0 of block b
        masked_softmax(MatView{p + h * tk, 1, tk, tk}, scale, keys.visible(b, tk), keys.causal);
      float* c = ctx.view().row(b);
      std::fill_n(c, d, 0.0f);
      for (long j = 0; j < tk; ++j) {  // ctx_h = Σ_j P_hj · v_j (columns of head h)
        const float* vj = v.view().row(key_row(j));
        for (long h = 0; h < heads; ++h) add_scaled(c + h * dh, p[h * tk + j], vj + h * dh, dh);
      }
    }
  });
}
}  // namespace

void attend(const Heads& in, const Keys& kb, float dropout_p, Rng* rng, Attended& out) {
  const Tensor &q = in.q, &k = in.k, &v = in.v;
  const long batch = in.batch, heads = in.heads;
  Tensor &probs = out.probs, &attn = out.attn, &ctx = out.ctx;
  DropoutMask& drop_mask = out.drop_mask;
  const long d = q.cols(), dh = d / heads;
  require(batch > 0 && q.rows() % batch == 0 && k.same_shape(v) && k.cols() == d &&
              d % heads == 0 && (!kb.block.empty() || kb.stride >= 0 || k.rows() % batch == 0),
          "attend: inconsistent q/k/v shapes");
  require(kb.lengths.empty() || static_cast<long>(kb.lengths.size()) == batch, [&] {
    return "attend: " + std::to_string(kb.lengths.size()) + " key lengths for a batch of " +
           std::to_string(batch);
  });
  const long tq = q.rows() / batch, stride = kb.stride < 0 ? k.rows() / batch : kb.stride;
  const long tk = kb.len < 0 ? stride : kb.len;
  require(tk <= stride, "attend: more keys used than stored per block");
  require(kb.block.empty() || static_cast<long>(kb.block.size()) == batch,
          "attend: one key block per query block expected");
  const bool drop = rng != nullptr && dropout_p > 0.0f;
  if (!kb.gather.empty()) {  // scattered keys (a StepCache): one query per block
    require(tq == 1 && !drop && kb.block.empty() &&
                static_cast<long>(kb.gather.size()) >= batch * stride,
            "attend: gathered keys need one query per block and a row for every key");
    for (long b = 0; b < batch; ++b)
      for (long j = 0; j < tk; ++j) {
        const int row = kb.gather[static_cast<size_t>(b * stride + j)];
        require(row >= 0 && row < k.rows(), "attend: gathered key row outside k");
      }
  } else {
    for (int blk : kb.block)
      require(blk >= 0 && (blk + 1) * stride <= k.rows(), "attend: key block outside k");
    if (kb.block.empty()) require(batch * stride <= k.rows(), "attend: k holds too few rows");
  }
  auto key_block = [&](long b) { return kb.block.empty() ? b : kb.block[static_cast<size_t>(b)]; };
  const float scale = 1.0f / std::sqrt(static_cast<float>(dh));
  probs.resize({batch, heads, tq, tk});
  ctx.resize({q.rows(), d});
  if (tq == 1 && !drop) {  // a decoding step (greedy's cross-attention too)
    attend_one_query(q, k, v, heads, kb, scale, stride, tk, key_block, probs, ctx);
    drop_mask.clear();
    attn.resize({0});
    return;
  }
  for_heads(batch, heads, [&](long b, long h) {
    const MatView s = scores_block(probs, b, h, heads, tq, tk);
    gemm(head(q, b, tq, h, dh), Op::N, head(k, key_block(b), stride, tk, h, dh), Op::T,
         s);                            // S = q·kᵀ
    masked_softmax(s, scale, kb.visible(b, tk), kb.causal);  // P = softmax(S/√Dh)
  });
  if (drop) {
    dropout(dropout_p, *rng, probs, drop_mask, attn);
  } else {
    drop_mask.clear();
    attn.resize({0});
  }
  const Tensor& a = drop ? attn : probs;
  for_heads(batch, heads, [&](long b, long h) {  // ctx_bh = A_bh · v_bh
    gemm(scores_block(a, b, h, heads, tq, tk), Op::N, head(v, key_block(b), stride, tk, h, dh),
         Op::N, head(ctx, b, tq, h, dh));
  });
}

void attend_backward(const Heads& in, const Attended& out, const Tensor& dctx, AttendGrads& g) {
  const Tensor &q = in.q, &k = in.k, &v = in.v;
  const long batch = in.batch, heads = in.heads;
  const Tensor &probs = out.probs, &attn = out.attn;
  Tensor &dprobs = g.dprobs, &dq = g.dq, &dk = g.dk, &dv = g.dv;
  const long d = q.cols(), dh = d / heads;
  const long tq = q.rows() / batch, tk = k.rows() / batch;
  const float scale = 1.0f / std::sqrt(static_cast<float>(dh));
  const Tensor& a = attn.size() > 0 ? attn : probs;
  dprobs.resize({batch, heads, tq, tk});
  dq.resize_like(q);
  dk.resize_like(k);
  dv.resize_like(v);
  for_heads(batch, heads, [&](long b, long h) {
    const MatView da = scores_block(dprobs, b, h, heads, tq, tk);
    gemm(head(dctx, b, tq, h, dh), Op::N, head(v, b, tk, h, dh), Op::T, da);  // dA = dctx·vᵀ
    gemm(scores_block(a, b, h, heads, tq, tk), Op::T, head(dctx, b, tq, h, dh), Op::N,
         head(dv, b, tk, h, dh));  // dv = Aᵀ·dctx
  });
  dropout_backward(out.drop_mask, dprobs, dprobs);  // undo dropout on P
  for_heads(batch, heads, [&](long b, long h) {
    const MatView ds = scores_block(dprobs, b, h, heads, tq, tk);
    masked_softmax_backward(scores_block(probs, b, h, heads, tq, tk), ds, scale);  // undo softmax
    gemm(ds, Op::N, head(k, b, tk, h, dh), Op::N, head(dq, b, tq, h, dh));         // dq = dS·k
    gemm(ds, Op::T, head(q, b, tq, h, dh), Op::N, head(dk, b, tk, h, dh));         // dk = dSᵀ·q
  });
}

MultiHeadAttention::MultiHeadAttention(const std::string& name, long dim, long h, float p)
    : q_proj(name + ".q_proj", dim, dim),
      k_proj(name + ".k_proj", dim, dim),
      v_proj(name + ".v_proj", dim, dim),
      out_proj(name + ".out_proj", dim, dim),
      heads(h),
      dropout(p) {
  require(h > 0 && dim % h == 0, name + ": model dimension " + std::to_string(dim) +
                                     " is not divisible by " + std::to_string(h) + " heads");
}

void MultiHeadAttention::init(Rng& rng) {
  q_proj.init(rng);
  k_proj.init(rng);
  v_proj.init(rng);
  out_proj.init(rng);
}

void MultiHeadAttention::collect(ParamList& ps) {
  q_proj.collect(ps);
  k_proj.collect(ps);
  v_proj.collect(ps);
  out_proj.collect(ps);
}

void MultiHeadAttention::forward(const Tensor& xq, const Tensor& xkv, long batch, const Keys& keys,
                                 Cache& c, Tensor& y, Rng* rng) const {
  q_proj.forward(xq, c.q);
  k_proj.forward(xkv, c.k);
  v_proj.forward(xkv, c.v);
  c.batch = batch;
  attend({c.q, c.k, c.v, batch, heads}, keys, dropout, rng, c);
  out_proj.forward(c.ctx, y);
}

void StepCache::start(long n, long cap, long d) {
  require(n > 0 && cap > 0 && d > 0, "StepCache::start: rows, capacity and width must be positive");
  k.resize({n * cap, d});  // room for every token of these rows; more only if rows are added
  v.resize({n * cap, d});
  path.resize(static_cast<size_t>(n * cap));
  rows = n;
  capacity = cap;
  length = 0;
  stored = 0;
}

void StepCache::append(const Tensor& kn, const Tensor& vn) {
  const long n = kn.rows(), d = k.cols();
  require(n == rows && kn.same_shape(vn) && kn.cols() == d,
          "StepCache::append: one key and value row of the cache's width per row expected");
  require(length < capacity, "attention step: the cache is full");
  if (stored + n > k.rows()) {  // rows were added (beams): room for them until the capacity
    const long need = stored + n * (capacity - length);
    for (Tensor* t : {&k, &v}) {
      Tensor bigger;
      bigger.resize({need, d});
      std::copy_n(t->data(), stored * d, bigger.data());
      std::swap(*t, bigger);
    }
  }
  std::copy_n(kn.data(), n * d, k.view().row(stored));  // this step's rows, stored together
  std::copy_n(vn.data(), n * d, v.view().row(stored));
  for (long r = 0; r < n; ++r)
    path[static_cast<size_t>(r * capacity + length)] = static_cast<int>(stored + r);
  stored += n;
  ++length;
}

void StepCache::reorder(std::span<const int> keep) {
  const long n = static_cast<long>(keep.size());
  for (int r : keep) require(r >= 0 && r < rows, "StepCache::reorder: row out of range");
  spare_.resize(static_cast<size_t>(n * capacity));
  for (long r = 0; r < n; ++r)  // only the paths move; the keys and values stay where they are
    std::copy_n(path.data() + keep[static_cast<size_t>(r)] * capacity, length,
                spare_.data() + r * capacity);
  path.swap(spare_);
  rows = n;
}

void MultiHeadAttention::start_cache(long rows, long capacity, StepCache& kv) const {
  kv.start(rows, capacity, dim());
}

void MultiHeadAttention::cache_memory(const Tensor& memory, long batch, KVCache& kv) const {
  require(batch > 0 && memory.rows() % batch == 0, "cache_memory: memory rows do not match the batch");
  k_proj.forward(memory, kv.k);
  v_proj.forward(memory, kv.v);
  kv.capacity = kv.length = memory.rows() / batch;
}

void MultiHeadAttention::step(const Tensor& x, StepCache& kv, Cache& c, Tensor& y) const {
  const long rows = x.rows();
  require(rows == kv.rows, "attention step: one token per cache row expected");
  require(kv.length < kv.capacity, "attention step: the cache is full");
  k_proj.forward(x, c.k);  // this token's key and value enter the cache
  v_proj.forward(x, c.v);
  kv.append(c.k, c.v);
  q_proj.forward(x, c.q);
  c.batch = rows;
  Keys keys;  // every token so far, wherever each row's history is stored
  keys.stride = kv.capacity;
  keys.len = kv.length;
  keys.gather = kv.path;
  attend({c.q, kv.k, kv.v, rows, heads}, keys, 0.0f, nullptr, c);
  out_proj.forward(c.ctx, y);
}

void MultiHeadAttention::attend_cached(const Tensor& xq, const KVCache& kv, long groups, Keys keys,
                                       Cache& c, Tensor& y) const {
  keys.stride = kv.capacity;
  keys.len = kv.length;
  q_proj.forward(xq, c.q);
  c.batch = groups;
  attend({c.q, kv.k, kv.v, groups, heads}, keys, 0.0f, nullptr, c);
  out_proj.forward(c.ctx, y);
}

void MultiHeadAttention::backward(const Tensor& xq, const Tensor& xkv, const Cache& c,
                                  const Tensor& dy, Scratch& s, Tensor& dxq, Tensor& dxkv) {
  out_proj.backward(c.ctx, dy, &s.dctx);                         // undo out_proj
  attend_backward({c.q, c.k, c.v, c.batch, heads}, c, s.dctx, s.core);  // undo the core
  q_proj.backward(xq, s.core.dq, &dxq);          // undo q projection
  k_proj.backward(xkv, s.core.dk, &dxkv);        // undo k projection
  v_proj.backward(xkv, s.core.dv, &dxkv, true);  // undo v projection (fan-in with k)
}

}  // namespace spotlight

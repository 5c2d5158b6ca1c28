#include "spotlight/model/transformer.h"

#include <algorithm>
#include <cmath>

#include "spotlight/blas.h"
#include "spotlight/check.h"
#include "spotlight/kernels.h"
#include "spotlight/safetensors.h"

namespace spotlight {

Transformer::Transformer(const ModelConfig& c)
    : cfg(c),
      embed("embed_tokens.weight", c.vocab_size, c.d_model, c.pad_id),
      positions(c.max_positions, c.d_model),
      encoder("encoder.", c.encoder_layers, c.layer_shape()),
      decoder("decoder.", c.decoder_layers, c.layer_shape()),
      output_(embed.weight, {c.pad_id, c.unk_id, c.bos_id, c.eos_id}) {
  require(c.vocab_size > 4 && c.d_model > 0 && c.ffn > 0 && c.encoder_layers >= 0 &&
              c.decoder_layers >= 0,
          "model: vocab_size, d_model and ffn must be positive");
  embed.collect(params_);
  const long enc_begin = static_cast<long>(params_.size());
  std::vector<long> enc_layer, dec_layer;  // where each layer's parameters start
  for (auto& l : encoder.layers) {
    enc_layer.push_back(static_cast<long>(params_.size()));
    l.collect(params_);
  }
  if (encoder.final_norm) encoder.layer_norm.collect(params_);
  const long dec_begin = static_cast<long>(params_.size());
  for (auto& l : decoder.layers) {
    dec_layer.push_back(static_cast<long>(params_.size()));
    l.collect(params_);
  }
  if (decoder.final_norm) decoder.layer_norm.collect(params_);
  const long end = static_cast<long>(params_.size());
  {  // the same registry as encoder.collect and decoder.collect would make
    ParamList check;
    embed.collect(check);
    encoder.collect(check);
    decoder.collect(check);
    require(check == params_, "Transformer: parameter registry out of order");
  }
  // Completion order of backward_hidden (see gradient_ranges()); a stack without layers has its
  // final norm (if any) complete with the embedding.
  const auto add_stack = [&](const std::vector<long>& starts, long stack_end) {
    for (size_t i = starts.size(); i-- > 0;)
      grad_ranges_.emplace_back(starts[i], i + 1 == starts.size() ? stack_end : starts[i + 1]);
  };
  add_stack(dec_layer, end);
  add_stack(enc_layer, dec_begin);
  if (dec_layer.empty() && dec_begin < end) grad_ranges_.emplace_back(dec_begin, end);
  if (enc_layer.empty() && enc_begin < dec_begin) grad_ranges_.emplace_back(enc_begin, dec_begin);
  grad_ranges_.emplace_back(0, enc_begin);
}

void Transformer::init(Rng& rng) {
  embed.init(rng);
  encoder.init(rng);
  decoder.init(rng);
}

Param& Transformer::param(const std::string& name) {
  for (Param* p : params_)
    if (p->name == name) return *p;
  require(false, "model has no parameter named '" + name + "'");
  return *params_.front();
}

long Transformer::num_parameters() const {
  long n = 0;
  for (const Param* p : params_) n += p->value.size();
  return n;
}

void Transformer::zero_grad() {
  for (Param* p : params_) p->grad.zero();
}

void Transformer::set_output_ids(std::vector<int> ids) {
  require(cfg.output_vocab == OutputVocab::target,
          "output ids given to a model whose model.output_vocab is \"all\"");
  output_.set_pieces(std::move(ids));
  if (int8_) set_int8(true);  // W′ changed: quantize its rows again
  if (keep_rows_) keep_output_rows();  // and gather them again
}

void Transformer::save_weights(const std::string& path,
                               const std::map<std::string, std::string>& metadata) const {
  TensorRefs refs;
  for (const Param* p : params_) refs.emplace_back(p->name, &p->value);
  Tensor mask;
  if (cfg.output_vocab == OutputVocab::target) {
    require(output_.shortlist(), "save_weights: the output vocabulary was never set");
    mask.resize({cfg.vocab_size});
    mask.zero();
    for (int id : output_.pieces()) mask.data()[id] = 1.0f;
    refs.emplace_back("output_mask", &mask);
  }
  write_safetensors(path, refs, metadata);
}

void Transformer::load_weights(const std::string& path) {
  auto tensors = read_safetensors(path);
  for (Param* p : params_) {
    auto it = tensors.find(p->name);
    require(it != tensors.end(),
            path + ": no tensor '" + p->name + "' — the checkpoint is for a different model shape");
    if (p == &embed.weight && it->second.shape().size() == 2 &&
        it->second.shape()[1] == cfg.d_model && it->second.shape()[0] != cfg.vocab_size)
      require(false, path + ": the embeddings have " + std::to_string(it->second.shape()[0]) +
                         " rows but the vocabulary has " + std::to_string(cfg.vocab_size) +
                         " pieces — vocab.model does not belong to these weights");
    require(it->second.shape() == p->value.shape(),
            path + ": tensor '" + p->name + "' has shape " + shape_str(it->second.shape()) +
                " but this model needs " + shape_str(p->value.shape()) +
                " — the checkpoint is for a different model shape");
    const float* v = it->second.data();
    const long bad = std::find_if(v, v + p->value.size(), [](float x) { return !std::isfinite(x); }) - v;
    require(bad == p->value.size(), [&] {
      return path + ": tensor '" + p->name + "' holds values that are not finite (element " +
             std::to_string(bad) + " is " + std::to_string(v[bad]) +
             ") — a diverged or corrupted model; use an earlier checkpoint";
    });
    std::copy_n(v, p->value.size(), p->value.data());
    tensors.erase(it);
  }
  if (cfg.output_vocab == OutputVocab::target) {
    auto it = tensors.find("output_mask");
    require(it != tensors.end(), path + ": no tensor 'output_mask', which a model with "
                                        "model.output_vocab \"target\" needs");
    require(it->second.shape() == std::vector<long>{cfg.vocab_size},
            path + ": 'output_mask' has shape " + shape_str(it->second.shape()) + ", expected [" +
                std::to_string(cfg.vocab_size) + "]");
    std::vector<int> ids;
    for (long i = 0; i < cfg.vocab_size; ++i) {
      const float x = it->second.data()[i];
      require(x == 0.0f || x == 1.0f, path + ": 'output_mask' holds a value other than 0 or 1");
      if (x == 1.0f) ids.push_back(static_cast<int>(i));
    }
    try {  // the pieces only: the copies of W′ (int8, kept rows) follow below, once
      output_.set_pieces(std::move(ids));
    } catch (const Error& e) {
      require(false, path + ": 'output_mask': " + e.what());
    }
    tensors.erase(it);
  }
  require(tensors.empty(), path + ": unexpected tensor '" +
                               (tensors.empty() ? "" : tensors.begin()->first) +
                               "' — the checkpoint is for a different model shape");
  if (int8_) set_int8(true);  // the quantized copies follow the new weights
  if (keep_rows_) keep_output_rows();  // and so do the kept rows of W′
}

void validate_batch(const Batch& b, const ModelConfig& cfg) {
  require(b.batch > 0, "empty batch: it holds no sentence pairs");
  const auto B = static_cast<size_t>(b.batch);
  require(b.src_len.size() == B && b.tgt_len.size() == B &&
              b.src.size() == B * static_cast<size_t>(b.src_len_max) &&
              b.tgt_in.size() == B * static_cast<size_t>(b.tgt_len_max) &&
              b.tgt_out.size() == b.tgt_in.size(),
          "malformed batch: id and length arrays do not match its shape");
  for (size_t i = 0; i < B; ++i)
    require(b.src_len[i] >= 1 && b.src_len[i] <= b.src_len_max && b.tgt_len[i] >= 1 &&
                b.tgt_len[i] <= b.tgt_len_max,
            [&] {
              return "malformed batch: sentence " + std::to_string(i) +
                     " has a length outside [1, padded length]";
            });
  for (int id : b.tgt_out)
    require(id >= 0 && id < cfg.vocab_size, [&] {
      return "target token id " + std::to_string(id) + " out of range [0, " +
             std::to_string(cfg.vocab_size) + ")";
    });
}

double forward_flops(const ModelConfig& c, long batch, long src_len, long tgt_len,
                     long output_size) {
  const double d = static_cast<double>(c.d_model), f = static_cast<double>(c.ffn);
  const double s = static_cast<double>(src_len), t = static_cast<double>(tgt_len);
  const double ns = static_cast<double>(batch) * s, nt = static_cast<double>(batch) * t;
  const double attention_proj = 2 * 4 * d * d, ffn = 2 * 2 * d * f;
  // Encoder token: q, k, v, out projections; feed-forward; scores and context over S keys.
  const double enc = ns * (attention_proj + ffn + 2 * 2 * s * d);
  // Decoder token: self-attention as above over T keys; cross-attention q and out projections
  // and scores/context over S keys; feed-forward. Cross k and v project each source token.
  const double dec = nt * (attention_proj + 2 * 2 * d * d + ffn + 2 * 2 * t * d + 2 * 2 * s * d) +
                     ns * 2 * 2 * d * d;
  const double out = nt * 2 * d * static_cast<double>(output_size > 0 ? output_size : c.vocab_size);
  return static_cast<double>(c.encoder_layers) * enc +
         static_cast<double>(c.decoder_layers) * dec + out;
}

void Transformer::embed_tokens(std::span<const int> ids, long batch, long len, long offset,
                               Tensor& x) const {
  embed.forward(ids, x);
  positions.add(x, batch, len, offset);
}

void Transformer::forward(const Batch& b, Cache& c, Rng* rng) const {
  forward_hidden(b, c, rng);
  c.logits.resize({c.h.rows(), output_.size()});
  const MatView w = output_int8_ ? MatView{}
                   : keep_rows_   ? decoding_weight(c.out_w)
                                  : output_.weight(c.out_w);
  project(c.h.view(), w, c.logits.view());
}

void Transformer::forward_hidden(const Batch& b, Cache& c, Rng* rng) const {
  validate_batch(b, cfg);
  embed_tokens(b.src, b.batch, b.src_len_max, 0, c.src_x);
  embed_tokens(b.tgt_in, b.batch, b.tgt_len_max, 0, c.tgt_x);
  if (rng != nullptr) {
    dropout(cfg.dropout, *rng, c.src_x, c.src_mask, c.src_x);
    dropout(cfg.dropout, *rng, c.tgt_x, c.tgt_mask, c.tgt_x);
  } else {
    c.src_mask.clear();
    c.tgt_mask.clear();
  }
  encoder.forward(c.src_x, b.batch, source_keys(b), c.enc, c.ws, c.memory, rng);
  decoder.forward(c.tgt_x, c.memory, b.batch, target_keys(b), source_keys(b), c.dec, c.ws, c.h,
                  rng);
}

void Transformer::encode(std::span<const int> src, long batch, std::span<const int> src_len,
                         Cache& c) const {
  require(batch > 0 && static_cast<long>(src_len.size()) == batch &&
              static_cast<long>(src.size()) % batch == 0,
          "encode: source ids and lengths do not match the batch");
  const long len = static_cast<long>(src.size()) / batch;
  for (int l : src_len) require(l >= 1 && l <= len, "encode: source length outside [1, S]");
  embed_tokens(src, batch, len, 0, c.src_x);
  encoder.forward(c.src_x, batch, Keys::padded(src_len), c.enc, c.ws, c.memory, nullptr);
}

void Transformer::start(const Cache& c, std::span<const int> src_len, long capacity,
                        DecodeState& st) const {
  decoder.start(c.memory, static_cast<long>(src_len.size()), src_len, capacity, st.decoder);
  // A shortlist's rows, gathered once: fixed while decoding (int8 and keep_output_rows have
  // their own copy of them).
  if (!output_int8_ && !keep_rows_) output_.weight(st.out_w);
}

void Transformer::step_hidden(std::span<const int> tokens, DecodeState& st) const {
  require(static_cast<long>(tokens.size()) == st.rows(), "step: one token per row expected");
  embed_tokens(tokens, st.rows(), 1, st.decoder.length, st.x);
  decoder.step(st.x, st.decoder, st.h);
  require(!output_.shortlist() || output_int8_ || keep_rows_ || st.out_w.rows() == output_.size(),
          "step: the decoder state was not started");
}

void Transformer::step(std::span<const int> tokens, DecodeState& st, Tensor& logprobs) const {
  step_hidden(tokens, st);
  logprobs.resize({st.rows(), output_.size()});
  project(st.h.view(), decoding_weight(st.out_w), logprobs.view(), true);
}

void Transformer::step_logits(std::span<const int> tokens, DecodeState& st,
                              const LogitRows& consume) const {
  step_hidden(tokens, st);
  const long rows = st.rows();
  if (output_int8_) {  // each chunk of rows consumed in a thread's buffer, in cache
    gemm_int8(st.h.view(), *output_int8_, MatView{nullptr, rows, output_.size(), output_.size()},
              nullptr, consume);
    return;
  }
  st.logits.resize({rows, output_.size()});
  project(st.h.view(), decoding_weight(st.out_w), st.logits.view());
  consume(0, rows, st.logits.view());
}

void Transformer::backward(const Batch& b, Cache& c, const Tensor& dlogits) {
  require(!int8_, "backward: the model is set for int8 decoding (set_int8); train it in float");
  require(!keep_rows_, "backward: the model keeps W′'s rows for decoding (keep_output_rows)");
  require(dlogits.rows() == c.h.rows() && dlogits.cols() == output_.size(),
          "backward: logits gradient shape mismatch");
  const MatView w = output_.weight(c.out_w);
  const MatView dw = output_gradient(c);
  c.dh.resize({c.h.rows(), cfg.d_model});
  output_.backward(c.h.view(), dlogits.view(), w, dw, c.dh.view());  // undo the output projection
  add_output_gradient(c);
  backward_hidden(b, c, c.dh);
}

void Transformer::backward_hidden(const Batch& b, Cache& c, const Tensor& dh,
                                  const GradientsReady& ready) {
  require(!int8_, "backward: the model is set for int8 decoding (set_int8); train it in float");
  require(!keep_rows_, "backward: the model keeps W′'s rows for decoding (keep_output_rows)");
  Workspace& ws = c.ws;
  size_t next = 0;  // the next range of grad_ranges_ to report
  const auto report = [&](size_t) {
    const auto [first, last] = grad_ranges_[next++];
    ready(first, last);
  };
  std::function<void(size_t)> done;
  if (ready) done = report;
  decoder.backward(c.tgt_x, c.memory, c.dec, dh, ws, ws.dx, ws.dmemory, done);  // undo the decoder
  dropout_backward(c.tgt_mask, ws.dx, ws.demb);  // undo target dropout
  embed.backward(b.tgt_in, ws.demb);             // undo target lookup
  encoder.backward(c.src_x, c.enc, ws.dmemory, ws, ws.dx, done);  // undo the encoder
  dropout_backward(c.src_mask, ws.dx, ws.demb);                   // undo source dropout
  embed.backward(b.src, ws.demb);                                 // undo source lookup
  if (ready)
    while (next < grad_ranges_.size()) report(0);  // layerless stacks' norms, the embedding
}

void Transformer::keep_output_rows() {
  output_.weight(output_rows_);
  keep_rows_ = true;
}

void Transformer::set_int8(bool on) {
  require_usage(!on || int8_available(),
          "int8 decoding needs oneDNN: this spotlight was built without it (install libdnnl-dev, "
          "scripts/install_deps.sh, and rebuild), or use --compute-type float");
  auto set = [on](Linear& l) {
    if (on)
      l.quantize();
    else
      l.drop_quantized();
  };
  auto set_attention = [&](MultiHeadAttention& a) {
    for (Linear* l : {&a.q_proj, &a.k_proj, &a.v_proj, &a.out_proj}) set(*l);
  };
  for (EncoderLayer& l : encoder.layers) {
    set_attention(l.self_attn);
    set(l.ff.fc1);
    set(l.ff.fc2);
  }
  for (DecoderLayer& l : decoder.layers) {
    set_attention(l.self_attn);
    set_attention(l.encoder_attn);
    set(l.ff.fc1);
    set(l.ff.fc2);
  }
  if (on) {
    Tensor gathered;
    output_int8_ = quantize_rows(output_.weight(gathered));
  } else {
    output_int8_.reset();
  }
  int8_ = on;
}

void Transformer::project(const MatView& h, const MatView& w, const MatView& logits,
                          bool log_probs) const {
  if (output_int8_) {
    RowsDone normalise;
    if (log_probs)
      normalise = [](long, long, const MatView& rows) { log_softmax(rows); };  // runs inline
    gemm_int8(h, *output_int8_, logits, nullptr, normalise);
    return;
  }
  output_.forward(h, w, logits);
  if (log_probs) log_softmax(logits);
}

}  // namespace spotlight

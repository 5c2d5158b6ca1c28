#include "spotlight/decode/attention_maps.h"

#include <algorithm>
#include <cmath>

#include "spotlight/check.h"

namespace spotlight {

namespace {
// Sentence b's [H, q, k] block of a [B, H, Tq, Tk] probability tensor, padding rows and
// columns dropped.
Tensor trim(const Tensor& p, long b, long q, long k) {
  const long heads = p.dim(1), tq = p.dim(2), tk = p.dim(3);
  Tensor out({heads, q, k});
  for (long h = 0; h < heads; ++h)
    for (long i = 0; i < q; ++i) {
      const float* row = p.data() + ((b * heads + h) * tq + i) * tk;
      std::copy(row, row + k, out.data() + (h * q + i) * k);
    }
  return out;
}

const std::string kWordMark = "\xE2\x96\x81";  // "▁", U+2581
}  // namespace

std::vector<AttentionMaps> attention_maps(const Transformer& model, const Batch& batch) {
  Transformer::Cache c;
  model.forward_hidden(batch, c, nullptr);  // no Rng: no dropout, the weights decoding uses
  std::vector<AttentionMaps> out(static_cast<size_t>(batch.batch));
  const long S = batch.src_len_max, T = batch.tgt_len_max;
  for (long b = 0; b < batch.batch; ++b) {
    AttentionMaps& m = out[static_cast<size_t>(b)];
    const long s = batch.src_len[static_cast<size_t>(b)], t = batch.tgt_len[static_cast<size_t>(b)];
    m.heads = model.cfg.heads;
    m.src.assign(batch.src.begin() + b * S, batch.src.begin() + b * S + s);
    m.tgt_in.assign(batch.tgt_in.begin() + b * T, batch.tgt_in.begin() + b * T + t);
    m.tgt.assign(batch.tgt_out.begin() + b * T, batch.tgt_out.begin() + b * T + t);
    for (const auto& l : c.enc.layers) m.encoder.push_back(trim(l.attn.probs, b, s, s));
    for (const auto& l : c.dec.layers) {
      m.decoder.push_back(trim(l.self.probs, b, t, t));
      m.cross.push_back(trim(l.cross.probs, b, t, s));
    }
  }
  return out;
}

AttentionMaps attention_maps(const Transformer& model, std::span<const int> src,
                             std::span<const int> tgt) {
  const ModelConfig& m = model.cfg;
  const Batch b = make_batch({{src.begin(), src.end()}}, {{tgt.begin(), tgt.end()}}, m.pad_id,
                             m.bos_id, m.eos_id);
  return std::move(attention_maps(model, b).front());
}

std::vector<int> word_of_pieces(const Vocab& vocab, std::span<const int> ids) {
  std::vector<int> word;
  int w = -1;
  for (int id : ids) {
    if (id == vocab.pad_id() || id == vocab.bos_id() || id == vocab.eos_id()) {
      word.push_back(-1);
      continue;
    }
    if (w < 0 || vocab.piece(id).starts_with(kWordMark)) ++w;
    word.push_back(w);
  }
  return word;
}

std::vector<std::string> words_of_pieces(const Vocab& vocab, std::span<const int> ids) {
  const std::vector<int> word = word_of_pieces(vocab, ids);
  std::vector<std::string> words;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (word[i] < 0) continue;
    if (static_cast<size_t>(word[i]) == words.size()) words.emplace_back();
    std::string p = vocab.piece(ids[i]);
    if (p.starts_with(kWordMark)) p.erase(0, kWordMark.size());
    words.back() += p;
  }
  return words;
}

std::vector<std::vector<float>> mean_cross_attention(const AttentionMaps& m, long layer) {
  const long layers = static_cast<long>(m.cross.size());
  require(layer >= 0 && layer <= layers, [&] {
    return "alignment layer " + std::to_string(layer) + " is not in 0 (all) … " +
           std::to_string(layers);
  });
  const long t = static_cast<long>(m.tgt.size()), s = static_cast<long>(m.src.size());
  std::vector<std::vector<float>> mean(static_cast<size_t>(t), std::vector<float>(static_cast<size_t>(s)));
  const long first = layer == 0 ? 0 : layer - 1, last = layer == 0 ? layers : layer;
  const float w = 1.0f / static_cast<float>((last - first) * m.heads);
  for (long l = first; l < last; ++l) {
    const float* p = m.cross[static_cast<size_t>(l)].data();
    for (long h = 0; h < m.heads; ++h)
      for (long i = 0; i < t; ++i)
        for (long j = 0; j < s; ++j)
          mean[static_cast<size_t>(i)][static_cast<size_t>(j)] += w * p[(h * t + i) * s + j];
  }
  return mean;
}

std::vector<std::vector<float>> word_weights(const std::vector<std::vector<float>>& pieces,
                                             std::span<const int> tgt_word,
                                             std::span<const int> src_word) {
  require(pieces.size() == tgt_word.size() &&
              std::all_of(pieces.begin(), pieces.end(),
                          [&](const auto& r) { return r.size() == src_word.size(); }),
          "word_weights: the weights do not match the pieces");
  const int tw = tgt_word.empty() ? 0 : *std::max_element(tgt_word.begin(), tgt_word.end()) + 1;
  const int sw = src_word.empty() ? 0 : *std::max_element(src_word.begin(), src_word.end()) + 1;
  std::vector<std::vector<float>> words(static_cast<size_t>(std::max(tw, 0)),
                                        std::vector<float>(static_cast<size_t>(std::max(sw, 0))));
  std::vector<int> count(words.size());
  for (size_t i = 0; i < pieces.size(); ++i) {
    if (tgt_word[i] < 0) continue;
    ++count[static_cast<size_t>(tgt_word[i])];
    for (size_t j = 0; j < src_word.size(); ++j)
      if (src_word[j] >= 0)
        words[static_cast<size_t>(tgt_word[i])][static_cast<size_t>(src_word[j])] += pieces[i][j];
  }
  for (size_t w = 0; w < words.size(); ++w)
    for (float& x : words[w]) x /= static_cast<float>(std::max(1, count[w]));
  return words;
}

std::vector<std::pair<int, int>> hard_alignment(const std::vector<std::vector<float>>& words) {
  std::vector<std::pair<int, int>> pairs;
  for (size_t t = 0; t < words.size(); ++t) {
    if (words[t].empty()) continue;
    const auto best = std::max_element(words[t].begin(), words[t].end());  // first of equals
    pairs.emplace_back(static_cast<int>(best - words[t].begin()), static_cast<int>(t));
  }
  return pairs;
}

std::string alignment_string(const std::vector<std::pair<int, int>>& pairs) {
  std::string s;
  for (const auto& [src, tgt] : pairs)
    s += (s.empty() ? "" : " ") + std::to_string(src) + "-" + std::to_string(tgt);
  return s;
}

std::vector<std::string> align_pairs(const Transformer& model, const Vocab& vocab,
                                     const std::vector<std::vector<int>>& src,
                                     const std::vector<std::vector<int>>& tgt, long layer,
                                     long batch_size) {
  require(src.size() == tgt.size(), "align_pairs: as many sources as targets expected");
  std::vector<std::string> out(src.size());
  std::vector<size_t> todo;
  for (size_t i = 0; i < src.size(); ++i)
    if (!src[i].empty() && !tgt[i].empty()) todo.push_back(i);
  const ModelConfig& mc = model.cfg;
  for (size_t k = 0; k < todo.size(); k += static_cast<size_t>(std::max(1L, batch_size))) {
    const size_t end = std::min(todo.size(), k + static_cast<size_t>(std::max(1L, batch_size)));
    std::vector<std::vector<int>> s, t;
    for (size_t i = k; i < end; ++i) {
      s.push_back(src[todo[i]]);
      t.push_back(tgt[todo[i]]);
    }
    const auto maps =
        attention_maps(model, make_batch(s, t, mc.pad_id, mc.bos_id, mc.eos_id));
    for (size_t i = 0; i < maps.size(); ++i) {
      const AttentionMaps& m = maps[i];
      const auto words = word_weights(mean_cross_attention(m, layer), word_of_pieces(vocab, m.tgt),
                                      word_of_pieces(vocab, m.src));
      out[todo[k + i]] = alignment_string(hard_alignment(words));
    }
  }
  return out;
}

std::vector<std::string> piece_strings(const Vocab& v, std::span<const int> ids) {
  std::vector<std::string> out;
  for (int id : ids) out.push_back(v.piece(id));
  return out;
}

namespace {
// [layer][head][query][key], weights rounded to 4 decimals (a page stays small).
nlohmann::json weights_json(const std::vector<Tensor>& layers) {
  nlohmann::json out = nlohmann::json::array();
  for (const Tensor& t : layers) {
    const long heads = t.dim(0), q = t.dim(1), k = t.dim(2);
    nlohmann::json l = nlohmann::json::array();
    for (long h = 0; h < heads; ++h) {
      nlohmann::json rows = nlohmann::json::array();
      for (long i = 0; i < q; ++i) {
        nlohmann::json row = nlohmann::json::array();
        for (long j = 0; j < k; ++j)
          row.push_back(std::round(t.data()[(h * q + i) * k + j] * 1e4f) / 1e4);
        rows.push_back(std::move(row));
      }
      l.push_back(std::move(rows));
    }
    out.push_back(std::move(l));
  }
  return out;
}
}  // namespace

nlohmann::json attention_json(const AttentionMaps& m, const Vocab& v, const std::string& source,
                              const std::string& target, long layer) {
  const std::vector<int> sw = word_of_pieces(v, m.src), tw = word_of_pieces(v, m.tgt);
  const auto words = word_weights(mean_cross_attention(m, layer), tw, sw);
  const auto aligned = hard_alignment(words);
  nlohmann::json pairs = nlohmann::json::array();
  for (const auto& [s, t] : aligned) pairs.push_back({s, t});
  return {{"source", source},
          {"target", target},
          {"heads", m.heads},
          {"source_pieces", piece_strings(v, m.src)},
          {"target_pieces", piece_strings(v, m.tgt)},
          {"decoder_input_pieces", piece_strings(v, m.tgt_in)},
          {"encoder", weights_json(m.encoder)},
          {"decoder", weights_json(m.decoder)},
          {"cross", weights_json(m.cross)},
          {"alignment",
           {{"layer", layer},
            {"source_words", words_of_pieces(v, m.src)},
            {"target_words", words_of_pieces(v, m.tgt)},
            {"weights", words},
            {"pairs", pairs},
            {"moses", alignment_string(aligned)}}}};
}

}  // namespace spotlight

// attention_maps.h — where the model looks. Every attention weight of every layer and head for a
// sentence pair, read out of a teacher-forced forward pass (no dropout): the decoder reads the
// given target, so these are exactly the weights the model used to produce it, whether the
// target came from the model's own decoding or from a reference. Nothing is recorded during
// translation; a caller who wants the weights runs this pass afterwards, so decoding pays
// nothing for it.
//
// And the word alignment the cross-attention implies: pieces grouped into words at
// SentencePiece's word-start mark "▁", the head-averaged cross-attention summed over each
// source word's pieces and averaged over each target word's pieces, and every target word
// aligned to its heaviest source word (Moses / fast_align "src-tgt" pairs, 0-based).
#pragma once

#include <span>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "spotlight/data/vocab.h"
#include "spotlight/model/transformer.h"

namespace spotlight {

struct AttentionMaps {
  long heads = 0;
  std::vector<int> src;     // [S] source ids + EOS: the keys of the encoder and of the memory
  std::vector<int> tgt_in;  // [T] BOS + target ids: the decoder's inputs (its self-attention keys)
  std::vector<int> tgt;     // [T] target ids + EOS: what each decoder position predicts
  // One tensor per layer, [H, queries, keys], each row a softmax over its visible keys.
  std::vector<Tensor> encoder;  // [H, S, S] encoder self-attention
  std::vector<Tensor> decoder;  // [H, T, T] decoder masked self-attention (zero above the diagonal)
  std::vector<Tensor> cross;    // [H, T, S] decoder cross-attention over the encoder output
};

// The maps of every sentence of `batch`, trimmed to its real lengths (padding removed).
std::vector<AttentionMaps> attention_maps(const Transformer& model, const Batch& batch);
// One pair given as piece ids without BOS/EOS (framed here).
AttentionMaps attention_maps(const Transformer& model, std::span<const int> src,
                             std::span<const int> tgt);

// The word each piece belongs to (0-based): a new word starts at a piece beginning with "▁";
// a first piece without it starts word 0. Special ids (BOS, EOS, pad) get -1.
std::vector<int> word_of_pieces(const Vocab& vocab, std::span<const int> ids);
// The words themselves: each word's pieces joined, the "▁" marks removed.
std::vector<std::string> words_of_pieces(const Vocab& vocab, std::span<const int> ids);

// Cross-attention for alignment, [T, S]: head-averaged at `layer` (1-based), or averaged over
// all layers too for layer 0.
std::vector<std::vector<float>> mean_cross_attention(const AttentionMaps& m, long layer);
// Word-level weights [target words, source words] from piece-level weights [T, S] (rows and
// columns of pieces with word -1 are left out): summed over a source word's pieces, averaged
// over a target word's pieces.
std::vector<std::vector<float>> word_weights(const std::vector<std::vector<float>>& pieces,
                                             std::span<const int> tgt_word,
                                             std::span<const int> src_word);
// Hard alignment: each target word with its heaviest source word (the first on ties), as
// (source word, target word) pairs in target order.
std::vector<std::pair<int, int>> hard_alignment(const std::vector<std::vector<float>>& words);
// "0-0 1-2 2-1" (source-target).
std::string alignment_string(const std::vector<std::pair<int, int>>& pairs);

// The word alignment string of each (source, target) pair of piece ids (without BOS/EOS), from
// the cross-attention at `layer` (see mean_cross_attention), force-decoded in batches of
// `batch_size` pairs. An empty source or target gives "".
std::vector<std::string> align_pairs(const Transformer& model, const Vocab& vocab,
                                     const std::vector<std::vector<int>>& src,
                                     const std::vector<std::vector<int>>& tgt, long layer,
                                     long batch_size = 64);

// The pieces of ids as strings ("▁dog", "</s>").
std::vector<std::string> piece_strings(const Vocab& vocab, std::span<const int> ids);

// Everything `spotlight attend --json` writes, and the page and the server show: the pair (as
// text and pieces), every map ([layer][head][query][key], rounded to 4 decimals), and the word
// alignment at `layer` (its word-level weights, pairs and Moses string).
nlohmann::json attention_json(const AttentionMaps& m, const Vocab& vocab, const std::string& source,
                              const std::string& target, long layer);

}  // namespace spotlight

// model_config.h — the model's shape as a config describes it: sizes, normalisation, activation,
// dropout rates, output vocabulary and special ids. A light header (no layer, no network), so
// that config.h and everything reading a config need not include the model.
#pragma once

#include "spotlight/kernels.h"  // Activation

namespace spotlight {

enum class Norm { pre, post };  // pre-norm (final LayerNorm per stack) or post-norm (the paper)

enum class OutputVocab { all, target };  // pieces the output projection scores

// Shape and regularisation shared by encoder and decoder layers.
struct LayerShape {
  long dim = 256, heads = 4, ffn = 1024;
  Norm norm = Norm::pre;
  Activation activation = Activation::relu;
  float dropout = 0.1f, attention_dropout = 0.0f, activation_dropout = 0.0f;
};

struct ModelConfig {
  long vocab_size = 8000;  // joint source/target vocabulary (shared embedding)
  long d_model = 256;      // D
  long heads = 4;          // H; D must divide by H
  long ffn = 1024;         // F, feed-forward inner size
  long encoder_layers = 3;
  long decoder_layers = 3;
  Norm norm = Norm::pre;
  Activation activation = Activation::relu;
  float dropout = 0.1f;             // embeddings and residual branches
  float attention_dropout = 0.0f;   // attention probabilities
  float activation_dropout = 0.0f;  // feed-forward hidden layer
  long max_positions = 1024;        // longest sequence the position table covers
  OutputVocab output_vocab = OutputVocab::all;  // pieces the output projection scores
  int pad_id = 0, unk_id = 1, bos_id = 2, eos_id = 3;

  LayerShape layer_shape() const {
    return {d_model, heads, ffn, norm, activation, dropout, attention_dropout, activation_dropout};
  }
};

}  // namespace spotlight

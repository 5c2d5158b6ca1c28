// workspace.h — the scratch a pass borrows: what a layer needs only during one call (the residual
// block's sublayer output in forward; the gradients inside and between layers in backward).
// Layers run one at a time and keep nothing in it between calls, so one workspace serves every
// layer of both stacks, and the model's peak memory holds one set, not one per layer. The caller
// owns it (Transformer::Cache in training and scoring, DecoderState in decoding): a const forward
// writes only into what its caller passed, and two threads with their own caches share nothing.
#pragma once

#include "spotlight/layers/attention.h"
#include "spotlight/layers/feed_forward.h"
#include "spotlight/model/residual.h"

namespace spotlight {

struct Workspace {
  Residual::Scratch residual;
  MultiHeadAttention::Scratch attention;
  FeedForward::Scratch feed_forward;
  Tensor dmid1, dmid2;  // [N, D] a layer's backward: gradients at its blocks' outputs
  Tensor dkv;           // [N, D] ([B·S, D] for cross-attention): gradient at attention's k/v input
  Tensor dlayer[2];     // [N, D] a stack's backward: the gradient between layers, alternately
  Tensor dx, dmemory, demb;  // the Transformer's backward: at the stacks' inputs and embeddings
};

}  // namespace spotlight

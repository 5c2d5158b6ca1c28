// param.h — a named parameter with its gradient. Layers hold Params as plain members; the model
// collects pointers to them once, in a fixed order, into the registry that zeroing, Adam,
// clipping and checkpoints walk. Names are PyTorch/fairseq style; linear weights are [out, in].
#pragma once

#include <string>
#include <vector>

#include "spotlight/tensor.h"

namespace spotlight {

struct Param {
  std::string name;
  Tensor value, grad;

  Param() = default;
  Param(std::string n, std::initializer_list<long> shape)
      : name(std::move(n)), value(shape), grad(shape) {}
};

using ParamList = std::vector<Param*>;

}  // namespace spotlight

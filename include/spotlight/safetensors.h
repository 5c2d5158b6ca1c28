// safetensors.h — the public safetensors format (github.com/huggingface/safetensors), float32
// only: an 8-byte little-endian header length N, N bytes of JSON
//   {"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...,
//    "__metadata__": {"key": "string value", ...}}
// padded with spaces to a multiple of 8, then the raw little-endian data. PyTorch, numpy and
// the safetensors library read what this writes.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "spotlight/tensor.h"

namespace spotlight {

using TensorRefs = std::vector<std::pair<std::string, const Tensor*>>;

// Writes the tensors (in the given order) atomically: a temporary file in the same directory,
// flushed and synced, then renamed over `path`. Metadata values are strings.
void write_safetensors(const std::string& path, const TensorRefs& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// Reads every tensor, checking the header against the file: a truncated or corrupted file, an
// unsupported dtype or overlapping/out-of-range offsets are errors naming the file.
std::map<std::string, Tensor> read_safetensors(
    const std::string& path, std::map<std::string, std::string>* metadata = nullptr);

}  // namespace spotlight

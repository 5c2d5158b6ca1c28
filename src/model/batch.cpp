#include "spotlight/model/batch.h"

#include <algorithm>

#include "spotlight/check.h"

namespace spotlight {

Batch make_batch(const std::vector<std::vector<int>>& src, const std::vector<std::vector<int>>& tgt,
                 int pad_id, int bos_id, int eos_id) {
  require(!src.empty(), "make_batch: empty batch");
  require(src.size() == tgt.size(), "make_batch: " + std::to_string(src.size()) + " sources but " +
                                        std::to_string(tgt.size()) + " targets");
  Batch b;
  b.batch = static_cast<long>(src.size());
  for (size_t i = 0; i < src.size(); ++i) {
    b.src_len_max = std::max(b.src_len_max, static_cast<long>(src[i].size()) + 1);
    b.tgt_len_max = std::max(b.tgt_len_max, static_cast<long>(tgt[i].size()) + 1);
  }
  const long S = b.src_len_max, T = b.tgt_len_max;
  b.src.assign(static_cast<size_t>(b.batch * S), pad_id);
  b.tgt_in.assign(static_cast<size_t>(b.batch * T), pad_id);
  b.tgt_out.assign(static_cast<size_t>(b.batch * T), pad_id);
  for (size_t i = 0; i < src.size(); ++i) {
    int* s = &b.src[i * S];
    std::copy(src[i].begin(), src[i].end(), s);
    s[src[i].size()] = eos_id;
    int* ti = &b.tgt_in[i * T];
    int* to = &b.tgt_out[i * T];
    ti[0] = bos_id;
    std::copy(tgt[i].begin(), tgt[i].end(), ti + 1);
    std::copy(tgt[i].begin(), tgt[i].end(), to);
    to[tgt[i].size()] = eos_id;
    b.src_len.push_back(static_cast<int>(src[i].size()) + 1);
    b.tgt_len.push_back(static_cast<int>(tgt[i].size()) + 1);
    b.ids.push_back(static_cast<long>(i));
  }
  return b;
}

}  // namespace spotlight

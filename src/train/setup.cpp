#include "spotlight/train/setup.h"

#include <filesystem>

namespace spotlight {

namespace fs = std::filesystem;

namespace {
VocabOptions vocab_options(const Config& c) {
  VocabOptions vo;
  vo.size = c.vocab.size;
  vo.model_type = c.vocab.model_type;
  vo.character_coverage = c.vocab.character_coverage;
  vo.input_sentence_size = c.vocab.input_sentence_size;
  vo.seed = static_cast<uint32_t>(c.train.seed);
  vo.threads = static_cast<int>(c.train.threads);
  return vo;
}
}  // namespace

void ensure_vocabulary(const Config& c) {
  if (fs::exists(c.vocab.path)) return;
  Vocab::train({c.data.train[0], c.data.train[1]}, c.vocab.path, vocab_options(c));
}

std::unique_ptr<Vocab> prepare_vocabulary(Config& c, bool* recorded) {
  ensure_vocabulary(c);
  auto vocab = std::make_unique<Vocab>(c.vocab.path);
  const bool has_record = check_vocab_record(c.vocab.path, vocab->size(), vocab_options(c),
                                             {c.data.train[0], c.data.train[1]});
  if (recorded != nullptr) *recorded = has_record;
  set_vocabulary(c.model, *vocab);
  return vocab;
}

std::vector<int> target_pieces(const ParallelCorpus& corpus, const ModelConfig& m) {
  std::vector<char> seen(static_cast<size_t>(m.vocab_size), 0);
  for (long p = 0; p < corpus.size(); ++p)
    for (int id : corpus.tgt(p)) seen[static_cast<size_t>(id)] = 1;
  seen[static_cast<size_t>(m.eos_id)] = seen[static_cast<size_t>(m.unk_id)] = 1;
  seen[static_cast<size_t>(m.pad_id)] = seen[static_cast<size_t>(m.bos_id)] = 0;
  std::vector<int> ids;
  for (size_t i = 0; i < seen.size(); ++i)
    if (seen[i] != 0) ids.push_back(static_cast<int>(i));
  return ids;
}

std::unique_ptr<Transformer> new_model(const Config& c, const ParallelCorpus& train) {
  auto model = std::make_unique<Transformer>(c.model);
  Rng init(static_cast<uint64_t>(c.train.seed));
  model->init(init);
  if (c.model.output_vocab == OutputVocab::target)
    model->set_output_ids(target_pieces(train, c.model));
  return model;
}

BatcherOptions batcher_options(const Config& c) {
  BatcherOptions bo;
  bo.max_tokens = c.train.max_tokens;
  bo.pad_id = c.model.pad_id;
  bo.bos_id = c.model.bos_id;
  bo.eos_id = c.model.eos_id;
  return bo;
}

AdamConfig adam_config(const TrainConfig& t) {
  return {t.adam_beta1, t.adam_beta2, t.adam_eps, t.weight_decay};
}

}  // namespace spotlight

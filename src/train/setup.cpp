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
  Vocab::train(c.data.train_files(), c.vocab.path, vocab_options(c));
}

std::unique_ptr<Vocab> prepare_vocabulary(Config& c, bool* recorded) {
  ensure_vocabulary(c);
  auto vocab = std::make_unique<Vocab>(c.vocab.path);
  const bool has_record = check_vocab_record(c.vocab.path, vocab->size(), vocab_options(c),
                                             c.data.train_files());
  if (recorded != nullptr) *recorded = has_record;
  set_vocabulary(c.model, *vocab);
  return vocab;
}

TrainingData open_training_data(const Config& c, const Vocab& vocab, int threads,
                                const std::function<void(const std::string&)>& note,
                                const EncodeProgress& progress) {
  TrainingData d;
  const std::string dir = c.data.store_dir(c.output_dir);
  for (const TrainCorpus& corpus : c.data.train) {
    bool built = false;
    d.stores.push_back(open_store(dir, corpus.src, corpus.tgt, vocab, threads, note, progress, &built));
    d.encoded = d.encoded || built;
  }
  std::vector<MixCorpus> parts;
  for (size_t k = 0; k < d.stores.size(); ++k) parts.push_back({&d.stores[k], c.data.train[k].weight});
  d.mix = std::make_unique<PairMix>(std::move(parts), c.data.max_len);
  return d;
}

std::vector<int> target_pieces(const PairMix& mix, const ModelConfig& m) {
  std::vector<char> seen(static_cast<size_t>(m.vocab_size), 0);
  mix.scan_kept([&](std::span<const int>, std::span<const int> tgt) {
    for (int id : tgt) seen[static_cast<size_t>(id)] = 1;
  });
  seen[static_cast<size_t>(m.eos_id)] = seen[static_cast<size_t>(m.unk_id)] = 1;
  seen[static_cast<size_t>(m.pad_id)] = seen[static_cast<size_t>(m.bos_id)] = 0;
  std::vector<int> ids;
  for (size_t i = 0; i < seen.size(); ++i)
    if (seen[i] != 0) ids.push_back(static_cast<int>(i));
  return ids;
}

std::unique_ptr<Transformer> new_model(const Config& c, const PairMix& train) {
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

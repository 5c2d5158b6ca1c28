// fuzz_checkpoint.cpp — the checkpoint loader on arbitrary bytes. A genuine small checkpoint is
// written once; each input replaces one of its files, picked by input byte 0 (mod 4):
//   0: model.safetensors    loaded by open_checkpoint (spotlight translate/eval/attend)
//   1: optimizer.safetensors and 2: trainer_state.json, loaded by --resume (load_training_state)
//   3: config.json          open_checkpoint, which builds the model the config describes
// Each must load or be refused with spotlight::Error, without allocating what the file claims
// before checking it (libFuzzer's -malloc_limit_mb turns such an allocation into a crash), and
// a loaded model must hold only finite weights. The genuine model scores a target vocabulary
// (model.output_vocab "target"), so its file also holds the output_mask buffer.
// SPOTLIGHT_FUZZ_WRITE_SEEDS=DIR writes the genuine files, mode byte first, as seeds into DIR,
// and the regression inputs below (hand-made files that each hit one guard of the loader).
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "fuzz_support.h"
#include "spotlight/config.h"
#include "spotlight/rng.h"
#include "spotlight/train/checkpoint.h"
#include "spotlight/train/optimizer.h"

namespace fs = std::filesystem;

namespace {

const char* kFiles[4] = {"model.safetensors", "optimizer.safetensors", "trainer_state.json",
                         "config.json"};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Regression inputs for the loader's guards, built here rather than committed as binary files.
// Each is a mode byte (which file it replaces) followed by that file's bytes.
std::vector<std::pair<std::string, std::string>> regression_inputs() {
  // model.safetensors with this JSON header: 8-byte little-endian length, header, `data` bytes.
  auto safetensors = [](const std::string& header, size_t data) {
    std::string out = "0";
    for (int i = 0; i < 8; ++i) out += static_cast<char>((header.size() >> (8 * i)) & 0xff);
    return out + header + std::string(data, '\0');
  };
  const std::string zero_rng = R"(["0","0","0","0"])";
  return {
      // Claims a 1,000-byte header but ends after 5.
      {"model_truncated", "0" + std::string("\xe8\x03\0\0\0\0\0\0", 8) + R"({"a":)"},
      // Element count 2^32 · 2^32 · 16 overflows 64 bits.
      {"model_overflow_shape",
       safetensors(R"({"embed_tokens.weight": {"dtype": "F32", "shape": [4294967296, 4294967296, )"
                   R"(16], "data_offsets": [0, 4]}})", 4)},
      // Offsets far beyond the file.
      {"model_offsets_outside",
       safetensors(R"({"embed_tokens.weight": {"dtype": "F32", "shape": [2], "data_offsets": )"
                   R"([0, 8000000]}})", 8)},
      // 20,000 nested arrays: the JSON parser must refuse, not recurse off the stack.
      {"model_deep_nesting", safetensors(std::string(20000, '['), 0)},
      // A step count no integer holds.
      {"state_huge_step", "2" + std::string(R"({"step": 1e300, "epoch": 1, "epoch_position": 0, )") +
                              R"("best_bleu": -1.0, "best_step": 0, "bad_validations": 0, )" +
                              R"("train_seconds": 0.0, "rng": )" + zero_rng +
                              R"(, "epoch_rng": )" + zero_rng + "}"},
      // A config whose model section is not an object.
      {"config_model_not_object", R"(3{"model": 3})"},
  };
}

struct Fixture {
  fs::path dir, ckpt;
  std::string genuine[4];

  Fixture() {
    dir = fs::temp_directory_path() / ("spotlight_fuzz_ckpt." + std::to_string(::getpid()));
    fs::create_directories(dir);
    {
      std::ofstream text(dir / "train.txt");
      const char* words[] = {"a", "man", "dog", "runs", "le", "chien", "court", "été"};
      for (int i = 0; i < 300; ++i)
        text << words[i % 8] << ' ' << words[(i * 5) % 8] << ' ' << words[(i * 3) % 8] << '\n';
    }
    spotlight::VocabOptions vo;
    vo.size = 26;
    const std::string vocab_path = (dir / "v.model").string();
    spotlight::Vocab::train({(dir / "train.txt").string()}, vocab_path, vo);
    const spotlight::Vocab vocab(vocab_path);

    spotlight::Config config;
    config.model.vocab_size = vocab.size();
    config.model.d_model = 8;
    config.model.heads = 2;
    config.model.ffn = 8;
    config.model.encoder_layers = 1;
    config.model.decoder_layers = 1;
    config.model.max_positions = 16;
    config.model.output_vocab = spotlight::OutputVocab::target;  // model.safetensors has a mask
    spotlight::Transformer model(config.model);
    spotlight::Rng rng(7);
    model.init(rng);
    std::vector<int> output_ids{config.model.unk_id};
    for (int id = config.model.eos_id; id < vocab.size(); ++id) output_ids.push_back(id);
    model.set_output_ids(output_ids);
    spotlight::Adam adam(model.params(), spotlight::AdamConfig{});
    for (spotlight::Param* p : model.params()) p->grad.fill(0.01f);
    adam.step(1e-3);
    spotlight::TrainerState state;
    state.step = 1;
    ckpt = dir / "ckpt";
    spotlight::save_checkpoint(ckpt.string(), {config, model, vocab_path, &adam, &state});
    for (int k = 0; k < 4; ++k) genuine[k] = slurp(ckpt / kFiles[k]);

    if (const char* seeds = std::getenv("SPOTLIGHT_FUZZ_WRITE_SEEDS")) {
      fs::create_directories(seeds);
      for (int k = 0; k < 4; ++k)
        std::ofstream(fs::path(seeds) / ("genuine_" + std::to_string(k)), std::ios::binary)
            << static_cast<char>('0' + k) << genuine[k];
      for (const auto& [name, bytes] : regression_inputs())
        std::ofstream(fs::path(seeds) / name, std::ios::binary) << bytes;
    }
  }
  ~Fixture() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

void check_finite(const spotlight::Transformer& model) {
  for (const spotlight::Param* p : model.params())
    for (long i = 0; i < p->value.size(); ++i)
      if (!std::isfinite(p->value[i])) {
        std::fprintf(stderr, "a checkpoint with non-finite weights was accepted\n");
        std::abort();
      }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture fx;
  if (size == 0) return 0;
  const int mode = data[0] % 4;
  for (int k = 0; k < 4; ++k) {
    std::ofstream out(fx.ckpt / kFiles[k], std::ios::binary | std::ios::trunc);
    if (k == mode)
      out.write(reinterpret_cast<const char*>(data) + 1, static_cast<std::streamsize>(size - 1));
    else
      out << fx.genuine[k];
  }
  spotlight::fuzz::expect_clean([&] {
    spotlight::OpenCheckpoint c = spotlight::open_checkpoint(fx.ckpt.string());
    check_finite(*c.model);
    if (mode == 1 || mode == 2) {
      spotlight::Adam adam(c.model->params(), spotlight::AdamConfig{});
      spotlight::TrainerState state;
      spotlight::load_training_state(fx.ckpt.string(), *c.model, {adam, state});
      if (adam.steps() < 0 || state.step < 0 || state.epoch < 0) {
        std::fprintf(stderr, "a negative step or epoch count was accepted\n");
        std::abort();
      }
    }
  });
  return 0;
}

// spotlight info — what a checkpoint holds: config, parameter count, training state.
#include <filesystem>
#include <fstream>
#include <memory>

#include "cli/commands.h"
#include "cli/common.h"
#include "spotlight/train/checkpoint.h"

namespace spotlight {

namespace {
struct InfoArgs {
  std::string checkpoint;
  bool json = false;
};
}  // namespace

void add_info_command(CLI::App& app, CommandAction& action) {
  auto a = std::make_shared<InfoArgs>();
  CLI::App* cmd = app.add_subcommand("info", "Show a checkpoint's config, size and training state");
  cmd->add_option("-c,--checkpoint", a->checkpoint,
                  "checkpoint directory, or a run directory (its checkpoints/best)")
      ->required();
  cmd->add_flag("--json", a->json, "one JSON object instead of text");
  cmd->footer(R"(Examples:
  spotlight info --checkpoint runs/multi30k_en_fr/checkpoints/best
  spotlight info -c runs/multi30k_en_fr                 # the run's checkpoints/best
  spotlight info --checkpoint runs/multi30k_en_fr/checkpoints/last --json)");
  cmd->callback([a, &action] {
    action = [a] {
      const OpenCheckpoint ck = open_checkpoint(a->checkpoint);
      const ModelConfig& m = ck.config.model;
      nlohmann::json state = nullptr;
      const auto st = std::filesystem::path(ck.dir) / "trainer_state.json";
      if (std::filesystem::exists(st))
        state = TrainerState::from_json(read_json_file(st.string()), st.string()).to_json();
      const auto record =
          read_vocab_record((std::filesystem::path(ck.dir) / "vocab.model").string());
      nlohmann::json out = {
          {"checkpoint", ck.dir},
          {"parameters", ck.model->num_parameters()},
          {"vocab_size", ck.vocab->size()},
          {"vocab_record", record ? nlohmann::json(record->to_json()) : nlohmann::json()},
          {"resumable", state != nullptr},
          {"trainer_state", state},
          {"config", ck.config.to_json()}};
      if (a->json) {
        write_text_output("-", out.dump() + "\n");
        return 0;
      }
      std::string text = "checkpoint  " + ck.dir + "\n";
      text += "model       " + std::to_string(ck.model->num_parameters()) + " parameters; " +
              std::to_string(m.encoder_layers) + "+" + std::to_string(m.decoder_layers) +
              " layers, d_model " + std::to_string(m.d_model) + ", " + std::to_string(m.heads) +
              " heads, ffn " + std::to_string(m.ffn) + ", " +
              (m.norm == Norm::pre ? "pre" : "post") + "-norm; vocabulary " +
              std::to_string(ck.vocab->size()) + "\n";
      if (record) {
        std::string files;
        for (const auto& f : record->files)
          files += (files.empty() ? "" : " + ") + f.path + " (" + std::to_string(f.bytes) +
                   " bytes, sha256 " + f.sha256.substr(0, 12) + "…)";
        text += "vocabulary  " + record->model_type + ", " + std::to_string(record->size) +
                " pieces asked, character coverage " +
                nlohmann::json(record->character_coverage).dump() + "; trained on " + files + "\n";
      } else {
        text +=
            "vocabulary  no record of its training (vocab.json: made by an older Spotlight "
            "or by hand)\n";
      }
      if (state != nullptr) {
        char buf[256];
        std::snprintf(buf, sizeof buf,
                      "training    step %ld, epoch %ld, %.1f min of training; best validation "
                      "BLEU %.2f at step %ld\n",
                      state["step"].get<long>(), state["epoch"].get<long>(),
                      state["train_seconds"].get<double>() / 60.0, state["best_bleu"].get<double>(),
                      state["best_step"].get<long>());
        text += buf;
      } else {
        text += "training    no trainer state (an averaged or exported checkpoint)\n";
      }
      text += "config\n" + ck.config.to_json().dump(2) + "\n";
      write_text_output("-", text);
      return 0;
    };
  });
}

}  // namespace spotlight

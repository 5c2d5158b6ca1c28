// replay_main.cpp — runs a libFuzzer harness over files without libFuzzer, so the ordinary (and
// the sanitized) test build replays every seed and every regression input on each test run:
//   fuzz_config_replay tests/fuzz/corpus/config [more files or directories]
// With SPOTLIGHT_FUZZ_WRITE_SEEDS=DIR, the harness first writes the seeds it generates (genuine
// checkpoint files, a genuine corpus cache: made by the current code, so never stale and never
// committed) into DIR, and they are replayed too.
// Exits non-zero when given nothing to replay; a harness that finds a bug aborts.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  static const uint8_t none = 0;
  LLVMFuzzerTestOneInput(&none, 0);  // builds the harness's fixture, writing its seeds
  std::vector<std::string> args(argv + 1, argv + argc);
  const char* seeds = std::getenv("SPOTLIGHT_FUZZ_WRITE_SEEDS");
  if (seeds != nullptr && fs::is_directory(seeds)) args.emplace_back(seeds);
  std::vector<fs::path> files;
  for (const std::string& arg : args) {
    const char* a = arg.c_str();
    if (fs::is_directory(a)) {
      for (const auto& e : fs::recursive_directory_iterator(a))
        if (e.is_regular_file()) files.push_back(e.path());
    } else if (fs::is_regular_file(a)) {
      files.emplace_back(a);
    } else {
      std::fprintf(stderr, "%s: no such file or directory: %s\n", argv[0], a);
      return 2;
    }
  }
  if (files.empty()) {
    std::fprintf(stderr, "usage: %s FILE_OR_DIR... (nothing to replay)\n", argv[0]);
    return 2;
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    const std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  }
  std::printf("%s: %zu inputs replayed, no failure\n", argv[0], files.size());
  return 0;
}

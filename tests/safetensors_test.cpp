// safetensors: round trip, the exact byte layout of the public format, and refusal of
// truncated or corrupted files with a message naming the file.
#include "spotlight/safetensors.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "spotlight/check.h"
#include "spotlight/model/transformer.h"
#include "support/fixtures.h"

using namespace spotlight;
namespace fs = std::filesystem;

namespace {
fs::path temp_dir(const std::string& name) {
  const fs::path d =
      fs::temp_directory_path() / ("spotlight_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}
std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}
}  // namespace

TEST_SUITE_BEGIN("unit");

TEST_CASE("safetensors: byte layout of the public format and a round trip") {
  const fs::path d = temp_dir("st");
  Tensor a({2, 3}), b({4});
  for (long i = 0; i < 6; ++i) a[i] = static_cast<float>(i) + 0.5f;
  b.fill(-1.0f);
  write_safetensors((d / "x.safetensors").string(), {{"a", &a}, {"b", &b}}, {{"format", "pt"}});
  const std::string bytes = slurp(d / "x.safetensors");
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  CHECK(n % 8 == 0);
  CHECK(bytes.size() == 8 + n + 10 * 4);
  const std::string header = bytes.substr(8, n);
  CHECK(header.find("\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}") !=
        std::string::npos);
  CHECK(header.find("\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[24,40]}") !=
        std::string::npos);
  float first = 0;
  std::memcpy(&first, bytes.data() + 8 + n, 4);
  CHECK(first == 0.5f);
  std::map<std::string, std::string> meta;
  auto t = read_safetensors((d / "x.safetensors").string(), &meta);
  CHECK(meta["format"] == "pt");
  CHECK(t["a"].shape() == std::vector<long>{2, 3});
  CHECK(t["a"][5] == 5.5f);
  CHECK(t["b"][3] == -1.0f);
  CHECK(!fs::exists(d / "x.safetensors.tmp"));
  fs::remove_all(d);
}

TEST_CASE("safetensors: truncated, corrupted and mismatched files are refused by name") {
  const fs::path d = temp_dir("st_bad");
  const std::string path = (d / "model.safetensors").string();
  Rng rng(51);
  Transformer m(testing::tiny_config());
  m.init(rng);
  m.save_weights(path);
  const std::string good = slurp(path);

  auto write = [&](const std::string& bytes) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  };
  write(good.substr(0, good.size() - 100));  // truncated data
  CHECK_THROWS_WITH_AS(m.load_weights(path), doctest::Contains("model.safetensors"), Error);
  write(good.substr(0, 5));  // truncated length
  CHECK_THROWS_WITH_AS(m.load_weights(path), doctest::Contains("truncated"), Error);
  std::string corrupt = good;
  corrupt[8] = '#';  // JSON header broken
  write(corrupt);
  CHECK_THROWS_WITH_AS(m.load_weights(path), doctest::Contains("corrupt"), Error);
  std::string huge = good;
  huge[6] = 0x7f;  // header length far beyond the file
  write(huge);
  CHECK_THROWS_WITH_AS(m.load_weights(path), doctest::Contains("exceeds the file size"), Error);
  CHECK_THROWS_WITH_AS(m.load_weights((d / "missing").string()), doctest::Contains("cannot open"),
                       Error);

  // A checkpoint of another model shape is refused, naming the tensor.
  write(good);
  ModelConfig other = testing::tiny_config();
  other.ffn = 32;
  Transformer m2(other);
  CHECK_THROWS_WITH_AS(m2.load_weights(path), doctest::Contains("different model shape"), Error);
  Transformer post(testing::tiny_config(Norm::post));
  CHECK_THROWS_WITH_AS(post.load_weights(path), doctest::Contains("unexpected tensor"), Error);

  // And the good file loads into a fresh model bit for bit.
  Transformer fresh(testing::tiny_config());
  fresh.load_weights(path);
  for (size_t k = 0; k < m.params().size(); ++k)
    CHECK(std::memcmp(m.params()[k]->value.data(), fresh.params()[k]->value.data(),
                      sizeof(float) * m.params()[k]->value.size()) == 0);
  fs::remove_all(d);
}

TEST_SUITE_END();

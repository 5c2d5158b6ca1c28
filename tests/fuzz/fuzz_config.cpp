// fuzz_config.cpp — the config reader (spotlight train --config FILE --set k=v) on arbitrary
// bytes. Input: the config file; when it starts with lines "set:<assignment>", each such line is
// first taken off and applied as a --set override.
#include <string>
#include <vector>

#include "fuzz_support.h"
#include "spotlight/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static spotlight::fuzz::MemFile file("config.json");
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> overrides;
  while (in.rfind("set:", 0) == 0) {
    const size_t nl = in.find('\n');
    overrides.emplace_back(in.substr(4, nl == std::string_view::npos ? in.npos : nl - 4));
    in = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);
  }
  file.set(in);
  spotlight::fuzz::expect_clean([&] {
    const spotlight::Config c = spotlight::load_config(file.path(), overrides);
    // What is accepted must survive the round trip a checkpoint puts it through.
    const spotlight::Config again = spotlight::Config::from_json(c.to_json(), "round trip");
    if (again.to_json() != c.to_json()) {
      std::fprintf(stderr, "config round trip changed the config\n");
      std::abort();
    }
  });
  return 0;
}

// The test binary's main: doctest's, with the BLAS in use named first. Results equal only up to
// rounding differ between OpenBLAS cores (OPENBLAS_CORETYPE, or the CPU OpenBLAS detects), so a
// test log starts with the line blas_description() gives, on stderr (stdout stays doctest's:
// ctest's test discovery parses it). `spotlight_tests --blas-info` prints that line alone on
// stdout and exits (scripts/test.sh starts its log with it). Listing and help print nothing extra.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <string_view>

#include "spotlight/blas.h"

int main(int argc, char** argv) {
  bool quiet = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--blas-info") {
      std::printf("%s\n", spotlight::blas_description().c_str());
      return 0;
    }
    for (std::string_view listing : {"-ltc", "--list-test-cases", "-lts", "--list-test-suites",
                                     "-lr", "--list-reporters", "-h", "--help", "-?", "-v",
                                     "--version", "-c", "--count"})
      quiet |= a == listing || (a.starts_with(listing) && a[listing.size()] == '=');
  }
  if (!quiet) std::fprintf(stderr, "%s\n", spotlight::blas_description().c_str());
  doctest::Context context(argc, argv);
  return context.run();
}

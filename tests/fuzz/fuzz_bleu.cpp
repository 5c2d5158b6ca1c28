// fuzz_bleu.cpp — `spotlight bleu`'s scorers (BLEU with both tokenizers, cased and lowercased,
// and chrF, with one and two references) on arbitrary text. Input: hypotheses, a NUL byte,
// references (one sentence per line). Beyond not crashing, a score must lie in [0, 100] and a
// text scored against itself (alone, or as one of two references) must get 100 BLEU when it has
// 4-grams to match.
#include <cmath>
#include <string>
#include <vector>

#include "fuzz_support.h"
#include "spotlight/eval/bleu.h"
#include "spotlight/eval/chrf.h"

namespace {

std::vector<std::string> split_lines(std::string_view s) {
  std::vector<std::string> out;
  size_t b = 0;
  while (b <= s.size()) {
    const size_t e = s.find('\n', b);
    if (e == std::string_view::npos) {
      if (b < s.size()) out.emplace_back(s.substr(b));
      break;
    }
    out.emplace_back(s.substr(b, e - b));
    b = e + 1;
  }
  return out;
}

void check_range(double score, const char* what) {
  if (!(score >= 0.0 && score <= 100.0 + 1e-9)) {
    std::fprintf(stderr, "%s score %g outside [0, 100]\n", what, score);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const size_t nul = in.find('\0');
  const auto hyps = split_lines(in.substr(0, nul));
  const auto refs = nul == std::string_view::npos ? hyps : split_lines(in.substr(nul + 1));
  for (const char* tok : {"13a", "none"})
    for (bool lc : {false, true})
      spotlight::fuzz::expect_clean([&] {
        const auto r = spotlight::corpus_bleu(hyps, refs, {tok, lc});
        check_range(r.score, "BLEU");
        if (nul == std::string_view::npos && r.totals[3] > 0 && std::fabs(r.score - 100.0) > 1e-6) {
          std::fprintf(stderr, "a text against itself scores %g BLEU, not 100\n", r.score);
          std::abort();
        }
      });
  for (bool lc : {false, true})
    spotlight::fuzz::expect_clean(
        [&] { check_range(spotlight::corpus_chrf(hyps, refs, {lc}).score, "chrF"); });
  // Two references per sentence: the references and the hypotheses themselves (when the counts
  // agree). Each hypothesis matches itself wholly, at its own length: 100 BLEU.
  if (hyps.size() == refs.size()) {
    const spotlight::ReferenceSets both = {refs, hyps};
    spotlight::fuzz::expect_clean([&] {
      const auto r = spotlight::corpus_bleu(hyps, both, {"13a", false});
      check_range(r.score, "multi-reference BLEU");
      if (r.totals[3] > 0 && std::fabs(r.score - 100.0) > 1e-6) {
        std::fprintf(stderr, "a text among its references scores %g BLEU, not 100\n", r.score);
        std::abort();
      }
      check_range(spotlight::corpus_chrf(hyps, both, {false}).score, "multi-reference chrF");
    });
  }
  return 0;
}

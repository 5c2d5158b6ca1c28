// bleu.cpp — sacreBLEU-compatible corpus BLEU: 13a tokenisation on code points, n-gram counts
// clipped by the references' maximum and summed over the corpus, "exp" smoothing and the brevity
// penalty on the closest reference lengths (math in bleu.h).
#include "spotlight/eval/bleu.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <unordered_map>

#include "spotlight/check.h"

// CMake's project version (set on this file only, in CMakeLists.txt): the one place it enters.
#ifndef SPOTLIGHT_VERSION
#error "SPOTLIGHT_VERSION is defined by CMakeLists.txt from project(... VERSION ...)"
#endif

namespace spotlight {

// ---- Unicode helpers ----

bool is_python_space(char32_t c) {
  // Python's whitespace: bidirectional class WS, B or S, or general category Zs.
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
         c == 0x205F || c == 0x3000;
}

std::u32string python_lower(std::u32string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for (const char32_t c : text) {
    const bool even = c % 2 == 0;
    if ((c >= U'A' && c <= U'Z') || (c >= 0xC0 && c <= 0xDE && c != 0xD7)) {
      out.push_back(c + 0x20);  // ASCII; Latin-1 À..Þ except × (U+00D7)
    } else if (c == 0x130) {
      out += U"i\u0307";  // İ → i + combining dot above, as Python
    } else if (c == 0x178) {
      out.push_back(0xFF);  // Ÿ → ÿ
    } else if (((c >= 0x100 && c <= 0x12F) || (c >= 0x132 && c <= 0x137) ||
                (c >= 0x14A && c <= 0x177)) &&
               even) {
      out.push_back(c + 1);  // Latin Extended-A pairs with the capital on the even code point
    } else if (((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) && !even) {
      out.push_back(c + 1);  // … and the pairs with the capital on the odd code point
    } else if (c >= 0x400 && c <= 0x40F) {
      out.push_back(c + 0x50);  // Cyrillic Ѐ..Џ
    } else if (c >= 0x410 && c <= 0x42F) {
      out.push_back(c + 0x20);  // Cyrillic А..Я
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::vector<std::u32string> decode_lines(const std::vector<std::string>& lines,
                                         std::string_view side) {
  std::vector<std::u32string> out;
  out.reserve(lines.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    try {
      out.push_back(decode_utf8(lines[i]));
    } catch (const Error& e) {
      throw Error(std::string(side) + " line " + std::to_string(i + 1) + ": " + e.what());
    }
  }
  return out;
}

// ---- 13a tokenisation ----

namespace {

// Python's str.split() with no argument: words between runs of whitespace.
std::vector<std::u32string> split_python(std::u32string_view text) {
  std::vector<std::u32string> words;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && is_python_space(text[i])) ++i;
    const size_t start = i;
    while (i < text.size() && !is_python_space(text[i])) ++i;
    if (i > start) words.emplace_back(text.substr(start, i - start));
  }
  return words;
}

// Python's str.replace: every non-overlapping occurrence, scanning left to right.
std::u32string replace_all(const std::u32string& s, std::u32string_view from,
                           std::u32string_view to) {
  std::u32string out;
  out.reserve(s.size());
  size_t pos = 0;
  for (size_t hit = s.find(from); hit != std::u32string::npos; hit = s.find(from, pos)) {
    out.append(s, pos, hit - pos);
    out += to;
    pos = hit + from.size();
  }
  out.append(s, pos);
  return out;
}

// Python's [0-9]: ASCII digits only.
bool is_digit(char32_t c) {
  return c >= U'0' && c <= U'9';
}
bool is_period_or_comma(char32_t c) {
  return c == U'.' || c == U',';
}

// The character class [\{-\~\[-\` -\&\(-\+\:-\@\/]: { | } ~  [ \ ] ^ _ `  space ! " # $ % &
// ( ) * +  : ; < = > ? @  and /. Not ' , - . or digits and letters.
bool is_13a_symbol(char32_t c) {
  return (c >= U'{' && c <= U'~') || (c >= U'[' && c <= U'`') || (c >= U' ' && c <= U'&') ||
         (c >= U'(' && c <= U'+') || (c >= U':' && c <= U'@') || c == U'/';
}

// re.sub(r'(A)(B)', repl) for single-character classes A and B, with repl either
// r'\1 \2 ' (lead_space = false) or r' \1 \2' (lead_space = true). Like re.sub, matches do not
// overlap: after a match the scan resumes past both characters.
template <class First, class Second>
std::u32string pad_pairs(const std::u32string& s, First is_first, Second is_second,
                         bool lead_space) {
  std::u32string out;
  out.reserve(s.size() + s.size() / 2);
  size_t i = 0;
  while (i < s.size()) {
    if (i + 1 < s.size() && is_first(s[i]) && is_second(s[i + 1])) {
      if (lead_space) out.push_back(U' ');
      out.push_back(s[i]);
      out.push_back(U' ');
      out.push_back(s[i + 1]);
      if (!lead_space) out.push_back(U' ');
      i += 2;
    } else {
      out.push_back(s[i]);
      ++i;
    }
  }
  return out;
}

// tokenizer_13a + TokenizerRegexp on code points; the result still needs a whitespace split.
std::u32string tokenize_13a_code_points(std::u32string line) {
  line = replace_all(line, U"<skipped>", U"");
  line = replace_all(line, U"-\n", U"");
  line = replace_all(line, U"\n", U" ");
  line = replace_all(line, U"&quot;", U"\"");
  line = replace_all(line, U"&amp;", U"&");
  line = replace_all(line, U"&lt;", U"<");
  line = replace_all(line, U"&gt;", U">");
  // ` {line} `, then r'([\{-\~\[-\` -\&\(-\+\:-\@\/])' → r' \1 '.
  std::u32string padded = U" ";
  for (const char32_t c : line) {
    if (is_13a_symbol(c)) {
      padded.push_back(U' ');
      padded.push_back(c);
      padded.push_back(U' ');
    } else {
      padded.push_back(c);
    }
  }
  padded.push_back(U' ');
  const auto not_digit = [](char32_t c) { return !is_digit(c); };
  padded = pad_pairs(padded, not_digit, is_period_or_comma, false);  // ([^0-9])([\.,])
  padded = pad_pairs(padded, is_period_or_comma, not_digit, true);   // ([\.,])([^0-9])
  padded = pad_pairs(
      padded, is_digit, [](char32_t c) { return c == U'-'; }, false);  // ([0-9])(-)
  return padded;
}

std::u32string rstrip_python(std::u32string s) {
  while (!s.empty() && is_python_space(s.back())) s.pop_back();
  return s;
}

// One line as sacreBLEU's BLEU sees it: lowercased (optionally), right-stripped, tokenised,
// split on whitespace.
std::vector<std::u32string> bleu_tokens(const std::u32string& line, const BleuOptions& options) {
  std::u32string s = rstrip_python(options.lowercase ? python_lower(line) : line);
  if (options.tokenize == "13a") s = tokenize_13a_code_points(std::move(s));
  return split_python(s);
}

// All n-grams of orders 1..4, one map per order; an n-gram's key is its tokens joined by a
// space, which is unambiguous because tokens hold no whitespace.
using NgramCounts = std::array<std::unordered_map<std::u32string, long>, 4>;

NgramCounts count_ngrams(const std::vector<std::u32string>& tokens) {
  NgramCounts counts;
  for (size_t start = 0; start < tokens.size(); ++start) {
    std::u32string key = tokens[start];
    for (size_t n = 0; n < 4 && start + n < tokens.size(); ++n) {
      if (n > 0) key += U' ' + tokens[start + n];
      ++counts[n][key];
    }
  }
  return counts;
}

}  // namespace

std::string tokenize_13a(std::string_view line) {
  std::u32string joined;
  for (const std::u32string& token : split_python(tokenize_13a_code_points(decode_utf8(line)))) {
    if (!joined.empty()) joined.push_back(U' ');
    joined += token;
  }
  return encode_utf8(joined);
}

// ---- BLEU ----

BleuResult bleu_from_counts(const std::array<long, 4>& matches, const std::array<long, 4>& totals,
                            long hyp_len, long ref_len) {
  BleuResult r;
  r.matches = matches;
  r.totals = totals;
  r.hyp_len = hyp_len;
  r.ref_len = ref_len;
  r.ratio = ref_len > 0 ? static_cast<double>(hyp_len) / static_cast<double>(ref_len) : 0.0;
  if (hyp_len < ref_len)
    r.bp = hyp_len > 0 ? std::exp(1.0 - static_cast<double>(ref_len) / static_cast<double>(hyp_len))
                       : 0.0;
  else
    r.bp = 1.0;
  // No match of any order: score 0 and all precisions 0 (sacreBLEU's early stop, issue #141).
  if (std::all_of(matches.begin(), matches.end(), [](long m) { return m == 0; })) return r;
  double smooth = 1.0;  // "exp" smoothing: doubles at each order without a match
  for (size_t n = 0; n < 4; ++n) {
    if (totals[n] == 0) break;  // this and higher orders keep precision 0, so the score is 0
    if (matches[n] == 0) {
      smooth *= 2.0;
      r.precisions[n] = 100.0 / (smooth * static_cast<double>(totals[n]));
    } else {
      r.precisions[n] = 100.0 * static_cast<double>(matches[n]) / static_cast<double>(totals[n]);
    }
  }
  double log_sum = 0.0;
  for (const double p : r.precisions) {
    if (p <= 0.0) return r;  // sacreBLEU's log(0) = −9999999999 makes the score exactly 0
    log_sum += std::log(p);
  }
  r.score = r.bp * std::exp(log_sum / 4.0);
  return r;
}

std::string signature_version() {
  return "spotlight-" SPOTLIGHT_VERSION;
}

void require_line_counts(const std::vector<std::string>& hyps, const ReferenceSets& refs,
                         std::string_view metric) {
  require(!refs.empty(), [&] {
    return std::string(metric) + ": no references; give at least one reference per hypothesis";
  });
  for (size_t k = 0; k < refs.size(); ++k)
    require(refs[k].size() == hyps.size(), [&] {
      return std::string(metric) + ": " + std::to_string(hyps.size()) + " hypothesis lines but " +
             std::to_string(refs[k].size()) + " reference lines" +
             (refs.size() > 1
                  ? " in reference " + std::to_string(k + 1) + " of " + std::to_string(refs.size())
                  : std::string()) +
             "; give one reference per hypothesis";
    });
}

std::vector<std::vector<std::u32string>> decode_references(const ReferenceSets& refs) {
  std::vector<std::vector<std::u32string>> out;
  for (size_t k = 0; k < refs.size(); ++k)
    out.push_back(decode_lines(refs[k], refs.size() > 1 ? "reference " + std::to_string(k + 1)
                                                        : std::string("reference")));
  return out;
}

BleuResult corpus_bleu(const std::vector<std::string>& hyps, const std::vector<std::string>& refs,
                       const BleuOptions& options) {
  return corpus_bleu(hyps, ReferenceSets{refs}, options);
}

BleuResult corpus_bleu(const std::vector<std::string>& hyps, const ReferenceSets& refs,
                       const BleuOptions& options) {
  require_line_counts(hyps, refs, "BLEU");
  require(options.tokenize == "13a" || options.tokenize == "none", [&] {
    return "BLEU: unknown tokenizer '" + options.tokenize + "': expected 13a or none";
  });
  const std::vector<std::u32string> hyp_lines = decode_lines(hyps, "hypothesis");
  const std::vector<std::vector<std::u32string>> ref_lines = decode_references(refs);

  std::array<long, 4> matches{}, totals{};
  long hyp_len = 0, ref_len = 0;
  for (size_t i = 0; i < hyp_lines.size(); ++i) {
    const std::vector<std::u32string> hyp_tokens = bleu_tokens(hyp_lines[i], options);
    const long len = static_cast<long>(hyp_tokens.size());
    // The references' n-gram counts merged by their maximum, and the closest reference length
    // (ties to the shorter), as sacreBLEU's _extract_reference_info / _get_closest_ref_len.
    NgramCounts ref_counts;
    long closest = -1;
    for (const auto& set : ref_lines) {
      const std::vector<std::u32string> ref_tokens = bleu_tokens(set[i], options);
      const long rlen = static_cast<long>(ref_tokens.size());
      const long diff = std::labs(len - rlen), best = std::labs(len - closest);
      if (closest < 0 || diff < best || (diff == best && rlen < closest)) closest = rlen;
      const NgramCounts counts = count_ngrams(ref_tokens);
      for (size_t n = 0; n < 4; ++n)
        for (const auto& [ngram, count] : counts[n]) {
          long& merged = ref_counts[n][ngram];
          merged = std::max(merged, count);
        }
    }
    hyp_len += len;
    ref_len += closest;
    const NgramCounts hyp_counts = count_ngrams(hyp_tokens);
    for (size_t n = 0; n < 4; ++n) {
      for (const auto& [ngram, count] : hyp_counts[n]) {
        totals[n] += count;
        const auto it = ref_counts[n].find(ngram);
        if (it != ref_counts[n].end()) matches[n] += std::min(count, it->second);
      }
    }
  }
  BleuResult r = bleu_from_counts(matches, totals, hyp_len, ref_len);
  r.signature = "nrefs:" + std::to_string(refs.size()) +
                "|case:" + (options.lowercase ? "lc" : "mixed") +
                "|eff:no|tok:" + options.tokenize + "|smooth:exp|version:" + signature_version();
  return r;
}

}  // namespace spotlight

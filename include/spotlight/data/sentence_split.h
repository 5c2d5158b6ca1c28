// sentence_split.h — SentenceSplitter: one line of text cut into its sentences by ICU's sentence
// break rules (Unicode UAX #29), with no break after ICU's English abbreviations (what the locale
// "en@ss=standard" suppresses) and a few titles more, so that "Mr. Smith", "Dr. Jones" or
// "e.g. this" stay whole. Used to translate a paragraph sentence by
// sentence with models trained on single sentences.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace spotlight {

class SentenceSplitter {
 public:
  // Throws Error when ICU cannot provide the rules (a broken ICU installation).
  SentenceSplitter();
  ~SentenceSplitter();
  SentenceSplitter(SentenceSplitter&&) noexcept;
  SentenceSplitter& operator=(SentenceSplitter&&) noexcept;

  // The sentences of `line` (valid UTF-8) in order. A line of one sentence (or none: empty or
  // blank) comes back as the one piece `line`, unchanged; otherwise each sentence loses its
  // leading and trailing white space and blank pieces are dropped. Not thread-safe (the ICU
  // iterator keeps state): one splitter per thread.
  std::vector<std::string> split(std::string_view line);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace spotlight

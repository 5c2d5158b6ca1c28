#include "spotlight/data/sentence_split.h"

#include <unicode/brkiter.h>
#include <unicode/filteredbrk.h>
#include <unicode/uchar.h>
#include <unicode/utext.h>
#include <unicode/utf8.h>

#include "spotlight/check.h"

namespace spotlight {

struct SentenceSplitter::Impl {
  std::unique_ptr<icu::BreakIterator> it;
};

// Titles ICU's English list lacks (it has "Mr.", "Mrs.", "Prof.", "e.g." and others).
constexpr const char* kMoreAbbreviations[] = {"Dr.",   "St.",  "Sen.", "Rep.", "Gov.", "Gen.",
                                              "Col.",  "Capt.", "Lt.", "Sgt.", "Rev.", "Jr.",
                                              "Sr.",   "vs."};

SentenceSplitter::SentenceSplitter() : impl_(std::make_unique<Impl>()) {
  UErrorCode status = U_ZERO_ERROR;
  std::unique_ptr<icu::BreakIterator> base(
      icu::BreakIterator::createSentenceInstance(icu::Locale("en"), status));
  // No break after the abbreviations of ICU's English list, nor after those above.
  std::unique_ptr<icu::FilteredBreakIteratorBuilder> filter(
      icu::FilteredBreakIteratorBuilder::createInstance(icu::Locale("en"), status));
  if (U_SUCCESS(status))
    for (const char* a : kMoreAbbreviations)
      filter->suppressBreakAfter(icu::UnicodeString::fromUTF8(a), status);
  if (U_SUCCESS(status)) impl_->it.reset(filter->wrapIteratorWithFilter(base.release(), status));
  require(U_SUCCESS(status) && impl_->it != nullptr,
          [&] { return std::string("ICU has no sentence break rules: ") + u_errorName(status); });
}

SentenceSplitter::~SentenceSplitter() = default;
SentenceSplitter::SentenceSplitter(SentenceSplitter&&) noexcept = default;
SentenceSplitter& SentenceSplitter::operator=(SentenceSplitter&&) noexcept = default;

namespace {

// [b, e) of `s` without the white space (Unicode White_Space) at either end.
std::string_view trim(std::string_view s) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const auto n = static_cast<int32_t>(s.size());
  int32_t b = 0;
  while (b < n) {
    int32_t next = b;
    UChar32 c;
    U8_NEXT(p, next, n, c);
    if (c < 0 || !u_isUWhiteSpace(c)) break;
    b = next;
  }
  int32_t e = n;
  while (e > b) {
    int32_t prev = e;
    UChar32 c;
    U8_PREV(p, 0, prev, c);
    if (c < 0 || !u_isUWhiteSpace(c)) break;
    e = prev;
  }
  return s.substr(static_cast<size_t>(b), static_cast<size_t>(e - b));
}

}  // namespace

std::vector<std::string> SentenceSplitter::split(std::string_view line) {
  UErrorCode status = U_ZERO_ERROR;
  // UTF-8 text read in place: the iterator's boundaries are byte offsets into `line`.
  UText* text = utext_openUTF8(nullptr, line.data(), static_cast<int64_t>(line.size()), &status);
  require(U_SUCCESS(status), [&] { return std::string("ICU: ") + u_errorName(status); });
  impl_->it->setText(text, status);
  std::vector<std::string> pieces;
  if (U_SUCCESS(status)) {
    int32_t b = impl_->it->first();
    for (int32_t e = impl_->it->next(); e != icu::BreakIterator::DONE; b = e, e = impl_->it->next()) {
      const std::string_view piece =
          trim(line.substr(static_cast<size_t>(b), static_cast<size_t>(e - b)));
      if (!piece.empty()) pieces.emplace_back(piece);
    }
  }
  // The iterator must not keep pointing at `text` once it is closed.
  impl_->it->setText(icu::UnicodeString());
  utext_close(text);
  require(U_SUCCESS(status), [&] { return std::string("ICU: ") + u_errorName(status); });
  if (pieces.size() <= 1) return {std::string(line)};
  return pieces;
}

}  // namespace spotlight

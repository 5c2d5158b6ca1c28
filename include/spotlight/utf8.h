// utf8.h — strict UTF-8, as Python's decoder reads it: no overlong forms, no surrogates, nothing
// above U+10FFFF. One decoder for the whole project (corpora, configs, BLEU and chrF).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace spotlight {

// The code point at byte i of s into cp; returns its length in bytes (1–4), or 0 when the bytes
// at i are not a well-formed sequence.
size_t next_code_point(std::string_view s, size_t i, char32_t& cp);
// True when `s` is well-formed UTF-8.
bool valid_utf8(std::string_view s);
// s as code points; throws Error on malformed input, naming the byte offset.
std::u32string decode_utf8(std::string_view s);
std::string encode_utf8(std::u32string_view text);

}  // namespace spotlight

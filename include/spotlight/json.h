// json.h — the one JSON parser entry point for text that comes from files (configs, checkpoint
// headers and state). Any failure is a spotlight::Error naming the source: a syntax error with
// line and column, a number out of range, nesting deeper than max_depth (which would otherwise
// let a hostile file recurse the stack in nlohmann's dump and copy).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace spotlight {

nlohmann::json parse_json(std::string_view text, const std::string& source, int max_depth = 32);

}  // namespace spotlight

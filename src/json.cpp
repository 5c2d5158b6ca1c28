#include "spotlight/json.h"

#include "spotlight/check.h"

namespace spotlight {

using json = nlohmann::json;

nlohmann::json parse_json(std::string_view text, const std::string& source, int max_depth) {
  const json::parser_callback_t limit_depth = [&](int depth, json::parse_event_t, json&) {
    require(depth <= max_depth, [&] {
      return source + ": invalid JSON: nested deeper than " + std::to_string(max_depth) +
             " levels";
    });
    return true;
  };
  try {
    return json::parse(text, limit_depth);
  } catch (const json::parse_error& e) {
    // nlohmann reports a byte offset: turn it into line and column.
    const size_t at = std::min(static_cast<size_t>(e.byte), text.size());
    long line = 1, col = 1;
    for (size_t i = 0; i + 1 < at; ++i) {
      if (text[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    std::string what = e.what();
    const auto cut = what.find("parse error");
    throw Error(source + ":" + std::to_string(line) + ":" + std::to_string(col) +
                ": invalid JSON: " + (cut == std::string::npos ? what : what.substr(cut)));
  } catch (const json::exception& e) {  // e.g. a number beyond double's range
    throw Error(source + ": invalid JSON: " + e.what());
  }
}

}  // namespace spotlight

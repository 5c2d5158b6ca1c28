#include "cli/pages.h"

#include "cli/common.h"  // xml_escape
#include "resources.h"   // generated: kAttendPage, kServePage, kAttentionViewJs, kAttentionViewCss

namespace spotlight {

namespace {
std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
  return s;
}
std::string with_view(const char* page) {
  return replace_all(replace_all(page, "@VIEW_CSS@", kAttentionViewCss), "@VIEW_JS@",
                     kAttentionViewJs);
}
}  // namespace

std::string attend_page(const nlohmann::json& data) {
  // Data as JSON in a script element: "<" only occurs inside JSON strings, where \u003c means
  // the same, so no "</script>" or "<!--" in a sentence can end or change the element.
  const std::string json = replace_all(data.dump(), "<", "\\u003c");
  const std::string html =
      replace_all(with_view(kAttendPage), "@TITLE@", xml_escape(data["source"].get<std::string>()));
  return replace_all(html, "@DATA@", json);
}

std::string serve_page() { return with_view(kServePage); }

}  // namespace spotlight

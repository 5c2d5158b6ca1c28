// pages.h — the HTML pages of the commands, built from src/cli's resource files (CMakeLists.txt
// builds them in): attend's page for one sentence pair, its data inside, and serve's page, a
// translation form that asks the server for its data. Both show the shared attention view
// (attention_view.js and .css). Self-contained: no network reference, no external file.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace spotlight {

// attend_json's object `data` (its "source" in the title) as a page.
std::string attend_page(const nlohmann::json& data);
// The page `spotlight serve` answers GET / with.
std::string serve_page();

}  // namespace spotlight

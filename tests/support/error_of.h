// error_of.h — the message of the spotlight::Error a call throws, for tests that check it.
#pragma once

#include <functional>
#include <string>

#include "spotlight/check.h"

namespace spotlight::testing {

// What f() throws as spotlight::Error, or "(no error)".
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace spotlight::testing

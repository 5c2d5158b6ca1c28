// check.h — the one way library code reports bad input or broken invariants: throw an Error
// that names the caller's file and line. Library code never exits; only main catches.
#pragma once

#include <source_location>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace spotlight {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Throws Error(msg) unless cond holds. The message is for users: say what is wrong and what to do.
inline void require(bool cond, std::string_view msg,
                    std::source_location loc = std::source_location::current()) {
  if (!cond) [[unlikely]] {
    std::string s(msg);
    s += " [";
    s += loc.file_name();
    s += ":" + std::to_string(loc.line()) + "]";
    throw Error(s);
  }
}

std::string shape_str(const std::vector<long>& shape);

class Tensor;
// Throws unless t has exactly this shape; `what` names the tensor in the message.
void require_shape(const Tensor& t, const std::vector<long>& shape, std::string_view what,
                   std::source_location loc = std::source_location::current());

}  // namespace spotlight

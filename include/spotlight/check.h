// check.h — the one way library code reports bad input or broken invariants: throw an Error
// that names the caller's file and line. Library code never exits; only main catches.
#pragma once

#include <version>
#if defined(__cpp_lib_source_location)
#include <source_location>
#endif
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace spotlight {

// The caller's file and line. std::source_location where the library has it; clang 14 with
// libstdc++ 12 (the fuzzing build) lacks it, and gets the same from the builtins it is made of.
#if defined(__cpp_lib_source_location)
using SourceLocation = std::source_location;
#else
struct SourceLocation {
  static constexpr SourceLocation current(const char* file = __builtin_FILE(),
                                          unsigned line = __builtin_LINE()) {
    SourceLocation l;
    l.file_ = file;
    l.line_ = line;
    return l;
  }
  constexpr const char* file_name() const { return file_; }
  constexpr unsigned line() const { return line_; }

 private:
  const char* file_ = "";
  unsigned line_ = 0;
};
#endif

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Throws Error(msg) unless cond holds. The message is for users: say what is wrong and what to do.
inline void require(bool cond, std::string_view msg,
                    SourceLocation loc = SourceLocation::current()) {
  if (!cond) [[unlikely]] {
    std::string s(msg);
    s += " [";
    s += loc.file_name();
    s += ":" + std::to_string(loc.line()) + "]";
    throw Error(s);
  }
}

// As above, but the message is built only on failure: use this wherever the message needs
// concatenation and the check sits on a hot path, e.g. require(ok, [&] { return name + "…"; }).
template <class MakeMessage>
requires std::is_invocable_r_v<std::string, MakeMessage>
inline void require(bool cond, MakeMessage&& make_message,
                    SourceLocation loc = SourceLocation::current()) {
  if (!cond) [[unlikely]]
    require(false, std::string_view(make_message()), loc);
}

std::string shape_str(const std::vector<long>& shape);

class Tensor;
// Throws unless t has exactly this shape; `what` names the tensor in the message.
void require_shape(const Tensor& t, const std::vector<long>& shape, std::string_view what,
                   SourceLocation loc = SourceLocation::current());

}  // namespace spotlight

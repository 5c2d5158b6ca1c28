// check.h — the one way library code reports bad input or broken invariants: throw an Error
// that carries the caller's file and line beside the message. Library code never exits; only
// main catches: it prints the message (the location only with SPOTLIGHT_DEBUG=1, since users
// should never see the build's source paths) and exits 1, or 2 for a UsageError.
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

// what() is the message for users; where() is "file:line" of the check that threw.
struct Error : std::runtime_error {
  explicit Error(const std::string& msg, std::string where = {})
      : std::runtime_error(msg), where_(std::move(where)) {}
  const std::string& where() const { return where_; }

 private:
  std::string where_;
};

// A mistake in how a command was called (a flag's value out of range, an output path that
// cannot be written): main exits with status 2, as for an unknown flag.
struct UsageError : Error {
  using Error::Error;
};

inline std::string where_str(SourceLocation loc) {
  return std::string(loc.file_name()) + ":" + std::to_string(loc.line());
}

// Throws Error(msg) unless cond holds. The message is for users: say what is wrong and what to do.
inline void require(bool cond, std::string_view msg,
                    SourceLocation loc = SourceLocation::current()) {
  if (!cond) [[unlikely]]
    throw Error(std::string(msg), where_str(loc));
}

// Throws UsageError(msg) unless cond holds: for checks of command-line values.
inline void require_usage(bool cond, std::string_view msg,
                          SourceLocation loc = SourceLocation::current()) {
  if (!cond) [[unlikely]]
    throw UsageError(std::string(msg), where_str(loc));
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

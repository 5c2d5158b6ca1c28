#!/bin/sh
# ctest runs each doctest case by name (doctest_discover_tests). A ';' splits a name into two
# ctest entries whose filters match nothing, and a '[' makes a filter pattern: either way the
# case would "pass" without running. Fails, naming the cases, if any name holds one — and fails
# if the binary cannot list its cases, so a missing binary is not a pass.
# Usage: check_test_names.sh path/to/spotlight_tests
names=$("$1" --list-test-cases --no-version | grep -v "^\[doctest\]") || {
  echo "cannot list the test cases of '$1'"
  exit 1
}
bad=$(printf '%s\n' "$names" | grep -n "[;[]")
if [ -n "$bad" ]; then
  echo "test case names with ';' or '[' (ctest would not run them):"
  echo "$bad"
  exit 1
fi
echo "all $(printf '%s\n' "$names" | wc -l) test case names are whole for ctest"

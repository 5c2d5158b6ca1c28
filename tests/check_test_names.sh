#!/bin/sh
# ctest runs each doctest case by name (doctest_discover_tests). A ';' splits a name into two
# ctest entries whose filters match nothing, and a '[' makes a filter pattern: either way the
# case would "pass" without running. Fails, naming the cases, if any name holds one.
# Usage: check_test_names.sh path/to/spotlight_tests
bad=$("$1" --list-test-cases --no-version | grep -v "^\[doctest\]" | grep -n "[;[]")
if [ -n "$bad" ]; then
  echo "test case names with ';' or '[' (ctest would not run them):"
  echo "$bad"
  exit 1
fi
echo "every test case name is whole for ctest"

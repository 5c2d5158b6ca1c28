#!/bin/sh
# The include graph runs one way: core (include/spotlight/*.h, src/*.cpp) → layers → model →
# data, eval → decode → train → serve → cli (src/cli, src/main.cpp). Fails, naming each file and the
# include that runs against that order.
# Usage: check_layers.sh SOURCE_DIR
cd "$1" || exit 1
rank() {  # the layer of a path below include/spotlight/ or src/
  case "$1" in
    layers/*) echo 1 ;; model/*) echo 2 ;; data/*|eval/*) echo 3 ;; decode/*) echo 4 ;;
    train/*) echo 5 ;; serve/*) echo 6 ;; cli/*|main.cpp) echo 7 ;; */*) echo 9 ;; *) echo 0 ;;
  esac
}
bad=0 files=0
for f in $(find include/spotlight src -name '*.h' -o -name '*.cpp' | sort); do
  files=$((files + 1))
  own=$(rank "${f#include/spotlight/}")
  [ "${f#src/}" != "$f" ] && own=$(rank "${f#src/}")
  # The private headers: src/cli's (cli/...) belong to the commands alone.
  if [ "$own" -lt 7 ] && grep -q '^#include "cli/' "$f"; then
    echo "$f includes a header of src/cli, which only the commands may"
    bad=1
  fi
  for inc in $(sed -n 's/^#include "spotlight\/\([^"]*\)".*/\1/p' "$f"); do
    r=$(rank "$inc")
    if [ "$r" -gt "$own" ]; then
      echo "$f includes spotlight/$inc, which is above it (core → layers → model → data, eval → decode → train → serve → cli)"
      bad=1
    fi
  done
done
[ "$bad" = 0 ] && echo "the includes of $files files run one way"
exit $bad

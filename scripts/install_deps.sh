#!/usr/bin/env bash
# Installs Spotlight's build and test dependencies from Debian's packages. Idempotent: packages
# already present are left alone, and apt is not touched at all when nothing is missing.
#   scripts/install_deps.sh            # build + test dependencies (incl. python3-torch for parity)
#   scripts/install_deps.sh --no-torch # skip the PyTorch parity test's dependency
#   scripts/install_deps.sh --no-fuzz  # skip clang + libFuzzer (scripts/fuzz.sh)
set -euo pipefail

want_torch=1
want_fuzz=1
for arg in "$@"; do
  case "$arg" in
    --no-torch) want_torch=0 ;;
    --no-fuzz) want_fuzz=0 ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "install_deps.sh: unknown option '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

pkgs=(build-essential cmake pkg-config libopenblas-dev libsentencepiece-dev sentencepiece
      nlohmann-json3-dev libcli11-dev libspdlog-dev doctest-dev libicu-dev libssl-dev
      libcpp-httplib-dev curl libopenmpi-dev openmpi-bin libdnnl-dev ocl-icd-opencl-dev)
# ocl-icd-opencl-dev: Debian's oneDNN is built with its OpenCL GPU runtime, and its CMake config
# (dnnl-config.cmake) requires OpenCL's headers and loader even for CPU use; libdnnl-dev only
# recommends the package, and recommends are not installed here.
# clang and its runtimes: the libFuzzer harnesses (scripts/fuzz.sh). Not needed to build or train.
[ "$want_fuzz" = 1 ] && pkgs+=(clang libclang-rt-14-dev)
# chromium (headless) and python3-websocket drive the server's page in tests/browser/page_test.py.
pkgs+=(chromium python3-websocket)
# python3-torch runs tests/torch_parity.py; numpy comes with it. python3-sentencepiece is for
# the PyTorch peer of scripts/bench.sh --peer (not needed by the tests).
[ "$want_torch" = 1 ] && pkgs+=(python3 python3-torch python3-numpy python3-sentencepiece)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "install_deps.sh: all dependencies present"
  exit 0
fi

echo "install_deps.sh: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"

#!/usr/bin/env bash
# Build llama.cpp's `llama-bench` from the llama.cpp vendored in the llama-cpp-python sdist, for
# `python benchmarks/export_speed.py --llama-bench PATH` (llama.cpp on the shipped GGUF, side by side).
# Needs cmake and a C++ compiler; about 15 minutes on 2 cores. Not run by the tests.
#
# Usage: bash benchmarks/build_llama_bench.sh [BUILD_DIR]   (default: ../llama-build, outside the repo)
# Prints the binary's path last. Set LLAMA_CPP_PYTHON_VERSION to pin the sdist (default: the newest).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD_DIR="$(mkdir -p "${1:-$ROOT/../llama-build}" && cd "${1:-$ROOT/../llama-build}" && pwd)"
PIP="${PIP:-$ROOT/.venv/bin/pip}"
SPEC="llama-cpp-python${LLAMA_CPP_PYTHON_VERSION:+==$LLAMA_CPP_PYTHON_VERSION}"
JOBS="${JOBS:-$(nproc)}"

cd "$BUILD_DIR"
sdist="$(ls llama_cpp_python-*.tar.gz 2>/dev/null | sort -V | tail -n 1 || true)"
if [ -z "$sdist" ]; then
    "$PIP" download --no-binary :all: --no-deps "$SPEC" -d .
    sdist="$(ls llama_cpp_python-*.tar.gz | sort -V | tail -n 1)"
fi
source_dir="${sdist%.tar.gz}"
[ -d "$source_dir" ] || tar xzf "$sdist"

# Only the llama-bench target; native CPU code (what a user running it here gets), no network features.
cmake -S "$source_dir/vendor/llama.cpp" -B build -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_TOOLS=ON \
    -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DBUILD_SHARED_LIBS=OFF
nice -n 19 cmake --build build --target llama-bench -j "$JOBS"
echo "$BUILD_DIR/build/bin/llama-bench"

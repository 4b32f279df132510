#!/usr/bin/env bash
# tools/gpu/pack.sh: bundle a CUDA build made on this machine, with the host shared
# libraries it needs, for a GPU machine that has the CUDA toolkit and driver but not the
# project's host libraries (OpenBLAS, jansson, libcurl, libarchive and what they load).
# Writes .gpu-carry/build.tar.xz (the program, the test and bench binaries) and
# .gpu-carry/libs.tar.xz (every shared library they load except glibc's own, the C++
# runtime and CUDA's). On the GPU machine, `tools/gpu/check.sh --carried` unpacks both
# and runs the checks with LD_LIBRARY_PATH pointing at the libraries.
# The build's glibc must not be newer than the GPU machine's (built on Debian 12: 2.36).
# Usage: tools/gpu/pack.sh   (env BUILD, default build; builds `all bench` with CUDA=1 first)
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
make -j"$(nproc)" CUDA=1 BUILD="$BUILD" all bench >/dev/null
out=.gpu-carry
rm -rf "$out"; mkdir -p "$out/lib"
bins=("$BUILD/compacter" "$BUILD/bench"/* $(ls "$BUILD"/tests/test_* | grep -v '\.d$'))
for b in "${bins[@]}"; do ldd "$b"; done | awk '/=>/ && $3 ~ /^\// {print $3}' | sort -u |
  grep -v -E '/(libc|libm|libpthread|libdl|librt|libutil|libresolv|libstdc\+\+|libgcc_s)\.so|ld-linux|/cuda' |
  while read -r l; do cp -L "$l" "$out/lib/"; done
tar -C "$out/lib" -cf - . | xz -T0 -6 >"$out/libs.tar.xz"
rm -rf "$out/lib"
tar -cf - "${bins[@]}" | xz -T0 -3 >"$out/build.tar.xz"
# the real vocabulary and GLUE/SuperGLUE dev sets (../shared/data, ~8 MB) for the tests
# that read them (test_paper_rehearsal, the tokenizer tests): ../shared does not travel to
# the GPU machine; check.sh --carried points COMPACTER_SHARED_DATA at this copy
shared=${COMPACTER_SHARED_DATA:-../shared/data}
if [ -d "$shared" ]; then
  tar -C "$shared" -cf - . | xz -T0 -6 >"$out/shared-data.tar.xz"
else
  echo "pack.sh: $shared not found: the GPU machine's tests that need it will SKIP" >&2
fi
du -h "$out"/*.tar.xz

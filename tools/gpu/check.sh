#!/usr/bin/env bash
# tools/gpu/check.sh: the CUDA backend's checks on a GPU machine, in one go:
#   1. build with CUDA=1 (`make -j`), unless --prebuilt (then the tree in $BUILD is used
#      as it is; make still rebuilds whatever is out of date);
#   2. `make test` (every test; the SKIPs are listed);
#   3. build/tests/test_cuda_ops alone, which must PASS (not SKIP); then
#      build/tests/test_profiler alone, which must PASS too (CUPTI kernel sums vs CUDA
#      events, profiler overhead < 5%, MEMORY2 peak); then build/tests/test_paper_rehearsal
#      with COMPACTER_REHEARSAL_DEVICE=cuda (the paper presets end to end on the GPU against
#      a local mirror; a SKIP shows as such); with --bench also bench/gpu/run.sh
#      (our GPU training step vs PyTorch; needs torch + transformers, see that script); with
#      --fuzz also the differential fuzz tools on --device cuda (tools/fuzz_t5_vs_hf.py,
#      fuzz_t5_grads_vs_torch.py, fuzz_methods_grads_vs_torch.py: logits and training
#      gradients of random T5 shapes and method options against transformers / PyTorch
#      autograd; FUZZ_CASES each, default 20; SKIP when $PYTHON lacks torch + transformers);
#   4. test_cuda_ops under compute-sanitizer: memcheck (with leak check), racecheck,
#      synccheck.
# Prints one line per step and a summary; exits non-zero when any step fails. Logs go
# to $BUILD/gpu-check/.
#
# Needs: an NVIDIA GPU of compute capability 8.0 or newer (the build has sm_80, sm_90
# and compute_90 PTX), a driver for CUDA 13, the CUDA 13 toolkit (nvcc, cuBLAS, CUPTI,
# compute-sanitizer) under $CUDA_HOME (default /usr/local/cuda), gcc and the host
# libraries of the CPU build (OpenBLAS, jansson, libcurl, libarchive). Run from anywhere;
# it works in the repository that holds it. Time: the sanitizers slow the test by
# 10-100x (a few minutes in all).
#
# Usage: tools/gpu/check.sh [--prebuilt | --carried] [--bench] [--fuzz] [--no-sanitize]
#        --carried: unpack .gpu-carry/ made by tools/gpu/pack.sh on another machine (the
#          binaries and their host libraries) and run those; nothing is compiled here, so
#          the GPU machine needs neither the host libraries' headers nor make's rebuilds
#        tools/gpu/check.sh --cpu-selftest   (no GPU needed: builds test_cuda_ops with
#          -DCUDA_OPS_SELFTEST_ON_CPU in build-selftest/ and runs its training part with
#          the CPU backend on both sides: a check of the test's own code, not of CUDA)
#   env: BUILD (default build), CUDA_HOME, JOBS (default nproc), LEAK_CHECK=0 to drop
#        memcheck's leak check, STEP_TIMEOUT (seconds per step; default none), LOGS (log
#        folder, default $BUILD/gpu-check), SANITIZERS (default "memcheck racecheck synccheck"),
#        PYTHON (default python3), FUZZ_CASES (default 20).
set -u
usage() { sed -n '2,38p' "$0" | sed 's/^# \{0,1\}//'; }
prebuilt=0
carried=0
bench=0
fuzz=0
sanitize=1
selftest=0
for arg in "$@"; do
  case $arg in
    --prebuilt) prebuilt=1 ;;
    --carried) prebuilt=1; carried=1 ;;
    --no-sanitize) sanitize=0 ;;
    --cpu-selftest) selftest=1 ;;
    --bench) bench=1 ;;
    --fuzz) fuzz=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "check.sh: unknown argument '$arg' (see --help)" >&2; exit 2 ;;
  esac
done

cd "$(dirname "$0")/../.." || exit 2
BUILD=${BUILD:-build}
CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}
JOBS=${JOBS:-$(nproc)}
export PATH="$CUDA_HOME/bin:$PATH"
logs=${LOGS:-$BUILD/gpu-check}
mkdir -p "$logs"
to=()
[ -n "${STEP_TIMEOUT:-}" ] && to=(timeout -k 10 "$STEP_TIMEOUT")

failed=()
step() { # step NAME LOGFILE COMMAND...: run, print PASS/FAIL with the log's tail
  local name=$1 log=$2; shift 2
  local t0=$SECONDS
  if "${to[@]}" "$@" >"$log" 2>&1; then
    printf 'PASS %-28s %5ss\n' "$name" $((SECONDS - t0))
    return 0
  fi
  printf 'FAIL %-28s %5ss  (log: %s)\n' "$name" $((SECONDS - t0)) "$log"
  tail -n 30 "$log" | sed 's/^/    /'
  failed+=("$name")
  return 1
}

summary() {
  if [ ${#failed[@]} -eq 0 ]; then echo "gpu check: all passed"; exit 0; fi
  echo "gpu check: FAILED: ${failed[*]}"; exit 1
}

if [ $selftest -eq 1 ]; then
  sb=build-selftest
  mkdir -p "$sb"
  step "build the CPU self-test" "$sb/build.log" env CFLAGS="-DCUDA_OPS_SELFTEST_ON_CPU -Wno-unused-function" \
    make -j"$JOBS" BUILD="$sb" "$sb/tests/test_cuda_ops" || summary
  step "test_cuda_ops CPU self-test" "$sb/selftest.log" "$sb/tests/test_cuda_ops"
  tail -n 1 "$sb/selftest.log" | sed 's/^/    /'
  summary
fi

# --- the machine ---
if ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L >"$logs/gpus.log" 2>&1; then
  echo "FAIL no GPU visible (nvidia-smi -L failed or missing)"; failed+=("gpu"); summary
fi
sed 's/^/gpu: /' "$logs/gpus.log"
if ! command -v nvcc >/dev/null; then
  echo "FAIL nvcc not found under $CUDA_HOME/bin or on PATH"; failed+=("nvcc"); summary
fi
sanitizer=$(command -v compute-sanitizer || true)
[ -z "$sanitizer" ] && [ -x "$CUDA_HOME/compute-sanitizer/compute-sanitizer" ] && sanitizer="$CUDA_HOME/compute-sanitizer/compute-sanitizer"

# --- build and tests ---
if [ $carried -eq 1 ]; then
  [ -f .gpu-carry/build.tar.xz ] && [ -f .gpu-carry/libs.tar.xz ] ||
    { echo "FAIL .gpu-carry/{build,libs}.tar.xz missing (make them with tools/gpu/pack.sh)"; failed+=("carry"); summary; }
  mkdir -p .gpu-carry/lib
  tar -xJf .gpu-carry/build.tar.xz && tar -C .gpu-carry/lib -xJf .gpu-carry/libs.tar.xz ||
    { echo "FAIL unpacking .gpu-carry"; failed+=("carry"); summary; }
  export LD_LIBRARY_PATH="$PWD/.gpu-carry/lib:$CUDA_HOME/lib64:$CUDA_HOME/extras/CUPTI/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  if [ -f .gpu-carry/shared-data.tar.xz ]; then # ../shared/data, carried by pack.sh
    mkdir -p .gpu-carry/shared-data && tar -C .gpu-carry/shared-data -xJf .gpu-carry/shared-data.tar.xz &&
      export COMPACTER_SHARED_DATA="$PWD/.gpu-carry/shared-data"
  fi
  if ldd "$BUILD/tests/test_cuda_ops" | grep -q 'not found'; then
    echo "FAIL libraries not found:"; ldd "$BUILD/tests/test_cuda_ops" | grep 'not found' | sed 's/^/    /'
    failed+=("libraries"); summary
  fi
fi
if [ $prebuilt -eq 0 ]; then
  step "build (make -j CUDA=1)" "$logs/build.log" make -j"$JOBS" CUDA=1 CUDA_HOME="$CUDA_HOME" BUILD="$BUILD" || summary
fi
t="$BUILD/tests/test_cuda_ops"
[ -x "$t" ] || { echo "FAIL $t is missing (build with CUDA=1 first)"; failed+=("test_cuda_ops missing"); summary; }

if [ $prebuilt -eq 1 ]; then # the binaries as they are: make would rebuild what looks out of date
  step "all tests" "$logs/make-test.log" env BUILD="$BUILD" bash tests/run_tests.sh $(ls "$BUILD"/tests/test_* | grep -v '\.d$')
else
  step "make test" "$logs/make-test.log" make test CUDA=1 CUDA_HOME="$CUDA_HOME" BUILD="$BUILD"
fi
if grep -q '^SKIP' "$logs/make-test.log"; then
  grep '^SKIP' "$logs/make-test.log" | sed 's/^/    /'
  echo "     (tests that SKIP on a GPU machine are listed above; test_cuda_ops must not)"
fi

# test_cuda_ops must run here, not SKIP (exit 77 would count as a pass in make test)
step "test_cuda_ops (no SKIP)" "$logs/test_cuda_ops.log" "$t"
grep -E '^(SKIP|FAIL)' "$logs/test_cuda_ops.log" | head -5 | sed 's/^/    /'

# test_profiler must run its GPU part here, not SKIP
tp="$BUILD/tests/test_profiler"
step "test_profiler (no SKIP)" "$logs/test_profiler.log" "$tp"
grep -E '^(SKIP|FAIL)|  ok |overhead|profile \(' "$logs/test_profiler.log" | head -12 | sed 's/^/    /'
# the paper preset's path end to end on the GPU, against a local mirror (needs python3 and
# ../shared/data, which pack.sh carries): Tables 1-3 and Figure 4 on --device cuda
step "paper rehearsal on cuda" "$logs/rehearsal-cuda.log" env COMPACTER_REHEARSAL_DEVICE=cuda BUILD="$BUILD" \
  "$BUILD/tests/test_paper_rehearsal"
grep -E '^(SKIP|FAIL)' "$logs/rehearsal-cuda.log" | head -8 | sed 's/^/    /'
if [ $bench -eq 1 ]; then
  [ $prebuilt -eq 0 ] && step "make bench" "$logs/make-bench.log" make -j"$JOBS" CUDA=1 CUDA_HOME="$CUDA_HOME" BUILD="$BUILD" bench
  step "bench/gpu/run.sh" "$logs/bench-gpu.log" env BUILD="$BUILD" bench/gpu/run.sh
  grep -E '^(\[[A-Z_]+=[^]]*\] )?(compacter gpu step|pytorch gpu step|ratio|bf16|method .* skipped)' "$logs/bench-gpu.log" | sed 's/^/    /'
fi

if [ $fuzz -eq 1 ]; then
  py=${PYTHON:-python3}
  if "$py" -c "import torch, transformers, safetensors" >/dev/null 2>&1; then
    for tool in fuzz_t5_vs_hf fuzz_t5_grads_vs_torch fuzz_methods_grads_vs_torch; do
      step "$tool (cuda)" "$logs/$tool.log" "$py" "tools/$tool.py" --bin "$BUILD/compacter" --device cuda \
        --cases "${FUZZ_CASES:-20}"
      tail -n 1 "$logs/$tool.log" | sed 's/^/    /'
    done
  else
    echo "SKIP differential fuzz: $py cannot import torch, transformers and safetensors"
  fi
fi

# --- compute-sanitizer ---
if [ $sanitize -eq 0 ]; then
  echo "---- compute-sanitizer skipped (--no-sanitize)"
elif [ -z "$sanitizer" ]; then
  echo "FAIL compute-sanitizer not found (looked on PATH and in $CUDA_HOME/compute-sanitizer)"
  failed+=("compute-sanitizer missing")
else
  leak=(--leak-check full)
  [ "${LEAK_CHECK:-1}" = 0 ] && leak=()
  for tool in ${SANITIZERS:-memcheck racecheck synccheck}; do
    extra=()
    [ $tool = memcheck ] && extra=("${leak[@]}")
    step "compute-sanitizer $tool" "$logs/sanitizer-$tool.log" \
      "$sanitizer" --tool $tool --error-exitcode 1 --print-limit 20 "${extra[@]}" "$t"
    # the tool's own verdict line, e.g. "========= ERROR SUMMARY: 0 errors"
    grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$logs/sanitizer-$tool.log" | tail -n 2 | sed 's/^/    /'
  done
fi
summary

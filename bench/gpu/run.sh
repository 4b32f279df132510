#!/usr/bin/env bash
# GPU training step (forward, backward, AdamW) on a t5-base-shaped random model, batch 100,
# source 128, target 3: this program (bench_gpu.c: full FT, adapter, compacter++, bitfit,
# prompt-tuning-r, intrinsic-said; fp32, tf32, bf16 GEMMs) against PyTorch +
# transformers eager (bench_torch.py: full FT, Houlsby adapters, Compacter++), one after the
# other on the same GPU; prints both and the ratios (tokens/s and peak memory, ours/theirs).
#
# Needs: an NVIDIA GPU (sm_80 or newer) with a CUDA 13 driver; `make bench` built with
# CUDA=1 (run.sh builds it when build/bench/gpu is missing); a python with torch (CUDA
# build) and transformers: PYTHON=..., default the first of python3 and ~/.venvs/ref/bin/python
# that imports torch and transformers. Takes a few minutes (t5-base, 2 precisions, 6 + 3 runs).
#
# env: BUILD (default build), ARGS (default: --batch 100 --src 128 --tgt 3 --iters 5),
#      METHODS, PRECISIONS (comma lists), TORCH=0 to skip the PyTorch side, VARIANTS
#      (space-separated VAR=value settings to run ours again under, for A/B comparisons).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
ARGS=${ARGS:---batch 100 --src 128 --tgt 3 --iters 5}
METHODS=${METHODS:-full,adapter,compacter++,bitfit,prompt-tuning-r,intrinsic-said}
PRECISIONS=${PRECISIONS:-fp32,tf32,bf16}

if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "bench/gpu/run.sh: no NVIDIA GPU visible (nvidia-smi -L failed or is missing): this bench needs one" >&2
  exit 2
fi
nvidia-smi -L | sed 's/^/gpu: /'
if [ ! -x "$BUILD/bench/gpu" ]; then
  make -j"$(nproc)" CUDA=1 BUILD="$BUILD" bench >/dev/null
fi

# each side's lines appear as they come (a run cut off by a time limit still shows what it did)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$BUILD/bench/gpu" $ARGS --methods "$METHODS" --precisions "$PRECISIONS" | tee "$tmp/ours" || true
ours=$(cat "$tmp/ours")
# A/B runs of ours alone under other settings (VARIANTS: space-separated VAR=value items,
# e.g. "COMPACTER_KEEP_ATTENTION_PROBS=1 COMPACTER_OPTIM_PER_TENSOR=1"), each line prefixed
# with the setting; the ratios below use the default run only
for v in ${VARIANTS:-}; do
  echo "variant $v:"
  env "$v" "$BUILD/bench/gpu" $ARGS --methods "$METHODS" --precisions "$PRECISIONS" | sed "s/^/[$v] /" || true
done

if [ "${TORCH:-1}" = 0 ]; then exit 0; fi
if [ -z "${PYTHON:-}" ]; then
  for p in python3 "$HOME/.venvs/ref/bin/python"; do
    if "$p" -c 'import torch, transformers' >/dev/null 2>&1; then PYTHON=$p; break; fi
  done
fi
if [ -z "${PYTHON:-}" ]; then
  echo "bench/gpu/run.sh: no python with torch and transformers (set PYTHON=...); PyTorch side skipped" >&2
  exit 2
fi
if ! "$PYTHON" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' >/dev/null 2>&1; then
  echo "bench/gpu/run.sh: $PYTHON's torch sees no CUDA device (a CPU-only build?); PyTorch side skipped" >&2
  exit 2
fi
PYTHONUNBUFFERED=1 "$PYTHON" bench/gpu/bench_torch.py $ARGS --methods "$METHODS" --precisions "$PRECISIONS" \
  2>"$tmp/torch.err" | tee "$tmp/theirs" || { echo "bench_torch.py failed:"; tail -n 20 "$tmp/torch.err"; }
theirs=$(cat "$tmp/theirs")

# ratios per (method, precision) present on both sides
{ echo "$ours"; echo "@@"; echo "$theirs"; } | awk '
  function after(key,   i) { for (i = 1; i < NF; i++) if ($i == key) return $(i + 1); return "" }
  function before(key,  i) { for (i = 2; i <= NF; i++) if ($i == key) return $(i - 1); return "" }
  $0 == "@@" { side = 2; next }
  /^compacter gpu step:/ || /^pytorch gpu step:/ {
    k = after("method") " " after("prec")
    tok = before("tokens/s,"); if (tok == "") tok = before("tokens/s")
    if (side == 2) { their_tok[k] = tok; their_mem[k] = after("peak"); next }
    mem = after("cupti-peak"); if (mem == "n/a" || mem == "") mem = after("accounted")
    our_tok[k] = tok; our_mem[k] = mem; order[++n] = k
  }
  END {
    for (i = 1; i <= n; i++) {
      k = order[i]
      if (!(k in their_tok)) continue
      printf "ratio compacter/pytorch %-24s tokens/s %.2f  peak memory %.2f (%s vs %s MiB)\n", k,
             our_tok[k] / their_tok[k], our_mem[k] / their_mem[k], our_mem[k], their_mem[k]
    }
  }'

#!/usr/bin/env bash
# CPU forward throughput: this program vs PyTorch eager on the same t5-small-shaped random
# model, batch, lengths and thread count, run one after the other; prints the ratio.
# Needs: `make bench` built, and a python with torch + transformers (PYTHON=..., default
# ~/.venvs/ref/bin/python).
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-$HOME/.venvs/ref/bin/python}
THREADS=${THREADS:-$(nproc)}
ARGS=${ARGS:---batch 8 --src 128 --tgt 16 --iters 5}
BUILD=${BUILD:-build}
# idle OpenMP workers sleep: spinning ones distort timings on a shared machine
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
ours=$(OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS "$BUILD/bench/forward_cpu" $ARGS)
theirs=$(OMP_NUM_THREADS=$THREADS "$PYTHON" bench/forward_cpu/bench_torch.py $ARGS --threads "$THREADS" 2>/dev/null)
echo "$ours"
echo "$theirs"
a=$(echo "$ours" | sed -E 's/.* ([0-9]+) tokens\/s.*/\1/')
b=$(echo "$theirs" | sed -E 's/.* ([0-9]+) tokens\/s.*/\1/')
awk -v a="$a" -v b="$b" 'BEGIN { printf "ratio compacter/pytorch tokens/s: %.2f\n", a / b }'

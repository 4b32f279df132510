#!/usr/bin/env bash
# bench/vs_pytorch.sh NAME: run bench NAME's C program (build/bench/NAME) and its PyTorch peer
# (bench/NAME/bench_torch.py) on the same shapes and thread count, one after the other, and
# print the tokens/s ratio. Needs `make bench` and a python with torch + transformers
# (PYTHON=..., default ~/.venvs/ref/bin/python). ARGS, THREADS, BUILD override the defaults.
set -euo pipefail
name=$1
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-$HOME/.venvs/ref/bin/python}
THREADS=${THREADS:-$(nproc)}
ARGS=${ARGS:---batch 8 --src 128 --tgt 16 --iters 5}
BUILD=${BUILD:-build}
# idle OpenMP workers sleep: spinning ones distort timings on a shared machine
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
ours=$(OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS "$BUILD/bench/$name" $ARGS)
theirs=$(OMP_NUM_THREADS=$THREADS "$PYTHON" "bench/$name/bench_torch.py" $ARGS --threads "$THREADS" 2>/dev/null)
echo "$ours"
echo "$theirs"
a=$(echo "$ours" | sed -E 's/.* ([0-9]+) tokens\/s.*/\1/')
b=$(echo "$theirs" | sed -E 's/.* ([0-9]+) tokens\/s.*/\1/')
awk -v a="$a" -v b="$b" 'BEGIN { printf "ratio compacter/pytorch tokens/s: %.2f\n", a / b }'

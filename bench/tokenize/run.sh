#!/usr/bin/env bash
# bench/tokenize/run.sh: time `compacter tokenize` against HF `tokenizers` (Rust core, via
# Python) on every GLUE dev text in ../shared/data; print ids/s for both and the ratio, and
# check that both produced identical ids.
# Usage: bash bench/tokenize/run.sh [SHARED_DATA_DIR] [PYTHON]   (from the repository root)
set -euo pipefail
SHARED=${1:-../shared/data}
PY=${2:-$HOME/.venvs/ref/bin/python}
TOK=$SHARED/t5-tokenizer/tokenizer.json
BIN=${BIN:-build/compacter}
[ -f "$TOK" ] || { echo "SKIP: $TOK absent"; exit 77; }
[ -x "$BIN" ] || { echo "build first: make CUDA=0"; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$PY" bench/tokenize/extract_glue.py "$SHARED" > "$tmp/glue.txt"
lines=$(wc -l < "$tmp/glue.txt"); bytes=$(wc -c < "$tmp/glue.txt")
"$BIN" tokenize --tokenizer "$TOK" < "$tmp/glue.txt" > /dev/null   # warm the page cache
best=""
for i in 1 2 3; do
  t0=$(date +%s.%N)
  "$BIN" tokenize --tokenizer "$TOK" < "$tmp/glue.txt" > "$tmp/c_ids.txt"
  t1=$(date +%s.%N)
  t=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.4f", b-a}')
  best=$(awk -v a="$t" -v b="${best:-1e9}" 'BEGIN{print (a<b)?a:b}')
done
c_ids=$(wc -w < "$tmp/c_ids.txt")
# load-only time (reading and indexing the 2.5 MB tokenizer.json), subtracted for the rate
t0=$(date +%s.%N); "$BIN" tokenize --tokenizer "$TOK" < /dev/null; t1=$(date +%s.%N)
load=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.4f", b-a}')
hf=$("$PY" bench/tokenize/hf_tokenize.py "$TOK" "$tmp/glue.txt" "$tmp/hf_ids.txt")
if cmp -s "$tmp/c_ids.txt" "$tmp/hf_ids.txt"; then same=identical; else same=DIFFERENT; fi
hf_loop=$(echo "$hf" | awk '/hf_loop/{print $2}'); hf_batch=$(echo "$hf" | awk '/hf_batch/{print $2}')
awk -v n="$c_ids" -v c="$best" -v l="$load" -v hl="$hf_loop" -v hb="$hf_batch" -v lines="$lines" \
    -v bytes="$bytes" -v same="$same" -v nproc="$(nproc)" 'BEGIN{
  printf "GLUE dev texts: %d lines, %d bytes, %d ids (C and HF ids %s)\n", lines, bytes, n, same;
  printf "compacter tokenize (1 thread, whole process): %.3fs  %.0f ids/s  (load %.3fs; %.0f ids/s excluding it)\n", c, n/c, l, n/(c-l);
  printf "HF tokenizers encode loop (1 thread):         %.3fs  %.0f ids/s\n", hl, n/hl;
  printf "HF tokenizers encode_batch (%d cores):         %.3fs  %.0f ids/s\n", nproc, hb, n/hb;
  printf "ratio compacter/HF-loop: %.2fx   compacter/HF-batch: %.2fx\n", hl/c, hb/c }'
[ "$same" = identical ]

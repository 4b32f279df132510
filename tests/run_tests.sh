#!/usr/bin/env bash
# Run each test binary given as an argument from the repository root; print PASS, FAIL or
# SKIP (exit 77, with the reason) per test and a summary. Non-zero exit if any failed.
set -u
# OpenMP workers sleep instead of spinning when idle: on a shared 2-core machine spinning
# workers slowed small tests 5-10x
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
# Freed activation memory is filled with NaN (core/exec.h): a tensor freed while something
# still reads it turns the parity checks into failures instead of passing by luck
export COMPACTER_POISON_FREED=${COMPACTER_POISON_FREED:-1}
pass=0; fail=0; skip=0; failed=()
start=$(date +%s)
for t in "$@"; do
  name=$(basename "$t")
  log=$(mktemp)
  t0=$EPOCHREALTIME
  "$t" >"$log" 2>&1; rc=$?
  dt=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b-a}')
  if [ $rc -eq 0 ]; then
    pass=$((pass+1)); printf 'PASS %-32s %6ss  %s\n' "$name" "$dt" "$(tail -n 1 "$log")"
  elif [ $rc -eq 77 ]; then
    skip=$((skip+1)); printf 'SKIP %-32s %s\n' "$name" "$(grep -m1 '^SKIP' "$log")"
  else
    fail=$((fail+1)); failed+=("$name"); printf 'FAIL %-32s (exit %d)\n' "$name" $rc
    sed 's/^/    /' "$log" | tail -n 40
  fi
  rm -f "$log"
done
echo "tests: $pass passed, $fail failed, $skip skipped in $(( $(date +%s) - start ))s"
[ $fail -eq 0 ] || { echo "failed: ${failed[*]}"; exit 1; }

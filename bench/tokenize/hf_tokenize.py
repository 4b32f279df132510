#!/usr/bin/env python3
"""hf_tokenize.py: time HF `tokenizers` (Rust core) on the lines of a file; print
"<mode> <seconds> <ids>" for a one-at-a-time encode loop and for encode_batch (rayon,
all cores). Writes the ids of the loop to OUT_IDS (same format as `compacter tokenize`)."""
import sys
import time

from tokenizers import Tokenizer

tok = Tokenizer.from_file(sys.argv[1])
with open(sys.argv[2], encoding="utf-8", newline="") as f:
    lines = f.read().split("\n")
if lines and lines[-1] == "":
    lines.pop()
tok.encode_batch(lines[:100])  # warm-up
t0 = time.perf_counter()
encs = [tok.encode(s) for s in lines]
t1 = time.perf_counter()
print("hf_loop %.4f %d" % (t1 - t0, sum(len(e.ids) for e in encs)))
t0 = time.perf_counter()
batch = tok.encode_batch(lines)
t1 = time.perf_counter()
print("hf_batch %.4f %d" % (t1 - t0, sum(len(e.ids) for e in batch)))
with open(sys.argv[3], "w") as f:
    for e in encs:
        f.write(" ".join(map(str, e.ids)) + "\n")

#!/usr/bin/env python3
"""extract_glue.py: print every GLUE dev text (the text columns of the six dev.tsv files in
SHARED/glue-dev) one per line, for bench/tokenize/run.sh. Embedded newlines cannot occur
in TSV fields, so one text is one line."""
import os
import sys

SHARED = sys.argv[1]
COLS = {"CoLA": (0, [3]), "SST-2": (1, [0]), "MRPC": (1, [3, 4]), "QNLI": (1, [1, 2]),
        "RTE": (1, [1, 2]), "STS-B": (1, [7, 8])}
out = sys.stdout
for task, (header, cols) in COLS.items():
    with open(os.path.join(SHARED, "glue-dev", task, "dev.tsv"), encoding="utf-8", newline="") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for line in lines[header:]:
        fields = line.split("\t")
        for c in cols:
            out.write(fields[c] + "\n")

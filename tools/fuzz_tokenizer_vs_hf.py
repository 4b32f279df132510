#!/usr/bin/env python3
"""Differential fuzz of `compacter tokenize` against Hugging Face tokenizers (developers only;
needs the `tokenizers` package, e.g. ~/.venvs/ref/bin/python).

Random strings drawn from many Unicode blocks (ASCII, Latin accents, combining marks,
fullwidth forms, ligatures, CJK, Hangul syllables and jamo, Arabic, Devanagari, Thai, emoji
with skin tones and flags, zero-width and variation selectors, tags, control characters,
the odd spaces) are encoded by both, alone and as pairs; random id sequences (special ids,
added tokens such as <extra_id_N>, ordinary pieces) are decoded by both, with and without
special tokens. Prints the first mismatches and a count; exits 1 when any line differs.

  tools/fuzz_tokenizer_vs_hf.py [--tokenizer ../shared/data/t5-tokenizer/tokenizer.json]
      [--bin build/compacter] [--n 20000] [--max-len 24] [--seed 1]
"""
import argparse
import os
import random
import subprocess
import sys

from tokenizers import Tokenizer

BLOCKS = [(0x20, 0x7E)] * 6 + [
    (0xA0, 0x17F), (0x300, 0x36F), (0xFF01, 0xFF5E), (0xFB00, 0xFB06), (0x4E00, 0x4E80),
    (0x1F300, 0x1F64F), (0x200B, 0x200F), (0xFE00, 0xFE0F), (0x2000, 0x200A), (0x1, 0x1F),
    (0xAC00, 0xAC40), (0x1100, 0x1112), (0x1161, 0x1175), (0x600, 0x6FF), (0x900, 0x97F),
    (0xE00, 0xE7F), (0x2160, 0x2188), (0x3000, 0x303F), (0x1F1E6, 0x1F1FF), (0x1F3FB, 0x1F3FF),
    (0x80, 0x9F), (0xE0020, 0xE007F), (0x10000, 0x1007F), (0x2460, 0x24FF), (0x3300, 0x33FF),
    (0xD7B0, 0xD7FF)]
# characters left out of the texts: the CLI reads one text per line (\r is left out as well)
LINE_BREAKS = set("\n\r")


def run(binary, tok_path, extra, lines):
    p = subprocess.run([binary, "tokenize", "--tokenizer", tok_path] + extra,
                       input="".join(s + "\n" for s in lines).encode(), capture_output=True, check=False)
    if p.returncode:
        sys.exit(f"{binary} tokenize {' '.join(extra)} failed ({p.returncode}): {p.stderr.decode()}")
    return p.stdout.decode().split("\n")[:-1]


def compare(what, inputs, ours, theirs):
    bad = [i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b]
    if len(ours) != len(theirs):
        print(f"{what}: {len(ours)} output lines for {len(theirs)} inputs")
        return 1
    for i in bad[:5]:
        print(f"{what} mismatch, input {inputs[i]!r}:\n  ours   {ours[i]}\n  theirs {theirs[i]}")
    print(f"{what}: {len(inputs)} cases, {len(bad)} differ")
    return len(bad)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tokenizer", default=os.path.join(os.path.dirname(__file__), "../../shared/data/t5-tokenizer/tokenizer.json"))
    ap.add_argument("--bin", default="build/compacter")
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--max-len", type=int, default=24)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    tok = Tokenizer.from_file(a.tokenizer)

    texts = []
    while len(texts) < a.n:
        s = "".join(chr(rng.randint(*rng.choice(BLOCKS))) for _ in range(rng.randint(0, a.max_len)))
        if not LINE_BREAKS.intersection(s):
            texts.append(s)
    bad = compare("encode", texts, run(a.bin, a.tokenizer, [], texts),
                  [" ".join(map(str, tok.encode(s).ids)) for s in texts])

    plain = [s for s in texts if "\t" not in s]
    pairs = [plain[i] + "\t" + plain[i + 1] for i in range(0, len(plain) - 1, 2)]
    bad += compare("encode --pair", pairs, run(a.bin, a.tokenizer, ["--pair"], pairs),
                   [" ".join(map(str, tok.encode(*p.split("\t")).ids)) for p in pairs])

    v = tok.get_vocab_size()
    added = sorted(tok.get_added_tokens_decoder())  # </s>, <pad>, <unk>, <extra_id_N>
    seqs = []
    while len(seqs) < a.n:
        ids = [rng.choice([rng.randrange(v), rng.randrange(0, 3), rng.choice(added), rng.randrange(3, min(300, v))])
               for _ in range(rng.randint(1, 12))]
        if "\n" not in tok.decode(ids, skip_special_tokens=False):
            seqs.append(" ".join(map(str, ids)))
    ids = [list(map(int, s.split())) for s in seqs]
    bad += compare("decode", seqs, run(a.bin, a.tokenizer, ["--decode"], seqs), [tok.decode(x) for x in ids])
    bad += compare("decode --keep-special", seqs, run(a.bin, a.tokenizer, ["--decode", "--keep-special"], seqs),
                   [tok.decode(x, skip_special_tokens=False) for x in ids])
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()

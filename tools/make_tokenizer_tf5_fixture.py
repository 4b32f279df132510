#!/usr/bin/env python3
"""make_tokenizer_tf5_fixture.py: the tiny fixture tokenizer as transformers 5 saves it, and
its reference encodings, for tests/test_tokenizer.c.

transformers 5 rebuilds a T5 tokenizer when it loads one and writes a different
tokenizer.json: the normaliser is the Precompiled charsmap alone (no Strip, no Replace of
space runs), the pre-tokenizer a Sequence [WhitespaceSplit, Metaspace prepend "always"], and
it adds <extra_id_*> tokens up to 100. The ids differ from the original's on rare input
(U+0085 NEL is white space to WhitespaceSplit only).

Writes tests/fixtures/tokenizer/:
  tiny_tf5_tokenizer.json  tiny_tokenizer.json loaded and saved by transformers' T5Tokenizer
  cases_tf5.jsonl          {"tok": "tiny_tf5", ...} cases as in cases.jsonl (HF tokenizers
                           encode and decode of the saved file), on make_tokenizer_fixtures'
                           hard strings plus every White_Space character in context

Usage: ~/.venvs/ref/bin/python tools/make_tokenizer_tf5_fixture.py   (transformers >= 5)
"""
import json
import os
import shutil
import sys
import tempfile

import transformers
from tokenizers import Tokenizer
from transformers import AutoTokenizer

sys.argv = sys.argv[:1]
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_tokenizer_fixtures as base  # noqa: E402

WHITE_SPACE = [chr(c) for c in range(0x110000) if chr(c).isspace()] + ["\u200b", "\u180e", "\ufeff"]


def main():
    assert int(transformers.__version__.split(".")[0]) >= 5, "needs transformers 5"
    out = os.path.join(base.OUT, "tiny_tf5_tokenizer.json")
    with tempfile.TemporaryDirectory() as src, tempfile.TemporaryDirectory() as dst:
        shutil.copy(os.path.join(base.OUT, "tiny_tokenizer.json"), os.path.join(src, "tokenizer.json"))
        with open(os.path.join(src, "tokenizer_config.json"), "w") as f:
            json.dump({"tokenizer_class": "T5Tokenizer", "eos_token": "</s>", "unk_token": "<unk>",
                       "pad_token": "<pad>", "extra_ids": 100}, f)
        AutoTokenizer.from_pretrained(src).save_pretrained(dst)
        with open(os.path.join(dst, "tokenizer.json")) as f:
            saved = json.load(f)
    assert saved["pre_tokenizer"]["type"] == "Sequence", saved["pre_tokenizer"]
    with open(out, "w", encoding="utf-8") as f:
        json.dump(saved, f, ensure_ascii=False, separators=(",", ":"))
    tok = Tokenizer.from_file(out)
    texts = base.hard_strings()
    for c in WHITE_SPACE:
        texts += [f"a{c}b", f"{c}a", f"a{c}", f"a {c} b", c, f"a{c}{c}b", f"<extra_id_3>{c}x"]
    pairs = [("Hello world", "Second part"), ("", ""), (" x ", " y "), ("\u0085a", "b\u3000c"),
             ("</s>", "<extra_id_0> z")]
    cases = base.cases_for("tiny_tf5", tok, texts, pairs)
    with open(os.path.join(base.OUT, "cases_tf5.jsonl"), "w", encoding="utf-8") as f:
        for c in cases:
            f.write(json.dumps(c, ensure_ascii=True) + "\n")
    print(f"wrote {out} and {len(cases)} cases (transformers {transformers.__version__})")


if __name__ == "__main__":
    main()

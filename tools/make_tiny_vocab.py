#!/usr/bin/env python3
"""make_tiny_vocab.py: the tokenizer of the offline `tiny` preset, assets/tiny/tokenizer.json.

A T5-shaped SentencePiece-unigram tokenizer in Hugging Face format (read by
core/tokenizer.h): <pad>=0, </s>=1, <unk>=2, then the trained pieces, then 32
<extra_id_31> ... <extra_id_0> at the end (so <extra_id_0> is the last id, as in T5),
normalizer Strip(right) + Replace(" {2,}" -> "\u2581") (no Precompiled charsmap: the
synthetic text is lower-case ASCII), Metaspace pre-tokenizer/decoder, template
"$A </s>" / "$A </s> $B </s>".

Trained with sentencepiece (unigram, identity normalisation) on text from the C generator
(datasets/synthetic.h) so it covers its closed vocabulary exactly:
  `compacter synthetic --corpus N` sentences, every word of `compacter synthetic --words`,
  the task templates' keys and prefixes, the label targets (0, 1, 2, 0.0 ... 5.0) and the
  printable ASCII characters (so any lower-case ASCII text tokenizes without <unk>); sentencepiece keeps only ~320
pieces of so small a corpus, so every word, key, prefix and target missing as a whole piece
is added as "\u2581word" scored by its corpus log-frequency (single-token words).
Deterministic (num_threads=1, fixed inputs). tests/test_synthetic.c checks that every
synthetic text tokenizes without <unk>.
Usage: ~/.venvs/ref/bin/python tools/make_tiny_vocab.py [path/to/compacter]
"""
import collections
import io
import math
import os
import subprocess
import sys

import sentencepiece as spm
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "assets", "tiny", "tokenizer.json")
PROG = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "compacter")
N_EXTRA = 32
VOCAB_SIZE = 1000

KEYS = ["sentence:", "sentence1:", "sentence2:", "premise:", "hypothesis", "hypothesis:",
        "question:", "question1:", "question2:", "passage:", "choice1:", "choice2:"]
PREFIXES = ["cola", "sst2", "mrpc", "qqp", "stsb", "mnli", "qnli", "rte", "wnli",
            "superglue-boolq", "superglue-cb", "superglue-rte"]
TARGETS = ["0", "1", "2"] + ["%.1f" % (i / 10) for i in range(51)]


def run(*args):
    return subprocess.run([PROG, "synthetic"] + list(args), check=True, capture_output=True,
                          text=True).stdout.splitlines()


def training_text():
    words = run("--words")
    lines = run("--corpus", "20000", "--seed", "12345")
    lines += [" ".join(words)] * 20
    lines += [" ".join(KEYS + PREFIXES)] * 50
    lines += [" ".join(TARGETS)] * 50
    lines += [" ".join(chr(c) for c in range(33, 127))]
    return lines, words


def main():
    lines, words = training_text()
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_writer=model, vocab_size=VOCAB_SIZE,
        hard_vocab_limit=False, model_type="unigram", normalization_rule_name="identity",
        pad_id=0, eos_id=1, unk_id=2, bos_id=-1, character_coverage=1.0, num_threads=1,
        minloglevel=2, add_dummy_prefix=True, split_digits=False)
    sp = spm.SentencePieceProcessor(model_proto=model.getvalue())
    vocab = []
    for i in range(sp.get_piece_size()):
        score = 0.0 if sp.is_control(i) or sp.is_unknown(i) else float(sp.get_score(i))
        vocab.append((sp.id_to_piece(i), score))
    # sentencepiece keeps only ~320 pieces of this small closed corpus (most words split);
    # add every missing whole word "\u2581word" as a unigram piece scored by its corpus
    # log-frequency (the unigram model's own estimate), so words are single tokens.
    have = {p for p, _ in vocab}
    counts = collections.Counter(w for line in lines for w in line.split())
    total = sum(counts.values())
    for w in sorted(set(words) | set(KEYS) | set(PREFIXES) | set(TARGETS)):
        if "\u2581" + w not in have:
            vocab.append(("\u2581" + w, math.log(max(counts[w], 1) / total)))
    vocab += [("<extra_id_%d>" % i, 0.0) for i in range(N_EXTRA - 1, -1, -1)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=2, byte_fallback=False))
    tok.normalizer = normalizers.Sequence([
        normalizers.Strip(left=False, right=True),
        normalizers.Replace(Regex(" {2,}"), "\u2581")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="first")
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always")
    tok.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", 1)])
    tok.add_special_tokens(["<pad>", "</s>", "<unk>"] +
                           ["<extra_id_%d>" % i for i in range(N_EXTRA - 1, -1, -1)])
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    tok.save(OUT, pretty=False)
    # sanity: the synthetic words and corpus never hit <unk>
    tok = Tokenizer.from_file(OUT)
    assert tok.token_to_id("<pad>") == 0 and tok.token_to_id("</s>") == 1
    assert tok.token_to_id("<unk>") == 2
    assert tok.token_to_id("<extra_id_0>") == tok.get_vocab_size() - 1
    for text in lines[:2000] + words:
        assert 2 not in tok.encode(text).ids, text
    whole = sum(len(tok.encode(w, add_special_tokens=False).ids) == 1 for w in words)
    print("%s: %d ids (%d pieces + %d extra ids), %d bytes; %d/%d words are one piece" %
          (OUT, tok.get_vocab_size(), len(vocab) - N_EXTRA, N_EXTRA, os.path.getsize(OUT),
           whole, len(words)))


if __name__ == "__main__":
    main()

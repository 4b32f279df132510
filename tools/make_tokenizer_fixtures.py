#!/usr/bin/env python3
"""make_tokenizer_fixtures.py: reference data for tests/test_tokenizer.c, computed with the
Hugging Face `tokenizers` library (Rust core), `sentencepiece` and `regex` in ~/.venvs/ref.

Writes tests/fixtures/tokenizer/:
  tiny_tokenizer.json  a small T5-shaped tokenizer (sentencepiece unigram, 400 pieces,
                       trained on SST-2 dev sentences, a custom 80-rule Precompiled charsmap
                       built by sentencepiece's own darts-clone builder, 12 <extra_id_*>),
                       so CI without ../shared still tests every stage.
  tie_ab.json, tie_abc.json  hand-made vocabularies for the Viterbi tie rules.
  cases.jsonl          one case per line: {"tok": "tiny"|"t5"|"tie_ab"|"tie_abc", "text",
                       optional "pair", "ids" (HF encode, with the template),
                       "dec" (HF decode of ids, skip_special_tokens=True),
                       "dec_keep" (skip_special_tokens=False), for t5 also "dec_tf"
                       (transformers AutoTokenizer decode, skip_special_tokens=True)}.
  graphemes.jsonl      {"text", "lens": [UTF-8 byte length of each regex \\X cluster]}.
  shared_ids.txt       per GLUE/SuperGLUE file: which texts, then one FNV-1a-32 hash of the
                       T5 ids (int32 little-endian bytes) per text, in order.
Usage: ~/.venvs/ref/bin/python tools/make_tokenizer_fixtures.py [SHARED_DATA_DIR]
"""
import io
import json
import os
import random
import sys

import regex
import sentencepiece as spm
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "tokenizer")
SHARED = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "..", "shared", "data")
T5_JSON = os.path.join(SHARED, "t5-tokenizer", "tokenizer.json")
N_EXTRA = 12


# ---------------------------------------------------------------- tiny tokenizer ----
def rules_tsv():
    rules = []
    for i in range(26):
        rules.append(([0xFF21 + i], [0x41 + i]))
        rules.append(([0xFF41 + i], [0x61 + i]))
    for cp in [0x09, 0x0A, 0x0C, 0x0D, 0xA0, 0x3000, 0xFEFF, 0x2581, 0xFFFD, 0x2028, 0x2029,
               0x200D, 0x2002, 0x200B]:
        rules.append(([cp], [0x20]))
    rules.append(([0x0D, 0x0A], [0x20]))
    for cp in list(range(1, 9)) + [0x0B, 0x0E, 0x1F, 0x7F]:
        rules.append(([cp], []))
    rules += [([0xFB01], [0x66, 0x69]), ([0xFB02], [0x66, 0x6C]), ([0x2122], [0x54, 0x4D]),
              ([0xBD], [0x31, 0x2044, 0x32]), ([0x65, 0x301], [0xE9]), ([0x41, 0x30A], [0xC5]),
              ([0x1100, 0x1161], [0xAC00]), ([0xAA], [0x61]), ([0xFF21, 0x301], [0xC1]),
              ([0x65, 0x301, 0x327], [0x1E1D]), ([0x2460], [0x31])]
    lines = []
    for src, dst in rules:
        lines.append(" ".join("%X" % c for c in src) + "\t" + " ".join("%X" % c for c in dst))
    return "\n".join(lines) + "\n"


def pb_fields(buf):
    """Minimal protobuf wire-format reader: yields (field, wiretype, value)."""
    i = 0
    while i < len(buf):
        key, i = varint(buf, i)
        f, wt = key >> 3, key & 7
        if wt == 0:
            v, i = varint(buf, i)
        elif wt == 1:
            v, i = buf[i:i + 8], i + 8
        elif wt == 2:
            n, i = varint(buf, i)
            v, i = buf[i:i + n], i + n
        elif wt == 5:
            v, i = buf[i:i + 4], i + 4
        else:
            raise ValueError("wire type %d" % wt)
        yield f, wt, v


def varint(buf, i):
    shift = v = 0
    while True:
        b = buf[i]
        i += 1
        v |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return v, i


def t5_shaped(vocab, charsmap, n_extra):
    vocab = list(vocab) + [("<extra_id_%d>" % i, 0.0) for i in range(n_extra - 1, -1, -1)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=2, byte_fallback=False))
    tok.normalizer = normalizers.Sequence([
        normalizers.Precompiled(charsmap),
        normalizers.Strip(left=False, right=True),
        normalizers.Replace(Regex(" {2,}"), "\u2581")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="first")
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always")
    tok.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", 1)])
    tok.add_special_tokens(["<pad>", "</s>", "<unk>"] +
                           ["<extra_id_%d>" % i for i in range(n_extra - 1, -1, -1)])
    return tok


def make_tiny():
    sents = []
    sst = os.path.join(SHARED, "glue-dev", "SST-2", "dev.tsv")
    with open(sst, encoding="utf-8") as f:
        next(f)
        for line in f:
            sents.append(line.split("\t")[0])
    rules = os.path.join("/tmp", "tiny_rules.tsv")
    with open(rules, "w", encoding="utf-8") as f:
        f.write(rules_tsv())
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sents), model_writer=model, vocab_size=400, model_type="unigram",
        normalization_rule_tsv=rules, pad_id=0, eos_id=1, unk_id=2, bos_id=-1,
        character_coverage=1.0, num_threads=1, minloglevel=2, add_dummy_prefix=True)
    proto = model.getvalue()
    charsmap = None
    for f, _, v in pb_fields(proto):
        if f == 3:
            for g, _, w in pb_fields(v):
                if g == 2:
                    charsmap = bytes(w)
    assert charsmap, "no precompiled charsmap in the trained model"
    sp = spm.SentencePieceProcessor(model_proto=proto)
    vocab = []
    for i in range(sp.get_piece_size()):
        score = 0.0 if sp.is_control(i) or sp.is_unknown(i) else float(sp.get_score(i))
        vocab.append((sp.id_to_piece(i), score))
    return t5_shaped(vocab, charsmap, N_EXTRA)


def make_tie(vocab):
    tok = Tokenizer(models.Unigram([("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)] + vocab,
                                   unk_id=2, byte_fallback=False))
    return tok


# ---------------------------------------------------------------- hard strings ----
def hard_strings():
    s = [
        "", " ", "  ", "\t", "\n", "\r\n", "a", "Hello world", "hello  world", "a   b",
        " leading", "  two leading", "trailing ", "trailing   ", " a  b   c  ", "\t lead",
        "translate English to German: The house is wonderful.",
        "Hello <extra_id_0> world", "Hello<extra_id_0>world", "a </s> b", "</s>", "</s></s>",
        " </s> ", "<pad><unk></s>", "x</s>", "</s>x", "<extra_id_1>", "<extra_id_10>",
        "<extra_id_11>x", "<extra_id_1 0>", "<extra_id_>", "</s", "<</s>>", "<extra_id_0>a b",
        "<extra_id_99>", "a<extra_id_10>b<extra_id_1>c", " <extra_id_2> ", "x一丁丂y", "一丁丂",
        "\uff21\uff22\uff23 \uff41\uff42\uff43", "\ufb01nance \ufb02ow", "\u00a0x\u00a0",
        "a\u3000b", "Trade\u2122", "\u00bd cup", "\u2581x", "x \u2581 y", "\u2581\u2581",
        "\ufeffBOM", "a\ufeffb", "x\u0001y", "\u0001\u0002", "e\u0301", "A\u030a",
        "\uff21\u0301", "\u00aa\u0301", "e\u0301\u0301", "A\u030a\u0301",
        "\u1100\u1161", "\u1100\u1161\u11a8", "\uac00\uac01", "e\u0301\u0327\u0301",
        "e\u0301\u0327", "caf\u00e9", "cafe\u0301", "na\u00efve r\u00e9sum\u00e9",
        "\U0001F468\u200D\U0001F469\u200D\U0001F467", "\U0001F44D\U0001F3FD", "\U0001F600",
        "\U0001F1EB\U0001F1F7\U0001F1E9", "\u2764\ufe0f", "a\u200db", "a\u200bb",
        "\u0915\u094d\u0937", "\u0928\u092e\u0938\u094d\u0924\u0947", "\u0e01\u0e33",
        "\ufffd", "x\ufffdy", "\u0000", "a\u0000b", "\u0085", "a\u0085", "a\u00adb",
        "\u2028", "line1\u2029line2", "a\r\nb", "a\rb", "a\nb", "a\tb", "tab\t\tsep",
        "\u0009\u000b\u000c", "\u007f", "\u008f\u009f", "\u2000\u2001\u200a|", "\u205f\u202f",
        "\u1680x", "\U0001F9D1\u200D\U0001F4BB code", "I \u2665 NY", "\u00c5ngstr\u00f6m",
        "Stra\u00dfe", "\u0130stanbul", "\u03a3\u03af\u03c3\u03c5\u03c6\u03bf\u03c2",
        "\u041f\u0440\u0438\u0432\u0435\u0442", "\u0645\u0631\u062d\u0628\u0627",
        "\u05e9\u05dc\u05d5\u05dd", "\u4f60\u597d\u4e16\u754c", "\u3053\u3093\u306b\u3061\u306f",
        "\ud55c\uad6d\uc5b4", "\uff76\uff80\uff76\uff85", "\u2460\u2461", "\u00b2\u00b3",
        "x\u00b2", "H\u2082O", "\u2153", "\u2026", "\u201cquoted\u201d", "\u2018s\u2019",
        "\u2014dash\u2013", "$100.00", "3.14159", "e-mail@example.com", "http://x.y/z?q=1",
        "C++ & C#", "<b>bold</b>", "<s>", "< /s>", "&lt;/s&gt;", "\\n literal", "\"q\"",
        "don't", "DON'T", "it's", "1,000,000", "a.b.c", "...", "!!!", "???", "--", "__init__",
        "CamelCaseWord", "UPPER lower MiXeD", "word" * 50, "abc" * 700, "x" * 3000,
        "\u00e9" * 500, "\u4e00" * 400, "\U0001F600" * 100, "a " * 300, "  ".join(["w"] * 100),
        "\u0301", "\u0301a", " \u0301", "\u200d", "\u200d\u200d", "\U0001F3FB",
        "\U000E0001", "\U0010FFFF", "\ue000", "\u0378", "\u00a0\u00a0", "\u3000\u3000x",
        "\t\t", " \t \n ", "x\u2029", "\U0001F469\u200D\u2764\uFE0F\u200D\U0001F468",
        "\U0001F3F4\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F",
        "\u1100\u1100\u1161\u11a8", "\u11a8", "\u1161", "\u0915\u094d", "\u094d\u0915",
        "\u00aa\u094d\u0937", "\u00aa\u094d", "\u00aa\u0915\u094d\u0937", "\u00aa\u200d\u094d\u0915",
        "\u0600\u0661", "\u0d4e\u0d15", "\u0e40\u0e01", "\u1f600", "\u0041\u0308\u0323",
        "\u212b", "\u2126", "\u017f", "\ufb00", "\ufb03", "\u3300", "\u33c4", "\u2474", "\u2488",
        "\uff5e", "\uff0c\uff0e", "\uff10\uff11\uff12", "\u3002\u3001", "\u00b4", "\u02dc",
        "\u0060", "\u02bc", "\u1e9b\u0323",
    ]
    # each special char in several positions
    specials = ["\u00a0", "\u3000", "\ufeff", "\u2581", "\u0001", "\ufb01", "\uff21",
                "\u200d", "\r\n", "\t", "</s>", "<extra_id_0>", "\u0301", "\U0001F600", "  "]
    for c in specials:
        s += [c + "ab", "ab" + c, "a" + c + "b", " " + c + " ", c * 3, "x " + c + " y"]
    rng = random.Random(7)
    pool = ["a", "b", "e", " ", "  ", "\u0301", "\u0327", "\u00e9", "\uff21", "\u200d",
            "\U0001F600", "</s>", "<extra_id_1>", "\t", "\u2581", "\u1100", "\u1161",
            "\ufeff", "\u00a0", "\u0915", "\u094d", "\U0001F1EB", "\n", "the", "ing", "x",
            "\u0001", "\ufb01", "\u4e00"]
    for _ in range(120):
        s.append("".join(rng.choice(pool) for _ in range(rng.randint(1, 9))))
    return s


def cases_for(name, tok, texts, pairs, tf=None):
    """tf: a transformers tokenizer; its decode(ids, skip_special_tokens=True) (with the
    clean_up_tokenization_spaces of the model's tokenizer_config.json) goes in "dec_tf"."""
    out = []
    for t in texts:
        ids = tok.encode(t).ids
        out.append({"tok": name, "text": t, "ids": ids,
                    "dec": tok.decode(ids, skip_special_tokens=True),
                    "dec_keep": tok.decode(ids, skip_special_tokens=False)})
        if tf is not None:
            out[-1]["dec_tf"] = tf.decode(ids, skip_special_tokens=True)
    for a, b in pairs:
        ids = tok.encode(a, b).ids
        out.append({"tok": name, "text": a, "pair": b, "ids": ids,
                    "dec": tok.decode(ids, skip_special_tokens=True),
                    "dec_keep": tok.decode(ids, skip_special_tokens=False)})
    return out


# ---------------------------------------------------------------- graphemes ----
def grapheme_cases():
    rng = random.Random(11)
    pool = ["a", "\r", "\n", "\u0001", "\u0301", "\u200d", "\U0001F1EB", "\U0001F1F7",
            "\u0600", "\u0903", "\u1100", "\u1161", "\u11a8", "\uac00", "\uac01",
            "\U0001F600", "\u2764", "\ufe0f", "\U0001F3FD", "\u0915", "\u094d", "\u0937",
            "\u093c", "\u0d4e", "\u0e33", "\u00e9", " ", "\u00ad", "\U0001F468", "\u200b"]
    texts = []
    for _ in range(400):
        texts.append("".join(rng.choice(pool) for _ in range(rng.randint(1, 8))))
    texts += ["\U0001F468\u200D\U0001F469\u200D\U0001F467", "\U0001F1EB\U0001F1F7\U0001F1E9",
              "\u0915\u094d\u0937\u093f", "\u0915\u094d\u200d\u0937", "a\r\nb", "\r\r\n\n"]
    out = []
    for t in texts:
        clusters = regex.findall(r"\X", t)
        if any(lenient_gb9c(c) for c in clusters):
            continue
        out.append({"text": t, "lens": [len(c.encode("utf-8")) for c in clusters]})
    return out


def lenient_gb9c(cluster):
    """True when regex's \\X joined an InCB Consonant to a preceding [InCB Extend|Linker]
    run that does not start with a Consonant. UAX #29 GB9c (and HF's unicode-segmentation:
    the T5 normaliser maps '\\u00aa\\u094d\\u0937' to 'a\\u0937') breaks there; regex
    2026.11.15 does not, so such strings are left out of this fixture."""
    state = 0  # 0 none, 1 consonant [ext|link]*, 2 ... with a linker
    prev_incb = None
    for i, ch in enumerate(cluster):
        cons = regex.match(r"\p{InCB=Consonant}", ch) is not None
        link = regex.match(r"\p{InCB=Linker}", ch) is not None
        ext = regex.match(r"\p{InCB=Extend}", ch) is not None
        if i > 0 and cons and prev_incb in ("ext", "link") and state != 2:
            return True
        if cons:
            state = 1
        elif state and link:
            state = 2
        elif not (state and ext):
            state = 0
        prev_incb = "cons" if cons else "link" if link else "ext" if ext else None
    return False


# ---------------------------------------------------------------- shared data ----
TSV = [("glue-dev/CoLA/dev.tsv", 0, [3]), ("glue-dev/SST-2/dev.tsv", 1, [0]),
       ("glue-dev/MRPC/dev.tsv", 1, [3, 4]), ("glue-dev/QNLI/dev.tsv", 1, [1, 2]),
       ("glue-dev/RTE/dev.tsv", 1, [1, 2]), ("glue-dev/STS-B/dev.tsv", 1, [7, 8])]
JSONL = ["superglue-val/%s/val.jsonl" % t for t in
         ["BoolQ", "CB", "COPA", "MultiRC", "RTE", "WiC", "WSC"]]


def json_strings(v, out):
    if isinstance(v, str):
        out.append(v)
    elif isinstance(v, dict):
        for x in v.values():
            json_strings(x, out)
    elif isinstance(v, list):
        for x in v:
            json_strings(x, out)


def shared_texts():
    """(path, kind, header, cols, [texts]): TSV lines split on TAB (no quoting) after
    dropping the final newline; JSONL: every string value, depth-first in document order."""
    files = []
    for path, header, cols in TSV:
        texts = []
        with open(os.path.join(SHARED, path), encoding="utf-8", newline="") as f:
            lines = f.read().split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        for line in lines[header:]:
            fields = line.split("\t")
            texts += [fields[c] for c in cols]
        files.append((path, "tsv", header, cols, texts))
    for path in JSONL:
        texts = []
        with open(os.path.join(SHARED, path), encoding="utf-8", newline="") as f:
            for line in f.read().split("\n"):
                if line.strip():
                    json_strings(json.loads(line), texts)
        files.append((path, "jsonl", 0, [], texts))
    return files


def fnv1a32(ids):
    h = 0x811C9DC5
    for i in ids:
        for b in int(i).to_bytes(4, "little", signed=True):
            h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def main():
    os.makedirs(OUT, exist_ok=True)
    tiny = make_tiny()
    tiny.save(os.path.join(OUT, "tiny_tokenizer.json"), pretty=False)
    tiny = Tokenizer.from_file(os.path.join(OUT, "tiny_tokenizer.json"))
    tie_ab = make_tie([("a", -1.0), ("b", -1.0), ("ab", -2.0)])
    tie_ba = make_tie([("ab", -2.0), ("b", -1.0), ("a", -1.0)])
    tie_abc = make_tie([("c", -1.0), ("ab", -1.0), ("bc", -1.0), ("a", -1.0)])
    for name, t in [("tie_ab", tie_ab), ("tie_ba", tie_ba), ("tie_abc", tie_abc)]:
        t.save(os.path.join(OUT, name + ".json"), pretty=False)
    texts = hard_strings()
    pairs = [("Hello world", "Second part"), ("", ""), ("a", ""), ("", "b"),
             (" x ", " y "), ("</s>", "<extra_id_0> z"), ("\u00e9t\u00e9", "\uff21\ufb01")]
    cases = cases_for("tiny", tiny, texts, pairs)
    for name, t in [("tie_ab", tie_ab), ("tie_ba", tie_ba), ("tie_abc", tie_abc)]:
        cases += cases_for(name, t, ["ab", "abc", "abbc", "ba", "cab", "abab", "xabcx", "a b"], [])
    t5 = Tokenizer.from_file(T5_JSON)
    from transformers import AutoTokenizer
    tf = AutoTokenizer.from_pretrained(os.path.dirname(T5_JSON))
    cases += cases_for("t5", t5, texts + ["Hello , world . don 't it 's we 're I 'm they 've no n't ' x ' ?!"],
                       pairs, tf)
    with open(os.path.join(OUT, "cases.jsonl"), "w", encoding="utf-8") as f:
        for c in cases:
            f.write(json.dumps(c, ensure_ascii=True) + "\n")
    with open(os.path.join(OUT, "graphemes.jsonl"), "w", encoding="utf-8") as f:
        for c in grapheme_cases():
            f.write(json.dumps(c, ensure_ascii=True) + "\n")
    n_texts = n_ids = 0
    with open(os.path.join(OUT, "shared_ids.txt"), "w") as f:
        f.write("# FNV-1a-32 of the HF tokenizers %s T5 ids (with </s>) of every text\n"
                % __import__("tokenizers").__version__)
        for path, kind, header, cols, texts in shared_texts():
            encs = t5.encode_batch(texts)
            f.write("file %s %s %d %s %d\n" % (path, kind, header,
                                               ",".join(map(str, cols)) or "-", len(texts)))
            for e in encs:
                f.write("%08x\n" % fnv1a32(e.ids))
                n_ids += len(e.ids)
            n_texts += len(texts)
    print("cases %d, shared texts %d, ids %d" % (len(cases), n_texts, n_ids))


if __name__ == "__main__":
    main()

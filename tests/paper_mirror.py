#!/usr/bin/env python3
"""paper_mirror.py: build, under --out, a local mirror of what the `paper` preset downloads,
for tests/test_paper_rehearsal.c (stdlib only; served by tests/http_server.py).

REHEARSAL DATA, NOT THE BENCHMARKS: every split is cut from the official GLUE / SuperGLUE
dev sets in the shared data folder (../shared/data); the "train" split of each archive is a
slice of the official dev set, and MNLI.zip (MNLI is not in the shared folder) holds RTE's and
CB's pairs, so nothing trained on it says anything about the paper's numbers. Only the
layouts, file names and formats are the official ones.

  hub/google-t5/t5-base/   the Hugging Face repo layout of t5-base (served under the old id
                           t5-base through hub-aliases.json, as the hub redirects renamed
                           repos): config.json = t5-base's own (v1.0 fields, no
                           feed_forward_proj, task_specific_params) at the small DIMS below,
                           model.safetensors = the v1.0 fixture tests/fixtures/t5/v10 grown
                           to them (its vocabulary to t5-base's 32,128 rows, as the real T5
                           tokenizer's ids need; element [i, j] = fixture [i mod R, j mod C]),
                           the tied embedding only as "shared.weight", as t5-base's file;
                           tokenizer.json = the real T5 one from the shared folder;
                           generation_config.json; spiece.model (a placeholder: this program
                           reads tokenizer.json); README.md, pytorch_model.bin and onnx/ that
                           must not be fetched.
  glue/RTE.zip             RTE/{train,dev,test}.tsv (GLUE's zip layout)
  glue/MNLI.zip            MNLI/{train,dev_matched,dev_mismatched,test_matched,
                           test_mismatched}.tsv in GLUE's layout (the official 12 / 16 / 10
                           columns), for the efficiency experiment (Table 3). MNLI's own dev
                           sets are not in the shared folder: REHEARSAL DATA made of other
                           sentence pairs, see make_mnli
  glue/mrpc_dev_ids.tsv    MRPC as download_glue_data.py gets it: the dev ids ...
  senteval/msr_paraphrase_{train,test}.txt   ... and the Microsoft corpus files (BOM, CRLF)
  superglue/{CB,BoolQ}.zip <Task>/{train,val,test}.jsonl (SuperGLUE v2's zip layout)
  pins.txt                 the size and sha256 of each data file, in the format of
                           $COMPACTER_DATASET_PINS (datasets/download_sources.h)
"""
import argparse
import hashlib
import json
import os
import shutil
import struct
import zipfile

NOTE = ("REHEARSAL DATA built by tests/paper_mirror.py: every split (train included) is cut "
        "from the official dev set; not the benchmark.\n")


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def read_lines(path):
    """Lines without their line ends; a UTF-8 BOM on the first is returned apart."""
    data = open(path, "rb").read().decode("utf-8")
    bom = data.startswith("\ufeff")
    if bom:
        data = data[1:]
    return bom, [l for l in data.splitlines() if l.strip()]


def safetensors_read(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    header = json.loads(b[8:8 + n])
    header.pop("__metadata__", None)
    base = 8 + n
    return {k: (v["dtype"], v["shape"], b[base + v["data_offsets"][0]:base + v["data_offsets"][1]])
            for k, v in header.items()}


def safetensors_write(path, tensors):
    header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
    for name in sorted(tensors):
        dtype, shape, data = tensors[name]
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    write(path, struct.pack("<Q", len(h)) + h + b"".join(blobs))


# The rehearsal model's dimensions: t5-base's architecture (v1.0: ReLU, tied head scaled by
# d^-0.5, 32 position buckets up to distance 128, its 32,128-row vocabulary) at a small size
# where the paper's reduction factors still apply: d_model / 32 = 4 is divisible by the
# Compacter's phm_dim 4 (the fixtures' d_model 40 and 36 are not: no paper rf would run).
DIMS = {"d_model": 128, "d_kv": 32, "num_heads": 4, "d_ff": 256, "num_layers": 2}


def grow(data, shape, new_shape):
    """A float32 tensor of new_shape whose element [i, j] is the fixture's [i mod R, j mod C]."""
    if len(shape) == 1:
        reps = -(-new_shape[0] // shape[0])
        return (data * reps)[:4 * new_shape[0]]
    (r, c), (nr, nc) = shape, new_shape
    rows = [(data[4 * c * i:4 * c * (i + 1)] * (-(-nc // c)))[:4 * nc] for i in range(r)]
    return b"".join(rows[i % r] for i in range(nr))


def make_hub(args, repo_dir):
    fixture = args.fixture
    fc = json.load(open(os.path.join(fixture, "config.json")))
    cfg = json.load(open(args.base_config))  # t5-base's config.json, field for field
    cfg.update(DIMS)  # no num_decoder_layers (t5-base has none: it defaults to num_layers)
    cfg["task_specific_params"] = {  # as t5-base's config.json has them (ignored by T5 itself)
        "summarization": {"early_stopping": True, "length_penalty": 2.0, "max_length": 200,
                          "min_length": 30, "no_repeat_ngram_size": 3, "num_beams": 4,
                          "prefix": "summarize: "},
        "translation_en_to_de": {"early_stopping": True, "max_length": 300, "num_beams": 4,
                                 "prefix": "translate English to German: "},
    }
    write(os.path.join(repo_dir, "config.json"), json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    # the weights: the v1.0 fixture's tensors grown to these dimensions (each fixture size
    # maps to one new size), its decoder's third block dropped; the tied embedding stored
    # once, as "shared.weight", as in t5-base's model.safetensors
    size_map = {fc["d_model"]: DIMS["d_model"], fc["num_heads"] * fc["d_kv"]: DIMS["num_heads"] * DIMS["d_kv"],
                fc["d_ff"]: DIMS["d_ff"], fc["relative_attention_num_buckets"]: cfg["relative_attention_num_buckets"],
                fc["num_heads"]: DIMS["num_heads"], fc["vocab_size"]: cfg["vocab_size"]}
    assert len(size_map) == 6, "fixture sizes coincide: %s" % size_map
    out = {}
    for name, (dtype, shape, data) in safetensors_read(os.path.join(fixture, "model.safetensors")).items():
        parts = name.split(".")
        if parts[1] == "block" and int(parts[2]) >= DIMS["num_layers"]:
            continue
        assert dtype == "F32", name
        new_shape = [size_map[x] for x in shape]
        out[name] = (dtype, new_shape, grow(data, shape, new_shape))
    safetensors_write(os.path.join(repo_dir, "model.safetensors"), out)
    shutil.copyfile(os.path.join(args.shared, "t5-tokenizer", "tokenizer.json"),
                    os.path.join(repo_dir, "tokenizer.json"))
    write(os.path.join(repo_dir, "generation_config.json"), json.dumps(
        {"_from_model_config": True, "decoder_start_token_id": 0, "eos_token_id": 1,
         "pad_token_id": 0, "transformers_version": "4.27.0.dev0"}, indent=2) + "\n")
    write(os.path.join(repo_dir, "spiece.model"),
          "placeholder: not a SentencePiece model; compacter reads tokenizer.json\n")
    write(os.path.join(repo_dir, "README.md"), "# t5-base (rehearsal mirror; not fetched)\n" + NOTE)
    write(os.path.join(repo_dir, "pytorch_model.bin"), b"not fetched\n")
    write(os.path.join(repo_dir, "onnx", "decoder_model.onnx"), b"not fetched\n")


def zip_folder(path, folder, files):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(folder + "/", "")
        for name, text in files:
            z.writestr(folder + "/" + name, text)
        z.writestr(folder + "/REHEARSAL.txt", NOTE)


def make_glue(args, out):
    # RTE: train = the first 100 dev rows, dev = the next 40 (the runner halves it into
    # validation and test), test = 20 other rows without labels
    _, lines = read_lines(os.path.join(args.shared, "glue-dev", "RTE", "dev.tsv"))
    head, rows = lines[0], lines[1:]
    test = ["index\tsentence1\tsentence2"] + [
        "%d\t%s" % (i, "\t".join(r.split("\t")[1:3])) for i, r in enumerate(rows[-20:])]
    zip_folder(os.path.join(out, "glue", "RTE.zip"), "RTE", [
        ("train.tsv", "\n".join([head] + rows[:100]) + "\n"),
        ("dev.tsv", "\n".join([head] + rows[100:140]) + "\n"),
        ("test.tsv", "\n".join(test) + "\n")])
    # MRPC: msr_paraphrase_train.txt holds train + dev rows, mrpc_dev_ids.tsv names the dev
    # ones (here 40 of the 408 dev rows, the other 368 are train), msr_paraphrase_test.txt
    # the test rows
    bom, lines = read_lines(os.path.join(args.shared, "glue-dev", "MRPC", "dev.tsv"))
    head, rows = lines[0], lines[1:]
    b = "\ufeff" if bom else ""
    write(os.path.join(out, "senteval", "msr_paraphrase_train.txt"),
          b + "\r\n".join([head] + rows) + "\r\n")
    write(os.path.join(out, "senteval", "msr_paraphrase_test.txt"),
          b + "\r\n".join([head] + rows[:20]) + "\r\n")
    write(os.path.join(out, "glue", "mrpc_dev_ids.tsv"),
          "".join("%s\t%s\r\n" % tuple(r.split("\t")[1:3]) for r in rows[100:140]))


def parse_placeholder(text):
    """A placeholder for MNLI's parse columns (not a parse: the whitespace tokens in one
    bracket); the loader reads sentence1 / sentence2 only."""
    return "( %s )" % " ".join(text.split())


def make_mnli(args, out):
    """MNLI.zip, REHEARSAL DATA in the official layout: MNLI's dev sets are not in the
    shared folder, so its rows are other real premise/hypothesis pairs, relabelled where
    needed: SuperGLUE CB's validation pairs (already MNLI's three labels) and GLUE RTE's dev
    pairs (entailment -> entailment; not_entailment -> neutral, a label RTE does not make).
    train = the 56 CB pairs + RTE dev rows 0-199 (256 rows), dev_matched / dev_mismatched =
    RTE rows 200-238 / 239-276 (label1-5 all the gold label), test_{matched,mismatched} =
    20 CB pairs each without labels. promptID / pairID / genre are made up in their formats;
    the parse columns are placeholders."""
    _, lines = read_lines(os.path.join(args.shared, "glue-dev", "RTE", "dev.tsv"))
    rte = []
    for r in lines[1:]:
        f = r.split("\t")
        rte.append((f[1], f[2], "entailment" if f[3] == "entailment" else "neutral"))
    _, lines = read_lines(os.path.join(args.shared, "superglue-val", "CB", "val.jsonl"))
    cb = [(j["premise"], j["hypothesis"], j["label"]) for j in map(json.loads, lines)]
    for s1, s2, label in rte + cb:
        assert "\t" not in s1 + s2 and label in ("entailment", "neutral", "contradiction")
    head = ["index", "promptID", "pairID", "genre", "sentence1_binary_parse",
            "sentence2_binary_parse", "sentence1_parse", "sentence2_parse", "sentence1", "sentence2"]

    def table(rows, genres, n_labels, first_id):
        labels = (["label%d" % (k + 1) for k in range(n_labels)] + ["gold_label"]) if n_labels else []
        text = ["\t".join(head + labels)]
        for i, (s1, s2, label) in enumerate(rows):
            prompt = first_id + i
            cols = [str(i), str(prompt), "%d%s" % (prompt, label[0]), genres[i % len(genres)],
                    parse_placeholder(s1), parse_placeholder(s2), "(ROOT %s)" % parse_placeholder(s1),
                    "(ROOT %s)" % parse_placeholder(s2), s1, s2]
            text.append("\t".join(cols + ([label] * (n_labels + 1) if n_labels else [])))
        return "\n".join(text) + "\n"

    matched = ["fiction", "government", "slate", "telephone", "travel"]
    mismatched = ["facetoface", "letters", "nineeleven", "oup", "verbatim"]
    train = [x for pair in zip(cb, rte[:56]) for x in pair] + rte[56:200]
    zip_folder(os.path.join(out, "glue", "MNLI.zip"), "MNLI", [
        ("train.tsv", table(train, matched, 1, 10000)),
        ("dev_matched.tsv", table(rte[200:239], matched, 5, 20000)),
        ("dev_mismatched.tsv", table(rte[239:], mismatched, 5, 30000)),
        ("test_matched.tsv", table(cb[:20], matched, 0, 40000)),
        ("test_mismatched.tsv", table(cb[20:40], mismatched, 0, 50000))])


def make_superglue(args, out, task, n_train, n_val):
    _, lines = read_lines(os.path.join(args.shared, "superglue-val", task, "val.jsonl"))
    rows = [json.loads(l) for l in lines]
    unlabelled = [{k: v for k, v in r.items() if k != "label"} for r in rows[:10]]
    dump = lambda rs: "".join(json.dumps(r) + "\n" for r in rs)
    zip_folder(os.path.join(out, "superglue", task + ".zip"), task, [
        ("train.jsonl", dump(rows[:n_train])),
        ("val.jsonl", dump(rows[n_train:n_train + n_val])),
        ("test.jsonl", dump(unlabelled))])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", required=True, help="the shared data folder (../shared/data)")
    ap.add_argument("--fixture", default="tests/fixtures/t5/v10")
    ap.add_argument("--base-config", default="tests/fixtures/configs/t5-base.json")
    ap.add_argument("--repo", default="google-t5/t5-base")
    ap.add_argument("--alias", default="t5-base", help="the preset's model id, redirected to --repo")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    out = args.out
    make_hub(args, os.path.join(out, "hub", args.repo))
    write(os.path.join(out, "hub-aliases.json"), json.dumps({args.alias: args.repo}) + "\n")
    make_glue(args, out)
    make_mnli(args, out)
    make_superglue(args, out, "CB", 30, 26)
    make_superglue(args, out, "BoolQ", 100, 40)
    write(os.path.join(out, "REHEARSAL.txt"), NOTE)
    pins = []
    for source, sub, name in (("glue", "glue", "RTE.zip"), ("glue", "glue", "MNLI.zip"),
                              ("glue", "glue", "mrpc_dev_ids.tsv"),
                              ("mrpc", "senteval", "msr_paraphrase_train.txt"),
                              ("mrpc", "senteval", "msr_paraphrase_test.txt"),
                              ("superglue", "superglue", "CB.zip"),
                              ("superglue", "superglue", "BoolQ.zip")):
        data = open(os.path.join(out, sub, name), "rb").read()
        pins.append("%s %s %d %s\n" % (source, name, len(data), hashlib.sha256(data).hexdigest()))
    write(os.path.join(out, "pins.txt"),
          "# rehearsal mirror pins (tests/paper_mirror.py): these files only\n" + "".join(pins))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Differential fuzz of the T5 forward pass (`compacter logits`) against Hugging Face
transformers over random model configurations (developers only; needs torch and
transformers, e.g. ~/.venvs/ref/bin/python).

Each case draws a T5 configuration (tools/t5_fuzz_common.py: d_model, heads and d_kv with
heads * d_kv free of d_model, d_ff, encoder and decoder depths that may differ, position
buckets and max distance (odd counts, distances shorter than the sequences), every
feed_forward_proj ('gelu', erf GELU, must be refused), a head tied or not and scaled by
d^-0.5 or not, layer-norm epsilon), random weights scaled so activations are not tiny, and a
padded batch of encoder and decoder sequences of different lengths; it saves the model with
save_pretrained, runs `compacter logits` on it and compares the logits at every non-padded
decoder position with transformers' (eval mode, fp32).

  tools/fuzz_t5_vs_hf.py [--bin build/compacter] [--device cpu|cuda] [--cases 50] [--seed 1] [--keep DIR]

Prints one line per case and exits 1 when any case is off by more than
1e-4 * max|logits| + 1e-5 (fp32 rounding over different summation orders).
"""
import json
import os
import subprocess
import sys
import tempfile

import torch
from safetensors.torch import load_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from t5_fuzz_common import describe, padded, parse_args, random_config, random_ids, random_model  # noqa: E402


def main():
    a, rng = parse_args(__doc__, 50)
    worst_all, failed = 0.0, 0
    for case in range(a.cases):
        cfg = random_config(rng)
        model, untied = random_model(rng, cfg)
        n_seq = rng.randint(1, 4)
        long = rng.random() < 0.3  # sequences past max_distance
        enc = random_ids(rng, cfg.vocab_size, n_seq, 1, 150 if long else 24, last=1)
        dec = random_ids(rng, cfg.vocab_size, n_seq, 0, 40 if long else 8, first=0)
        ids, mask = padded(enc, 0)
        with torch.no_grad():
            ref = model(input_ids=ids, attention_mask=mask, decoder_input_ids=padded(dec, 0)[0]).logits
        with tempfile.TemporaryDirectory() as tmp:
            where = os.path.join(a.keep, f"case{case}") if a.keep else tmp
            model.save_pretrained(where, safe_serialization=True)
            out = os.path.join(where, "ours.safetensors")
            p = subprocess.run([a.bin, "logits", "--model", where, "--device", a.device,
                                "--encoder-ids", ";".join(",".join(map(str, e)) for e in enc),
                                "--decoder-ids", ";".join(",".join(map(str, d)) for d in dec),
                                "--out", out], capture_output=True, text=True, check=False)
            if p.returncode and cfg.feed_forward_proj == "gelu" and "'gelu' is the exact (erf) GELU" in p.stderr:
                print(f"case {case}: feed_forward_proj gelu refused, as it should be (erf GELU is not implemented)")
                continue
            if p.returncode:
                print(f"case {case}: compacter logits failed ({p.returncode}): {p.stderr.strip()}")
                failed += 1
                continue
            ours = load_file(out)["logits"]
            if a.keep:
                with open(os.path.join(where, "inputs.json"), "w") as f:
                    json.dump({"encoder": enc, "decoder": dec}, f)
        if ours.dim() == 2:
            ours = ours.unsqueeze(0)
        scale = ref.abs().max().item()
        worst = max((ours[i, :len(d), :cfg.vocab_size] - ref[i, :len(d)]).abs().max().item() for i, d in enumerate(dec))
        ok = worst <= 1e-4 * scale + 1e-5
        failed += not ok
        worst_all = max(worst_all, worst / scale)
        print(f"case {case}: {describe(cfg, untied)} eps {cfg.layer_norm_epsilon:g} batch {n_seq} S {ids.shape[1]} "
              f"T {max(map(len, dec))}: max|diff| {worst:.3g} of max|logit| {scale:.3g} {'ok' if ok else 'FAIL'}")
    print(f"{a.cases} cases, {failed} failed, worst max|diff| / max|logit| {worst_all:.3g}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

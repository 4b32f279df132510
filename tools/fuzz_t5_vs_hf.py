#!/usr/bin/env python3
"""Differential fuzz of the T5 forward pass (`compacter logits`) against Hugging Face
transformers over random model configurations (developers only; needs torch and
transformers, e.g. ~/.venvs/ref/bin/python).

Each case draws a T5 configuration (d_model, heads and d_kv with heads * d_kv free of
d_model, d_ff, encoder and decoder depths that may differ, position buckets and max distance
(odd counts, distances shorter than the sequences), every feed_forward_proj ('gelu', erf GELU, must be refused), a head tied or not and scaled
by d^-0.5 or not, layer-norm epsilon), random weights scaled so activations are
not tiny, and a padded batch of encoder and decoder sequences of different lengths; it saves
the model with save_pretrained, runs `compacter logits` on it and compares the logits at
every non-padded decoder position with transformers' (eval mode, fp32).

  tools/fuzz_t5_vs_hf.py [--bin build/compacter] [--cases 50] [--seed 1] [--keep DIR]

Prints one line per case and exits 1 when any case is off by more than
1e-4 * max|logits| + 1e-5 (fp32 rounding over different summation orders).
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile

import torch
from safetensors.torch import load_file
from transformers import T5Config, T5ForConditionalGeneration

FFN = ["relu", "gated-gelu", "gelu", "gelu_new", "gated-relu"]


def random_config(rng):
    heads = rng.randint(1, 6)
    buckets = rng.randint(4, 40)  # the loader's minimum (a quarter exact, at least one)
    return T5Config(
        vocab_size=rng.randint(40, 300),
        d_model=rng.choice([8, 12, 16, 24, 32, 40, 64]),
        d_kv=rng.randint(2, 16),
        d_ff=rng.randint(4, 96),
        num_heads=heads,
        num_layers=rng.randint(1, 3),
        num_decoder_layers=rng.randint(1, 3),
        relative_attention_num_buckets=buckets,
        # above num_buckets / 2: the bucket formula divides by log(max_distance / max_exact)
        relative_attention_max_distance=rng.randint(buckets // 2 + 1, 160),
        feed_forward_proj=rng.choice(FFN),
        # transformers 5: False only turns the head's d^-0.5 scaling off (scale_decoder_outputs)
        tie_word_embeddings=rng.random() < 0.5,
        layer_norm_epsilon=rng.choice([1e-6, 1e-5, 1e-3]),
        dropout_rate=0.1,
        decoder_start_token_id=0, pad_token_id=0, eos_token_id=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default="build/compacter")
    ap.add_argument("--cases", type=int, default=50)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", help="keep each case's model and inputs under this folder")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    torch.manual_seed(a.seed)
    worst_all, failed = 0.0, 0
    for case in range(a.cases):
        cfg = random_config(rng)
        model = T5ForConditionalGeneration(cfg).eval()
        with torch.no_grad():  # HF's init makes deep activations tiny; spread them out
            for name, p in model.named_parameters():
                if "layer_norm" in name:
                    p.copy_(1 + 0.2 * torch.randn_like(p))
                elif "relative_attention_bias" in name:
                    p.copy_(torch.randn_like(p))
                else:
                    p.copy_(torch.randn_like(p) * (1.0 / max(p.shape[-1], 1)) ** 0.5)
        untied = rng.random() < 0.5  # a head of its own, as a v1.1 checkpoint loaded and saved again
        if untied:
            model.lm_head.weight = torch.nn.Parameter(torch.randn_like(model.shared.weight) * cfg.d_model ** -0.5)
        n_seq = rng.randint(1, 4)
        long = rng.random() < 0.3  # sequences past max_distance
        enc = [[rng.randrange(2, cfg.vocab_size) for _ in range(rng.randint(1, 150 if long else 24))] + [1]
               for _ in range(n_seq)]
        dec = [[0] + [rng.randrange(2, cfg.vocab_size) for _ in range(rng.randint(0, 40 if long else 8))]
               for _ in range(n_seq)]
        S, T = max(map(len, enc)), max(map(len, dec))
        ids = torch.tensor([e + [0] * (S - len(e)) for e in enc])
        mask = torch.tensor([[1] * len(e) + [0] * (S - len(e)) for e in enc])
        dids = torch.tensor([d + [0] * (T - len(d)) for d in dec])
        with torch.no_grad():
            ref = model(input_ids=ids, attention_mask=mask, decoder_input_ids=dids).logits
        with tempfile.TemporaryDirectory() as tmp:
            where = os.path.join(a.keep, f"case{case}") if a.keep else tmp
            model.save_pretrained(where, safe_serialization=True)
            out = os.path.join(where, "ours.safetensors")
            p = subprocess.run([a.bin, "logits", "--model", where, "--device", "cpu",
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
        if ours.dim() == 2:
            ours = ours.unsqueeze(0)
        worst, scale = 0.0, ref.abs().max().item()
        for i, d in enumerate(dec):
            diff = (ours[i, :len(d), :cfg.vocab_size] - ref[i, :len(d)]).abs().max().item()
            worst = max(worst, diff)
        ok = worst <= 1e-4 * scale + 1e-5
        failed += not ok
        worst_all = max(worst_all, worst / scale)
        print(f"case {case}: d {cfg.d_model} heads {cfg.num_heads}x{cfg.d_kv} ff {cfg.d_ff} {cfg.feed_forward_proj} "
              f"layers {cfg.num_layers}+{cfg.num_decoder_layers} buckets {cfg.relative_attention_num_buckets}/"
              f"{cfg.relative_attention_max_distance} head {'untied' if untied else 'tied'}"
              f"{' scaled' if cfg.scale_decoder_outputs else ''} eps {cfg.layer_norm_epsilon:g} "
              f"batch {n_seq} S {S} T {T}: max|diff| {worst:.3g} of max|logit| {scale:.3g} {'ok' if ok else 'FAIL'}")
        if a.keep:
            with open(os.path.join(a.keep, f"case{case}", "inputs.json"), "w") as f:
                json.dump({"encoder": enc, "decoder": dec}, f)
    print(f"{a.cases} cases, {failed} failed, worst max|diff| / max|logit| {worst_all:.3g}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Differential fuzz of full fine-tuning's loss gradient (`compacter train`) against PyTorch
autograd on transformers' T5, over random model configurations (developers only; needs torch
and transformers, e.g. ~/.venvs/ref/bin/python).

Each case draws a configuration as tools/fuzz_t5_vs_hf.py does (heads * d_kv free of d_model,
encoder and decoder depths, odd bucket counts and distances shorter than the sequences,
relu / gelu_new / gated-gelu / gated-relu, a tied or untied head, scaled or not), random
weights, and a batch of source/target id sequences of different lengths (padding in both).
PyTorch computes the mean cross-entropy's gradient of every parameter with dropout off.
`compacter train --method full --max-steps 1 --clip 0 --no-dropout` takes one AdamW step on
the same batch and saves its checkpoint, whose first moment is (1 - beta1) * gradient: the
gradient is read back from it and compared tensor by tensor with
|a - b| <= 1e-6 + 1e-4 |b| + 1e-5 max|b| (the parity tests' criterion).

  tools/fuzz_t5_grads_vs_torch.py [--bin build/compacter] [--cases 30] [--seed 1] [--keep DIR]
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile

import torch
from safetensors import safe_open
from transformers import T5ForConditionalGeneration

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fuzz_t5_vs_hf import random_config  # noqa: E402

BETA1 = 0.9


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default="build/compacter")
    ap.add_argument("--cases", type=int, default=30)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", help="keep each case's files under this folder")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    torch.manual_seed(a.seed)
    failed = 0
    for case in range(a.cases):
        cfg = random_config(rng)
        if cfg.feed_forward_proj == "gelu":  # refused by the loader (erf GELU)
            cfg.feed_forward_proj, cfg.dense_act_fn = "gelu_new", "gelu_new"
        model = T5ForConditionalGeneration(cfg)
        with torch.no_grad():
            for name, p in model.named_parameters():
                if "layer_norm" in name:
                    p.copy_(1 + 0.2 * torch.randn_like(p))
                elif "relative_attention_bias" in name:
                    p.copy_(torch.randn_like(p))
                else:
                    p.copy_(torch.randn_like(p) * (1.0 / p.shape[-1]) ** 0.5)
        untied = rng.random() < 0.5
        if untied:
            model.lm_head.weight = torch.nn.Parameter(torch.randn_like(model.shared.weight) * cfg.d_model ** -0.5)
        n = rng.randint(1, 4)
        long = rng.random() < 0.3
        src = [[rng.randrange(2, cfg.vocab_size) for _ in range(rng.randint(1, 120 if long else 20))] + [1]
               for _ in range(n)]
        tgt = [[rng.randrange(2, cfg.vocab_size) for _ in range(rng.randint(0, 30 if long else 6))] + [1]
               for _ in range(n)]
        S, T = max(map(len, src)), max(map(len, tgt))
        ids = torch.tensor([s + [0] * (S - len(s)) for s in src])
        mask = torch.tensor([[1] * len(s) + [0] * (S - len(s)) for s in src])
        labels = torch.tensor([t + [-100] * (T - len(t)) for t in tgt])
        model.eval()  # dropout off, as --no-dropout
        model.zero_grad()
        model(input_ids=ids, attention_mask=mask, labels=labels).loss.backward()
        ref = {name: p.grad.detach().clone() for name, p in model.named_parameters() if p.grad is not None}
        with tempfile.TemporaryDirectory() as tmp:
            where = os.path.join(a.keep, f"case{case}") if a.keep else tmp
            model.save_pretrained(where, safe_serialization=True)
            data, ck = os.path.join(where, "batch.jsonl"), os.path.join(where, "ck.safetensors")
            with open(data, "w") as f:
                for s, t in zip(src, tgt):
                    f.write(json.dumps({"source": s, "target": t}) + "\n")
            p = subprocess.run([a.bin, "train", "--device", "cpu", "--model", where, "--train", data, "--method", "full",
                                "--batch", str(n), "--max-steps", "1", "--clip", "0", "--no-dropout",
                                "--max-source-length", "1024", "--max-target-length", "1024", "--lr", "1e-3",
                                "--save", ck], capture_output=True, text=True, check=False)
            if p.returncode:
                print(f"case {case}: compacter train failed ({p.returncode}): {p.stderr.strip()[-400:]}")
                failed += 1
                continue
            ours = {}
            with safe_open(ck, "pt") as f:
                for k in f.keys():
                    if k.startswith("adam_m/"):
                        ours[k[len("adam_m/"):]] = f.get_tensor(k) / (1 - BETA1)
        # a tied head: transformers gives shared.weight the head's share too, under "shared.weight"
        names = sorted(ref)
        missing = [k for k in names if k not in ours and not k.startswith(("encoder.embed_tokens", "decoder.embed_tokens"))]
        if missing and not (not untied and missing == ["lm_head.weight"]):
            print(f"case {case}: tensors without a gradient in the checkpoint: {missing[:4]}")
            failed += 1
            continue
        worst, bad = 0.0, []
        for k in names:
            if k not in ours:
                continue
            b, g = ref[k].float(), ours[k].float()
            if g.shape != b.shape:
                bad.append(f"{k} shape {tuple(g.shape)} vs {tuple(b.shape)}")
                continue
            lim = 1e-6 + 1e-4 * b.abs() + 1e-5 * b.abs().max()
            d = (g - b).abs()
            worst = max(worst, (d / (b.abs().max() + 1e-30)).max().item())
            if not bool((d <= lim).all()):
                bad.append(f"{k} max|diff| {d.max().item():.3g} of max|g| {b.abs().max().item():.3g}")
        ok = not bad
        failed += not ok
        print(f"case {case}: d {cfg.d_model} heads {cfg.num_heads}x{cfg.d_kv} ff {cfg.d_ff} {cfg.feed_forward_proj} "
              f"layers {cfg.num_layers}+{cfg.num_decoder_layers} buckets {cfg.relative_attention_num_buckets}/"
              f"{cfg.relative_attention_max_distance} head {'untied' if untied else 'tied'}"
              f"{' scaled' if cfg.scale_decoder_outputs else ''} batch {n} S {S} T {T}: {len(ours)} gradients, "
              f"worst max|diff|/max|g| {worst:.3g} {'ok' if ok else 'FAIL: ' + '; '.join(bad[:3])}")
    print(f"{a.cases} cases, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

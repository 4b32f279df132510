#!/usr/bin/env python3
"""Differential fuzz of the adapter-family methods' gradients (`compacter train --init`)
against PyTorch autograd, over random T5 configurations and method options (developers only;
needs torch and transformers, e.g. ~/.venvs/ref/bin/python).

Each case draws a T5 configuration as tools/fuzz_t5_vs_hf.py does, one of adapter, pfeiffer,
adapterdrop, adapter-lowrank, phm-adapter, compacter and compacter++ with random options the
configuration allows (reduction factor, phm_dim dividing d_model and the bottleneck, phm_rank,
low_rank_rank, learn_phm, non_linearity, adapter layers), and non-trivial random method
weights. The PyTorch model is tools/make_adapter_fixtures.py's (the methods written from
docs/reference-spec.md, not from the C code). The weights go to a method-weights file;
`compacter train --init FILE --max-steps 1 --clip 0 --no-dropout` takes one AdamW step on the
same batch and saves a checkpoint whose first moment is (1 - beta1) * gradient; every trained
tensor's gradient (the method's and the layer norms') is compared with PyTorch's with
|a - b| <= 1e-6 + 1e-4 |b| + 1e-5 max|b|.

  tools/fuzz_methods_grads_vs_torch.py [--bin build/compacter] [--cases 30] [--seed 1] [--keep DIR]
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
from safetensors.torch import save_file
from transformers import T5ForConditionalGeneration

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fuzz_t5_vs_hf import random_config  # noqa: E402
from make_adapter_fixtures import build  # noqa: E402

BETA1 = 0.9
METHODS = ["adapter", "pfeiffer", "adapterdrop", "adapter-lowrank", "phm-adapter", "compacter", "compacter++"]


def random_options(rng, method, cfg):
    """Options the configuration allows, or None."""
    for _ in range(50):
        rf = rng.randint(1, 8)
        bott = cfg.d_model // rf
        opt = {"reduction_factor": str(rf), "non_linearity": rng.choice(["gelu_new", "relu"])}
        if method in ("phm-adapter", "compacter", "compacter++"):
            n = rng.choice([2, 3, 4])
            if bott < n or cfg.d_model % n or bott % n:
                continue
            opt["phm_dim"] = str(n)
            if method != "phm-adapter":
                opt["phm_rank"] = str(rng.randint(1, 3))
            if rng.random() < 0.3:
                opt["learn_phm"] = "false"
        elif bott < 1:
            continue
        if method == "adapter-lowrank":
            opt["low_rank_rank"] = str(rng.randint(1, 3))
        if method == "adapterdrop":
            opt["task_adapter_layers_encoder"] = ",".join(
                str(i) for i in range(cfg.num_layers) if rng.random() < 0.6) or "0"
            opt["task_adapter_layers_decoder"] = ",".join(
                str(i) for i in range(cfg.num_decoder_layers) if rng.random() < 0.6) or "0"
        return opt
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default="build/compacter")
    ap.add_argument("--cases", type=int, default=30)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", help="keep each case's files under this folder")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    torch.manual_seed(a.seed)
    failed = done = 0
    while done < a.cases:
        cfg = random_config(rng)
        if cfg.feed_forward_proj == "gelu":  # refused by the loader (erf GELU)
            cfg.feed_forward_proj, cfg.dense_act_fn = "gelu_new", "gelu_new"
        method = rng.choice(METHODS)
        opt = random_options(rng, method, cfg)
        if opt is None:
            continue
        case, done = done, done + 1
        model = T5ForConditionalGeneration(cfg)
        with torch.no_grad():
            for name, p in model.named_parameters():
                if "layer_norm" in name:
                    p.copy_(1 + 0.2 * torch.randn_like(p))
                elif "relative_attention_bias" in name:
                    p.copy_(torch.randn_like(p))
                else:
                    p.copy_(torch.randn_like(p) * (1.0 / p.shape[-1]) ** 0.5)
        if rng.random() < 0.5:
            model.lm_head.weight = torch.nn.Parameter(torch.randn_like(model.shared.weight) * cfg.d_model ** -0.5)
        model.eval()  # dropout off, as --no-dropout
        with tempfile.TemporaryDirectory() as tmp:
            where = os.path.join(a.keep, f"case{case}") if a.keep else tmp
            model.save_pretrained(where, safe_serialization=True)  # the base, before the adapters
            params, trained = build(model, method, opt, torch.Generator().manual_seed(rng.randrange(1 << 30)))
            n = rng.randint(1, 4)
            src = [[rng.randrange(2, cfg.vocab_size) for _ in range(rng.randint(1, 40))] + [1] for _ in range(n)]
            tgt = [[rng.randrange(2, cfg.vocab_size) for _ in range(rng.randint(0, 8))] + [1] for _ in range(n)]
            S, T = max(map(len, src)), max(map(len, tgt))
            ids = torch.tensor([s + [0] * (S - len(s)) for s in src])
            mask = torch.tensor([[1] * len(s) + [0] * (S - len(s)) for s in src])
            labels = torch.tensor([t + [-100] * (T - len(t)) for t in tgt])
            model.zero_grad()
            model(input_ids=ids, attention_mask=mask, labels=labels).loss.backward()
            ref = {k: p.grad.detach().clone() for k, p in trained.items()}
            weights = {k: p.detach().clone().contiguous().float() for k, p in params.items()}
            for k, p in trained.items():
                if "layer_norm" in k:
                    weights[k] = p.detach().clone().contiguous().float()
            init = os.path.join(where, "init.safetensors")
            save_file(weights, init, metadata={"format": "compacter-method-1", "method": method,
                                               "base_model": where, "options": json.dumps(opt, sort_keys=True)})
            data, ck = os.path.join(where, "batch.jsonl"), os.path.join(where, "ck.safetensors")
            with open(data, "w") as f:
                for s, t in zip(src, tgt):
                    f.write(json.dumps({"source": s, "target": t}) + "\n")
            cmd = [a.bin, "train", "--device", "cpu", "--model", where, "--train", data, "--method", method,
                   "--init", init, "--batch", str(n), "--max-steps", "1", "--clip", "0", "--no-dropout",
                   "--max-source-length", "1024", "--max-target-length", "1024", "--lr", "1e-3", "--save", ck]
            for k, v in opt.items():
                cmd += ["--option", f"{k}={v}"]
            p = subprocess.run(cmd, capture_output=True, text=True, check=False)
            desc = (f"case {case}: {method} {json.dumps(opt, sort_keys=True)} on d {cfg.d_model} heads "
                    f"{cfg.num_heads}x{cfg.d_kv} {cfg.feed_forward_proj} layers {cfg.num_layers}+{cfg.num_decoder_layers}")
            if p.returncode:
                print(f"{desc}: compacter train failed ({p.returncode}): {p.stderr.strip()[-400:]}")
                failed += 1
                continue
            ours = {}
            with safe_open(ck, "pt") as f:
                for k in f.keys():
                    if k.startswith("adam_m/"):
                        ours[k[len("adam_m/"):]] = f.get_tensor(k) / (1 - BETA1)
        bad = []
        if set(ours) != set(ref):
            bad.append(f"trained tensors differ: ours only {sorted(set(ours) - set(ref))[:3]}, "
                       f"theirs only {sorted(set(ref) - set(ours))[:3]}")
        worst = 0.0
        for k in sorted(set(ours) & set(ref)):
            b, g = ref[k].float(), ours[k].float()
            if g.shape != b.shape:
                bad.append(f"{k} shape {tuple(g.shape)} vs {tuple(b.shape)}")
                continue
            d = (g - b).abs()
            worst = max(worst, (d / (b.abs().max() + 1e-30)).max().item())
            if not bool((d <= 1e-6 + 1e-4 * b.abs() + 1e-5 * b.abs().max()).all()):
                bad.append(f"{k} max|diff| {d.max().item():.3g} of max|g| {b.abs().max().item():.3g}")
        failed += bool(bad)
        print(f"{desc}: {len(ours)} gradients, worst max|diff|/max|g| {worst:.3g} "
              f"{'ok' if not bad else 'FAIL: ' + '; '.join(bad[:3])}")
    print(f"{a.cases} cases, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

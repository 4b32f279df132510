#!/usr/bin/env python3
"""Differential fuzz of full fine-tuning's loss gradient (`compacter train`) against PyTorch
autograd on transformers' T5, over random model configurations (developers only; needs torch
and transformers, e.g. ~/.venvs/ref/bin/python).

Each case draws a configuration and weights as tools/fuzz_t5_vs_hf.py does (the loadable
ones: no erf 'gelu') and a batch of source/target id sequences of different lengths (padding
in both). PyTorch computes the mean cross-entropy's gradient of every parameter with dropout
off, in float64 on the float32 weights. `compacter train --method full --max-steps 1 --clip 0
--no-dropout` takes one AdamW step on the same batch and saves its checkpoint, whose first
moment is (1 - beta1) * gradient: the gradient is read back from it and compared tensor by
tensor with
|a - b| <= 1e-6 + 1e-4 |b| + 1e-5 max|b| (the parity tests' criterion), or within 8x
the worst relative error of PyTorch's own float32 gradients on that input (ill-conditioned
cases); a case that fails where some ReLU input of the float64 run lies within 1e-5 of 0 is
reported as ok with that note (float32 may take the other side of the kink).

  tools/fuzz_t5_grads_vs_torch.py [--bin build/compacter] [--device cpu|cuda] [--cases 30] [--seed 1] [--keep DIR]
"""
import os
import sys
import tempfile

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from t5_fuzz_common import (checkpoint_grads, compare_grads, describe, padded, parse_args,  # noqa: E402
                            random_config, random_ids, random_model, relu_margin, train_one_step)


def main():
    a, rng = parse_args(__doc__, 30)
    failed = 0
    for case in range(a.cases):
        cfg = random_config(rng, loadable=True)
        model, untied = random_model(rng, cfg)
        n = rng.randint(1, 4)
        long = rng.random() < 0.3
        src = random_ids(rng, cfg.vocab_size, n, 1, 120 if long else 20, last=1)
        tgt = random_ids(rng, cfg.vocab_size, n, 0, 30 if long else 6, last=1)
        ids, mask = padded(src, 0)
        labels = padded(tgt, -100)[0]
        with tempfile.TemporaryDirectory() as tmp:
            where = os.path.join(a.keep, f"case{case}") if a.keep else tmp
            model.save_pretrained(where, safe_serialization=True)
            # the reference in float64 on the same float32 values, so that only our fp32 error
            # counts; PyTorch's own float32 gradients say how ill-conditioned the case is
            ref32, margin = {}, float("inf")
            for dtype in (torch.float32, torch.float64):
                model.to(dtype).zero_grad()
                margin = relu_margin(model, lambda: model(input_ids=ids, attention_mask=mask, labels=labels).loss.backward(),
                                     mask)
                ref = {name: p.grad.detach().double() for name, p in model.named_parameters() if p.grad is not None}
                ref32 = ref32 or ref
            p = train_one_step(a.bin, a.device, where, src, tgt, os.path.join(where, "ck.safetensors"))
            if p.returncode:
                print(f"case {case}: compacter train failed ({p.returncode}): {p.stderr.strip()[-400:]}")
                failed += 1
                continue
            ours = checkpoint_grads(os.path.join(where, "ck.safetensors"))
        # a tied head's gradient is part of shared.weight's; the embeddings' aliases carry none
        missing = [k for k in ref if k not in ours and not k.startswith(("encoder.embed_tokens", "decoder.embed_tokens"))]
        if missing and missing != ([] if untied else ["lm_head.weight"]):
            print(f"case {case}: tensors without a gradient in the checkpoint: {missing[:4]}")
            failed += 1
            continue
        worst, bad, e32, note = compare_grads(ref, ours, sorted(k for k in ref if k in ours), ref32, margin)
        failed += bool(bad)
        print(f"case {case}: {describe(cfg, untied)} batch {n} S {ids.shape[1]} T {labels.shape[1]}: "
              f"{len(ours)} gradients, worst max|diff|/max|g| {worst:.3g} (PyTorch float32 {e32:.3g}) {'ok' if not bad else 'FAIL: ' + '; '.join(bad[:3])}"
              f"{note}")
    print(f"{a.cases} cases, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Reference gradients and optimizer steps for tests/test_train.c, from PyTorch autograd on
the fixture T5s (tests/fixtures/t5/<fam>, written by make_fixtures.py).

Writes tests/fixtures/t5/<fam>-train.safetensors with
  grad.<param name>   the gradient of the mean cross-entropy on the reference batch, fp32,
                      dropout off (full fine-tuning: every parameter)
  step<k>.loss        loss before optimizer step k (k = 1..5), same batch each step
  final.<param name>  parameters after 5 steps of AdamW with a linear warmup (2 steps) and
                      linear decay to 0 over 6 steps, grad-norm clipping at 1.0
v10 uses torch.optim.AdamW (weight decay 0.01 on every tensor); v11 uses the AdamW of
transformers 4.6 (the reference's optimizer, re-typed below from its published source:
bias correction folded into the step size, eps added to sqrt(v) before that, decoupled
weight decay applied after the update), weight decay 0.01.

usage: PYTHONPATH=~/.venvs/tf4 ~/.venvs/ref/bin/python tools/make_train_fixtures.py
"""
import math
import sys

import torch
from safetensors.torch import load_file, save_file
from transformers import T5ForConditionalGeneration

FIX = "tests/fixtures/t5"
LR, WD, WARMUP, TOTAL, CLIP, STEPS = 1e-3, 0.01, 2, 6, 1.0, 5


class HF46AdamW(torch.optim.Optimizer):
    """transformers 4.6.0 optimization.AdamW with correct_bias=True."""

    def __init__(self, params, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                beta1, beta2 = group["betas"]
                state["step"] += 1
                exp_avg.mul_(beta1).add_(grad, alpha=1.0 - beta1)
                exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1.0 - beta2)
                denom = exp_avg_sq.sqrt().add_(group["eps"])
                step_size = group["lr"]
                bias_correction1 = 1.0 - beta1 ** state["step"]
                bias_correction2 = 1.0 - beta2 ** state["step"]
                step_size = step_size * math.sqrt(bias_correction2) / bias_correction1
                p.addcdiv_(exp_avg, denom, value=-step_size)
                if group["weight_decay"] > 0.0:
                    p.add_(p, alpha=-group["lr"] * group["weight_decay"])


def linear_schedule(step):  # transformers.get_linear_schedule_with_warmup
    if step < WARMUP:
        return step / max(1, WARMUP)
    return max(0.0, (TOTAL - step) / max(1, TOTAL - WARMUP))


def main():
    for fam, opt_kind in (("v10", "torch"), ("v11", "hf46")):
        # dropout off at construction: T5Attention keeps the rate as a float, not a module
        model = T5ForConditionalGeneration.from_pretrained(f"{FIX}/{fam}", dropout_rate=0.0).float()
        model.train()
        ref = load_file(f"{FIX}/{fam}-reference.safetensors")
        with torch.no_grad():
            check = model(input_ids=ref["enc_ids"].long(), attention_mask=ref["enc_mask"].long(),
                          labels=ref["labels"].long()).loss
        assert abs(check.item() - ref["loss"].item()) < 1e-5, (check.item(), ref["loss"].item())
        ref = load_file(f"{FIX}/{fam}-reference.safetensors")
        batch = dict(input_ids=ref["enc_ids"].long(), attention_mask=ref["enc_mask"].long(),
                     labels=ref["labels"].long())
        out = {}
        loss = model(**batch).loss
        loss.backward()
        for n, p in model.named_parameters():
            out["grad." + n] = p.grad.detach().clone()
        model.zero_grad()
        params = list(model.parameters())
        if opt_kind == "torch":
            opt = torch.optim.AdamW(params, lr=LR, betas=(0.9, 0.999), eps=1e-8, weight_decay=WD)
        else:
            opt = HF46AdamW(params, lr=LR, weight_decay=WD)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, linear_schedule)
        for k in range(1, STEPS + 1):
            loss = model(**batch).loss
            out[f"step{k}.loss"] = loss.detach().reshape(1).clone()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, CLIP)
            opt.step()
            sched.step()
            model.zero_grad()
        for n, p in model.named_parameters():
            out["final." + n] = p.detach().clone()
        save_file({k: v.contiguous().float() for k, v in out.items()}, f"{FIX}/{fam}-train.safetensors")
        print(fam, opt_kind, "losses", [round(out[f"step{k}.loss"].item(), 6) for k in range(1, STEPS + 1)])


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Reference outputs for tests/test_methods_adapters.c: the seven adapter-style methods
(adapter, pfeiffer, adapterdrop, adapter-lowrank, phm-adapter, compacter, compacter++)
written in PyTorch from docs/reference-spec.md sections 1-3 (not from our C code), on top
of the Hugging Face fixture T5s (tests/fixtures/t5/<fam>), fp32, dropout off.

Placement: T5LayerSelfAttention / T5LayerFF compute h + dropout(y); we replace that dropout
module by  y -> dropout(y + Adapter(y))  (never cross-attention).
Adapter(y) = up(act(down(y))); a projection is
  dense:    y W^T + b                       (torch.nn.Linear, W [out, in])
  low-rank: y (w_left @ w_right) + b        (w_left [in, r], w_right [r, out]; r = 1: outer)
  PHM:      y H + b,  H = sum_i kron(A_i, W_i)  (torch.kron; A [n, n, n], W [n, in/n, out/n],
            factorised W_i = W_left[i] @ W_right[i])
Parameters get NON-trivial random values (non-zero biases and up-projections) so that every
gradient is exercised. Trained: the adapter tensors (and the shared rule unless
learn_phm=false) and every T5 layer-norm weight.

Writes tests/fixtures/methods/adapters/<method>-<fam>.weights.safetensors (our method
weight format: method tensors by our names + the layer norms by their HF names, metadata
format=compacter-method-1) and <method>-<fam>.expect.safetensors (logits, loss and
grad.<name> of every trained tensor).

usage: PYTHONPATH=~/.venvs/tf4 ~/.venvs/ref/bin/python tools/make_adapter_fixtures.py
"""
import json
import os
import sys

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from transformers import T5ForConditionalGeneration

FIX = "tests/fixtures/t5"
OUT = "tests/fixtures/methods/adapters"

# The test cases: method, family, options (must equal the table in tests/test_methods_adapters.c).
CASES = [
    ("adapter", "v10", {"reduction_factor": "4"}),
    ("adapter", "v11", {"reduction_factor": "4", "non_linearity": "relu"}),
    ("pfeiffer", "v10", {"reduction_factor": "4"}),
    ("pfeiffer", "v11", {"reduction_factor": "3"}),
    ("adapterdrop", "v10", {"reduction_factor": "4", "task_adapter_layers_encoder": "1",
                            "task_adapter_layers_decoder": "1,2"}),
    ("adapterdrop", "v11", {"reduction_factor": "4", "task_adapter_layers_encoder": "0",
                            "task_adapter_layers_decoder": "2"}),
    ("adapter-lowrank", "v10", {"reduction_factor": "4"}),
    ("adapter-lowrank", "v11", {"reduction_factor": "4", "low_rank_rank": "2"}),
    ("phm-adapter", "v10", {"reduction_factor": "4", "phm_dim": "2"}),
    ("phm-adapter", "v11", {"reduction_factor": "4", "phm_dim": "3", "learn_phm": "false"}),
    ("compacter", "v10", {"reduction_factor": "5", "phm_dim": "4"}),
    ("compacter", "v11", {"reduction_factor": "3", "phm_dim": "4", "phm_rank": "2"}),
    ("compacter++", "v10", {"reduction_factor": "4", "phm_dim": "2"}),
    ("compacter++", "v11", {"reduction_factor": "3", "phm_dim": "4", "non_linearity": "relu"}),
]

# Method defaults from the spec (only what the reference forward needs).
DEFAULTS = {
    "adapter": dict(kind="dense", self=True, ffn=True),
    "pfeiffer": dict(kind="dense", self=True, ffn=False),
    "adapterdrop": dict(kind="dense", self=True, ffn=True),
    "adapter-lowrank": dict(kind="lowrank", self=True, ffn=True),
    "phm-adapter": dict(kind="phm", self=True, ffn=True, factorized=False, shared=False),
    "compacter": dict(kind="phm", self=True, ffn=True, factorized=True, shared=True),
    "compacter++": dict(kind="phm", self=False, ffn=True, factorized=True, shared=True),
}


def layers(opt, key, n):
    v = opt.get(key, "all")
    return set(range(n)) if v == "all" else {int(s) for s in v.split(",")}


class Proj(torch.nn.Module):
    """One adapter projection in -> out; params registered under our names."""

    def __init__(self, kind, din, dout, prefix, params, g, rule=None, n=0, rank=1, factorized=False):
        super().__init__()
        self.kind, self.rule, self.n = kind, rule, n

        def P(name, *shape, scale=1.0):
            t = torch.nn.Parameter(torch.randn(*shape, generator=g) * scale)
            params[prefix + name] = t
            return t

        if kind == "dense":
            self.w = P("weight", dout, din, scale=0.3)
        elif kind == "lowrank":
            self.left = P("w_left", din, rank, scale=0.5)
            self.right = P("w_right", rank, dout, scale=0.5)
        else:
            if rule is None:
                self.rule = P("phm_rule", n, n, n, scale=0.5)
            if factorized:
                self.Wl = P("W_left", n, din // n, rank, scale=0.5)
                self.Wr = P("W_right", n, rank, dout // n, scale=0.5)
            else:
                self.W = P("W", n, din // n, dout // n, scale=0.3)
            self.factorized = factorized
        self.b = P("bias", dout, scale=0.1)

    def weight(self):  # [in, out]
        if self.kind == "lowrank":
            return self.left @ self.right
        W = torch.bmm(self.Wl, self.Wr) if self.factorized else self.W
        return sum(torch.kron(self.rule[i], W[i]) for i in range(self.n))

    def forward(self, x):
        if self.kind == "dense":
            return F.linear(x, self.w, self.b)
        return x @ self.weight() + self.b


class AdapterThenDropout(torch.nn.Module):
    def __init__(self, down, up, act, dropout):
        super().__init__()
        self.down, self.up, self.act, self.dropout = down, up, act, dropout

    def forward(self, y):
        a = self.down(y)
        a = F.relu(a) if self.act == "relu" else F.gelu(a, approximate="tanh")  # gelu_new
        return self.dropout(self.up(a) + y)


def build(model, method, opt, g):
    d = DEFAULTS[method]
    cfg = model.config
    rf = int(opt.get("reduction_factor", "32"))
    bott = cfg.d_model // rf
    act = opt.get("non_linearity", "gelu_new")
    n = int(opt.get("phm_dim", "0"))
    rank = int(opt.get("phm_rank", opt.get("low_rank_rank", "1")))
    learn_phm = opt.get("learn_phm", "true") == "true"
    params = {}
    base = list(model.named_parameters())
    shared = None
    if d["kind"] == "phm" and d["shared"]:
        shared = torch.nn.Parameter(torch.randn(n, n, n, generator=g) * 0.5)
        params["adapters.phm_rule"] = shared
    keep = []
    for stack, blocks, nl in (("encoder", model.encoder.block, cfg.num_layers),
                              ("decoder", model.decoder.block, cfg.num_decoder_layers)):
        which = layers(opt, f"task_adapter_layers_{stack}", nl)
        for l, blk in enumerate(blocks):
            if l not in which:
                continue
            slots = []
            if d["self"]:
                slots.append(0)
            if d["ffn"]:
                slots.append(len(blk.layer) - 1)
            for s in slots:
                pre = f"{stack}.block.{l}.layer.{s}.adapter."
                kw = dict(rule=shared, n=n, rank=rank, factorized=d.get("factorized", False))
                down = Proj(d["kind"], cfg.d_model, bott, pre + "down.", params, g, **kw)
                up = Proj(d["kind"], bott, cfg.d_model, pre + "up.", params, g, **kw)
                blk.layer[s].dropout = AdapterThenDropout(down, up, act, blk.layer[s].dropout)
                keep.append(blk.layer[s].dropout)
    trained = {}
    for name, p in params.items():
        is_rule = name.endswith("phm_rule")
        p.requires_grad_(learn_phm or not is_rule)
        if p.requires_grad:
            trained[name] = p
    for name, p in base:  # the T5's own tensors (the adapters are submodules now too)
        p.requires_grad_("layer_norm" in name)
        if p.requires_grad:
            trained[name] = p
    return params, trained


def main():
    os.makedirs(OUT, exist_ok=True)
    for k, (method, fam, opt) in enumerate(CASES):
        torch.manual_seed(0)
        model = T5ForConditionalGeneration.from_pretrained(f"{FIX}/{fam}", dropout_rate=0.0).float()
        model.train()  # dropout is 0: train and eval agree
        g = torch.Generator().manual_seed(1000 + k)
        params, trained = build(model, method, opt, g)
        ref = load_file(f"{FIX}/{fam}-reference.safetensors")
        out = model(input_ids=ref["enc_ids"].long(), attention_mask=ref["enc_mask"].long(),
                    labels=ref["labels"].long())
        out.loss.backward()
        weights = {name: p.detach().clone() for name, p in params.items()}
        for name, p in trained.items():
            if "layer_norm" in name:
                weights[name] = p.detach().clone()
        expect = {"logits": out.logits.detach().clone(), "loss": out.loss.detach().reshape(1).clone()}
        for name, p in trained.items():
            expect["grad." + name] = p.grad.detach().clone()
        meta = {"format": "compacter-method-1", "method": method, "base_model": f"fixture-{fam}",
                "options": json.dumps(opt, sort_keys=True)}
        stem = f"{OUT}/{method}-{fam}"
        save_file({a: b.contiguous().float() for a, b in weights.items()}, stem + ".weights.safetensors",
                  metadata=meta)
        save_file({a: b.contiguous().float() for a, b in expect.items()}, stem + ".expect.safetensors")
        print(f"{method:16s} {fam}: {len(params)} method tensors, {len(trained)} trained, "
              f"loss {out.loss.item():.6f} (base {ref['loss'].item():.6f})")


if __name__ == "__main__":
    sys.exit(main())

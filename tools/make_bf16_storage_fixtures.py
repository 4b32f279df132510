#!/usr/bin/env python3
"""Reference outputs of bf16 storage (--precision bf16, core/ops.h "bf16 storage") for
tests/test_bf16_storage.c, on the fixture T5s (tests/fixtures/t5/<fam>, make_fixtures.py) and
their reference batch (<fam>-reference.safetensors: enc_ids, enc_mask, dec_ids, labels).

The T5 forward is written here from scratch in float32 torch (not Hugging Face's module), with
the rounding points of bf16 storage put in by hand; narrow(t) = t.to(bfloat16).to(float32)
(round to nearest, ties to even). Dropout off.
  - every linear y = x W^T: x and W narrowed, products summed in f32, y narrowed; backward:
    dy narrowed once, dx = dy W and dW = dy^T x from the narrowed operands, summed in f32;
    the gradients stay f32 (the narrowing of x or W passes its gradient unchanged);
  - RMSNorm in f32; a sublayer's norm (self-attn, cross-attn, FFN) stores its output narrowed
    (the gradient passes unchanged); the encoder's and decoder's final norms stay f32;
  - attention: q, k, v as the linears give them; scores, position bias, mask, softmax and
    context in f32, the two GEMMs (scores = q k^T, context = probs v) on operands rounded to
    bf16 (the f32 GEMMs of the bf16 precision mode: probabilities and v rounded; in backward
    dctx and dscores with their partners) with f32 sums and outputs; the context goes into
    the o linear (narrowed there);
  - FFN: v1.0 relu(wi(x)), v1.1 narrow(gelu_new(wi_0(x)) * wi_1(x)), then wo;
  - residual stream, final norms, the tied head's d_model^-0.5, logits and loss f32.
Frozen linear weights stored bf16 have the values of narrowing per use, so one forward serves
both cases below.

Writes tests/fixtures/t5/<fam>-bf16-storage.safetensors (f32):
  logits, loss, grad.<HF name>          full fine-tuning: every parameter trains
  ln.logits, ln.loss, ln.grad.<name>    only the layer-norm weights train (every linear
                                        weight frozen, so stored bf16 by the C code)
The same code with the rounding off (bf16=False) must reproduce the fp32 fixtures
(<fam>-reference.safetensors logits / loss, <fam>-train.safetensors grad.*): it is checked
here before anything is written, which validates the from-scratch forward; the distance of
the bf16 results from those fp32 ones is printed (the rounding must matter).

usage: ~/.venvs/ref/bin/python tools/make_bf16_storage_fixtures.py
"""
import json
import math
import sys

import torch
from safetensors.torch import load_file, save_file

FIX = "tests/fixtures/t5"


def narrow(t):
    return t.to(torch.bfloat16).to(torch.float32)


class Narrow(torch.autograd.Function):
    """narrow(x) forward; the gradient passes unchanged (f32)."""

    @staticmethod
    def forward(ctx, x):
        return narrow(x)

    @staticmethod
    def backward(ctx, g):
        return g


class Bf16Linear(torch.autograd.Function):
    """y = narrow(narrow(x) @ narrow(w).T); backward from narrow(dy) and the narrowed operands."""

    @staticmethod
    def forward(ctx, x, w):
        xb, wb = narrow(x), narrow(w)
        ctx.save_for_backward(xb, wb)
        return narrow(xb @ wb.t())

    @staticmethod
    def backward(ctx, g):
        xb, wb = ctx.saved_tensors
        gb = narrow(g)
        dx = gb @ wb if ctx.needs_input_grad[0] else None
        dw = None
        if ctx.needs_input_grad[1]:
            dw = gb.reshape(-1, gb.shape[-1]).t() @ xb.reshape(-1, xb.shape[-1])
        return dx, dw


class Bf16OperandMatmul(torch.autograd.Function):
    """a @ b with both operands narrowed (an f32 GEMM in the bf16 precision mode); backward
    the same way: da = narrow(g) narrow(b)^T, db = narrow(a)^T narrow(g)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return narrow(a) @ narrow(b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        gb = narrow(g)
        return gb @ narrow(b).transpose(-1, -2), narrow(a).transpose(-1, -2) @ gb


class T5Ref:
    def __init__(self, cfg, params, bf16, attn_gemm_bf16):
        self.c, self.p, self.bf16 = cfg, params, bf16
        self.mm = Bf16OperandMatmul.apply if attn_gemm_bf16 else torch.matmul
        self.tied = cfg.get("tie_word_embeddings", True)
        self.gated = cfg["feed_forward_proj"].startswith("gated")

    def lin(self, x, name):
        w = self.p[name]
        return Bf16Linear.apply(x, w) if self.bf16 else x @ w.t()

    def norm(self, x, name, final=False):
        var = x.pow(2).mean(-1, keepdim=True)
        y = self.p[name] * (x * torch.rsqrt(var + self.c["layer_norm_epsilon"]))
        return Narrow.apply(y) if self.bf16 and not final else y

    def bucket(self, rel, bidirectional):
        nb, md = self.c["relative_attention_num_buckets"], self.c["relative_attention_max_distance"]
        ret = torch.zeros_like(rel)
        if bidirectional:
            nb //= 2
            ret = ret + (rel > 0).long() * nb
            n = rel.abs()
        else:
            n = -torch.clamp(rel, max=0)
        max_exact = nb // 2
        large = max_exact + (torch.log(n.float() / max_exact) / math.log(md / max_exact)
                             * (nb - max_exact)).long()
        large = torch.clamp(large, max=nb - 1)
        return ret + torch.where(n < max_exact, n, large)

    def pos_bias(self, table, Q, K, bidirectional):
        rel = torch.arange(K)[None, :] - torch.arange(Q)[:, None]
        return self.p[table][self.bucket(rel, bidirectional)].permute(2, 0, 1)[None]  # [1, H, Q, K]

    def attention(self, pre, hq, hkv, bias, mask_add):
        H, dk = self.c["num_heads"], self.c["d_kv"]
        B, Tq, Tk = hq.shape[0], hq.shape[1], hkv.shape[1]
        q = self.lin(hq, pre + ".q.weight").view(B, Tq, H, dk).transpose(1, 2)
        k = self.lin(hkv, pre + ".k.weight").view(B, Tk, H, dk).transpose(1, 2)
        v = self.lin(hkv, pre + ".v.weight").view(B, Tk, H, dk).transpose(1, 2)
        s = self.mm(q, k.transpose(-1, -2))  # no scaling in T5
        if bias is not None:
            s = s + bias
        if mask_add is not None:
            s = s + mask_add
        ctx = self.mm(torch.softmax(s, dim=-1), v).transpose(1, 2).reshape(B, Tq, H * dk)
        return self.lin(ctx, pre + ".o.weight")

    def ffn(self, pre, h):
        if not self.gated:
            return self.lin(torch.relu(self.lin(h, pre + ".wi.weight")), pre + ".wo.weight")
        a = self.lin(h, pre + ".wi_0.weight")
        g = self.lin(h, pre + ".wi_1.weight")
        act = 0.5 * a * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (a + 0.044715 * torch.pow(a, 3.0))))
        y = act * g
        return self.lin(Narrow.apply(y) if self.bf16 else y, pre + ".wo.weight")

    def forward(self, enc_ids, enc_mask, dec_ids, labels):
        c, p = self.c, self.p
        neg = torch.finfo(torch.float32).min
        # encoder
        h = p["shared.weight"][enc_ids]
        S = enc_ids.shape[1]
        emask = (1.0 - enc_mask.float())[:, None, None, :] * neg
        bias = self.pos_bias("encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", S, S, True)
        for l in range(c["num_layers"]):
            b = f"encoder.block.{l}.layer"
            h = h + self.attention(f"{b}.0.SelfAttention", self.norm(h, f"{b}.0.layer_norm.weight"),
                                   self.norm(h, f"{b}.0.layer_norm.weight"), bias, emask)
            h = h + self.ffn(f"{b}.1.DenseReluDense", self.norm(h, f"{b}.1.layer_norm.weight"))
        enc = self.norm(h, "encoder.final_layer_norm.weight", final=True)
        # decoder
        T = dec_ids.shape[1]
        h = p["shared.weight"][dec_ids]
        causal = torch.triu(torch.full((T, T), neg), diagonal=1)[None, None]
        bias = self.pos_bias("decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", T, T, False)
        for l in range(c["num_decoder_layers"]):
            b = f"decoder.block.{l}.layer"
            n = self.norm(h, f"{b}.0.layer_norm.weight")
            h = h + self.attention(f"{b}.0.SelfAttention", n, n, bias, causal)
            h = h + self.attention(f"{b}.1.EncDecAttention", self.norm(h, f"{b}.1.layer_norm.weight"), enc,
                                   None, emask)
            h = h + self.ffn(f"{b}.2.DenseReluDense", self.norm(h, f"{b}.2.layer_norm.weight"))
        h = self.norm(h, "decoder.final_layer_norm.weight", final=True)
        if self.tied:
            logits = self.lin(h * (c["d_model"] ** -0.5), "shared.weight")
        else:
            logits = self.lin(h, "lm_head.weight")
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1),
                                                 ignore_index=-100)
        return logits, loss


def run(fam, bf16, trains, attn_gemm_bf16=False):
    cfg = json.load(open(f"{FIX}/{fam}/config.json"))
    params = {k: v.float().clone() for k, v in load_file(f"{FIX}/{fam}/model.safetensors").items()}
    for n, t in params.items():
        t.requires_grad_(trains(n))
    ref = load_file(f"{FIX}/{fam}-reference.safetensors")
    model = T5Ref(cfg, params, bf16, attn_gemm_bf16)
    logits, loss = model.forward(ref["enc_ids"].long(), ref["enc_mask"].long(), ref["dec_ids"].long(),
                                 ref["labels"].long())
    loss.backward()
    grads = {n: t.grad.detach().clone() for n, t in params.items() if t.requires_grad}
    return logits.detach(), loss.detach().reshape(1), grads


def rel_max(a, b):
    return ((a - b).abs().max() / b.abs().max()).item()


def rel_l2(a, b):
    return ((a.double() - b.double()).norm() / b.double().norm()).item()


def main():
    torch.set_num_threads(1)
    every = lambda n: True  # noqa: E731
    norms = lambda n: "layer_norm" in n  # noqa: E731
    for fam in ("v10", "v11"):
        ref = load_file(f"{FIX}/{fam}-reference.safetensors")
        tr = load_file(f"{FIX}/{fam}-train.safetensors")
        # 1. the same code without rounding reproduces the fp32 fixtures (HF's forward, autograd)
        lg, ls, gr = run(fam, False, every)
        worst_g = max(rel_max(g, tr["grad." + n]) for n, g in gr.items())
        print(f"{fam} fp32 check: logits {rel_max(lg, ref['logits']):.2e} loss {rel_max(ls, ref['loss']):.2e} "
              f"grads (worst max|a-b|/max|b|) {worst_g:.2e}")
        assert rel_max(lg, ref["logits"]) < 1e-5 and rel_max(ls, ref["loss"]) < 1e-5 and worst_g < 1e-4
        assert len(gr) == len([k for k in tr if k.startswith("grad.")])
        # 2. bf16 storage, full fine-tuning and layer norms only
        out = {}
        lg, ls, gr = run(fam, True, every, True)
        out["logits"], out["loss"] = lg, ls
        out.update({"grad." + n: g for n, g in gr.items()})
        lg2, ls2, gr2 = run(fam, True, norms, True)
        out["ln.logits"], out["ln.loss"] = lg2, ls2
        out.update({"ln.grad." + n: g for n, g in gr2.items()})
        assert torch.equal(lg, lg2) and len(gr2) == len([n for n in gr if norms(n)])
        dist = {n: rel_l2(g, tr["grad." + n]) for n, g in gr.items()}
        allg = lambda d, pre: torch.cat([d[pre + n].flatten() for n in gr])  # noqa: E731
        print(f"{fam} bf16 vs fp32: logits max|a-b|/max|b| {rel_max(lg, ref['logits']):.3e}, "
              f"loss {ls.item():.7f} vs {ref['loss'].item():.7f} (rel {rel_max(ls, ref['loss']):.3e}), "
              f"grads ||a-b||/||b|| all together {rel_l2(allg(out, 'grad.'), allg(tr, 'grad.')):.3e}, per tensor "
              f"min {min(dist.values()):.3e} median {sorted(dist.values())[len(dist) // 2]:.3e} "
              f"max {max(dist.values()):.3e}; layer norms only, together "
              f"{rel_l2(torch.cat([g.flatten() for g in gr2.values()]), torch.cat([tr['grad.' + n].flatten() for n in gr2])):.3e}")
        save_file({k: v.contiguous().float() for k, v in out.items()}, f"{FIX}/{fam}-bf16-storage.safetensors")


if __name__ == "__main__":
    sys.exit(main())

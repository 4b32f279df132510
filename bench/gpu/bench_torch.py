#!/usr/bin/env python3
"""PyTorch + transformers peer of bench_gpu.c: training steps (forward, backward,
clip 1.0, AdamW) of a t5-base-shaped random model on the GPU, eager, dropout 0.1 in train
mode, same batch and lengths, for full fine-tuning, Houlsby adapters and Compacter++
(written here from docs/reference-spec.md sections 1-2: PHM layers with n=4, rank-1
factorised W, one shared (n,n,n) rule, after the FFN sublayer only, gelu_new, bottleneck
768/32 = 24; trained: adapters, the rule and every layer norm). fp32 (TF32 off), tf32
(torch.backends.cuda.matmul.allow_tf32) and bf16 (torch.autocast to bfloat16: bf16 GEMMs,
fp32 weights and optimizer state). Prints one line per run in bench_gpu.c's format:
  pytorch gpu step: method M prec P batch B src S tgt T: X ms/step, Y tokens/s | memory MiB: peak Z
where the peak is torch.cuda.max_memory_allocated over model creation and the first step.
`--device cpu` runs the same steps on the CPU (a smoke test of the script where there is no
GPU: small shapes, no memory figure)."""
import argparse
import contextlib
import math
import time

import torch
import torch.nn as nn
from transformers import T5Config, T5ForConditionalGeneration

ap = argparse.ArgumentParser()
ap.add_argument("--batch", type=int, default=100)
ap.add_argument("--src", type=int, default=128)
ap.add_argument("--tgt", type=int, default=3)
ap.add_argument("--iters", type=int, default=5)
ap.add_argument("--methods", default="full,adapter,compacter++")
ap.add_argument("--precisions", default="fp32,tf32,bf16")
ap.add_argument("--no-phases", action="store_true")  # accepted for symmetry with bench_gpu
ap.add_argument("--count-only", action="store_true",
                help="build each method's model on the CPU and print its trainable count (no GPU needed)")
ap.add_argument("--device", default="cuda", choices=("cuda", "cpu"),
                help="cpu: a smoke test of this script where there is no GPU (small shapes; no memory figure)")
a = ap.parse_args()

if a.count_only or a.device == "cpu":
    dev = torch.device("cpu")
elif not torch.cuda.is_available():
    raise SystemExit("bench_torch.py: torch sees no CUDA device")
else:
    dev = torch.device("cuda")


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class Houlsby(nn.Module):
    """Linear d->d/rf, gelu_new, Linear d/rf->d; weights N(0, 0.01), biases 0."""

    def __init__(self, d, bottleneck):
        super().__init__()
        self.down = nn.Linear(d, bottleneck)
        self.up = nn.Linear(bottleneck, d)
        for lin in (self.down, self.up):
            nn.init.normal_(lin.weight, std=0.01)
            nn.init.zeros_(lin.bias)

    def forward(self, y):
        return self.up(gelu_new(self.down(y)))


class PHM(nn.Module):
    """y = x H + b, H = sum_i kron(A_i, W_i), W_i = W_left[i] @ W_right[i] (rank 1), A the
    shared rule (n, n, n); H is built in full every forward, as the reference does."""

    def __init__(self, d_in, d_out, n, rule):
        super().__init__()
        self.n, self.rule = n, rule
        self.w_left = nn.Parameter(torch.empty(n, d_in // n, 1))
        self.w_right = nn.Parameter(torch.empty(n, 1, d_out // n))
        self.b = nn.Parameter(torch.zeros(d_out))
        for w in (self.w_left, self.w_right):  # glorot-uniform, gain sqrt(2), per slice
            fan_in, fan_out = w.shape[2], w.shape[1]
            bound = math.sqrt(2.0) * math.sqrt(6.0 / (fan_in + fan_out))
            nn.init.uniform_(w, -bound, bound)

    def forward(self, x):
        W = torch.bmm(self.w_left, self.w_right)  # (n, in/n, out/n)
        A = self.rule()
        H = sum(torch.kron(A[i], W[i]) for i in range(self.n))  # (in, out)
        return torch.matmul(x, H) + self.b


class SharedRule(nn.Module):
    def __init__(self, n, std):
        super().__init__()
        self.A = nn.Parameter(torch.randn(n, n, n) * std)

    def forward(self):
        return self.A


class CompacterAdapter(nn.Module):
    def __init__(self, d, bottleneck, n, rule):
        super().__init__()
        self.down = PHM(d, bottleneck, n, rule)
        self.up = PHM(bottleneck, d, n, rule)

    def forward(self, y):
        return self.up(gelu_new(self.down(y)))


class FFWithAdapter(nn.Module):
    """Wraps T5LayerFF.DenseReluDense: y -> y + adapter(y) before dropout and the residual."""

    def __init__(self, inner, adapter):
        super().__init__()
        self.inner, self.adapter = inner, adapter

    def forward(self, h):
        y = self.inner(h)
        return y + self.adapter(y)


class AttnWithAdapter(nn.Module):
    """Wraps T5LayerSelfAttention.SelfAttention (returns a tuple; the first is the output)."""

    def __init__(self, inner, adapter):
        super().__init__()
        self.inner, self.adapter = inner, adapter

    def forward(self, *args, **kw):
        out = self.inner(*args, **kw)
        y = out[0]
        return (y + self.adapter(y),) + tuple(out[1:])


def build(method):
    cfg = T5Config(vocab_size=32128, d_model=768, d_kv=64, d_ff=3072, num_heads=12, num_layers=12,
                   num_decoder_layers=12, feed_forward_proj="relu", tie_word_embeddings=True, dropout_rate=0.1,
                   decoder_start_token_id=0, pad_token_id=0, eos_token_id=1)
    model = T5ForConditionalGeneration(cfg)
    d, bottleneck = cfg.d_model, cfg.d_model // 32
    extra = nn.ModuleList()
    if method in ("adapter", "compacter++"):
        for p in model.parameters():
            p.requires_grad_(False)
        rule = SharedRule(4, 1e-4) if method == "compacter++" else None
        if rule is not None:
            extra.append(rule)
        for stack in (model.encoder, model.decoder):
            for block in stack.block:
                ff = block.layer[-1]
                if method == "adapter":
                    sa = block.layer[0]
                    sa.SelfAttention = AttnWithAdapter(sa.SelfAttention, Houlsby(d, bottleneck))
                    ff.DenseReluDense = FFWithAdapter(ff.DenseReluDense, Houlsby(d, bottleneck))
                else:  # Compacter++: after the FFN only
                    ff.DenseReluDense = FFWithAdapter(ff.DenseReluDense, CompacterAdapter(d, bottleneck, 4, rule))
        for name, p in model.named_parameters():
            if "layer_norm" in name or "adapter" in name:
                p.requires_grad_(True)
        for p in extra.parameters():
            p.requires_grad_(True)
    model.to(dev).train()
    extra.to(dev)
    params = [p for p in model.parameters() if p.requires_grad]
    seen = {id(p) for p in params}
    params += [p for p in extra.parameters() if id(p) not in seen]
    return model, params


def sync():
    if dev.type == "cuda":
        torch.cuda.synchronize()


def bench(method, prec):
    torch.backends.cuda.matmul.allow_tf32 = prec == "tf32"
    torch.backends.cudnn.allow_tf32 = prec == "tf32"
    torch.manual_seed(1)
    if dev.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    model, params = build(method)
    opt = torch.optim.AdamW(params, lr=3e-4)
    enc = torch.randint(2, 32000, (a.batch, a.src), device=dev)
    lab = torch.randint(2, 32000, (a.batch, a.tgt), device=dev)

    # bf16: autocast (bf16 GEMMs, fp32 weights and optimizer), PyTorch's usual bf16
    # training and the peer of compacter's bf16 GEMM mode (which also keeps fp32 storage)
    amp = torch.autocast(dev.type, dtype=torch.bfloat16) if prec == "bf16" else contextlib.nullcontext()

    def step():
        opt.zero_grad(set_to_none=False)
        with amp:
            loss = model(input_ids=enc, labels=lab, use_cache=False).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()

    step()
    sync()
    peak = torch.cuda.max_memory_allocated() if dev.type == "cuda" else float("nan")
    step()  # warm-up
    sync()
    t0 = time.perf_counter()
    for _ in range(a.iters):
        step()
    sync()
    dt = (time.perf_counter() - t0) / a.iters
    ntrain = sum(p.numel() for p in params)
    print(f"pytorch {'gpu' if dev.type == 'cuda' else 'cpu'} step: method {method} prec {prec} batch {a.batch} src {a.src} tgt {a.tgt}: "
          f"{dt * 1e3:.2f} ms/step, {a.batch * (a.src + a.tgt) / dt:.0f} tokens/s | memory MiB: peak "
          f"{peak / 2**20:.1f} | trainable {ntrain} (torch {torch.__version__})", flush=True)
    del model, opt, params


methods = [m for m in a.methods.split(",") if m]
if a.count_only:
    for m in methods:
        if m in ("full", "adapter", "compacter++"):
            _, ps = build(m)
            print(f"method {m}: trainable {sum(p.numel() for p in ps)}")
    raise SystemExit(0)
for prec in [p for p in a.precisions.split(",") if p]:
    for m in methods:
        if m not in ("full", "adapter", "compacter++"):
            print(f"method {m} prec {prec}: skipped: no PyTorch peer in bench_torch.py")
            continue
        bench(m, prec)

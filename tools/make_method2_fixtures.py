#!/usr/bin/env python3
"""PyTorch references for tests/test_methods2.c: prompt tuning, BitFit, Intrinsic-SAID, LoRA
and (IA)^3 on the fixture T5s (tests/fixtures/t5/<fam>), written from
reference-spec.md section 3 (and the peft definitions of LoRA and (IA)^3), not from our C.

For each family (v10, v11) and case, the method is built on top of the Hugging Face model
with NON-trivial random values in every method tensor (LoRA B != 0, BitFit biases != 0,
SAID theta_d != 0, ...; drawn in float32, the values the weight files hold), run on the
reference batch of <fam>-reference.safetensors with dropout off IN FLOAT64 (so the
comparison measures our fp32 error, not the float32 reference's own rounding), and two files are written into tests/fixtures/methods/m2/:
  <fam>-<case>.weights.safetensors  the method's tensors under our names, in the method
                                    weight-file format (metadata format/method/options),
                                    loadable by method_weights_load
  <fam>-<case>.ref.safetensors      logits, loss, grad.<name> for every trained tensor;
                                    prompt: generated (greedy, max_length 12, written by
                                    hand with inputs_embeds); SAID: truegrad.<name> (the
                                    exact gradient, said_gradient=true)
SAID's B, Pi, G come from the counter-based splitmix64 generator documented in
methods/intrinsic_said.c, re-implemented below (seed 42, the test's method seed); H is the
dense Sylvester Hadamard matrix (-1)^popcount(i & j), independent of our butterfly.
Lengths: prompt_length 5; LoRA rank 3, alpha 5, every projection; SAID d = 3000 on v10
(theta_d both padded and truncated) and the default 20000 on v11.

usage: PYTHONPATH=~/.venvs/tf4 ~/.venvs/ref/bin/python tools/make_method2_fixtures.py
"""
import json
import math
import os

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from transformers import T5ForConditionalGeneration

FIX = "tests/fixtures/t5"
OUT = "tests/fixtures/methods/m2"
MAXLEN = 12
SAID_SEED = 42  # the method seed the C test attaches with


def load(fam):
    # float64: the reference is computed in double precision (weights and method values are
    # float32 numbers, so the files hold exactly what was used); in float32 the reference's
    # own rounding (up to 2e-5 on v11's logits, which reach 18) would dominate the comparison
    model = T5ForConditionalGeneration.from_pretrained(f"{FIX}/{fam}", dropout_rate=0.0).double()
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    ref = load_file(f"{FIX}/{fam}-reference.safetensors")
    return model, ref


def param(t, dtype=torch.float64):
    """A method tensor: drawn in float32 (what the weight file stores), used in the model's
    dtype (float64 for the fixtures)."""
    return t.float().to(dtype).requires_grad_(True)


def save(fam, case, method, options, weights, outputs):
    os.makedirs(OUT, exist_ok=True)
    meta = {"format": "compacter-method-1", "method": method, "base_model": f"fixture-{fam}",
            "options": json.dumps(options, sort_keys=True, separators=(",", ":"))}
    save_file({k: v.detach().float().contiguous() for k, v in weights.items()},
              f"{OUT}/{fam}-{case}.weights.safetensors", metadata=meta)
    save_file({k: (v.detach().contiguous() if v.dtype == torch.int32 else v.detach().float().contiguous())
               for k, v in outputs.items()}, f"{OUT}/{fam}-{case}.ref.safetensors")


def blocks(model):
    """(prefix, module) for every T5 sublayer: layer.i of each block."""
    for stack_name in ("encoder", "decoder"):
        stack = getattr(model, stack_name)
        for l, blk in enumerate(stack.block):
            for i, layer in enumerate(blk.layer):
                yield f"{stack_name}.block.{l}.layer.{i}", layer


def run_batch(model, ref, **extra):
    return model(input_ids=ref["enc_ids"].long(), attention_mask=ref["enc_mask"].long(),
                 labels=ref["labels"].long(), **extra)


def outputs_with_grads(out, weights):
    out.loss.backward()
    res = {"logits": out.logits, "loss": out.loss.reshape(1)}
    for n, w in weights.items():
        res["grad." + n] = w.grad.clone()
    return res


# ---------------------------------------------------------------- prompt tuning
def prompt_build(model, g, P):
    """P prompt vectors, U(-0.5, 0.5): (W {our name: tensor}, encode(ids, mask) -> (encoder
    outputs, attention mask)) with the prompt before the token embeddings. Also used by
    tools/fuzz_methods_grads_vs_torch.py."""
    prompt = param(torch.rand(P, model.config.d_model, generator=g) - 0.5, next(model.parameters()).dtype)

    def encode(enc, mask):
        B = enc.shape[0]
        emb = model.shared(enc)  # token embeddings; the prompt goes before them (before dropout)
        embeds = torch.cat([prompt.unsqueeze(0).expand(B, -1, -1), emb], dim=1)
        amask = torch.cat([torch.ones(B, P, dtype=mask.dtype), mask], dim=1)
        return model.encoder(inputs_embeds=embeds, attention_mask=amask), amask

    return {"encoder.prompt": prompt}, encode


def prompt_case(fam, P=5):
    model, ref = load(fam)
    W, encode_with = prompt_build(model, torch.Generator().manual_seed(7), P)
    prompt = W["encoder.prompt"]
    enc, mask = ref["enc_ids"].long(), ref["enc_mask"].long()
    B = enc.shape[0]

    def encode():
        return encode_with(enc, mask)

    enc_out, amask = encode()
    out = model(encoder_outputs=enc_out, attention_mask=amask, labels=ref["labels"].long())
    res = outputs_with_grads(out, {"encoder.prompt": prompt})
    # greedy decoding by hand: decoder start = pad, stop when every row has emitted eos
    with torch.no_grad():
        enc_out, amask = encode()
        cur = torch.full((B, 1), model.config.decoder_start_token_id, dtype=torch.long)
        done = torch.zeros(B, dtype=torch.bool)
        while cur.shape[1] < MAXLEN:
            logits = model(encoder_outputs=enc_out, attention_mask=amask, decoder_input_ids=cur).logits[:, -1]
            nxt = logits.argmax(-1)
            nxt = torch.where(done, torch.full_like(nxt, model.config.pad_token_id), nxt)
            done = done | (nxt == model.config.eos_token_id)
            cur = torch.cat([cur, nxt[:, None]], dim=1)
            if done.all():
                break
    res["generated"] = cur.int()
    save(fam, "prompt", "prompt-tuning-r", {"prompt_length": str(P)}, {"encoder.prompt": prompt}, res)
    print(fam, "prompt loss", res["loss"].item(), "generated", cur.tolist())


# ---------------------------------------------------------------- BitFit
def bitfit_build(model, g):
    """BitFit's biases on every linear layer, layer norm and the head, hooked into the
    (frozen) model; returns {our name: tensor}. Also used by tools/fuzz_methods_grads_vs_torch.py."""
    dtype = next(model.parameters()).dtype
    W = {}

    def bias(name, n):
        W[name] = param(0.1 * torch.randn(n, generator=g), dtype)
        return W[name]

    def hook_linear(lin, name):
        b = bias(name + ".bias", lin.out_features)
        lin.register_forward_hook(lambda mod, inp, out, b=b: out + b)

    for prefix, layer in blocks(model):
        ln_b = bias(prefix + ".layer_norm.bias", model.config.d_model)
        layer.layer_norm.register_forward_hook(lambda mod, inp, out, b=ln_b: out + b)
        for attn in ("SelfAttention", "EncDecAttention"):
            if hasattr(layer, attn):
                for p in "qkvo":
                    hook_linear(getattr(getattr(layer, attn), p), f"{prefix}.{attn}.{p}")
        if hasattr(layer, "DenseReluDense"):
            ff = layer.DenseReluDense
            for p in ("wi", "wi_0", "wi_1", "wo"):
                if hasattr(ff, p):
                    hook_linear(getattr(ff, p), f"{prefix}.DenseReluDense.{p}")
    hook_linear(model.lm_head, "lm_head")  # after the tied head's d^-0.5 input scaling
    return W


def bitfit_case(fam):
    model, ref = load(fam)
    W = bitfit_build(model, torch.Generator().manual_seed(11))
    res = outputs_with_grads(run_batch(model, ref), W)
    save(fam, "bitfit", "bitfit", {}, W, res)
    print(fam, "bitfit loss", res["loss"].item(), len(W), "biases")


# ---------------------------------------------------------------- LoRA
def lora_build(model, g, targets, rank, alpha):
    """LoRA on the target projections (B != 0), hooked into the frozen model; returns {our
    name: tensor}. Also used by tools/fuzz_methods_grads_vs_torch.py."""
    dtype = next(model.parameters()).dtype
    W = {}
    scale = alpha / rank

    def adapt(lin, name):
        A = (torch.rand(rank, lin.in_features, generator=g) * 2 - 1) / math.sqrt(lin.in_features)
        Bm = 0.3 * torch.randn(lin.out_features, rank, generator=g)  # B != 0 so the branch is tested
        A, Bm = param(A, dtype), param(Bm, dtype)
        W[name + ".lora_A"], W[name + ".lora_B"] = A, Bm
        lin.register_forward_hook(lambda mod, inp, out, A=A, Bm=Bm: out + scale * (inp[0] @ A.t() @ Bm.t()))

    for prefix, layer in blocks(model):
        for attn in ("SelfAttention", "EncDecAttention"):
            if hasattr(layer, attn):
                for p in "qkvo":
                    if p in targets:
                        adapt(getattr(getattr(layer, attn), p), f"{prefix}.{attn}.{p}")
        if hasattr(layer, "DenseReluDense"):
            ff = layer.DenseReluDense
            for p in ("wi", "wi_0", "wi_1", "wo"):
                key = "wi" if p == "wi_0" else p
                if hasattr(ff, p) and key in targets:
                    adapt(getattr(ff, p), f"{prefix}.DenseReluDense.{p}")
    return W


def lora_case(fam, rank=3, alpha=5.0):
    model, ref = load(fam)
    targets = ["q", "k", "v", "o", "wi", "wo"] + (["wi_1"] if fam == "v11" else [])
    W = lora_build(model, torch.Generator().manual_seed(13), targets, rank, alpha)
    res = outputs_with_grads(run_batch(model, ref), W)
    opts = {"targets": ",".join(targets), "rank": str(rank), "alpha": str(alpha), "dropout": "0.0"}
    save(fam, "lora", "lora", opts, W, res)
    print(fam, "lora loss", res["loss"].item(), len(W) // 2, "adapted")


# ---------------------------------------------------------------- (IA)^3
def ia3_build(model, g):
    """(IA)^3's vectors on keys, values and the FFN hidden, hooked into the frozen model;
    returns {our name: tensor}. Also used by tools/fuzz_methods_grads_vs_torch.py."""
    dtype = next(model.parameters()).dtype
    W = {}
    for prefix, layer in blocks(model):
        for attn in ("SelfAttention", "EncDecAttention"):
            if hasattr(layer, attn):
                for p in "kv":
                    lin = getattr(getattr(layer, attn), p)
                    l = param(1 + 0.3 * torch.randn(lin.out_features, generator=g), dtype)
                    W[f"{prefix}.{attn}.{p}.ia3_l"] = l
                    lin.register_forward_hook(lambda mod, inp, out, l=l: out * l)  # keys/values rescaled
        if hasattr(layer, "DenseReluDense"):
            wo = layer.DenseReluDense.wo
            l = param(1 + 0.3 * torch.randn(wo.in_features, generator=g), dtype)
            W[f"{prefix}.DenseReluDense.wo.ia3_l"] = l
            wo.register_forward_pre_hook(lambda mod, inp, l=l: (inp[0] * l,))  # FFN hidden rescaled
    return W


def ia3_case(fam):
    model, ref = load(fam)
    W = ia3_build(model, torch.Generator().manual_seed(17))
    res = outputs_with_grads(run_batch(model, ref), W)
    save(fam, "ia3", "ia3", {"targets": "k,v,wo"}, W, res)
    print(fam, "ia3 loss", res["loss"].item(), len(W), "vectors")


# ---------------------------------------------------------------- Intrinsic-SAID
M64 = (1 << 64) - 1
GOLD = 0x9E3779B97F4A7C15


def mix(z):  # splitmix64 finaliser on numpy uint64 arrays (wrapping arithmetic)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def draws(seed, j, kind, n):
    with np.errstate(over="ignore"):
        key = mix(np.array([(seed + GOLD * (3 * j + kind + 1)) & M64], dtype=np.uint64))[0]
        k = np.arange(1, n + 1, dtype=np.uint64)
        return mix(key + np.uint64(GOLD) * k)


def fastfood_vars(seed, j, D):
    L = 1 << max(0, math.ceil(math.log2(D)))
    B = np.where(draws(seed, j, 0, L) >> np.uint64(63), 1.0, -1.0).astype(np.float32)
    r = draws(seed, j, 1, max(L - 1, 0))
    Pi = list(range(L))
    for i in range(L - 1, 0, -1):
        k = int(r[L - 1 - i] % np.uint64(i + 1))
        Pi[i], Pi[k] = Pi[k], Pi[i]
    u = draws(seed, j, 2, 2 * L)
    u = ((u >> np.uint64(11)).astype(np.float64) + 0.5) / 9007199254740992.0
    G = (np.sqrt(-2.0 * np.log(u[0::2])) * np.cos(2 * np.pi * u[1::2])).astype(np.float32)
    div = math.sqrt(D * float(np.sum(G.astype(np.float64) ** 2)))
    return L, torch.from_numpy(B).double(), torch.tensor(Pi), torch.from_numpy(G).double(), div


def hadamard(L):  # Sylvester order, H[i, j] = (-1)^popcount(i & j), unnormalised
    i = np.arange(L)
    bits = np.bitwise_and(i[:, None], i[None, :])
    pop = np.zeros_like(bits)
    while bits.any():
        pop += bits & 1
        bits >>= 1
    return torch.from_numpy(np.where(pop % 2 == 0, 1.0, -1.0))


class RefFWHT(torch.autograd.Function):
    """The reference's FWHT: forward H x, backward H g / sqrt(L) (its quirk)."""

    @staticmethod
    def forward(ctx, x, H):
        ctx.H = H
        return H @ x

    @staticmethod
    def backward(ctx, g):
        return (ctx.H @ g) / math.sqrt(g.shape[0]), None


def butterfly(x):
    """H x for the Sylvester H, by the O(L log L) butterfly (for L too large for a dense H)."""
    L, h = x.shape[0], 1
    while h < L:
        y = x.view(-1, 2, h)
        x = torch.stack((y[:, 0] + y[:, 1], y[:, 0] - y[:, 1]), dim=1).reshape(L)
        h *= 2
    return x


class RefFWHTButterfly(torch.autograd.Function):
    """RefFWHT with the butterfly in place of the dense H (same quirk)."""

    @staticmethod
    def forward(ctx, x, H):
        return butterfly(x)

    @staticmethod
    def backward(ctx, g):
        return butterfly(g) / math.sqrt(g.shape[0]), None


def said_build(model, d, g, dense=True):
    """Intrinsic-SAID on the model: (W {our name: tensor}, run(quirk, forward) -> output),
    where run re-parameterises every named tensor as the reference does (theta0 + lambda_j
    FF_j(theta_d)), calls forward() and back-propagates its loss; quirk: the reference's FWHT
    gradient. dense: the Hadamard as a dense matrix (the fixtures), else the butterfly (any
    size). Also used by tools/fuzz_methods_grads_vs_torch.py."""
    dtype = next(model.parameters()).dtype
    named = list(model.named_parameters())  # deduplicated: a tied lm_head is not listed
    n = len(named)
    theta_d = param(0.05 * torch.randn(d - n - 1, generator=g), dtype)
    lam = param(1 + 0.3 * torch.randn(n + 1, generator=g), dtype)
    ff = [fastfood_vars(SAID_SEED, j, p.numel()) for j, (_, p) in enumerate(named)]
    Hs = {}
    theta0 = {name: p.detach().clone() for name, p in named}

    def fastfood(j, D, quirk):
        L, B, Pi, G, div = ff[j]
        B, G = B.to(dtype), G.to(dtype)
        if dense:
            H = Hs.setdefault(L, hadamard(L).to(dtype))
            h = RefFWHT.apply if quirk else (lambda v, H: H @ v)
        else:
            H = None
            h = RefFWHTButterfly.apply if quirk else (lambda v, H: butterfly(v))
        x = theta_d[:L] if theta_d.shape[0] >= L else torch.cat([theta_d, theta_d.new_zeros(L - theta_d.shape[0])])
        v = h(B * x, H)
        v = h(v[Pi] * G, H)
        return v[:D] / div

    def run(quirk, forward):
        # re-parameterise every named tensor as the reference does: replace the module's
        # attribute by theta0 + lambda_j FF_j(theta_d); lm_head's own Parameter stays the
        # original when tied (it is not a separate named parameter)
        for j, (name, p) in enumerate(named):
            mod_path, leaf = name.rsplit(".", 1)
            mod = model.get_submodule(mod_path)
            new = theta0[name] + lam[j] * fastfood(j, p.numel(), quirk).view(p.shape)
            if leaf in mod._parameters:
                del mod._parameters[leaf]
            setattr(mod, leaf, new)
        # transformers 4.x (the reference's) passes the shared Embedding itself to both
        # stacks; 5.x gives them Embeddings of their own that share only the Parameter, which
        # the attribute swap above would leave out: give them the new tensor too
        for stack in (model.encoder, model.decoder):
            if stack.embed_tokens is not model.shared:
                del stack.embed_tokens._parameters["weight"]
                stack.embed_tokens.weight = model.shared.weight
        out = forward()
        theta_d.grad = lam.grad = None
        out.loss.backward()
        return out

    return {"intrinsic_parameter": theta_d, "intrinsic_parameter_said": lam}, run


def said_case(fam, d):
    model, ref = load(fam)
    W, run = said_build(model, d, torch.Generator().manual_seed(19))
    theta_d, lam = W["intrinsic_parameter"], W["intrinsic_parameter_said"]
    out = run(True, lambda: run_batch(model, ref))
    if model.config.tie_word_embeddings:  # still the original embedding after the re-parameterisation
        assert isinstance(model.lm_head.weight, torch.nn.Parameter)
    res = {"logits": out.logits, "loss": out.loss.reshape(1),
           "grad.intrinsic_parameter": theta_d.grad.clone(), "grad.intrinsic_parameter_said": lam.grad.clone()}
    out2 = run(False, lambda: run_batch(model, ref))
    assert torch.allclose(out2.logits, out.logits)
    res["truegrad.intrinsic_parameter"] = theta_d.grad.clone()
    res["truegrad.intrinsic_parameter_said"] = lam.grad.clone()
    save(fam, "said", "intrinsic-said", {"intrinsic_dim": str(d), "said_gradient": "reference"}, W, res)
    print(fam, "said loss", res["loss"].item(), "tensors", len(lam) - 1, "theta_d", theta_d.shape[0])


def main():
    torch.set_num_threads(2)
    for fam in ("v10", "v11"):
        prompt_case(fam)
        bitfit_case(fam)
        lora_case(fam)
        ia3_case(fam)
        said_case(fam, 3000 if fam == "v10" else 20000)
    with open(f"{OUT}/README.md", "w") as f:
        f.write("Generated by tools/make_method2_fixtures.py (torch %s, transformers %s). Do not edit.\n"
                % (torch.__version__, __import__("transformers").__version__))


if __name__ == "__main__":
    main()

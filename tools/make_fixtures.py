#!/usr/bin/env python3
"""Write tiny random T5 checkpoints of both families and Hugging Face reference outputs
into tests/fixtures/t5/ (CI reads these; it never runs PyTorch).

Per family (v10: ReLU + tied head scaled by d^-0.5; v11: gated-GELU + untied head):
  <fam>/config.json + model.safetensors           f32 weights
  <fam>-bf16/, <fam>-f16/                           the same weights stored in bf16 / f16
  <fam>-sharded/ (v11 only)                         split into shards + index json
  <fam>-reference.safetensors                      inputs and HF outputs:
     enc_ids, enc_mask, labels, dec_ids (i32), enc_out, logits, loss (f32),
     generated (i32, greedy, max_length 12), logits_bf16 / logits_f16 (HF on the
     half-rounded weights, computed in f32)
Sizes are awkward on purpose: d_model not a power of two, heads*d_kv != d_model,
2 encoder and 3 decoder layers, small vocabulary.

usage: PYTHONPATH=~/.venvs/tf4 ~/.venvs/ref/bin/python tools/make_fixtures.py [outdir]
(transformers 4.57: from 5.0 on, T5Config forces tie_word_embeddings=True, so a v1.1
model would be saved without its untied lm_head, unlike the real v1.1/flan checkpoints.)
"""
import json
import os
import shutil
import sys

import torch
import transformers
from safetensors.torch import save_file
from transformers import T5Config, T5ForConditionalGeneration

OUT = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/t5"

FAMILIES = {
    "v10": dict(vocab_size=96, d_model=40, d_kv=12, num_heads=3, d_ff=56, num_layers=2,
                num_decoder_layers=3, relative_attention_num_buckets=16,
                relative_attention_max_distance=20, feed_forward_proj="relu",
                tie_word_embeddings=True, dropout_rate=0.1, layer_norm_epsilon=1e-6),
    "v11": dict(vocab_size=100, d_model=36, d_kv=8, num_heads=5, d_ff=44, num_layers=2,
                num_decoder_layers=3, relative_attention_num_buckets=32,
                relative_attention_max_distance=128, feed_forward_proj="gated-gelu",
                tie_word_embeddings=False, dropout_rate=0.1, layer_norm_epsilon=1e-6),
}
COMMON = dict(pad_token_id=0, eos_token_id=1, decoder_start_token_id=0)


def make_model(fam, seed):
    torch.manual_seed(seed)
    cfg = T5Config(**FAMILIES[fam], **COMMON)
    model = T5ForConditionalGeneration(cfg).eval()
    with torch.no_grad():  # layer norms away from 1 so their weights are tested
        for n, p in model.named_parameters():
            if "layer_norm" in n:
                p.mul_(1 + 0.2 * torch.randn_like(p))
        # shrink the pad row so greedy decoding of a random model is not all pads, and
        # grow eos a little so some sequences finish early (exercises eos padding)
        model.shared.weight[0].mul_(0.1)
        model.shared.weight[1].mul_(2.2)
    return model


def batch(vocab, seed):
    g = torch.Generator().manual_seed(seed)
    lens = [21, 9, 14]  # source lengths (padded to 21), long enough for log buckets
    tl = [6, 3, 5]      # target lengths (padded to 6, -100)
    S, T = max(lens), max(tl)
    enc = torch.zeros(3, S, dtype=torch.long)
    mask = torch.zeros(3, S, dtype=torch.long)
    lab = torch.full((3, T), -100, dtype=torch.long)
    for i, (n, t) in enumerate(zip(lens, tl)):
        enc[i, :n - 1] = torch.randint(2, vocab, (n - 1,), generator=g)
        enc[i, n - 1] = 1
        mask[i, :n] = 1
        lab[i, :t - 1] = torch.randint(2, vocab, (t - 1,), generator=g)
        lab[i, t - 1] = 1
    return enc, mask, lab


def save_model(model, path, dtype=None, shard=None):
    if os.path.isdir(path):
        shutil.rmtree(path)
    m = model
    if dtype is not None:
        m = T5ForConditionalGeneration(model.config)
        m.load_state_dict(model.state_dict())
        m = m.to(dtype)
    kw = {"safe_serialization": True}
    if shard:
        kw["max_shard_size"] = shard
    m.save_pretrained(path, **kw)
    for extra in ("generation_config.json",):
        p = os.path.join(path, extra)
        if os.path.exists(p):
            os.remove(p)


def main():
    assert transformers.__version__.startswith("4."), "run with transformers 4.x (see the docstring)"
    os.makedirs(OUT, exist_ok=True)
    for seed, fam in enumerate(FAMILIES):
        model = make_model(fam, 1234 + seed)
        save_model(model, f"{OUT}/{fam}")
        save_model(model, f"{OUT}/{fam}-bf16", torch.bfloat16)
        save_model(model, f"{OUT}/{fam}-f16", torch.float16)
        if fam == "v11":
            save_model(model, f"{OUT}/{fam}-sharded", shard="60KB")
        enc, mask, lab = batch(model.config.vocab_size, 99 + seed)
        with torch.no_grad():
            out = model(input_ids=enc, attention_mask=mask, labels=lab)
            dec_ids = model._shift_right(lab)
            gen = model.generate(input_ids=enc, attention_mask=mask, max_length=12,
                                 num_beams=1, do_sample=False, min_length=0,
                                 use_cache=False)  # transformers 5.x sizes its cache by the encoder depth
            ref = {
                "enc_ids": enc.int(), "enc_mask": mask.int(), "labels": lab.int(),
                "dec_ids": dec_ids.int(), "enc_out": out.encoder_last_hidden_state.float(),
                "logits": out.logits.float(), "loss": out.loss.reshape(1).float(),
                "generated": gen.int(),
            }
            for name, dt in (("bf16", torch.bfloat16), ("f16", torch.float16)):
                m2 = make_model(fam, 1234 + seed)
                m2.load_state_dict({k: v.to(dt).float() for k, v in model.state_dict().items()})
                ref[f"logits_{name}"] = m2(input_ids=enc, attention_mask=mask, labels=lab).logits.float()
        save_file({k: v.contiguous() for k, v in ref.items()}, f"{OUT}/{fam}-reference.safetensors")
        print(fam, "loss", out.loss.item(), "generated", gen.tolist())
    with open(f"{OUT}/README.md", "w") as f:
        f.write("Generated by tools/make_fixtures.py (torch %s, transformers %s). Do not edit.\n"
                % (torch.__version__, __import__("transformers").__version__))


if __name__ == "__main__":
    main()

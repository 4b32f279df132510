#!/usr/bin/env python3
"""Write tiny T5 checkpoints as transformers 5 saves them, with reference logits, into
tests/fixtures/t5/ (CI reads these; it never runs PyTorch).

transformers 5 writes "tie_word_embeddings": true for every T5 and keeps the old meaning of
a false value (no d_model^-0.5 scaling of the head's input) in "scale_decoder_outputs"; the
head is tied unless the checkpoint holds an lm_head.weight that differs from shared.weight.
  hf5-v10/            ReLU, tied head, scaled (T5 v1.0 saved by transformers 5)
  hf5-tied-unscaled/  gated-GELU, tied head, not scaled (a v1.1-shaped model made in 5.x)
  hf5-untied/         gated-GELU, a head of its own, not scaled (a v1.1 checkpoint loaded and
                      saved again by 5.x: both tensors in the file, config says tied)
  hf5-<name>-reference.safetensors: enc_ids, enc_mask, dec_ids (i32) and logits (f32, eval)

usage: ~/.venvs/ref/bin/python tools/make_hf5_fixtures.py [outdir]   (transformers >= 5)
"""
import json
import os
import sys

import torch
import transformers
from safetensors import safe_open
from safetensors.torch import save_file
from transformers import T5Config, T5ForConditionalGeneration

OUT = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/t5"
SHAPE = dict(vocab_size=64, d_model=24, d_kv=8, num_heads=2, d_ff=40, num_layers=2, num_decoder_layers=2,
             relative_attention_num_buckets=8, relative_attention_max_distance=16, dropout_rate=0.1,
             layer_norm_epsilon=1e-6, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0)
CASES = {  # name: feed_forward_proj, tie_word_embeddings as given (5.x: the scaling), own head
    "v10": ("relu", True, False),
    "tied-unscaled": ("gated-gelu", False, False),
    "untied": ("gated-gelu", False, True),
}


def main():
    assert int(transformers.__version__.split(".")[0]) >= 5, "needs transformers 5"
    for i, (name, (ffn, tie, own_head)) in enumerate(CASES.items()):
        torch.manual_seed(100 + i)
        cfg = T5Config(feed_forward_proj=ffn, tie_word_embeddings=tie, **SHAPE)
        model = T5ForConditionalGeneration(cfg).eval()
        with torch.no_grad():
            for n, p in model.named_parameters():
                if "layer_norm" in n:
                    p.copy_(1 + 0.2 * torch.randn_like(p))
                elif "relative_attention_bias" not in n:
                    p.copy_(torch.randn_like(p) * p.shape[-1] ** -0.5)
            if own_head:
                model.lm_head.weight = torch.nn.Parameter(torch.randn_like(model.shared.weight) * 0.2)
        d = os.path.join(OUT, f"hf5-{name}")
        model.save_pretrained(d, safe_serialization=True)
        with open(os.path.join(d, "config.json")) as f:
            c = json.load(f)
        assert c["tie_word_embeddings"] is True and c["scale_decoder_outputs"] is tie, c
        with safe_open(os.path.join(d, "model.safetensors"), "pt") as f:
            assert ("lm_head.weight" in f.keys()) == own_head, list(f.keys())
        g = torch.Generator().manual_seed(7)
        enc = torch.randint(2, 64, (3, 11), generator=g)
        enc[:, -1] = 1
        mask = torch.ones_like(enc)
        enc[1, 7:], mask[1, 7:] = 0, 0  # one padded row
        dec = torch.randint(2, 64, (3, 5), generator=g)
        dec[:, 0] = 0
        with torch.no_grad():
            logits = model(input_ids=enc, attention_mask=mask, decoder_input_ids=dec).logits
        save_file({"enc_ids": enc.int().contiguous(), "enc_mask": mask.int().contiguous(),
                   "dec_ids": dec.int().contiguous(), "logits": logits.float().contiguous()},
                  os.path.join(OUT, f"hf5-{name}-reference.safetensors"),
                  metadata={"transformers": transformers.__version__, "torch": torch.__version__})
        print(f"wrote {d} (scale_decoder_outputs {tie}, lm_head.weight {'present' if own_head else 'absent'})")


if __name__ == "__main__":
    main()

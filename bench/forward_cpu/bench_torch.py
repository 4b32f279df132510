#!/usr/bin/env python3
"""PyTorch + transformers peer of bench_forward_cpu.c: the same t5-small shapes, random
weights, batch and threads; eager, inference mode, fp32. Prints the same line format."""
import argparse
import time

import torch
from transformers import T5Config, T5ForConditionalGeneration

ap = argparse.ArgumentParser()
ap.add_argument("--batch", type=int, default=8)
ap.add_argument("--src", type=int, default=128)
ap.add_argument("--tgt", type=int, default=16)
ap.add_argument("--iters", type=int, default=5)
ap.add_argument("--shape", choices=["small", "tiny"], default="small")
ap.add_argument("--threads", type=int, default=torch.get_num_threads())
a = ap.parse_args()
torch.set_num_threads(a.threads)
# t5-small, or the tiny preset's T5 (bench/cpu_bench_common.h's bench_t5_config)
sizes = (dict(vocab_size=32128, d_model=512, d_kv=64, d_ff=2048, num_heads=8, num_layers=6, num_decoder_layers=6)
         if a.shape == "small" else
         dict(vocab_size=627, d_model=64, d_kv=16, d_ff=256, num_heads=4, num_layers=2, num_decoder_layers=2))
cfg = T5Config(**sizes, feed_forward_proj="relu", tie_word_embeddings=True)
model = T5ForConditionalGeneration(cfg).eval()
enc = torch.randint(2, min(cfg.vocab_size, 32002), (a.batch, a.src))
dec = torch.randint(2, min(cfg.vocab_size, 32002), (a.batch, a.tgt))
dec[:, 0] = 0
best = 1e30
with torch.inference_mode():
    for it in range(a.iters + 1):
        t0 = time.perf_counter()
        model(input_ids=enc, decoder_input_ids=dec, use_cache=False)
        dt = time.perf_counter() - t0
        if it > 0:
            best = min(best, dt)
print(f"pytorch forward: batch {a.batch} src {a.src} tgt {a.tgt} threads {a.threads}: "
      f"{best * 1e3:.1f} ms/forward, {a.batch * (a.src + a.tgt) / best:.0f} tokens/s "
      f"(torch {torch.__version__})")

#!/usr/bin/env python3
"""Differential fuzz of the adapter-family methods' gradients (`compacter train --init`)
against PyTorch autograd, over random T5 configurations and method options (developers only;
needs torch and transformers, e.g. ~/.venvs/ref/bin/python).

Each case draws a T5 configuration and weights as tools/fuzz_t5_vs_hf.py does, one of
adapter, pfeiffer, adapterdrop, adapter-lowrank, phm-adapter, compacter, compacter++, BitFit,
LoRA, (IA)^3, Intrinsic-SAID (the reference's FWHT gradient) and prompt tuning with random options the configuration allows (reduction factor, phm_dim
dividing d_model and the bottleneck, phm_rank, low_rank_rank, learn_phm, non_linearity,
adapter layers; LoRA's targets, rank and alpha; SAID's intrinsic_dim; the prompt length), and non-trivial random method weights. The
PyTorch models (run in float64 on the float32 values the files hold) are
tools/make_adapter_fixtures.py's and tools/make_method2_fixtures.py's (the methods written
from docs/reference-spec.md and peft's definitions, not from the C code). The weights go to a
method-weights file; `compacter train --init FILE --max-steps 1 --clip 0 --no-dropout` takes
one AdamW step on the same batch and saves a checkpoint whose first moment is
(1 - beta1) * gradient; every trained tensor's gradient (the method's and the layer norms')
is compared with PyTorch's with |a - b| <= 1e-6 + 1e-4 |b| + 1e-5 max|b|, or within 8x
the worst relative error of PyTorch's own float32 gradients on that input (ill-conditioned
cases); a case that fails where some ReLU input of the float64 run lies within 1e-5 of 0 is
reported as ok with that note (float32 may take the other side of the kink).

  tools/fuzz_methods_grads_vs_torch.py [--bin build/compacter] [--device cpu|cuda] [--cases 30] [--seed 1] [--keep DIR]
"""
import copy
import json
import os
import sys
import tempfile

import torch
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_adapter_fixtures import build  # noqa: E402
from make_method2_fixtures import bitfit_build, ia3_build, lora_build, prompt_build, said_build  # noqa: E402
from t5_fuzz_common import (checkpoint_grads, compare_grads, describe, padded, parse_args,  # noqa: E402
                            random_config, random_ids, random_model, relu_margin, train_one_step)

ADAPTERS = ["adapter", "pfeiffer", "adapterdrop", "adapter-lowrank", "phm-adapter", "compacter", "compacter++"]
METHODS = ADAPTERS + ["bitfit", "lora", "ia3", "intrinsic-said", "prompt-tuning-r"]


def random_options(rng, method, cfg):
    """Options the configuration allows, or None."""
    if method == "bitfit":
        return {}
    if method == "ia3":
        return {"targets": "k,v,wo"}
    if method == "intrinsic-said":  # intrinsic_dim is drawn once the model's tensor count is known
        return {"said_gradient": "reference"}
    if method == "prompt-tuning-r":
        return {"prompt_length": str(rng.randint(1, 12))}
    if method == "lora":
        names = ["q", "k", "v", "o", "wi", "wo"] + (["wi_1"] if cfg.is_gated_act else [])
        targets = [t for t in names if rng.random() < 0.6] or ["q"]
        return {"targets": ",".join(targets), "rank": str(rng.randint(1, 4)), "alpha": str(rng.choice([1.0, 5.0, 16.0])),
                "dropout": "0.0"}
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
            for stack, n_layers in (("encoder", cfg.num_layers), ("decoder", cfg.num_decoder_layers)):
                opt[f"task_adapter_layers_{stack}"] = ",".join(str(i) for i in range(n_layers) if rng.random() < 0.6) or "0"
        return opt
    return None


def main():
    a, rng = parse_args(__doc__, 30)
    failed = done = 0
    while done < a.cases:
        cfg = random_config(rng, loadable=True)
        method = rng.choice(METHODS)
        opt = random_options(rng, method, cfg)
        if opt is None:
            continue
        case, done = done, done + 1
        model, untied = random_model(rng, cfg)
        if method == "intrinsic-said":  # theta_d of 1..5000, below or above each tensor's size
            opt["intrinsic_dim"] = str(len(list(model.named_parameters())) + 1 + rng.randint(1, 5000))
        desc = f"case {case}: {method} {json.dumps(opt, sort_keys=True)} on {describe(cfg, untied)}"
        with tempfile.TemporaryDirectory() as tmp:
            where = os.path.join(a.keep, f"case{case}") if a.keep else tmp
            model.save_pretrained(where, safe_serialization=True)  # the base, before the adapters
            n = rng.randint(1, 4)
            src = random_ids(rng, cfg.vocab_size, n, 1, 40, last=1)
            tgt = random_ids(rng, cfg.vocab_size, n, 0, 8, last=1)
            ids, mask = padded(src, 0)
            seed = rng.randrange(1 << 30)
            margin = [float("inf")]  # the smallest |ReLU input| of the float64 run

            def reference(dtype):
                """(method tensors, trained tensors, their gradients) with the method built on a
                copy of the model in dtype, from the same draws; sets margin[0]."""
                m = copy.deepcopy(model)
                g = torch.Generator().manual_seed(seed)
                labels = padded(tgt, -100)[0]

                def step():  # forward and backward of the built model
                    m(input_ids=ids, attention_mask=mask, labels=labels).loss.backward()

                if method in ADAPTERS:
                    params, trained = build(m, method, opt, g)
                    m.to(dtype)  # the same Parameter objects, now of dtype
                else:  # the base frozen, only the method's tensors train
                    m.to(dtype)
                    for p in m.parameters():
                        p.requires_grad_(False)
                    if method == "intrinsic-said":  # re-parameterises the model on every forward
                        params, run = said_build(m, int(opt["intrinsic_dim"]), g, dense=False)

                        def step():  # noqa: F811
                            run(True, lambda: m(input_ids=ids, attention_mask=mask, labels=labels))
                    elif method == "prompt-tuning-r":  # the prompt before the token embeddings
                        params, encode = prompt_build(m, g, int(opt["prompt_length"]))

                        def step():  # noqa: F811
                            enc_out, amask = encode(ids, mask)
                            m(encoder_outputs=enc_out, attention_mask=amask, labels=labels).loss.backward()
                    elif method == "bitfit":
                        params = bitfit_build(m, g)
                    elif method == "ia3":
                        params = ia3_build(m, g)
                    else:
                        params = lora_build(m, g, opt["targets"].split(","), int(opt["rank"]), float(opt["alpha"]))
                    trained = params
                margin[0] = relu_margin(m, step, mask)
                return params, trained, {k: p.grad.detach().double() for k, p in trained.items()}

            # the reference in float64 on the float32 values the files hold, so that only our
            # fp32 error counts; PyTorch's own float32 gradients say how ill-conditioned it is
            _, _, ref32 = reference(torch.float32)
            params, trained, ref = reference(torch.float64)
            weights = {k: p.detach().clone().contiguous().float() for k, p in params.items()}
            weights.update({k: p.detach().clone().contiguous().float() for k, p in trained.items() if "layer_norm" in k})
            init = os.path.join(where, "init.safetensors")
            save_file(weights, init, metadata={"format": "compacter-method-1", "method": method,
                                               "base_model": where, "options": json.dumps(opt, sort_keys=True)})
            extra = ["--init", init] + [x for k, v in opt.items() for x in ("--option", f"{k}={v}")]
            p = train_one_step(a.bin, a.device, where, src, tgt, os.path.join(where, "ck.safetensors"), method, extra)
            if p.returncode:
                print(f"{desc}: compacter train failed ({p.returncode}): {p.stderr.strip()[-400:]}")
                failed += 1
                continue
            ours = checkpoint_grads(os.path.join(where, "ck.safetensors"))
        bad = [] if set(ours) == set(ref) else [f"trained tensors differ: ours only {sorted(set(ours) - set(ref))[:3]}, "
                                                 f"theirs only {sorted(set(ref) - set(ours))[:3]}"]
        worst, off, e32, note = compare_grads(ref, ours, sorted(set(ours) & set(ref)), ref32, margin[0])
        bad += off
        failed += bool(bad)
        print(f"{desc}: {len(ours)} gradients, worst max|diff|/max|g| {worst:.3g} (PyTorch float32 {e32:.3g}) "
              f"{'ok' if not bad else 'FAIL: ' + '; '.join(bad[:3])}"
              f"{note}")
    print(f"{a.cases} cases, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

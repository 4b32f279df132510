"""t5_fuzz_common.py: what the differential fuzz tools (tools/fuzz_t5_vs_hf.py,
tools/fuzz_t5_grads_vs_torch.py, tools/fuzz_methods_grads_vs_torch.py) share: the command
line, random T5 configurations and weights, random batches, and reading the gradient back
from a one-step `compacter train` checkpoint."""
import argparse
import json
import random
import subprocess

import torch
import transformers
from safetensors import safe_open
from transformers import T5Config, T5ForConditionalGeneration

# transformers 5 ties every T5 head in its config and keeps the scaling apart
# (scale_decoder_outputs); 4.x ties and scales exactly when tie_word_embeddings is true
TF5 = int(transformers.__version__.split(".")[0]) >= 5

FFN = ["relu", "gated-gelu", "gelu", "gelu_new", "gated-relu"]
BETA1 = 0.9  # AdamW's: after one step the first moment is (1 - beta1) * gradient


def parse_args(doc, cases):
    """--bin --device --cases --seed --keep; returns (args, a seeded random.Random); seeds
    torch too."""
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--bin", default="build/compacter")
    ap.add_argument("--device", default="cpu",
                    help="cpu, or cuda: the GPU, or the CUDA emulator with --bin build-emu/compacter or "
                         "build-race/compacter (races, bounds and uninitialised reads checked)")
    ap.add_argument("--cases", type=int, default=cases)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", help="keep each case's files under this folder")
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    return a, random.Random(a.seed)


def random_config(rng, loadable=False):
    """heads * d_kv free of d_model, depths that may differ, odd bucket counts and distances
    shorter than the sequences, every feed_forward_proj (loadable: not 'gelu', which the
    loader refuses), the head's d^-0.5 scaling on or off."""
    buckets = rng.randint(4, 40)  # the loader's minimum (a quarter exact, at least one)
    ffn = rng.choice(FFN[:2] + FFN[3:] if loadable else FFN)
    return T5Config(
        vocab_size=rng.randint(40, 300),
        d_model=rng.choice([8, 12, 16, 24, 32, 40, 64]),
        d_kv=rng.randint(2, 16),
        d_ff=rng.randint(4, 96),
        num_heads=rng.randint(1, 6),
        num_layers=rng.randint(1, 3),
        num_decoder_layers=rng.randint(1, 3),
        relative_attention_num_buckets=buckets,
        # above num_buckets / 2: the bucket formula divides by log(max_distance / max_exact)
        relative_attention_max_distance=rng.randint(buckets // 2 + 1, 160),
        feed_forward_proj=ffn,
        # transformers 5: False only turns the head's d^-0.5 scaling off (scale_decoder_outputs)
        tie_word_embeddings=rng.random() < 0.5,
        layer_norm_epsilon=rng.choice([1e-6, 1e-5, 1e-3]),
        dropout_rate=0.1,
        decoder_start_token_id=0, pad_token_id=0, eos_token_id=1)


def random_model(rng, cfg):
    """(model in eval mode, untied): weights spread so deep activations are not tiny (HF's
    init shrinks them); under transformers 5, half the time a head of its own, as a v1.1
    checkpoint that it loaded and saved again (4.x: untied exactly when not tie_word_embeddings)."""
    model = T5ForConditionalGeneration(cfg).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "layer_norm" in name:
                p.copy_(1 + 0.2 * torch.randn_like(p))
            elif "relative_attention_bias" in name:
                p.copy_(torch.randn_like(p))
            else:
                p.copy_(torch.randn_like(p) * (1.0 / p.shape[-1]) ** 0.5)
    untied = rng.random() < 0.5 if TF5 else not cfg.tie_word_embeddings
    if untied and TF5:
        model.lm_head.weight = torch.nn.Parameter(torch.randn_like(model.shared.weight) * cfg.d_model ** -0.5)
    return model, untied


def random_ids(rng, vocab, n, lo, hi, first=None, last=None):
    """n sequences of lo..hi random ids in [2, vocab), with `first` / `last` added."""
    return [([first] if first is not None else []) + [rng.randrange(2, vocab) for _ in range(rng.randint(lo, hi))] +
            ([last] if last is not None else []) for _ in range(n)]


def padded(seqs, pad):
    """(ids, mask) tensors of the sequences padded to the longest with `pad`."""
    L = max(map(len, seqs))
    return (torch.tensor([s + [pad] * (L - len(s)) for s in seqs]),
            torch.tensor([[1] * len(s) + [0] * (L - len(s)) for s in seqs]))


def describe(cfg, untied):
    return (f"d {cfg.d_model} heads {cfg.num_heads}x{cfg.d_kv} ff {cfg.d_ff} {cfg.feed_forward_proj} "
            f"layers {cfg.num_layers}+{cfg.num_decoder_layers} buckets {cfg.relative_attention_num_buckets}/"
            f"{cfg.relative_attention_max_distance} head {'untied' if untied else 'tied'}"
            f"{' scaled' if getattr(cfg, 'scale_decoder_outputs', cfg.tie_word_embeddings) else ''}")


def train_one_step(binary, device, model_dir, src, tgt, ck, method="full", extra=()):
    """`compacter train` one AdamW step on the batch (src, tgt), dropout and clipping off,
    checkpoint into ck. Returns the CompletedProcess."""
    data = ck + ".jsonl"
    with open(data, "w") as f:
        for s, t in zip(src, tgt):
            f.write(json.dumps({"source": s, "target": t}) + "\n")
    cmd = [binary, "train", "--device", device, "--model", model_dir, "--train", data, "--method", method,
           "--batch", str(len(src)), "--max-steps", "1", "--clip", "0", "--no-dropout", "--max-source-length",
           "1024", "--max-target-length", "1024", "--lr", "1e-3", "--save", ck, *extra]
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


def checkpoint_grads(ck):
    """{name: gradient} from a checkpoint after one AdamW step (first moment / (1 - beta1))."""
    with safe_open(ck, "pt") as f:
        return {k[len("adam_m/"):]: f.get_tensor(k) / (1 - BETA1) for k in f.keys() if k.startswith("adam_m/")}


KINK = 1e-5  # a ReLU input this close to 0 in float64 may lie on the other side in float32


def compare_grads(ref, ours, names, ref32=None, margin=float("inf")):
    """(worst max|diff| / (max|g| + 1e-4), [failures], PyTorch float32's worst relative error,
    note) over `names`. ref: the float64
    reference; a tensor passes the parity tests' criterion |a - b| <= 1e-6 + 1e-4 |b| +
    1e-5 max|b|, or, when ref32 (PyTorch's own float32 gradients) is given, has an error
    relative to its max|g| at most 8x PyTorch float32's worst on any tensor of the case (deep
    random models on long sequences are ill-conditioned: float32 PyTorch itself is then off
    by 1e-4 of max|g|; rounding errors spread through the network, so the case's worst is
    the measure, not one tensor's, which varies by chance). Over 400 method cases the ratio
    of our worst to PyTorch float32's had median 1.0, 90th percentile 1.2-3.7 by method and
    maximum 6.0: two float32 computations in different orders differ by that much by chance.
    margin: relu_margin of the float64 run; below KINK, failures are cleared and the note says
    why (float32 may put that input on the other side of the kink)."""
    # relative to the tensor's max|g|, floored at 1e-3 of the case's largest: a gradient that
    # is zero in exact arithmetic (BitFit's key biases: softmax ignores a shift shared by all
    # keys) is rounding noise in float32 and float64 alike, and must not set the scale
    floor = 1e-3 * max((ref[k].abs().max().item() for k in names), default=0.0) + 1e-30

    def rel(a, b):
        return (a - b).abs().max().item() / max(b.abs().max().item(), floor)

    e32 = max((rel(ref32[k].double(), ref[k].double()) for k in names), default=0.0) if ref32 is not None else 0.0
    worst, bad = 0.0, []
    for k in names:
        b, g = ref[k].double(), ours[k].double()
        if g.shape != b.shape:
            bad.append(f"{k} shape {tuple(g.shape)} vs {tuple(b.shape)}")
            continue
        d = (g - b).abs()
        worst = max(worst, d.max().item() / (b.abs().max().item() + 1e-4))
        if bool((d <= 1e-6 + 1e-4 * b.abs() + 1e-5 * b.abs().max()).all()) or rel(g, b) <= 8 * e32:
            continue
        bad.append(f"{k} max|diff| {d.max().item():.3g} of max|g| {b.abs().max().item():.3g}"
                   f" (PyTorch float32's worst on this input: {e32:.3g} of max|g|)")
    if bad and margin < KINK:
        return worst, [], e32, f" (a ReLU input {margin:.2g} from its kink in float64: float32 may take the other side)"
    return worst, bad, e32, ""


def relu_margin(model, run, enc_mask):
    """The smallest |input| of any ReLU while run() executes the model (T5's ReLU FFNs and the
    adapters' relu non-linearity), over the encoder's real positions (enc_mask [B, S]). A
    float32 computation may put an input that close to 0 on the other side of the kink, which
    moves every gradient upstream of it (a 4e-7 input flipped moved adapter gradients by 1e-3
    of max|g|, and by 4e-6 with that one unit flipped in the reference too)."""
    found, handles = [], []

    def note(x):
        x = x.detach()
        if x.dim() == 3 and x.shape[:2] == enc_mask.shape:
            x = x[enc_mask.bool()]
        if x.numel():
            found.append(x.abs().min().item())

    for mod in model.modules():
        if isinstance(mod, torch.nn.ReLU):
            handles.append(mod.register_forward_hook(lambda m, i, o: note(i[0])))
        elif getattr(mod, "act", None) == "relu" and hasattr(mod, "down"):  # an adapter
            handles.append(mod.down.register_forward_hook(lambda m, i, o: note(o)))
    try:
        run()
    finally:
        for h in handles:
            h.remove()
    return min(found, default=float("inf"))

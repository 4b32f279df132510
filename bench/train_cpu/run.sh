#!/usr/bin/env bash
# CPU training step (forward, backward, AdamW): this program vs PyTorch eager on the same
# t5-small-shaped random model, batch, lengths and threads (bench/vs_pytorch.sh says what it needs).
exec "$(dirname "$0")/../vs_pytorch.sh" train_cpu

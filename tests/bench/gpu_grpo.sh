#!/bin/sh
# gpu_grpo.sh -- `make bench`: the GRPO loss + gradient to the logits on the
# GPU at Qwen2.5-0.5B's vocabulary (V = 151,936), and the loss fused with its
# LM head (hidden size D = 896: h W^T, the loss, dh and dW, never all the
# logits in memory), rlvr (gpu_grpo_bench) beside PyTorch eager doing the
# same (gpu_grpo_torch.py: logits = h @ W.T, the same loss, backward to h
# and W), same shapes, same run. Shape: GPU_GRPO_B x GPU_GRPO_T tokens
# (default 8 x 1024), GPU_GRPO_V, GPU_GRPO_D, GPU_GRPO_ROUNDS rounds
# (default 5, best kept). The issue's target: at least 2x PyTorch eager,
# with a lower peak memory. torch is looked for in $PYTHON3, then python3.
# Without a GPU it says so in one line; a benchmark reports and does not
# fail: the exit status is 0.
set -u
if [ -n "${srcdir:-}" ] && [ -f "$srcdir/bench/gpu_grpo.sh" ]; then
  here=$(cd "$srcdir/bench" && pwd)
else
  here=$(cd "$(dirname "$0")" && pwd)
fi
BENCH_BIN=${BENCH_BIN:-.}
B=${GPU_GRPO_B:-8}
T=${GPU_GRPO_T:-1024}
V=${GPU_GRPO_V:-151936}
R=${GPU_GRPO_ROUNDS:-5}
D=${GPU_GRPO_D:-896}

out=$("$BENCH_BIN/gpu_grpo_bench" "$B" "$T" "$V" "$R" "$D" 2>&1) || { echo "$out"; echo "gpu_grpo_bench failed"; exit 0; }
echo "$out"
case $out in *"nothing measured"*) exit 0 ;; esac

py=
for p in "${PYTHON3:-python3}" python3; do
  if [ -n "$p" ] && "$p" -c "import torch" >/dev/null 2>&1; then py=$p; break; fi
done
if [ -z "$py" ]; then
  echo "torch: not installed: no reference this run"
  exit 0
fi
"$py" "$here/gpu_grpo_torch.py" "$B" "$T" "$V" "$R" "$D" || echo "gpu_grpo_torch.py failed"
exit 0

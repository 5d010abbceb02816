#!/bin/sh
# gpu_model.sh -- `make bench`: the policy on the GPU, rlvr (gpu_model_bench)
# beside PyTorch doing the same operations with the same shapes
# (gpu_model_torch.py), in the same run: each kernel at Qwen2.5-0.5B's shapes
# (time, GB/s or TFLOP/s, share of the device's peak), then a training step
# (forward, SFT cross-entropy, backward, clipping, AdamW) of a
# Qwen2.5-0.5B-shaped model with random weights, in fp32 (TF32 off) and in
# bf16 with fp32 master weights: ms per step, tokens/s, MFU and peak memory
# (rlvr: its own allocation high-water mark; torch: max_memory_allocated).
# Without a GPU it prints one line saying so. A benchmark reports and does not
# fail: the exit status is 0.
set -u
if [ -n "${srcdir:-}" ] && [ -f "$srcdir/bench/gpu_model.sh" ]; then
  here=$(cd "$srcdir/bench" && pwd)
else
  here=$(cd "$(dirname "$0")" && pwd)
fi
BENCH_BIN=${BENCH_BIN:-.}
bin="$BENCH_BIN/gpu_model_bench"
[ -x "$bin" ] || { echo "gpu_model_bench: not built (it is built only when configure found CUDA): no GPU figures"; exit 0; }
out=$("$bin" kernels 2>&1)
case "$out" in
  *"no GPU"*) echo "$out"; exit 0;;
esac
py=
for p in "${PYTHON3:-python3}" /usr/bin/python3; do
  if [ -n "$p" ] && "$p" -c "import torch; assert torch.cuda.is_available()" >/dev/null 2>&1; then py=$p; break; fi
done
[ -z "$py" ] && echo "torch with CUDA: not installed: no reference this run"
echo "$out"
[ -n "$py" ] && { "$py" "$here/gpu_model_torch.py" kernels || echo "gpu_model_torch.py kernels failed"; }
for prec in fp32 bf16; do
  "$bin" step 4 512 5 $prec || echo "gpu_model_bench step $prec failed"
  [ -n "$py" ] && { "$py" "$here/gpu_model_torch.py" step 4 512 5 $prec || echo "gpu_model_torch.py step $prec failed"; }
done
exit 0

#!/bin/sh
# model.sh -- `make bench`: the policy on the CPU, rlvr (model_bench) beside
# torch doing the same jobs with the same shapes (model_torch.py), in the
# same run: training tokens/s (forward, cross-entropy, backward, AdamW),
# generation tokens/s (prefill, batched decode with a KV cache) and peak
# memory, for the tiny config and for Qwen2.5-0.5B's shape with random
# weights. torch runs with as many threads as rlvr has (OMP_NUM_THREADS,
# else the machine's cores). MODEL_BENCH_SKIP_LARGE=1 leaves out the 0.5B
# rows (they need about 10 GB of memory and a few minutes). A benchmark
# reports and does not fail: the exit status is 0.
set -u
if [ -n "${srcdir:-}" ] && [ -f "$srcdir/bench/model.sh" ]; then
  here=$(cd "$srcdir/bench" && pwd)
else
  here=$(cd "$(dirname "$0")" && pwd)
fi
BENCH_BIN=${BENCH_BIN:-.}
threads=${OMP_NUM_THREADS:-$(nproc)}
py=
for p in "${PYTHON3:-python3}" /usr/bin/python3; do
  if [ -n "$p" ] && "$p" -c "import torch" >/dev/null 2>&1; then py=$p; break; fi
done
[ -z "$py" ] && echo "torch: not installed (pip install torch, or apt install python3-torch): no reference this run"

run() {
  "$BENCH_BIN/model_bench" "$@" || echo "model_bench $* failed"
  [ -n "$py" ] && { "$py" "$here/model_torch.py" "$@" "$threads" || echo "model_torch.py $* failed"; }
}
echo "threads: $threads"
run train tiny 8 128 20
run generate tiny 32 8 128
if [ "${MODEL_BENCH_SKIP_LARGE:-0}" != 1 ]; then
  run train qwen0.5b 1 128 2
  run generate qwen0.5b 64 4 32
fi
exit 0

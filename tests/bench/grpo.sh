#!/bin/sh
# grpo.sh -- `make bench`: GRPO log-probabilities + loss + gradient at
# V = 151,936 on the CPU, rlvr (grpo_bench) beside torch doing the same job
# in TRL's formulation (grpo_torch.py), in the same run.
#
# Shape: GRPO_B sequences of GRPO_T tokens (default 2 x 128 = 256 tokens,
# logits of 155 MB), GRPO_ROUNDS rounds (default 5), best round kept. torch
# runs with 1 thread and with all of torch's default threads; rlvr on one.
# torch is looked for in $PYTHON3, then /usr/bin/python3 (Debian's
# python3-torch); without it the torch lines say so. A benchmark reports and
# does not fail: the exit status is 0.
set -u
if [ -n "${srcdir:-}" ] && [ -f "$srcdir/bench/grpo.sh" ]; then
  here=$(cd "$srcdir/bench" && pwd)
else
  here=$(cd "$(dirname "$0")" && pwd)
fi
BENCH_BIN=${BENCH_BIN:-.}
B=${GRPO_B:-2}
T=${GRPO_T:-128}
V=${GRPO_V:-151936}
R=${GRPO_ROUNDS:-5}

"$BENCH_BIN/grpo_bench" "$B" "$T" "$V" "$R" || echo "grpo_bench failed"

py=
for p in "${PYTHON3:-python3}" /usr/bin/python3; do
  if [ -n "$p" ] && "$p" -c "import torch" >/dev/null 2>&1; then py=$p; break; fi
done
if [ -z "$py" ]; then
  echo "torch: not installed (pip install torch, or apt install python3-torch): no reference this run"
  exit 0
fi
"$py" "$here/grpo_torch.py" "$B" "$T" "$V" "$R" 1 || echo "grpo_torch.py failed"
threads=$("$py" -c "import torch; print(torch.get_num_threads())")
[ "$threads" -gt 1 ] && { "$py" "$here/grpo_torch.py" "$B" "$T" "$V" "$R" "$threads" || echo "grpo_torch.py failed"; }
exit 0

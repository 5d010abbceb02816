#!/bin/sh
# sampler.sh -- `make bench`: choosing one token from logits at V = 151,936
# on the CPU, rlvr (sampler_bench, one thread) beside torch doing the same
# with Hugging Face's logits warpers (sampler_torch.py), in the same run.
#
# Shape: SAMPLER_ROWS rows of logits (default 64) in two shapes (flat and
# peaked, see sampler_bench.c), SAMPLER_V entries each (default 151936),
# SAMPLER_ROUNDS rounds (default 3), best round kept. Modes: greedy,
# temperature 0.7, top-k 50, top-p 0.95, min-p 0.05, each with the token's
# log-probability. torch runs one row at a time and all rows batched, with 1
# thread and with torch's default thread count when that is more. torch is
# looked for in $PYTHON3, then /usr/bin/python3 (Debian's python3-torch);
# without it the torch lines say so. A benchmark reports and does not fail:
# the exit status is 0.
set -u
if [ -n "${srcdir:-}" ] && [ -f "$srcdir/bench/sampler.sh" ]; then
  here=$(cd "$srcdir/bench" && pwd)
else
  here=$(cd "$(dirname "$0")" && pwd)
fi
BENCH_BIN=${BENCH_BIN:-.}
V=${SAMPLER_V:-151936}
N=${SAMPLER_ROWS:-64}
R=${SAMPLER_ROUNDS:-3}

"$BENCH_BIN/sampler_bench" "$V" "$N" "$R" || echo "sampler_bench failed"

py=
for p in "${PYTHON3:-python3}" /usr/bin/python3; do
  if [ -n "$p" ] && "$p" -c "import torch" >/dev/null 2>&1; then py=$p; break; fi
done
if [ -z "$py" ]; then
  echo "torch: not installed (pip install torch, or apt install python3-torch): no reference this run"
  exit 0
fi
"$py" "$here/sampler_torch.py" "$V" "$N" "$R" 1 || echo "sampler_torch.py failed"
threads=$("$py" -c "import torch; print(torch.get_num_threads())")
[ "$threads" -gt 1 ] && { "$py" "$here/sampler_torch.py" "$V" "$N" "$R" "$threads" || echo "sampler_torch.py failed"; }
exit 0

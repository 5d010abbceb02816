#!/bin/sh
# tokenizer.sh -- `make bench`: rlvr's tokenizer (tokenizer_bench) beside
# Hugging Face tokenizers (tokenizer_hf.py) encoding the same strings of
# ../shared/data with Qwen3's tokenizer.json, in the same run. Without the
# tokenizer.json or the shared data the bench says so and skips; without
# the Python tokenizers package, the reference line says so. A benchmark
# reports and does not fail: the exit status is 0.
set -u
if [ -n "${srcdir:-}" ] && [ -f "$srcdir/bench/tokenizer.sh" ]; then
  here=$(cd "$srcdir/bench" && pwd)
else
  here=$(cd "$(dirname "$0")" && pwd)
fi
BENCH_BIN=${BENCH_BIN:-.}
dir=$(mktemp -d) || exit 0
trap 'rm -rf "$dir"' EXIT
out=$("$BENCH_BIN/tokenizer_bench" --dump "$dir") || { echo "tokenizer_bench failed"; exit 0; }
echo "$out"
case "$out" in *skipped*) exit 0 ;; esac
qwen=$(echo "$out" | sed -n 's/^rlvr   load tokenizer.json: [0-9.]* s (\(.*\))$/\1/p')

py=
for p in "${PYTHON3:-python3}" python3 /usr/bin/python3; do
  if [ -n "$p" ] && "$p" -c "import tokenizers" >/dev/null 2>&1; then py=$p; break; fi
done
if [ -z "$py" ]; then
  echo "HF tokenizers: not installed (python3 -m pip install tokenizers): no reference this run"
  exit 0
fi
"$py" "$here/tokenizer_hf.py" "$qwen" "$dir" || echo "tokenizer_hf.py failed"
exit 0

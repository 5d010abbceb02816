#!/bin/sh
# lang.sh -- `make bench`: the lang plugin's samples/s on 4 KB chains of
# thought, English and Chinese, beside a Python implementation of the same
# proportion rule measured in the same run.
#
# Corpora (bench/lang_corpus.py, seeded; BENCH_N samples each, default
# 20000): English CoTs (English sentences of mathematical reasoning, a third
# with inline math and numbers: every sentence goes to CLD2) and Chinese CoTs
# (Chinese sentences, a third with inline math, a tenth English sentences,
# fenced code in a quarter of the samples). Each completion is about 4 KB.
# rlvr runs end to end,
#   $RLVR score --plugin lang --threads T --in corpus --out out
# at T = 1 and 2 (best of BENCH_ROUNDS, default 3; wall time from process
# start to exit, by measure.py), and on the Chinese corpus also with
# cjk_unit = "char". The reference, bench/lang_ref.py (Python's re and
# unicodedata, CLD2 through ctypes, one Han character per word), runs on the
# first BENCH_REF_N samples (default 2000) of each corpus, and its scores are
# compared with rlvr's cjk_unit = "char" scores on the same samples (the same
# rule: they must agree).
#
# Targets (issue 5), on 2 cores: at least 10,000 samples/s on English CoTs
# and 5,000 on Chinese ones. A benchmark reports and does not fail: the exit
# status is 0 whether or not a target is met; the verdict is printed.
# Environment: RLVR, RLVR_BUILTIN_DIR, PYTHON3 (set by `make bench`), srcdir.
set -u

if [ -n "${srcdir:-}" ] && [ -f "$srcdir/bench/lang.sh" ]; then
  here=$(cd "$srcdir/bench" && pwd)
else
  here=$(cd "$(dirname "$0")" && pwd)
fi
PYTHON3=${PYTHON3:-python3}
[ -n "$PYTHON3" ] || PYTHON3=python3
RLVR=${RLVR:-rlvr}
N=${BENCH_N:-20000}
REF_N=${BENCH_REF_N:-2000}
ROUNDS=${BENCH_ROUNDS:-3}

if ! command -v "$PYTHON3" >/dev/null 2>&1; then
  echo "lang.sh: no python3 (PYTHON3=$PYTHON3): the corpora need it; nothing measured"
  exit 0
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rlvr-bench-lang.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

printf 'return mix { plugin("lang", { config = { cjk_unit = "char" } }) }\n' > "$tmp/char.lua"

# best LABEL ARGS...: rlvr score ARGS, ROUNDS times; sets best (seconds) and rc
best() {
  best=; rc=0; r=0
  while [ "$r" -lt "$ROUNDS" ]; do
    r=$((r + 1))
    line=$("$PYTHON3" "$here/measure.py" "$tmp/out.txt" "$tmp/err.txt" "$RLVR" score "$@") || { rc=127; return; }
    c=${line##*rc=}
    if [ "$c" != 0 ]; then rc=$c; return; fi
    w=${line#wall=}; w=${w%% *}
    best=$(awk -v a="$w" -v b="${best:-}" 'BEGIN { print (b == "" || a + 0 < b + 0) ? a : b }')
  done
}

echo "lang: $N samples per corpus, about 4 KB each; $(nproc 2>/dev/null || echo '?') cores; best of $ROUNDS rounds"
printf '%-44s %10s %9s %8s\n' run samples/s target met
verdict=
for lang in en zh; do
  corpus=$tmp/$lang.jsonl
  "$PYTHON3" "$here/lang_corpus.py" --lang "$lang" -n "$N" -o "$corpus" || { echo "lang.sh: lang_corpus.py failed"; exit 1; }
  target=$([ "$lang" = en ] && echo 10000 || echo 5000)
  for t in 1 2; do
    best --plugin lang --threads "$t" --in "$corpus" --out "$tmp/o.jsonl" --quiet
    if [ "$rc" != 0 ]; then
      printf '%-44s %10s\n' "rlvr lang, $lang, $t thread(s)" "failed ($rc)"; sed 's/^/    /' "$tmp/err.txt" | tail -n 5
      [ "$t" = 2 ] && verdict="$verdict $lang: not measured;"
      continue
    fi
    n_out=$(wc -l < "$tmp/o.jsonl" | tr -d ' ')
    rate=$(awk -v n="$N" -v w="$best" 'BEGIN { printf "%.0f", n / w }')
    if [ "$t" = 2 ]; then
      met=$(awk -v r="$rate" -v g="$target" 'BEGIN { print (r + 0 >= g + 0) ? "yes" : "no" }')
      [ "$n_out" = "$N" ] || met="no (only $n_out results)"
      printf '%-44s %10s %9s %8s\n' "rlvr lang, $lang, 2 threads" "$rate" "$target" "$met"
      verdict="$verdict $lang at 2 threads: $rate/s (target $target, met: $met);"
    else
      printf '%-44s %10s %9s %8s\n' "rlvr lang, $lang, 1 thread" "$rate" - -
    fi
  done
  best --mix "$tmp/char.lua" --threads 2 --in "$corpus" --out "$tmp/o.jsonl" --quiet
  [ "$rc" = 0 ] && printf '%-44s %10s %9s %8s\n' "rlvr lang cjk_unit=char, $lang, 2 threads" \
    "$(awk -v n="$N" -v w="$best" 'BEGIN { printf "%.0f", n / w }')" - -

  # the Python reference, and the agreement of the two on the same samples
  head -n "$REF_N" "$corpus" > "$tmp/ref.jsonl"
  ref=$("$PYTHON3" "$here/lang_ref.py" "$tmp/ref.jsonl" "$tmp/ref_scores.txt") || { echo "lang.sh: lang_ref.py failed"; continue; }
  rrate=$(echo "$ref" | sed 's/.*rate=\([0-9.]*\).*/\1/')
  printf '%-44s %10.0f %9s %8s\n' "python reference (1 thread), $lang" "$rrate" - -
  "$RLVR" score --mix "$tmp/char.lua" --in "$tmp/ref.jsonl" --out "$tmp/c.jsonl" --quiet 2>/dev/null
  "$PYTHON3" - "$tmp/c.jsonl" "$tmp/ref_scores.txt" <<'PY'
import json, sys
a = [json.loads(l)["reward"] for l in open(sys.argv[1])]
b = [None if l.strip() == "null" else float(l) for l in open(sys.argv[2])]
same = sum(1 for x, y in zip(a, b) if (x is None) == (y is None) and (x is None or abs(x - y) < 1e-9))
mean = sum(x for x in a if x is not None) / max(1, sum(1 for x in a if x is not None))
print("    reference and rlvr (cjk_unit=char) agree on %d of %d samples; mean reward %.4f" % (same, len(a), mean))
PY
done
echo "verdict:$verdict"
exit 0

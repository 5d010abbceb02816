#!/bin/sh
# shaping.sh -- `make bench`: the shaping plugins (length, cosine,
# repetition_penalty, soft_overlong_punishment, reasoning_steps) in samples/s
# on 4 KB completions, beside open-r1's functions written in Python
# (shaping_openr1.py), timed in the same run on the same corpus.
#
# The corpus (shaping_corpus.py, deterministic): SHAPING_N samples (default
# 20,000) of 4,000 to 4,096 bytes each, in groups of 8; 50% English, 30%
# Chinese, 20% Chinese and English mixed; a fifth loop, a third carry step
# markers, half carry completion_tokens. rlvr's rows are the whole job,
#   $RLVR score --mix MIX --threads T --in corpus.jsonl --out out.jsonl
# timed from process start to exit by measure.py, for T = 1 and 2, where MIX
# is the plugin alone, or `exact_match` named "accuracy" then the plugin for
# length and cosine (which read it); the row "exact_match alone" shows what
# that accuracy entry costs by itself. Python's rows (shaping_pyref.py): the
# function alone in memory ("func") and the whole job ("job": read, parse,
# answer check where needed, function, write), and beside it shaping_bench
# (the engine's rule alone in memory, "C func"). Best of SHAPING_ROUNDS
# (default 3). Every rlvr run's output is checked: one result per sample and
# no null reward, so a fast but wrong run cannot pass.
#
# A benchmark reports and never fails: the exit status is 0 (figures that
# could not be taken say so). Environment: RLVR, RLVR_BUILTIN_DIR, BENCH_BIN, PYTHON3
# (set by `make bench`), srcdir (optional), SHAPING_CORPUS (a file to keep
# and reuse), SHAPING_N, SHAPING_ROUNDS.
set -u

if [ -n "${srcdir:-}" ] && [ -f "$srcdir/bench/shaping.sh" ]; then
  here=$(cd "$srcdir/bench" && pwd)
else
  here=$(cd "$(dirname "$0")" && pwd)
fi
PYTHON3=${PYTHON3:-python3}
[ -n "$PYTHON3" ] || PYTHON3=python3
RLVR=${RLVR:-rlvr}
N=${SHAPING_N:-20000}
ROUNDS=${SHAPING_ROUNDS:-3}

if ! command -v "$PYTHON3" >/dev/null 2>&1; then
  echo "shaping.sh: no python3 (PYTHON3=$PYTHON3): the corpus and the reference need it; nothing measured"
  exit 0
fi
if [ ! -x "$RLVR" ] && ! command -v "$RLVR" >/dev/null 2>&1; then
  echo "shaping.sh: $RLVR is not built; nothing measured"
  exit 0
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rlvr-shaping.XXXXXX") || exit 0
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

corpus=${SHAPING_CORPUS:-$tmp/corpus.jsonl}
if [ -s "$corpus" ]; then
  echo "corpus: $corpus (reused)"
else
  "$PYTHON3" "$here/shaping_corpus.py" -n "$N" -o "$corpus" || { echo "shaping.sh: shaping_corpus.py failed"; exit 0; }
fi
N=$(wc -l < "$corpus" | tr -d ' ')
kb=$(wc -c < "$corpus" | awk -v n="$N" '{ printf "%.1f", $1 / n / 1024 }')
echo "corpus: $N samples (about $kb KB a line: 4 KB completions; 50% English, 30% Chinese, 20% mixed), groups of 8"
echo "machine: $(nproc 2>/dev/null || echo '?') cores; best of $ROUNDS rounds"

# measure NAME CMD...: best wall time (best_wall, seconds) over ROUNDS; rc the
# first non-zero status. $tmp/NAME.err holds the last round's stderr.
measure() {
  name=$1; shift
  best_wall=; rc=0; r=0
  while [ "$r" -lt "$ROUNDS" ]; do
    r=$((r + 1))
    line=$("$PYTHON3" "$here/measure.py" "$tmp/$name.out" "$tmp/$name.err" "$@") || { rc=127; return; }
    w=${line#wall=}; w=${w%% *}
    c=${line##*rc=}
    if [ "$c" != 0 ]; then rc=$c; return; fi
    best_wall=$(awk -v a="$w" -v b="${best_wall:-}" 'BEGIN { print (b == "" || a + 0 < b + 0) ? a : b }')
  done
}

mixfile() { # PLUGIN -> path of a mix for it
  m=$tmp/mix_$1.lua
  case "$1" in
    length|cosine|exact_match)
      printf 'return mix {\n  plugin("exact_match", { name = "accuracy" }),\n' > "$m"
      [ "$1" = exact_match ] || printf '  plugin("%s"),\n' "$1" >> "$m"
      printf '}\n' >> "$m" ;;
    *) printf 'return mix {\n  plugin("%s"),\n}\n' "$1" > "$m" ;;
  esac
  echo "$m"
}

rate_rlvr() { # PLUGIN THREADS -> prints samples/s, or a word saying why not
  m=$(mixfile "$1")
  rm -f "$tmp/out.jsonl"
  measure rlvr "$RLVR" score --quiet --mix "$m" --threads "$2" --in "$corpus" --out "$tmp/out.jsonl"
  if [ "$rc" != 0 ]; then echo "failed($rc)"; return; fi
  got=$(wc -l < "$tmp/out.jsonl" | tr -d ' ')
  nulls=$(grep -c '"reward":null' "$tmp/out.jsonl")
  if [ "$got" != "$N" ] || [ "$nulls" != 0 ]; then echo "wrong($got,$nulls)"; return; fi
  awk -v n="$N" -v w="$best_wall" 'BEGIN { printf "%.0f", n / w }'
}

echo
echo "== Python reference (open-r1's functions, $("$PYTHON3" -c 'import platform; print(platform.python_implementation(), platform.python_version())'))"
"$PYTHON3" "$here/shaping_pyref.py" "$corpus" "$ROUNDS" > "$tmp/py.txt" 2> "$tmp/py.err" || {
  echo "shaping_pyref.py failed:"; cat "$tmp/py.err"; }

cfunc=$tmp/c.txt
if [ -x "${BENCH_BIN:-.}/shaping_bench" ]; then
  "${BENCH_BIN:-.}/shaping_bench" "$corpus" "$ROUNDS" > "$cfunc" 2>&1 || { echo "shaping_bench failed:"; cat "$cfunc"; }
else
  echo "(shaping_bench not built: 'make bench' builds it; its column stays empty)"
  : > "$cfunc"
fi

echo
printf '%-26s %11s %11s %11s %11s %11s %9s\n' plugin "rlvr 1 thr" "rlvr 2 thr" "py job" "C func" "py func" "2thr/job"
for p in exact_match length cosine repetition_penalty soft_overlong_punishment reasoning_steps; do
  r1=$(rate_rlvr "$p" 1)
  r2=$(rate_rlvr "$p" 2)
  pf=$(sed -n "s/^$p func=\([0-9]*\) .*/\1/p" "$tmp/py.txt")
  pj=$(sed -n "s/^$p .*job=\([0-9]*\).*/\1/p" "$tmp/py.txt")
  cf=$(sed -n "s/^$p func=\([0-9]*\).*/\1/p" "$cfunc")
  ratio=$(awk -v a="$r2" -v b="${pj:-}" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.1fx", a / b; else print "-" }')
  label=$p; [ "$p" = exact_match ] && label="exact_match alone"
  printf '%-26s %11s %11s %11s %11s %11s %9s\n' "$label" "$r1" "$r2" "${pj:--}" "${cf:--}" "${pf:--}" "$ratio"
done
echo
echo "rlvr: the whole job (file in, results out; length and cosine include the exact_match entry they read)."
echo "py job: the same whole job in Python with open-r1's function; 2thr/job: rlvr at 2 threads over py job."
echo "C func / py func: the rule alone on completions in memory, one thread (shaping_bench / open-r1's function)."
exit 0

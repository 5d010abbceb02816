#!/bin/sh
# format.sh -- `make bench`: samples/s of the format and tag_count plugins on
# 4 KB completions, through the engine directly and end to end through
# `rlvr score`, beside open-r1's rules in Python's re measured in the same run.
#
# The corpus (format_corpus.py; FORMAT_BENCH_N samples, default 20000; the
# mix of formats is printed) is generated once into a temporary folder.
#   engine:     format_bench (the engine over the corpus in memory, 1 and 2
#               threads; every verdict checked against the corpus's `expect`)
#   reference:  format_ref.py (open-r1's format_reward regex and tag_count in
#               CPython, in memory, and the regex as a whole job: read, parse,
#               score, write)
#   end to end: $RLVR score --plugin format|tag_count --threads T --in corpus
#               --out results, T = 1 and 2, timed by measure.py from process
#               start to exit, best of BENCH_ROUNDS (default 3); the results
#               are checked (format: every reason as expected; tag_count:
#               every score equal to open-r1's) so a fast wrong run cannot pass.
# Target (issue 5): at least 50,000 samples/s for format on 2 cores. A
# benchmark reports and does not fail: the exit status is 0; the verdict is
# printed. Environment: RLVR, BENCH_BIN, PYTHON3 (set by `make bench`).
set -u

if [ -n "${srcdir:-}" ] && [ -f "$srcdir/bench/format.sh" ]; then
  here=$(cd "$srcdir/bench" && pwd)
else
  here=$(cd "$(dirname "$0")" && pwd)
fi
PYTHON3=${PYTHON3:-python3}
[ -n "$PYTHON3" ] || PYTHON3=python3
RLVR=${RLVR:-rlvr}
BENCH_BIN=${BENCH_BIN:-.}
N=${FORMAT_BENCH_N:-20000}
ROUNDS=${BENCH_ROUNDS:-3}

if ! command -v "$PYTHON3" >/dev/null 2>&1; then
  echo "format.sh: no python3: the corpus and the reference need it; nothing measured"
  exit 0
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rlvr-format-bench.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

corpus=$tmp/corpus.jsonl
"$PYTHON3" "$here/format_corpus.py" -n "$N" -o "$corpus" || { echo "format.sh: format_corpus.py failed"; exit 0; }
mb=$(wc -c < "$corpus" | awk '{ printf "%.1f", $1 / 1e6 }')
echo "corpus: $N samples, $mb MB, completions 3.9-4.1 KB; $(nproc 2>/dev/null || echo '?') cores; best of $ROUNDS rounds"
echo "mix: 60% open-r1 newline form (ok), 10% one line with spaces (ok), 5% CRLF + <|im_end|> (ok),"
echo "     10% junk after </answer>, 5% two answers, 5% nested think, 5% no answer block"

printf '\n%-44s %12s %8s\n' "measurement" samples/s MB/s
pyver=$("$PYTHON3" -c 'import platform; print(platform.python_implementation(), platform.python_version())')
"$PYTHON3" "$here/format_ref.py" "$corpus" "$ROUNDS" > "$tmp/ref.txt" || { echo "format_ref.py failed"; exit 0; }
ref() { awk -v k="$1" '$1 == k { print $2 }' "$tmp/ref.txt"; }
row() { awk -v l="$1" -v r="$2" -v mb="$mb" -v n="$N" 'BEGIN { if (r ~ /^[0-9.]+$/) printf "%-44s %12.0f %8.0f\n", l, r, r * mb / n; else printf "%-44s %12s %8s\n", l, r, "-" }'; }
row "open-r1 format regex, $pyver, in memory" "$(ref openr1_format_mem)"
row "open-r1 tag_count, $pyver, in memory" "$(ref openr1_tags_mem)"
row "open-r1 format regex, $pyver, whole job" "$(ref openr1_format_job)"

engine_fmt2=
if [ -x "$BENCH_BIN/format_bench" ]; then
  "$BENCH_BIN/format_bench" "$corpus" 5 > "$tmp/engine.txt"
  while read -r name threads rate rest; do
    [ "$name" = corpus ] && continue
    if [ "$rate" = wrong ]; then row "engine: $name, $threads thread(s)" "WRONG($rest)"; continue; fi
    row "engine: $name, $threads thread(s), in memory" "$rate"
    [ "$name" = format ] && [ "$threads" = 2 ] && engine_fmt2=$rate
  done < "$tmp/engine.txt"
else
  echo "(format_bench not built: run 'make bench' or 'make format_bench' in tests/)"
fi

e2e_fmt2=
if [ ! -x "$RLVR" ] && ! command -v "$RLVR" >/dev/null 2>&1; then
  echo "rlvr: $RLVR is not built; end-to-end runs skipped"
else
  for plugin in format tag_count; do
    for t in 1 2; do
      best=
      r=0
      while [ "$r" -lt "$ROUNDS" ]; do
        r=$((r + 1))
        line=$("$PYTHON3" "$here/measure.py" "$tmp/out.jsonl" "$tmp/err.txt" \
               "$RLVR" score --plugin "$plugin" --threads "$t" --in "$corpus" --quiet) || break
        w=${line#wall=}; w=${w%% *}; c=${line##*rc=}
        [ "$c" = 0 ] || { best=failed; break; }
        best=$(awk -v a="$w" -v b="${best:-}" 'BEGIN { print (b == "" || a + 0 < b + 0) ? a : b }')
      done
      if [ "$best" = failed ] || [ -z "$best" ]; then
        row "rlvr score --plugin $plugin, $t thread(s)" failed; tail -n 3 "$tmp/err.txt"; continue
      fi
      verdict=$("$PYTHON3" "$here/format_ref.py" --check "$corpus" "$tmp/out.jsonl" "$plugin")
      case "$verdict" in
        checked*) rate=$(awk -v n="$N" -v w="$best" 'BEGIN { printf "%.0f", n / w }')
                  row "rlvr score --plugin $plugin, $t thread(s)" "$rate"
                  [ "$plugin" = format ] && [ "$t" = 2 ] && e2e_fmt2=$rate ;;
        *) row "rlvr score --plugin $plugin, $t thread(s)" WRONG; echo "    $verdict" ;;
      esac
    done
  done
fi

echo
v() { awk -v r="${1:-0}" 'BEGIN { print (r + 0 >= 50000) ? "met" : "MISSED" }'; }
echo "verdict: format at 2 threads, target 50,000 samples/s: engine ${engine_fmt2:-not measured} ($(v "$engine_fmt2")), rlvr score end to end ${e2e_fmt2:-not measured} ($(v "$e2e_fmt2"))"
exit 0

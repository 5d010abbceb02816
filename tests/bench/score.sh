#!/bin/sh
# score.sh -- `make bench`: rlvr score throughput and peak memory on 100,000
# R1-shaped samples, beside a plain Python loop measured in the same run.
#
# Steps: generate the corpus once (make_corpus.py, deterministic; BENCH_CORPUS
# names a file to keep and reuse it, BENCH_N changes the sample count);
# measure the JSON library candidates in memory on one thread
# (json_candidates, json_candidates_jansson when built) with CPython's json
# loop as a row of the same table; then run the whole job end to end,
#   $RLVR score --plugin P --threads T --in corpus.jsonl --out out.jsonl
# for the C plugin (tests/plugins/trivial.c, $RLVR_TEST_PLUGINS/trivial.so)
# and the Lua one (trivial.lua beside this script) at T = 1 and 2, and
# py_loop.py on the same corpus. Every run is timed from process start to
# exit and its peak RSS taken by measure.py, the best of BENCH_ROUNDS
# (default 3) rounds is kept, and rlvr's output is checked (one result per
# sample, reward 1) so a fast but wrong run cannot pass.
#
# Targets (from the foundation issue), at 2 threads, against the Python loop
# doing the whole job: the C plugin at least 2.5x, the Lua plugin at least
# 1.5x. A benchmark reports and does not fail: the exit status is 0 whether or
# not a target is met (or rlvr score is missing); the verdict is printed.
# Environment: RLVR, RLVR_TEST_PLUGINS, BENCH_BIN, PYTHON3 (set by `make
# bench`), srcdir (optional: the tests source directory; else derived from $0).
set -u

if [ -n "${srcdir:-}" ] && [ -f "$srcdir/bench/score.sh" ]; then
  here=$(cd "$srcdir/bench" && pwd)
else
  here=$(cd "$(dirname "$0")" && pwd)
fi
PYTHON3=${PYTHON3:-python3}
[ -n "$PYTHON3" ] || PYTHON3=python3
RLVR=${RLVR:-rlvr}
RLVR_TEST_PLUGINS=${RLVR_TEST_PLUGINS:-.libs}
BENCH_BIN=${BENCH_BIN:-.}
N=${BENCH_N:-100000}
ROUNDS=${BENCH_ROUNDS:-3}

if ! command -v "$PYTHON3" >/dev/null 2>&1; then
  echo "score.sh: no python3 (PYTHON3=$PYTHON3): the corpus and the reference need it; nothing measured"
  exit 0
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rlvr-bench.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

corpus=${BENCH_CORPUS:-$tmp/corpus.jsonl}
if [ -s "$corpus" ]; then
  echo "corpus: $corpus (reused)"
else
  echo "corpus: generating $N samples into $corpus"
  "$PYTHON3" "$here/make_corpus.py" -n "$N" -o "$corpus" || { echo "score.sh: make_corpus.py failed"; exit 1; }
fi
N=$(wc -l < "$corpus" | tr -d ' ')
mb=$(wc -c < "$corpus" | awk '{ printf "%.1f", $1 / 1e6 }')
echo "corpus: $N samples, $mb MB; $(nproc 2>/dev/null || echo '?') cores; best of $ROUNDS rounds"

# measure NAME CMD...: runs CMD ROUNDS times through measure.py; sets
# best_wall (seconds of the fastest round), max_rss (MB, the largest of the
# rounds) and rc (the first non-zero status, else 0); NAME.out and NAME.err
# in $tmp hold the last round's stdout and stderr.
measure() {
  name=$1; shift
  best_wall=; max_rss=0; rc=0
  r=0
  while [ "$r" -lt "$ROUNDS" ]; do
    r=$((r + 1))
    line=$("$PYTHON3" "$here/measure.py" "$tmp/$name.out" "$tmp/$name.err" "$@") || { rc=127; return; }
    w=${line#wall=}; w=${w%% *}
    m=${line#*rss_mb=}; m=${m%% *}
    c=${line##*rc=}
    if [ "$c" != 0 ]; then rc=$c; return; fi
    best_wall=$(awk -v a="$w" -v b="${best_wall:-}" 'BEGIN { print (b == "" || a + 0 < b + 0) ? a : b }')
    max_rss=$(awk -v a="$m" -v b="$max_rss" 'BEGIN { print (a + 0 > b + 0) ? a : b }')
  done
}

# -- the Python reference ------------------------------------------------------
measure py "$PYTHON3" "$here/py_loop.py" "$corpus"
if [ "$rc" != 0 ]; then
  echo "score.sh: py_loop.py failed (status $rc):"; cat "$tmp/py.err"
  exit 1
fi
py_rate=$(awk -v n="$N" -v w="$best_wall" 'BEGIN { printf "%.0f", n / w }')
py_rss=$max_rss
py_json=$(sed -n 's/.*json_rate=\([0-9.]*\).*/\1/p' "$tmp/py.out")
pyver=$("$PYTHON3" -c 'import platform; print(platform.python_implementation(), platform.python_version())')

# -- JSON libraries --------------------------------------------------------------
echo
echo "== JSON libraries: parse, read 4 fields, trivial function, serialize a result (in memory, 1 thread)"
if [ -x "$BENCH_BIN/json_candidates" ]; then
  "$BENCH_BIN/json_candidates" "$corpus" "$ROUNDS" | sed 1d
  [ -x "$BENCH_BIN/json_candidates_jansson" ] && "$BENCH_BIN/json_candidates_jansson" -q "$corpus" "$ROUNDS"
  [ -x "$BENCH_BIN/json_candidates_jansson" ] || echo "(jansson: not built; configure did not find it)"
else
  echo "(json_candidates not built: run 'make bench' or 'make json_candidates' in tests/)"
fi
awk -v name="$pyver json" -v r="$py_json" -v n="$N" -v mb="$mb" \
  'BEGIN { printf "%-28s %12.0f %9.1f %18s\n", name, r, r * mb / n, "(py_loop.py)" }'

# -- rlvr score end to end -------------------------------------------------------
echo
echo "== rlvr score, whole job (file in, results out), against the Python loop doing the same"
printf '%-30s %10s %8s %12s %7s\n' config samples/s ratio "peak RSS MB" target
printf '%-30s %10s %8s %12s %7s\n' "python loop ($pyver)" "$py_rate" 1.00 "$py_rss" -

verdict=
run_rlvr() { # LABEL PLUGIN THREADS TARGET_RATIO(or -)
  label=$1; plugin=$2; threads=$3; target=$4
  rm -f "$tmp/out.jsonl"
  measure rlvr "$RLVR" score --plugin "$plugin" --threads "$threads" --in "$corpus" --out "$tmp/out.jsonl"
  if [ "$rc" != 0 ]; then
    printf '%-30s %10s %8s %12s %7s\n' "$label" "failed" - - "$( [ "$target" = - ] && echo - || echo no)"
    echo "    rlvr exited with status $rc:"; tail -n 5 "$tmp/rlvr.err" | sed 's/^/    /'
    [ "$target" = - ] || verdict="$verdict $label: not measured (rlvr score failed);"
    return
  fi
  got=0; ones=0
  if [ -f "$tmp/out.jsonl" ]; then
    got=$(wc -l < "$tmp/out.jsonl" | tr -d ' ')
    ones=$(grep -c '"reward": *1' "$tmp/out.jsonl")
  fi
  if [ "$got" != "$N" ] || [ "$ones" != "$N" ]; then
    printf '%-30s %10s %8s %12s %7s\n' "$label" "wrong" - - "$( [ "$target" = - ] && echo - || echo no)"
    echo "    $got result lines, $ones with reward 1, for $N samples"
    [ "$target" = - ] || verdict="$verdict $label: wrong output;"
    return
  fi
  rate=$(awk -v n="$N" -v w="$best_wall" 'BEGIN { printf "%.0f", n / w }')
  ratio=$(awk -v a="$rate" -v b="$py_rate" 'BEGIN { printf "%.2f", a / b }')
  if [ "$target" = - ]; then
    met=-
  else
    met=$(awk -v r="$ratio" -v t="$target" 'BEGIN { print (r + 0 >= t + 0) ? "yes" : "no" }')
    verdict="$verdict $label: ${ratio}x of ${target}x $( [ "$met" = yes ] && echo met || echo MISSED);"
  fi
  printf '%-30s %10s %8s %12s %7s\n' "$label" "$rate" "$ratio" "$max_rss" "$met"
  case "$label" in *"2 threads"*) tail -n 2 "$tmp/rlvr.err" | sed 's/^/    summary: /' ;; esac
}

if [ ! -x "$RLVR" ] && ! command -v "$RLVR" >/dev/null 2>&1; then
  echo "rlvr: $RLVR is not built; end-to-end runs skipped"
  verdict=" not measured (no rlvr binary);"
else
  cso=$RLVR_TEST_PLUGINS/trivial.so
  if [ -f "$cso" ]; then
    run_rlvr "C plugin, 1 thread" "$cso" 1 -
    run_rlvr "C plugin, 2 threads" "$cso" 2 2.5
  else
    echo "C plugin: $cso not built (make bench builds trivial.la)"
    verdict="$verdict C plugin: not measured;"
  fi
  run_rlvr "Lua plugin, 1 thread" "$here/trivial.lua" 1 -
  run_rlvr "Lua plugin, 2 threads" "$here/trivial.lua" 2 1.5
fi

echo
echo "Python loop, JSON work alone: $py_json samples/s (the whole job: $py_rate samples/s)"
echo "verdict:$verdict"
exit 0

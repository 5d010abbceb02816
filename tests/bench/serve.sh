#!/bin/sh
# serve.sh -- `make bench`: rlvr serve's requests/s and p99 latency for
# 1-sample and 256-sample requests with the math and format plugins
# (lua/examples/r1_mix.lua), beside a Python standard-library HTTP server
# doing the same scoring (serve_bench.py ref-server: math-verify's
# parse/verify and open-r1's format regex, as open-r1 and TRL score; the
# format rule alone when math_verify cannot be imported, with math-verify's
# recorded per-check cost printed beside), measured in the same run by the
# same load generator (serve_bench.py load: keep-alive clients in separate
# processes, each sending its next request when the last is answered).
#
# Corpus: MATH-500's self-check cases from the shared data when present
# ($RLVR_SHARED_DATA, else what configure found), else generated arithmetic.
# Environment: RLVR, RLVR_BUILTIN_DIR, PYTHON3 (set by `make bench`);
# BENCH_SECONDS (default 3) per measurement, BENCH_CLIENTS (default 4),
# BENCH_THREADS (rlvr serve --threads; default all cores). A benchmark
# reports and does not fail: the exit status is 0.
set -u

if [ -n "${srcdir:-}" ] && [ -f "$srcdir/bench/serve.sh" ]; then
  here=$(cd "$srcdir/bench" && pwd)
else
  here=$(cd "$(dirname "$0")" && pwd)
fi
top=$(cd "$here/../.." && pwd)
PYTHON3=${PYTHON3:-python3}
[ -n "$PYTHON3" ] || PYTHON3=python3
RLVR=${RLVR:-rlvr}
SECS=${BENCH_SECONDS:-3}
CLIENTS=${BENCH_CLIENTS:-4}
THREADS=${BENCH_THREADS:-}

data=${RLVR_SHARED_DATA:-}
if [ -z "$data" ] && [ -f Makefile ]; then
  data=$(sed -n 's/^SHARED_DATA = //p' Makefile | head -n 1)
fi

tmp=$(mktemp -d)
rpid=
ppid_=
cleanup() {
  [ -n "$rpid" ] && kill "$rpid" 2>/dev/null
  [ -n "$ppid_" ] && kill "$ppid_" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

if [ -n "$data" ] && [ -d "$data/math" ]; then
  "$PYTHON3" "$here/serve_bench.py" corpus "$tmp/corpus.jsonl" --data "$data" || exit 0
else
  "$PYTHON3" "$here/serve_bench.py" corpus "$tmp/corpus.jsonl" || exit 0
fi

# rlvr serve
targs=
[ -n "$THREADS" ] && targs="--threads $THREADS"
"$RLVR" serve --mix "$top/lua/examples/r1_mix.lua" --listen 127.0.0.1:0 --port-file "$tmp/rport" \
  --max-samples 100000 $targs --quiet 2>"$tmp/rlvr.err" &
rpid=$!
# the Python reference server
"$PYTHON3" "$here/serve_bench.py" ref-server "$tmp/pport" 2>"$tmp/py.err" &
ppid_=$!
i=0
while [ $i -lt 300 ] && { [ ! -s "$tmp/rport" ] || [ ! -s "$tmp/pport" ]; }; do
  sleep 0.1
  i=$((i + 1))
done
if [ ! -s "$tmp/rport" ] || [ ! -s "$tmp/pport" ]; then
  echo "serve bench: a server did not start; nothing measured"
  cat "$tmp/rlvr.err" "$tmp/py.err"
  exit 0
fi
rurl="http://127.0.0.1:$(cat "$tmp/rport")"
set -- $(cat "$tmp/pport")
purl="http://127.0.0.1:$1"
pwhat=$2
echo "serve bench: $CLIENTS keep-alive clients, $SECS s a measurement, $(nproc) cores (rlvr serve ${THREADS:+--threads $THREADS})"
for batch in 1 256; do
  "$PYTHON3" "$here/serve_bench.py" load "rlvr serve (math+format)" "$rurl" "$tmp/corpus.jsonl" \
    --batch $batch --clients "$CLIENTS" --seconds "$SECS"
  "$PYTHON3" "$here/serve_bench.py" load "python http.server ($pwhat)" "$purl" "$tmp/corpus.jsonl" \
    --batch $batch --clients "$CLIENTS" --seconds "$SECS"
done
if [ "$pwhat" = "format-only" ]; then
  echo "math_verify cannot be imported by $PYTHON3: the Python server scored the format rule alone"
  if [ -n "$data" ] && [ -f "$data/math/math500_selfcheck.mathverify_verdicts.jsonl" ]; then
    "$PYTHON3" "$here/serve_bench.py" recorded "$data/math/math500_selfcheck.mathverify_verdicts.jsonl"
  fi
fi
exit 0

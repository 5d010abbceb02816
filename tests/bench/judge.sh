#!/bin/sh
# judge.sh -- `make bench`: the judge plugin's judged samples/s with 64
# requests in flight, and the client's own CPU per request, beside a Python
# standard-library client (a thread pool of 64 with urllib) against the same
# server (tests/judge_server.py, its own process) in the same run. See
# bench/judge_bench.py for what is measured and how.
# Environment: RLVR, RLVR_BUILTIN_DIR, PYTHON3 (set by `make bench`), srcdir,
# BENCH_N (samples per run, default 2000), BENCH_DELAYS (the server's reply
# delays in ms, default "0 50").
set -u
if [ -n "${srcdir:-}" ] && [ -f "$srcdir/bench/judge.sh" ]; then
  here=$(cd "$srcdir/bench" && pwd)
else
  here=$(cd "$(dirname "$0")" && pwd)
fi
exec "${PYTHON3:-python3}" "$here/judge_bench.py"

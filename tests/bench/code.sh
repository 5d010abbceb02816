#!/bin/sh
# bench/code.sh (make bench): the code sandbox's throughput. Trivial Python
# and C programs run through `rlvr score --plugin code` (parallel slots),
# beside the same programs run bare and through a Python subprocess runner
# with rlimits and no namespaces (how open-r1's and verl's local runners
# work), all measured in this script. Prints programs/s, the sandbox's
# overhead per run and peak memory.
set -e
here=$(dirname "$0")
exec "${PYTHON3:-python3}" "$here/code_bench.py" "$@"

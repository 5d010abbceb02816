#!/usr/bin/env python3
"""py_loop.py -- the plain Python reference of the scoring benchmark.

    py_loop.py CORPUS.jsonl [OUT]      (OUT defaults to /dev/null)

What a reward function written in Python costs without rlvr: for each line of
the corpus, json.loads, the trivial function of the benchmark plugins (1.0
when the completion is non-empty, else 0.0), and json.dumps of a result of
the shape rlvr writes, {"id", "reward", "components": {"trivial": ...},
"details": {}}, written to OUT as JSONL. One thread, CPython's own json
module (its C accelerator).

Two figures: the whole job (opening the corpus to closing OUT: reading and
decoding lines, the JSON work, writing), which is what `rlvr score --in
--out` is compared with; and the JSON work alone (loads, the function,
dumps), timed over chunks of CHUNK lines already read into memory, which is
what tests/bench/json_candidates measures for the C libraries. Reading in
chunks keeps memory bounded, so the peak RSS (ru_maxrss of this process) is
that of a streaming loop. Neither covers the interpreter's start.

It prints a sentence, then the same figures as "key=value" on a second line
for scripts (tests/bench/score.sh reads it). Exit status 0, or 1 when the
corpus cannot be read or a line is not a JSON object.
"""
import itertools
import json
import os
import resource
import sys
import time

CHUNK = 256  # lines read ahead of the timed JSON work


def trivial(sample):
    completion = sample.get("completion")
    return 1.0 if completion else 0.0


def main():
    if len(sys.argv) not in (2, 3):
        sys.stderr.write("usage: py_loop.py CORPUS.jsonl [OUT]\n")
        return 1
    path = sys.argv[1]
    out_path = sys.argv[2] if len(sys.argv) == 3 else os.devnull
    loads, dumps = json.loads, json.dumps
    n = 0
    json_s = 0.0
    clock = time.perf_counter
    t0 = clock()
    with open(path, "r", encoding="utf-8") as f, open(out_path, "w", encoding="utf-8") as out:
        nbytes = os.fstat(f.fileno()).st_size
        while True:
            lines = list(itertools.islice(f, CHUNK))
            if not lines:
                break
            results = []
            t1 = clock()
            for line in lines:
                sample = loads(line)
                if not isinstance(sample, dict):
                    sys.stderr.write("py_loop: line %d is not a JSON object\n" % (n + 1))
                    return 1
                reward = trivial(sample)
                results.append(dumps({"id": sample.get("id"), "reward": reward,
                                      "components": {"trivial": reward}, "details": {}}))
                n += 1
            json_s += clock() - t1
            results.append("")
            out.write("\n".join(results))
    dt = clock() - t0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux
    rate = n / dt if dt > 0 else 0.0
    json_rate = n / json_s if json_s > 0 else 0.0
    print("py_loop: %d samples in %.2f s: %.0f samples/s (%.1f MB/s); json work alone "
          "%.0f samples/s (%.1f MB/s); peak RSS %.1f MB"
          % (n, dt, rate, nbytes / 1e6 / dt if dt > 0 else 0.0, json_rate,
             nbytes / 1e6 / json_s if json_s > 0 else 0.0, rss_mb))
    print("samples=%d seconds=%.4f rate=%.0f json_rate=%.0f mb=%.1f rss_mb=%.1f"
          % (n, dt, rate, json_rate, nbytes / 1e6, rss_mb))
    return 0


if __name__ == "__main__":
    sys.exit(main())

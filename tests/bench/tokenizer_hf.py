#!/usr/bin/env python3
"""tokenizer_hf.py -- the reference for tokenizer_bench: Hugging Face
`tokenizers` encoding the same strings (the JSON arrays tokenizer_bench
--dump wrote) with the same tokenizer.json, one call per string
(encode_special_tokens on, add_special_tokens off, as rlvr's allow_special
0), best of several rounds; then encode_batch, which runs on all of
tokenizers' threads; then one call on all strings joined by blank lines
(the encoder without the binding's per-call cost), as tokenizer_bench does.

    tokenizer_hf.py TOKENIZER_JSON DUMP_DIR
"""
import json
import os
import sys
import time

from tokenizers import Tokenizer


def best_of(fn, min_rounds=3, max_rounds=20, budget=3.0):
    best, rounds, start = float("inf"), 0, time.perf_counter()
    out = None
    while rounds < min_rounds or (rounds < max_rounds and time.perf_counter() - start < budget):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
        rounds += 1
    return best, rounds, out


def main():
    path, d = sys.argv[1], sys.argv[2]
    t0 = time.perf_counter()
    tok = Tokenizer.from_file(path)
    print("HF     load tokenizer.json: %.3f s (tokenizers %s)" % (time.perf_counter() - t0, __import__("tokenizers").__version__))
    tok.encode_special_tokens = True
    for name in ("en", "zh"):
        with open(os.path.join(d, name + ".json"), encoding="utf-8") as f:
            docs = json.load(f)
        nbytes = sum(len(s.encode("utf-8", "surrogatepass")) for s in docs)

        def one_by_one():
            return sum(len(tok.encode(s, add_special_tokens=False).ids) for s in docs)

        dt, rounds, ntok = best_of(one_by_one)
        print("HF     %-3s %6d strings %9d bytes %8d tokens  %7.2f MB/s  %9.0f tokens/s  (best of %d)"
              % (name, len(docs), nbytes, ntok, nbytes / dt / 1e6, ntok / dt, rounds))

        def batch():
            return sum(len(e.ids) for e in tok.encode_batch(docs, add_special_tokens=False))

        dt, rounds, ntok = best_of(batch)
        print("HF     %-3s encode_batch (%d cpus)               %8d tokens  %7.2f MB/s  %9.0f tokens/s  (best of %d)"
              % (name, os.cpu_count() or 1, ntok, nbytes / dt / 1e6, ntok / dt, rounds))

        joined = "\n\n".join(docs)
        jbytes = len(joined.encode("utf-8", "surrogatepass"))
        dt, rounds, ntok = best_of(lambda: len(tok.encode(joined, add_special_tokens=False).ids))
        print("HF     %-3s %6d strings %9d bytes %8d tokens  %7.2f MB/s  %9.0f tokens/s  (best of %d)"
              % (name + "1", 1, jbytes, ntok, jbytes / dt / 1e6, ntok / dt, rounds))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""math_mathverify.py -- the reference side of bench/math.sh: Hugging Face's
math-verify timed per check on the same JSONL cases as math_bench, or, with
--recorded, the per-case timings recorded in ../shared/data/math's
*.mathverify_verdicts.jsonl (labelled "recorded": another machine, another
run).

    math_mathverify.py [--rounds R] NAME FILE.jsonl [NAME FILE.jsonl ...]
    math_mathverify.py --recorded NAME VERDICTS.jsonl [NAME VERDICTS.jsonl ...]

A check is what TRL and open-r1 do per sample with the library's defaults:
parse(gold), parse(pred), verify(gold, pred), timed together with
time.perf_counter. One warm-up pass (imports, sympy caches), then R rounds
(default 1: math-verify is slow) over every case. The printed line has the
same fields as math_bench's: checks/s, median, p99 and max latency, the
largest per-case best. A benchmark reports; the exit status is 0 unless the
arguments are wrong or math_verify cannot be imported.
"""
import json
import sys
import time


def stats(lat, best):
    lat = sorted(lat)
    m = len(lat)
    worst = max(range(len(best)), key=lambda i: best[i])
    return (m / sum(lat), lat[m // 2] * 1e3, lat[int((m - 1) * 0.99)] * 1e3, lat[-1] * 1e3,
            best[worst] * 1e3, worst)


def line(name, who, n, rounds, st):
    return ("%-24s %-16s %6d cases x %d: %10.0f checks/s  median %8.4f ms  p99 %8.4f ms  "
            "max %8.4f ms  max of per-case best %8.4f ms (case %d)"
            % ((name, who, n, rounds) + st))


def recorded(pairs):
    for name, path in pairs:
        rows = [json.loads(l) for l in open(path, encoding="utf-8") if l.strip()]
        ms = [r["ms_default"] / 1e3 for r in rows if "ms_default" in r]
        print(line(name, "math-verify REC", len(ms), 1, stats(ms, ms)))
        print("%-24s (recorded: Math-Verify 0.8.0, library defaults, one process, 2-core machine of the CI kind; "
              "not measured in this run)" % name)


def measured(pairs, rounds):
    from math_verify import parse, verify
    try:
        import importlib.metadata as md
        version = md.version("math-verify")
    except Exception:  # a version lookup failure must not stop the benchmark
        version = "?"
    for name, path in pairs:
        rows = [json.loads(l) for l in open(path, encoding="utf-8") if l.strip()]
        cases = [(r["gold"], r["pred"], r.get("expected")) for r in rows]
        agree = labelled = equal = 0
        for g, p, e in cases:  # warm-up pass; verdicts counted here
            try:
                ok = bool(verify(parse(g), parse(p)))
            except Exception:
                ok = False
            equal += ok
            if e is not None:
                labelled += 1
                agree += ok == bool(e)
        lat, best = [], [1e30] * len(cases)
        for _ in range(rounds):
            for i, (g, p, _e) in enumerate(cases):
                t0 = time.perf_counter()
                try:
                    verify(parse(g), parse(p))
                except Exception:
                    pass
                dt = time.perf_counter() - t0
                lat.append(dt)
                best[i] = min(best[i], dt)
        print(line(name, "math-verify " + version, len(cases), rounds, stats(lat, best)))
        print("%-24s math-verify verdicts: %d equal; %d/%d agree with the labels (library defaults)"
              % (name, equal, agree, labelled))
        sys.stdout.flush()


def main(argv):
    rec = False
    rounds = 1
    while argv and argv[0].startswith("--"):
        if argv[0] == "--recorded":
            rec = True
            argv = argv[1:]
        elif argv[0] == "--rounds" and len(argv) > 1:
            rounds = int(argv[1])
            argv = argv[2:]
        else:
            break
    if not argv or len(argv) % 2:
        sys.stderr.write(__doc__)
        return 2
    pairs = list(zip(argv[0::2], argv[1::2]))
    if rec:
        recorded(pairs)
        return 0
    try:
        measured(pairs, rounds)
    except ImportError as e:
        print("math-verify: cannot import (%s)" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

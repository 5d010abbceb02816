#!/usr/bin/env python3
"""test_math_peer.py -- the `math` plugin against the peers' own test cases.

$RLVR_SHARED_DATA/math/peer_cases.jsonl holds 448 labelled (gold, pred)
cases from the test suites of math-verify, lighteval, NeMo-Skills,
Qwen2.5-Math, hendrycks and TRL; each records in `config` the mode its
upstream test ran in. This harness maps that config onto documented
options of the `math` plugin (options_for below: it never reads `source` or
`id` to decide anything), scores every case through `rlvr score` (one run per
distinct configuration), and compares with the label: true -> score 1,
false -> score 0, null (upstream: "ungradeable, skip") -> abstain.

It reports agreement overall, per source and with default options too,
false positives and false negatives apart, and checks that the set of
disagreements in config mode is exactly the committed list in
fixtures/math/peer_disagreements.txt (each with its reason): a fix or a
regression changes the set and fails the test until the list is updated.
Skips (exit 77) when the shared data is absent.
"""
import collections
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from taplib import ok, is_eq, done, skip_all, run, jsonl, tempfile_with, fixture  # noqa: E402

DATA = os.environ.get("RLVR_SHARED_DATA", "")
CASES = os.path.join(DATA, "math", "peer_cases.jsonl") if DATA else ""
if not CASES or not os.path.exists(CASES):
    skip_all("RLVR_SHARED_DATA/math/peer_cases.jsonl not available")

DEFAULT_ORDER = [["tag"], ["boxed", "final_answer", "gsm8k"], ["answer"], ["whole"], ["latex", "number"]]


def options_for(cfg):
    """The `math` options that reproduce how the upstream test ran.

    extraction "answer"     both sides are already-extracted answers: extract=whole
                            (hendrycks' is_equiv compares lists in order:
                            unordered_lists=false)
    extraction "trl_reward" TRL's accuracy reward: LaTeX extraction (boxes, then
                            spans); reasoning_delimiters -> think_delimiter and
                            require_think_end
    ["latex"]               LaTeX only: no whole-text or bare-number fallback
    ["expr"]                plain expressions and numbers: anchors, whole, number,
                            and a decimal comma (math-verify reads 2,74 as 2.74)
    ["latex","expr"], "default"  the default order
    ["string"], ["indices_letters"]  multiple choice: choices=the letters
    boxed_match_priority    0: boxes and "final answer" together, the later one
                            wins (default); > 0: "final answer" first; -1: no boxes
    float_rounding, strict, allow_set_relation_comp: the options of that name
    """
    o = {}
    ex = cfg.get("extraction")
    order = [list(g) for g in DEFAULT_ORDER]
    if ex == "answer":
        order = [["whole"]]
        if "hendrycks" in cfg.get("note", ""):
            o["unordered_lists"] = False
    elif ex == "trl_reward":
        order = [["boxed"], ["latex"]]
        delims = cfg.get("reasoning_delimiters")
        if delims:
            o["think_delimiter"] = delims[0]
            o["require_think_end"] = True
    elif ex == ["latex"]:
        order = [["tag"], ["boxed", "final_answer"], ["answer"], ["latex"]]
    elif ex == ["expr"]:
        order = [["final_answer"], ["answer"], ["whole"], ["number"]]
        o["decimal_comma"] = True
    elif ex == ["string"]:
        o["choices"] = "".join(cfg.get("strings", ["A", "B", "C", "D"]))
    elif ex == ["indices_letters"]:
        o["choices"] = "ABCDEFGHIJ"
    prio = cfg.get("boxed_match_priority", 0)
    for i, g in enumerate(order):
        if prio != 0 and "boxed" in g and "final_answer" in g:
            rest = [x for x in g if x != "final_answer"]
            if prio < 0:
                rest.remove("boxed")
            order[i:i + 1] = [["final_answer"]] + ([rest] if rest else [])
            break
    if order != DEFAULT_ORDER:
        o["extract"] = ",".join("+".join(g) for g in order)
    if "float_rounding" in cfg:
        o["float_rounding"] = cfg["float_rounding"]
    if cfg.get("strict") is False:
        o["strict"] = False
    if cfg.get("allow_set_relation_comp") is False:
        o["allow_set_relation_comp"] = False
    return o


def lua_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    return json.dumps(v)


def score_group(cases, opts):
    """Score cases with one configuration; returns {id: (component, details)}."""
    cfg = ", ".join("%s = %s" % (k, lua_value(v)) for k, v in sorted(opts.items()))
    mix = tempfile_with('return mix { plugin("math", { config = { %s } }) }\n' % cfg)
    rows = [{"id": c["id"], "completion": c["pred"], "answer": c["gold"]} for c in cases]
    rc, out, err = run(["--mix", mix], jsonl(rows))
    os.unlink(mix)
    res = {}
    for r in out:
        if "id" in r and "components" in r:
            res[r["id"]] = (r["components"].get("math"), r.get("details", {}).get("math", {}))
    return rc, res, err


def verdict(component, details):
    if component is None:
        return None if details.get("status") != "error" else "error"
    return component >= 0.5


cases = [json.loads(line) for line in open(CASES, encoding="utf-8")]
is_eq(len(cases), 448, "448 peer cases")

groups = collections.OrderedDict()
for c in cases:
    key = json.dumps(options_for(c["config"]), sort_keys=True)
    groups.setdefault(key, []).append(c)

got = {}
for key, cs in groups.items():
    rc, res, err = score_group(cs, json.loads(key))
    ok(len(res) == len(cs), "config %s: %d cases scored" % (key, len(cs)), err[-2000:])
    got.update(res)
rc, res_default, err = score_group(cases, {})
ok(len(res_default) == len(cases), "default options: every case scored", err[-2000:])


def tally(results, label):
    agree = 0
    fp, fn, other = [], [], []
    per_source = collections.defaultdict(lambda: [0, 0])
    for c in cases:
        comp, det = results.get(c["id"], (None, {"status": "error"}))
        v = verdict(comp, det)
        src = c["source"].split(" ")[0]
        per_source[src][1] += 1
        if v == c["expected"]:
            agree += 1
            per_source[src][0] += 1
        elif v is True and c["expected"] is not True:
            fp.append(c["id"])
        elif v is False and c["expected"] is True:
            fn.append(c["id"])
        else:
            other.append(c["id"])
    print("# %s: %d/%d agree (false positives %d, false negatives %d, abstain/other %d)"
          % (label, agree, len(cases), len(fp), len(fn), len(other)))
    for src, (a, n) in sorted(per_source.items()):
        print("#   %-14s %3d/%3d" % (src, a, n))
    return agree, fp, fn, other


agree, fp, fn, other = tally(got, "config mode")
tally(res_default, "default options")

listed = {}
for line in open(fixture("math", "peer_disagreements.txt"), encoding="utf-8"):
    line = line.strip()
    if not line or line.startswith("#"):
        continue
    cid, kind, reason = (line.split("\t") + ["", ""])[:3]
    listed[cid] = (kind, reason)
    ok(kind in ("policy", "label", "bug") and reason, "%s is listed with a kind and a reason" % cid)

now = set(fp) | set(fn) | set(other)
for cid in sorted(now - set(listed)):
    c = next(x for x in cases if x["id"] == cid)
    comp, det = got.get(cid, (None, {}))
    print("# new disagreement %s expected %s got %s: %s | gold %r | pred %r"
          % (cid, c["expected"], comp, json.dumps(det)[:400], c["gold"][:120], c["pred"][-160:]))
for cid in sorted(set(listed) - now):
    print("# fixed (remove from the list): %s" % cid)
ok(now == set(listed), "the disagreements are exactly the %d listed" % len(listed))
ok(agree >= 435, "config mode agrees on at least 435/448 (got %d)" % agree)
done()

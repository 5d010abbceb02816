"""test_format.py -- the `format` and `tag_count` plugins end to end through
`rlvr score`: the table of cases in fixtures/format/cases.jsonl (each rule,
each policy, adversarial formats: two answers, nested tags, junk after the
answer, CRLF, a pre-filled <think>, the template's leading space), open-r1's
and TRL's regex traps shown accepted by their rules and rejected here,
tag_count against open-r1's definition written out in Python
(bench/format_ref.py, shared with the benchmark), the details
(tag, offset, policy, look-alikes), `rlvr plugins` cards, configuration
refusals, thread independence and hostile sizes."""
import json
import os
import re
import sys
import time

from taplib import ok, is_eq, done, run, run_raw, fixture, jsonl, tempfile_with, SRCDIR

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(SRCDIR, "bench"))
import format_ref  # noqa: E402  open-r1's rules as open-r1 writes them

CASES = [json.loads(l) for l in open(fixture("format", "cases.jsonl"), encoding="utf-8") if l.strip()]


def lua_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        out = []
        for ch in v:
            if ch in '\\"':
                out.append("\\" + ch)
            elif ord(ch) < 32:
                out.append("\\%03d" % ord(ch))
            else:
                out.append(ch)
        return '"' + "".join(out) + '"'
    if isinstance(v, list):
        return "{" + ", ".join(lua_value(x) for x in v) + "}"
    if isinstance(v, dict):
        return "{" + ", ".join("%s = %s" % (k, lua_value(x)) for k, x in v.items()) + "}"
    raise TypeError(v)


def mix_for(plugin, config):
    text = "return mix { plugin(%s, { config = %s }) }\n" % (lua_value(plugin), lua_value(config or {}))
    f = tempfile_with("", ".lua")
    with open(f, "w", encoding="utf-8") as fh:
        fh.write(text)
    return f


def score(plugin, config, completions, extra=()):
    mix = mix_for(plugin, config)
    try:
        rc, out, err = run(["--mix", mix, "--quiet"] + list(extra),
                           jsonl([{"id": i, "completion": c} for i, c in enumerate(completions)]))
    finally:
        os.unlink(mix)
    return rc, out, err


# -- the table: every case through rlvr score, grouped by configuration -----------
groups = {}
for c in CASES:
    groups.setdefault((c["plugin"], json.dumps(c.get("config", {}), sort_keys=True)), []).append(c)
for (plugin, cfg), cases in groups.items():
    rc, out, err = score(plugin, json.loads(cfg), [c["completion"] for c in cases])
    if not ok(rc == 0 and len(out) == len(cases), "%s %s: rlvr score ran %d cases" % (plugin, cfg, len(cases)), err):
        continue
    for c, o in zip(cases, out):
        d = o["details"][plugin]
        got = o["components"][plugin]
        close = isinstance(got, float) and abs(got - c["score"]) < 1e-9
        is_eq((d.get("status"), d.get("reason"), close), ("ok", c["reason"], True),
              "%s: %s (score %s, want %s)" % (plugin, c["name"], got, c["score"]))

# -- open-r1's and TRL's rules, as they are written, on the same completions -------
OPENR1 = format_ref.PATTERN
TRL = re.compile(r"^<think>(?!.*<think>)(.*?)</think>.*$", re.DOTALL | re.MULTILINE)
traps = 0
for c in CASES:
    for key, rule in (("openr1", OPENR1), ("trl", TRL)):
        if key in c:
            accepted = rule.match(c["completion"]) is not None
            is_eq(accepted, c[key], "%s's rule %s '%s'" % (key, "accepts" if c[key] else "rejects", c["name"]))
            if c[key] and c["reason"] != "ok":
                traps += 1
ok(traps >= 7, "the table holds open-r1's and TRL's traps (%d accepted by them, rejected by format)" % traps)


# -- tag_count against open-r1's definition, on every completion of the table -------
texts = [c["completion"] for c in CASES]
rc, out, err = score("tag_count", {}, texts)
is_eq([o["components"]["tag_count"] for o in out], [format_ref.tag_count(t) for t in texts],
      "tag_count equals open-r1's tag_count_reward on all %d completions of the table" % len(texts))
o = [x for x, t in zip(out, texts) if t == CASES[0]["completion"]][0]
is_eq(o["details"]["tag_count"]["counts"], [1, 1, 1, 1], "tag_count reports the four counts")

# -- details --------------------------------------------------------------------------------
T = CASES[0]["completion"]
rc, out, err = score("format", {}, [
    "<think>x</think><answer>5</answer> I hope this helps!",
    "<THINK>x</THINK><answer>5</answer>",
    T + "\n<|im_end|>\n<|endoftext|>",
    "<think>x</think><answer>5</answer><answer>6</answer>",
])
d = [o["details"]["format"] for o in out]
is_eq((d[0]["tag"], d[0]["offset"], d[0]["policy"]), ("</answer>", 35.0, "text_after_answer"),
      "a failure names the tag, the byte offset of the fault and the policy that rejected it")
is_eq(d[1].get("lookalike"), "<THINK>x</THINK>", "a look-alike tag is quoted when the real one is missing")
is_eq((d[2]["reason"], d[2].get("stop_tokens")), ("ok", 2.0), "stripped stop tokens are counted in the details")
is_eq((d[3]["tag"], d[3]["offset"]), ("<answer>", 34.0), "repeated_answer points at the second <answer>")
rc, out, err = score("format", {"empty_think": "allow", "text_after_answer": "allow", "prefilled_think": "yes"},
                     ["\n</think><answer>5</answer> thanks"])
d = out[0]["details"]["format"]
is_eq((d["reason"], d.get("allowed"), d.get("prefilled")), ("ok", ["empty_think", "text_after_answer"], "yes"),
      "a pass that an allow policy let through lists it under 'allowed'; pre-fill is recorded")

# -- rlvr plugins ------------------------------------------------------------------------------
p = run_raw(["plugins", "format"])
card = p.stdout.decode()
keys = ["template", "prefilled_think", "newlines", "text_after_answer", "empty_think", "answer_inside_think",
        "empty_answer", "stop_tokens", "partial_credit", "pattern", "answer_pattern", "regex_match_limit",
        "regex_depth_limit"]
ok(p.returncode == 0 and all(k in card for k in keys) and "reentrant deterministic" in card
   and "one of r1_zero|r1" in card and "<|im_end|>" in card,
   "rlvr plugins format lists every configuration key with its type, default and choices", card)
p = run_raw(["plugins", "tag_count"])
card = p.stdout.decode()
ok(p.returncode == 0 and "normalise" in card and "prefilled_think" in card and "stop_tokens" in card,
   "rlvr plugins tag_count lists its configuration", card)
p = run_raw(["plugins"])
ok("format" in p.stdout.decode() and "tag_count" in p.stdout.decode(), "both are listed among the built-in plugins")

# -- configuration refused before any sample is read ------------------------------------------
for plugin, cfg, words, name in [
    ("format", {"empty_thinks": "allow"}, ["unknown configuration key 'empty_thinks'"], "an unknown key"),
    ("format", {"template": "r2"}, ["template", "r1_zero|r1"], "a value outside the choices"),
    ("format", {"partial_credit": 1}, ["partial_credit", "out of range"], "partial_credit of 1 (only a pass earns 1)"),
    ("format", {"pattern": "(unclosed"}, ["pattern", "offset"], "a pattern that does not compile"),
    ("format", {"answer_pattern": "a{2,1}"}, ["answer_pattern"], "an answer_pattern that does not compile"),
    ("format", {"stop_tokens": [1, 2]}, ["stop_tokens", "not a string"], "stop tokens that are not strings"),
    ("format", {"stop_tokens": [""]}, ["stop_tokens", "1 to 1024 bytes"], "an empty stop token"),
    ("format", {"stop_tokens": "<|im_end|>"}, ["stop_tokens", "list of strings"], "stop tokens not in a list"),
    ("format", {"regex_match_limit": 0}, ["regex_match_limit"], "a match limit of 0"),
    ("tag_count", {"prefilled_think": "yes"}, ["prefilled_think", "normalise"], "tag_count: pre-fill without normalise"),
    ("tag_count", {"normalize": True}, ["unknown configuration key 'normalize'"], "tag_count: an unknown key"),
]:
    rc, out, err = score(plugin, cfg, ["<think>x</think><answer>1</answer>"])
    ok(rc == 2 and out == [] and all(w in err for w in words), "refused: " + name, err)
rc, out, err = score("format", {"stop_tokens": {}}, [T + "<|im_end|>"])
is_eq((rc, out[0]["details"]["format"]["reason"]), (0, "text_after_answer"),
      "an empty stop-token list (an empty Lua table) strips nothing")

# -- threads: the same results on 1 and 4 threads ------------------------------------------------
many = [CASES[i % len(CASES)]["completion"] for i in range(3000)]
r1 = score("format", {"partial_credit": 0.5, "prefilled_think": "auto"}, many, ["--threads", "1"])
r4 = score("format", {"partial_credit": 0.5, "prefilled_think": "auto"}, many, ["--threads", "4", "--chunk", "37"])
ok(r1[0] == 0 and r1[1] == r4[1], "3000 samples: identical results on 1 thread and 4 (reentrant, deterministic)")

# -- hostile sizes: linear time, no crash ---------------------------------------------------------
big = [
    "<think>" * 400000,                                     # 2.8 MB of opens
    "<" * 3000000,                                          # 3 MB of '<'
    "<think>" + "x" * 3000000 + "</think><answer>1</answer>",
    "<think>x</think><answer>1</answer>" + "<|im_end|>" * 200000,
    "<think>x</think>" + "<answer>" * 300000,
]
t0 = time.monotonic()
rc, out, err = score("format", {"partial_credit": 0.5}, big)
took = time.monotonic() - t0
is_eq([o["details"]["format"]["reason"] for o in out],
      ["nested_think", "no_think_open", "ok", "ok", "nested_answer"],
      "megabyte completions of repeated tags are scored with the right reasons (%.1f s)" % took)
rc, out, err = score("format", {"answer_pattern": "^(a|aa)+$"}, ["<think>x</think><answer>" + "a" * 5000 + "!</answer>"])
is_eq(out[0]["details"]["format"]["reason"], "pattern_limit",
      "a catastrophic user pattern stops at the default limits and scores 0")
rc, out, err = score("tag_count", {"normalise": True}, big)
ok(rc == 0 and all(0 <= o["components"]["tag_count"] <= 1 for o in out), "tag_count on the same: scores in [0, 1]")

done()

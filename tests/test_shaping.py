"""test_shaping.py -- the shaping plugins end to end through `rlvr score`:
length (whole groups through the batch call), cosine, repetition_penalty,
soft_overlong_punishment and reasoning_steps. Tables of cases per rule
(multilingual text, adversarial input), the accuracy component read from an
earlier `exact_match` entry named "accuracy" (and what happens when it is
absent, abstains or comes later), configuration listed and refused, and a
cross-check of every plugin against tests/bench/shaping_openr1.py (open-r1's
rules written again in Python) on a seeded multilingual corpus."""
import json
import math
import os
import random
import sys

from taplib import ok, is_eq, done, run, run_raw, jsonl, tempfile_with, SRCDIR

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(SRCDIR, "bench"))
import shaping_openr1 as ref  # noqa: E402

TOL = 1e-9
PLUGINS = ["length", "cosine", "repetition_penalty", "soft_overlong_punishment", "reasoning_steps"]


def close(a, b, tol=TOL):
    return a is not None and b is not None and abs(a - b) <= tol


def mix_file(entries):
    """A mix of `entries` (Lua source of plugin(...) calls), as a temporary file."""
    return tempfile_with("return mix {\n  " + ",\n  ".join(entries) + ",\n}\n")


def lua_config(cfg):
    def val(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return json.dumps(v, ensure_ascii=False)  # Lua has no \\uXXXX escape
        return repr(v)
    return "{ " + ", ".join("%s = %s" % (k, val(v)) for k, v in cfg.items()) + " }"


def score_one(name, rows, cfg=None, with_accuracy=False, extra=None):
    """Score rows with plugin `name` (config cfg), optionally after exact_match
    named "accuracy". Returns (rc, results, stderr)."""
    entries = []
    if with_accuracy:
        entries.append('plugin("exact_match", { name = "accuracy" })')
    entries.append('plugin("%s"%s)' % (name, (", { config = %s }" % lua_config(cfg)) if cfg else ""))
    entries += extra or []
    return run(["--mix", mix_file(entries), "--threads", "2"], jsonl(rows))


def comp(o, name):
    return o.get("components", {}).get(name)


def det(o, name):
    return o.get("details", {}).get(name, {})


# -- configuration: listed, and refused when wrong -----------------------------------
keys = {
    "length": ["length_unit", "accuracy_component", "correct_threshold"],
    "cosine": ["min_value_wrong", "max_value_wrong", "min_value_correct", "max_value_correct", "max_len",
               "length_unit", "over_max_len", "exceed_length", "accuracy_component", "correct_threshold"],
    "repetition_penalty": ["ngram_size", "max_penalty", "split"],
    "soft_overlong_punishment": ["max_completion_len", "soft_punish_cache", "token_count"],
    "reasoning_steps": ["target_steps", "multiline", "extra_markers"],
}
for name in PLUGINS:
    p = run_raw(["plugins", name])
    out = p.stdout.decode()
    ok(p.returncode == 0 and all(k in out for k in keys[name]) and out.startswith(name + " "),
       "rlvr plugins %s lists its configuration keys" % name, out + p.stderr.decode())
    rc, res, err = score_one(name, [{"completion": "x"}], {"no_such_key": 1})
    ok(rc == 2 and "no_such_key" in err and name in err and not res,
       "%s: an unknown configuration key is refused before scoring" % name, err)

p = run_raw(["plugins", "repetition_penalty"])
ok("range [-1e+09, 0]" in p.stdout.decode(), "max_penalty's range stops at 0 (open-r1 refuses a positive one)", p.stdout)
p = run_raw(["plugins", "length"])
ok("batch groups" in p.stdout.decode(), "length declares the batch call over whole groups", p.stdout)

bad = [
    ("repetition_penalty", {"max_penalty": 0.5}, "max_penalty"),
    ("repetition_penalty", {"ngram_size": 0}, "ngram_size"),
    ("repetition_penalty", {"split": "jieba"}, "split"),
    ("soft_overlong_punishment", {"max_completion_len": 100, "soft_punish_cache": 200}, "soft_punish_cache"),
    ("soft_overlong_punishment", {"token_count": "exact"}, "token_count"),
    ("cosine", {"max_len": 0}, "max_len"),
    ("cosine", {"over_max_len": "ignore"}, "over_max_len"),
    ("cosine", {"length_unit": "words"}, "length_unit"),
    ("length", {"length_unit": "lines"}, "length_unit"),
    ("length", {"correct_threshold": "high"}, "correct_threshold"),
    ("reasoning_steps", {"target_steps": 0}, "target_steps"),
    ("reasoning_steps", {"extra_markers": "|".join("m%d" % i for i in range(65))}, "extra_markers"),
]
for name, cfg, key in bad:
    rc, res, err = score_one(name, [{"completion": "x"}], cfg)
    ok(rc == 2 and key in err and not res, "%s: %s is refused at load" % (name, json.dumps(cfg)[:60]), err)

# -- repetition_penalty: a table, multilingual and adversarial ----------------------------
zh = "我们先计算这个数。"
rep_cases = [
    # (label, text, config, expected score, expected reason)
    ("distinct English words", "the cat sat on the mat today", {}, 0.0, "no_repetition"),
    ("a loop in English", "I think so. " * 10, {}, None, "repeated"),
    ("case is folded", "The cat sat THE CAT SAT the Cat Sat", {}, -4 / 7, "repeated"),
    ("empty completion", "", {}, 0.0, "empty"),
    ("white space only", " \n\t\u3000", {}, 0.0, "too_short"),
    ("fewer words than ngram_size", "two words", {}, 0.0, "too_short"),
    ("exactly ngram_size words", "three words here", {}, 0.0, "no_repetition"),
    ("repeated Chinese is penalised", zh * 6, {}, None, "repeated"),
    ("the same under open-r1's split is one word: 0", zh * 6, {"split": "whitespace"}, 0.0, "too_short"),
    ("Chinese without repetition", "我们先计算这个数然后再除以三得到结果", {}, 0.0, "no_repetition"),
    ("Japanese with kanji and kana, looping", "答えは四です。" * 5, {}, None, "repeated"),
    ("Korean syllables, looping", "정답은 사입니다 " * 5, {}, None, "repeated"),
    ("Chinese and English mixed in a loop", "所以 answer 是 4。" * 4, {}, None, "repeated"),
    ("ideographic and no-break spaces split words", "a\u3000b\u00a0c a\u3000b\u00a0c", {}, -0.25, "repeated"),
    ("NUL bytes are characters", "a\u0000b a\u0000b a\u0000b a\u0000b", {}, -0.5, "repeated"),
    ("ngram_size 1 counts repeated words", "a a a b", {"ngram_size": 1}, -0.5, "repeated"),
    ("max_penalty scales", "x y x y x y", {"max_penalty": -2.0}, -2 * (1 - 2 / 4), "repeated"),
    ("emoji and symbols are words", "😀 😀 😀 😀 😀", {}, -(1 - 1 / 3), "repeated"),
]
rows = [{"id": i, "completion": c[1]} for i, c in enumerate(rep_cases)]
for i, (label, text, cfg, want, reason) in enumerate(rep_cases):
    rc, res, err = score_one("repetition_penalty", [rows[i]], cfg)
    o = res[0] if res else {}
    got = comp(o, "repetition_penalty") if o else None
    split = cfg.get("split", "cjk")
    if want is None:
        f = ref.repetition_penalty_cjk if split == "cjk" else ref.repetition_penalty_reward
        want = f([text], cfg.get("ngram_size", 3), cfg.get("max_penalty", -1.0))[0]
    ok(rc == 0 and close(got, want) and det(o, "repetition_penalty").get("reason") == reason,
       "repetition_penalty: %s (%.4f)" % (label, want), o)

zh_loop = zh * 6
rc, res, err = score_one("repetition_penalty", [{"completion": zh_loop}])
d = det(res[0], "repetition_penalty")
is_eq((d.get("words"), d.get("ngrams"), d.get("distinct")), (54, 52, 9),
      "a Chinese sentence said six times: 54 words, 52 trigrams, 9 distinct")
ok(comp(res[0], "repetition_penalty") < -0.8, "and its penalty is near max_penalty", res[0])
rc, res, err = score_one("repetition_penalty", [{"completion": "x " * 200000}])
ok(rc == 0 and close(comp(res[0], "repetition_penalty"), -(1 - 1 / 199998)),
   "200,000 identical words: one distinct trigram", res[0] if res else err)

# -- reasoning_steps ----------------------------------------------------------------------
steps_cases = [
    ("Step markers", "Step 1: a\nStep 2: b\nStep 3: c", {}, 3),
    ("Step without a number or colon", "Step one: a. Step 2 b. Step :", {}, 0),
    ("a list at the start of the text only (open-r1's ^ without MULTILINE)", "1. a\n2. b\n3. c", {}, 1),
    ("every line with multiline = true", "1. a\n2. b\n3. c", {"multiline": True}, 3),
    ("bullets with - and *", "x\n- a\n- b\n* c", {}, 3),
    ("transition words", "First, a. Second, b. Next, c. Finally, d.", {}, 4),
    ("transition words need their comma", "First a. Next we go. Finally done.", {}, 0),
    ("case matters", "first, step 1: next,", {}, 0),
    ("Unicode digits are \\d", "Step \u0661\u0662: a and Step \uff13: b", {}, 2),
    ("multi-digit steps", "Step 10: a Step 11: b Step 12: c Step 13: d", {}, 4),
    ("a Chinese CoT has no English markers", "首先，我们计算。其次，再除以三。最后，得到答案。", {}, 0),
    ("extra_markers count them", "首先，我们计算。其次，再除以三。最后，得到答案。",
     {"extra_markers": "首先，|其次，|最后，"}, 3),
    ("empty completion", "", {}, 0),
    ("CRLF lines: no \\n- at a \\r", "a\r- b\r\n- c", {}, 1),
    ("matches do not overlap", "\n-\n-\n-", {}, 3),
]
for label, text, cfg, want in steps_cases:
    rc, res, err = score_one("reasoning_steps", [{"completion": text}], cfg)
    o = res[0] if res else {}
    d = det(o, "reasoning_steps")
    target = cfg.get("target_steps", 3)
    reason = "no_steps" if want == 0 else ("enough_steps" if want >= target else "few_steps")
    ok(rc == 0 and d.get("steps") == want and close(comp(o, "reasoning_steps"), min(1.0, want / target))
       and d.get("reason") == reason, "reasoning_steps: %s (%d)" % (label, want), o)
    if not cfg:
        ok(close(ref.reasoning_steps_reward([text])[0], min(1.0, want / 3)),
           "  and open-r1's regex agrees on it", ref.reasoning_steps_reward([text]))

# -- soft_overlong_punishment ---------------------------------------------------------------
cfg = {"max_completion_len": 100, "soft_punish_cache": 20}
sop_cases = [
    ("well within", {"completion": "x", "completion_tokens": 10}, {}, 0.0, "within_limit", "completion_tokens", 10),
    ("at the start of the cache", {"completion": "x", "completion_tokens": 80}, cfg, 0.0, "within_limit", "completion_tokens", 80),
    ("one into the cache", {"completion": "x", "completion_tokens": 81}, cfg, -1 / 20, "soft_punish", "completion_tokens", 81),
    ("at the limit", {"completion": "x", "completion_tokens": 100}, cfg, -1.0, "soft_punish", "completion_tokens", 100),
    ("over the limit", {"completion": "x", "completion_tokens": 101}, cfg, -1.0, "overlong", "completion_tokens", 101),
    ("no count: approximate, English (bytes / 4)", {"completion": "abcd" * 90}, cfg, -10 / 20, "soft_punish", "approx", 90),
    ("no count: approximate, Chinese (one per character)", {"completion": "数" * 85}, cfg, -5 / 20, "soft_punish", "approx", 85),
    ("approximate, mixed", {"completion": "数" * 10 + "abcde"}, cfg, 0.0, "within_limit", "approx", 12),
    ("token_count = approx ignores the sample's count", {"completion": "abcd" * 10, "completion_tokens": 500},
     dict(cfg, token_count="approx"), 0.0, "within_limit", "approx", 10),
    ("soft_punish_cache = 0: a step at the limit", {"completion": "x", "completion_tokens": 100},
     {"max_completion_len": 100, "soft_punish_cache": 0}, 0.0, "within_limit", "completion_tokens", 100),
    ("soft_punish_cache = 0, one over", {"completion": "x", "completion_tokens": 101},
     {"max_completion_len": 100, "soft_punish_cache": 0}, -1.0, "overlong", "completion_tokens", 101),
    ("open-r1's defaults: 12,289 tokens", {"completion": "x", "completion_tokens": 12289}, {}, -1 / 4096,
     "soft_punish", "completion_tokens", 12289),
]
for label, row, c, want, reason, source, tokens in sop_cases:
    rc, res, err = score_one("soft_overlong_punishment", [row], c)
    o = res[0] if res else {}
    d = det(o, "soft_overlong_punishment")
    ok(rc == 0 and close(comp(o, "soft_overlong_punishment"), want) and d.get("reason") == reason
       and d.get("tokens_source") == source and d.get("tokens") == tokens,
       "soft_overlong_punishment: %s" % label, o)
    if "completion_tokens" in row and source == "completion_tokens":
        ok(close(ref.soft_overlong_punishment([tokens], c.get("max_completion_len", 16384),
                                              c.get("soft_punish_cache", 4096))[0], want),
           "  and the reference agrees")
rc, res, err = score_one("soft_overlong_punishment", [{"completion": "x"}], {"token_count": "sample"})
o = res[0]
ok(o["reward"] is None and det(o, "soft_overlong_punishment").get("status") == "abstain"
   and det(o, "soft_overlong_punishment").get("reason") == "no_completion_tokens",
   "token_count = sample without completion_tokens: abstains, saying why", o)

# -- cosine: reads the accuracy component of an earlier entry ------------------------------
P = dict(min_value_wrong=-1.0, max_value_wrong=-0.5, min_value_correct=0.5, max_value_correct=1.0, max_len=1000)


def cos_ref(n, correct, clamp=True, **kw):
    p = dict(P, **kw)
    return ref.cosine_scaled_reward(["x" * n], [correct], clamp=clamp, **p)[0]


cos_cases = [
    ("correct, empty answer", "<answer>7</answer>", "7", {}, True),
    ("correct, 500 characters", "y" * 482 + "<answer>7</answer>", "7", {}, True),
    ("correct, exactly max_len", "y" * 982 + "<answer>7</answer>", "7", {}, True),
    ("wrong, short", "<answer>8</answer>", "7", {}, False),
    ("wrong, 900 characters", "y" * 882 + "<answer>8</answer>", "7", {}, False),
    ("no answer at all scores as wrong", "I do not know", "7", {}, False),
    ("Chinese counts characters, not bytes", "数" * 300 + "<answer>7</answer>", "7", {}, True),
    ("custom bounds", "y" * 200 + "<answer>7</answer>", "7",
     dict(min_value_correct=0.0, max_value_correct=2.0, max_len=400), True),
    ("open-r1's configs.py min_value_wrong = 0", "<answer>8</answer>", "7", dict(min_value_wrong=0.0), False),
]
for label, text, gold, cfg, correct in cos_cases:
    rc, res, err = score_one("cosine", [{"completion": text, "answer": gold}], cfg, with_accuracy=True)
    o = res[0] if res else {}
    d = det(o, "cosine")
    n = len(text)
    want = cos_ref(n, correct, **cfg)
    ok(rc == 0 and close(comp(o, "cosine"), want) and d.get("correct") is correct and d.get("length") == n
       and d.get("unit") == "chars" and d.get("reason") == ("correct" if correct else "wrong"),
       "cosine: %s (%.4f)" % (label, want), o)

long_ok = "y" * 1482 + "<answer>7</answer>"  # 1500 characters, past max_len
for over, want, reason in [("clamp", 0.5, "correct_over_max_len"),
                           ("wrap", cos_ref(1500, True, clamp=False), "correct_over_max_len"),
                           ("penalty", -3.0, "correct_over_max_len")]:
    cfg = {"over_max_len": over, "exceed_length": -3.0}
    rc, res, err = score_one("cosine", [{"completion": long_ok, "answer": "7"}], cfg, with_accuracy=True)
    o = res[0]
    ok(close(comp(o, "cosine"), want) and det(o, "cosine").get("reason") == reason,
       "cosine past max_len, over_max_len = %s: %.4f" % (over, want), o)
ok(cos_ref(1500, True, clamp=False) > 0.7, "(open-r1's unclamped cosine rewards 1.5 x max_len more than max_len)")

rows = [{"completion": "<answer>7</answer>", "answer": "7", "completion_tokens": 250},
        {"completion": "<answer>7</answer>", "answer": "7"}]
rc, res, err = score_one("cosine", rows, {"length_unit": "tokens"}, with_accuracy=True)
ok(close(comp(res[0], "cosine"), cos_ref(250, True)) and det(res[0], "cosine").get("unit") == "tokens",
   "cosine, length_unit = tokens: the sample's completion_tokens", res[0])
ok(res[1]["reward"] is None and det(res[1], "cosine").get("reason") == "no_completion_tokens",
   "cosine, length_unit = tokens without completion_tokens: abstains", res[1])

rc, res, err = score_one("cosine", [{"completion": "<answer>7</answer>"}], {}, with_accuracy=True)
o = res[0]
ok(o["reward"] is None and det(o, "accuracy").get("status") == "abstain"
   and det(o, "cosine").get("status") == "abstain" and det(o, "cosine").get("reason") == "accuracy_abstained",
   "cosine: accuracy abstained (no gold) -> cosine abstains with the reason, never a silent 0", o)

rc, res, err = score_one("cosine", [{"completion": "<answer>7</answer>", "answer": "7"}])
o = res[0]
ok(rc == 1 and o["reward"] is None and det(o, "cosine").get("status") == "error"
   and "no component 'accuracy'" in det(o, "cosine").get("message", ""),
   "cosine without an accuracy entry: an error that names the mix problem", o)

rc, res, err = run(["--mix", mix_file(['plugin("cosine")', 'plugin("exact_match", { name = "accuracy" })'])],
                   jsonl([{"completion": "<answer>7</answer>", "answer": "7"}]))
ok(det(res[0], "cosine").get("status") == "error", "cosine before its accuracy entry: an error (it has not run)", res[0])

rc, res, err = run(["--mix", mix_file(['plugin("exact_match", { name = "acc2" })',
                                       'plugin("cosine", { config = { accuracy_component = "acc2" } })'])],
                   jsonl([{"completion": "<answer>7</answer>", "answer": "7"}]))
ok(close(comp(res[0], "cosine"), cos_ref(18, True)), "cosine reads a renamed component (accuracy_component)", res[0])

rc, res, err = run(["--mix", mix_file(['plugin("exact_match", { name = "accuracy" })',
                                       'plugin("cosine", { config = { correct_threshold = 0 } })'])],
                   jsonl([{"completion": "<answer>8</answer>", "answer": "7"}]))
ok(close(comp(res[0], "cosine"), 1.0 - 0.5 * 0.5 * (1 - math.cos(18 / 1000 * math.pi))),
   "correct_threshold = 0: an accuracy of 0 counts as correct", res[0])

# -- length: whole groups through the batch call ----------------------------------------------


def answer(n, value):
    """A completion of exactly n characters ending in <answer>value</answer>."""
    tail = "<answer>%s</answer>" % value
    return "y" * (n - len(tail)) + tail


group = [(100, "7"), (200, "7"), (300, "8"), (400, "7"), (150, "8"), (250, "7"), (350, "8"), (120, "7")]
rows = [{"id": i, "group": "g1", "completion": answer(n, v), "answer": "7"} for i, (n, v) in enumerate(group)]
rc, res, err = score_one("length", rows, with_accuracy=True)
want = ref.len_reward([r["completion"] for r in rows], [v == "7" for _, v in group])
got = [comp(o, "length") for o in res]
ok(rc == 0 and all(close(a, b) for a, b in zip(got, want)), "length: a group of 8 matches Kimi 1.5 / open-r1",
   "got  %s\nwant %s" % (got, want))
ok(all(det(o, "length").get("group_size") == 8 and det(o, "length").get("min_length") == 100
       and det(o, "length").get("max_length") == 400 for o in res), "its details give the group's size, min and max", res[0])
is_eq([det(o, "length").get("reason") for o in res[:3]], ["correct", "correct", "wrong"], "and the branch taken")
ok(close(got[0], 0.5) and close(got[3], -0.5) and close(got[4], 0.0) and close(got[6], 0.5 - 250 / 300),
   "shortest correct 0.5, longest correct -0.5; a short wrong answer 0 (never above), a long one below", got)

two = rows + [{"id": 10 + i, "group": "g2", "completion": answer(n, "7"), "answer": "7"} for i, n in enumerate([50, 60])]
rc, res, err = score_one("length", two, with_accuracy=True)
ok(close(comp(res[8], "length"), 0.5) and close(comp(res[9], "length"), -0.5) and close(comp(res[0], "length"), want[0]),
   "two groups in one input are scored each against itself", [comp(o, "length") for o in res])

rc, res, err = score_one("length", [{"group": "solo", "completion": answer(100, 7), "answer": "7"},
                                    {"completion": answer(60, 7), "answer": "7"}], with_accuracy=True)
ok(all(o["reward"] is None and det(o, "length").get("status") == "abstain" and det(o, "length").get("reason") == "group_of_one"
       for o in res), "a group of one, and a sample without a group, abstain (group_of_one)", res)

same = [{"group": "eq", "completion": answer(80, v), "answer": "7"} for v in ("7", "8", "7")]
rc, res, err = score_one("length", same, with_accuracy=True)
ok(all(comp(o, "length") == 0.0 and det(o, "length").get("reason") == "all_lengths_equal" for o in res),
   "all lengths equal: 0 for every sample, with the reason", res)

mixed = [{"group": "m", "completion": answer(100, "7"), "answer": "7"},
         {"group": "m", "completion": "y" * 500},  # no gold: accuracy abstains
         {"group": "m", "completion": answer(300, "7"), "answer": "7"}]
rc, res, err = score_one("length", mixed, with_accuracy=True)
ok(det(res[1], "length").get("status") == "abstain" and det(res[1], "length").get("reason") == "accuracy_abstained",
   "length: a sample whose accuracy abstained abstains too", res[1])
ok(close(comp(res[0], "length"), 0.5) and close(comp(res[2], "length"), 0.5 - 200 / 400),
   "and its length still sets the group's max (500): the others score against 100..500", [comp(o, "length") for o in res])

rc, res, err = score_one("length", rows[:3])
ok(rc == 1 and all(det(o, "length").get("status") == "error" and "no component 'accuracy'" in det(o, "length").get("message", "")
                   for o in res), "length without an accuracy entry: an error on every sample, naming the problem", res[0])

tok = [{"group": "t", "completion": "<answer>a</answer>", "answer": "a", "completion_tokens": 10},
       {"group": "t", "completion": "<answer>a</answer>", "answer": "a", "completion_tokens": 30},
       {"group": "t", "completion": "<answer>a</answer>", "answer": "a"}]
rc, res, err = run(["--mix", mix_file(['plugin("exact_match", { name = "accuracy" })',
                                       'plugin("length", { config = { length_unit = "tokens" } })'])], jsonl(tok))
ok(close(comp(res[0], "length"), 0.5) and close(comp(res[1], "length"), -0.5)
   and det(res[2], "length").get("reason") == "no_completion_tokens" and det(res[0], "length").get("unit") == "tokens",
   "length_unit = tokens: completion_tokens decide; a sample without them abstains and takes no part", res)

# -- a multilingual corpus against the reference -----------------------------------------------------
rnd = random.Random(20250517)
EN = "the answer we need is a number so let us compute it step by step and check".split()
ZH = list("我们先计算这个数然后再除以三得到最终的答案所以结果是")
JA = list("まず計算しますそれから三で割ると答えになります")
MARK = ["Step 1:", "Step 12:", "\n- ", "\n* ", "First,", "Next,", "Finally,", "1.", "\n2. "]


def sentence():
    kind = rnd.random()
    if kind < 0.4:
        s = " ".join(rnd.choice(EN) for _ in range(rnd.randint(3, 12)))
    elif kind < 0.7:
        s = "".join(rnd.choice(ZH) for _ in range(rnd.randint(4, 20))) + "。"
    elif kind < 0.85:
        s = "".join(rnd.choice(JA) for _ in range(rnd.randint(4, 15))) + "。"
    else:
        s = "".join(rnd.choice(ZH) for _ in range(3)) + " x = %d " % rnd.randint(0, 99) + rnd.choice(EN)
    if rnd.random() < 0.3:
        s = rnd.choice(MARK) + " " + s
    return s


corpus = []
for g in range(30):
    for k in range(rnd.randint(2, 6)):
        parts = [sentence() for _ in range(rnd.randint(1, 25))]
        if rnd.random() < 0.3:
            parts = parts * rnd.randint(2, 4)  # a loop
        text = rnd.choice([" ", "\n", ""]).join(parts)
        if rnd.random() < 0.2:
            text = text.upper()
        val = rnd.choice(["7", "8"])
        row = {"id": len(corpus), "group": "r%d" % g, "completion": text + " <answer>%s</answer>" % val, "answer": "7"}
        if rnd.random() < 0.5:
            row["completion_tokens"] = rnd.randint(10, 20000)
        corpus.append(row)

mix = mix_file(['plugin("exact_match", { name = "accuracy" })', 'plugin("length")', 'plugin("cosine")',
                'plugin("cosine", { name = "cosine_wrap", config = { over_max_len = "wrap" } })',
                'plugin("repetition_penalty")',
                'plugin("repetition_penalty", { name = "rep_ws", config = { split = "whitespace" } })',
                'plugin("soft_overlong_punishment")', 'plugin("reasoning_steps")'])
rc, res, err = run(["--mix", mix, "--threads", "2", "--chunk", "7"], jsonl(corpus))
ok(rc == 0 and len(res) == len(corpus), "the corpus (%d samples, %d groups) scores" % (len(corpus), 30), err)
texts = [r["completion"] for r in corpus]
correct = [o["components"]["accuracy"] == 1.0 for o in res]
want = {
    "cosine": ref.cosine_scaled_reward(texts, correct, clamp=True),
    "cosine_wrap": ref.cosine_scaled_reward(texts, correct, clamp=False),
    "repetition_penalty": ref.repetition_penalty_cjk(texts),
    "rep_ws": ref.repetition_penalty_reward(texts),
    "reasoning_steps": ref.reasoning_steps_reward(texts),
    "soft_overlong_punishment": ref.soft_overlong_punishment(
        [r.get("completion_tokens", ref.approx_tokens(r["completion"])) for r in corpus]),
    "length": [None] * len(corpus),
}
for g in range(30):
    idx = [i for i, r in enumerate(corpus) if r["group"] == "r%d" % g]
    for i, v in zip(idx, ref.len_reward([texts[i] for i in idx], [correct[i] for i in idx])):
        want["length"][i] = v
for name, w in want.items():
    bad = [(i, res[i]["components"].get(name), w[i]) for i in range(len(corpus))
           if not close(res[i]["components"].get(name), w[i])]
    ok(not bad, "%s agrees with the reference on all %d samples" % (name, len(corpus)), bad[:5])
ok(sum(1 for v in want["repetition_penalty"] if v < 0) > sum(1 for v in want["rep_ws"] if v < 0),
   "the CJK split catches repetition that open-r1's split misses on this corpus")

done()

"""test_lang.py -- the `lang` plugin end to end through `rlvr score`: a table
of chains of thought (Chinese drifting into English, the R1 failure case;
Japanese with kanji; code and math inside a Chinese CoT; Latin-script
languages told apart by sentence), where the target language comes from
(sample, configuration, prompt), the chain-of-thought scopes, the units for
Han and kana, abstentions and their reasons, `rlvr plugins lang`, refused
configurations, the same results on 1 and 4 threads, hostile sizes."""
import os

from taplib import ok, is_eq, done, run, run_raw, jsonl, tempfile_with


def lua_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, dict):
        return "{" + ", ".join("%s = %s" % (k, lua_value(x)) for k, x in v.items()) + "}"
    raise TypeError(v)


def score(rows, config=None, extra=()):
    mix = tempfile_with("return mix { plugin(\"lang\", { config = %s }) }\n" % lua_value(config or {}))
    try:
        return run(["--mix", mix, "--quiet"] + list(extra), jsonl(rows))
    finally:
        os.unlink(mix)


def det(o):
    return o.get("details", {}).get("lang", {})


ZH_EN = "<think>我们需要计算这个函数的导数，然后 we need to check the derivative again。</think>答案是 2。"
ZH_MATH = ("<think>设函数为 $f(x) = \\sin x$，则 \\(\\int f(x)\\,dx = -\\cos x + C\\)。\n"
           "```python\nimport math\nprint(math.sin(1))\n```\n所以 sin(x) dx 的积分是 x，见 `scipy.integrate` 和 "
           "https://example.com/integral 。</think>")
JA = "<think>この問題を解くために、まず方程式を考えます。両辺を2で割ると、答えが出ます。</think>"
JA_ZH = "<think>この問題を解くために、まず方程式を考えます。因为这个方程有两个根。</think>"
EN = "<think>First, let us find the derivative of the function. Then we check that the answer is right.</think>"
EN_FR = ("<think>First, let us find the derivative of the function. "
         "Ensuite, on vérifie que la réponse est correcte.</think>")
EN_DE = ("<think>We need the sum of the two roots. "
         "Also muss die Summe der beiden Nullstellen sieben sein.</think>")
ES = "<think>Primero calculamos la derivada de la función. Luego comprobamos que la respuesta es correcta.</think>"

# (name, sample, config, status, reason, score or None, extra checks on details)
CASES = [
    ("R1 failure case: Chinese drifting into English (ICU words)",
     {"language": "zh", "completion": ZH_EN}, {}, "ok", "mixed", 8 / 15,
     {"counted_words": 15, "target_words": 8, "unit": "word", "cot": "think_block"}),
    ("the same with one word per Han character",
     {"language": "zh", "completion": ZH_EN}, {"cjk_unit": "char"}, "ok", "mixed", 15 / 22,
     {"counted_words": 22, "unit": "char"}),
    ("code, math, inline code and a URL inside a Chinese CoT are not English",
     {"language": "zh", "completion": ZH_MATH}, {}, "ok", "consistent", 1.0, {"scripts": {"han": 10}}),
    ("Japanese with kanji: consistent",
     {"language": "ja", "completion": JA}, {}, "ok", "consistent", 1.0, {}),
    ("Japanese target, a Chinese sentence (no kana) is not Japanese",
     {"language": "ja", "completion": JA_ZH}, {}, "ok", "mixed", 11 / 18, {}),
    ("Chinese target over Japanese text: kanji next to kana are Japanese",
     {"language": "zh", "completion": JA}, {}, "ok", "no_target_words", 0.0, {}),
    ("English CoT", {"language": "en", "completion": EN}, {}, "ok", "consistent", 1.0,
     {"sentence_languages": [{"lang": "en", "words": 9, "target": 9}, {"lang": "en", "words": 8, "target": 8}]}),
    ("English CoT drifting into French", {"language": "en", "completion": EN_FR}, {}, "ok", "mixed", 9 / 17,
     {"sentence_languages": [{"lang": "en", "words": 9, "target": 9}, {"lang": "fr", "words": 8, "target": 0}]}),
    ("English CoT drifting into German", {"language": "en", "completion": EN_DE}, {}, "ok", "mixed", 8 / 17,
     {"sentence_languages": [{"lang": "en", "words": 8, "target": 8}, {"lang": "de", "words": 9, "target": 0}]}),
    ("Spanish CoT", {"language": "es", "completion": ES}, {}, "ok", "consistent", 1.0, {}),
    ("Spanish target over an English CoT", {"language": "es", "completion": EN}, {}, "ok", "no_target_words", 0.0, {}),
    ("a region subtag is ignored", {"language": "en-US", "completion": EN}, {}, "ok", "consistent", 1.0,
     {"language": "en"}),
    ("pre-filled <think>: what precedes </think>",
     {"language": "zh", "completion": "我们先计算导数。</think>The answer is two."}, {}, "ok", "consistent", 1.0,
     {"cot": "before_close_tag"}),
    ("scope = completion counts the answer too",
     {"language": "zh", "completion": "我们先计算导数。</think>The answer is two."}, {"scope": "completion"},
     "ok", "mixed", 4 / 8, {"cot": "completion"}),
    ("no think tags: the whole completion",
     {"language": "en", "completion": "We check the answer."}, {}, "ok", "consistent", 1.0, {"cot": "whole_text"}),
    ("the target from the configuration", {"completion": EN_FR}, {"language": "fr"}, "ok", "mixed", 8 / 17,
     {"language_source": "config"}),
    ("the sample's language wins over the configuration", {"language": "en", "completion": EN_FR},
     {"language": "fr"}, "ok", "mixed", 9 / 17, {"language_source": "sample"}),
    ("the target detected in the prompt",
     {"prompt": "Quelle est la dérivée de la fonction ? Donnez la réponse.", "completion": EN_FR}, {},
     "ok", "mixed", 8 / 17, {"language": "fr", "language_source": "prompt"}),
    ("a Chinese prompt", {"prompt": "求函数的导数。", "completion": ZH_EN}, {}, "ok", "mixed", 8 / 15,
     {"language": "zh", "language_source": "prompt"}),
    ("no language anywhere: abstain", {"completion": EN}, {}, "abstain", "no_target_language", None, {}),
    ("detection switched off: abstain", {"prompt": "What is the derivative?", "completion": EN},
     {"detect_from_prompt": False}, "abstain", "no_target_language", None, {}),
    ("a prompt with nothing to detect: abstain", {"prompt": "$x^2$ = 4", "completion": EN}, {},
     "abstain", "no_target_language", None, {}),
    ("an unsupported sample language: abstain", {"language": "xx", "completion": EN}, {}, "abstain",
     "unsupported_language", None, {"language": "xx"}),
    ("a malformed sample language: abstain", {"language": "English!", "completion": EN}, {}, "abstain",
     "unsupported_language", None, {}),
    ("nothing countable: abstain",
     {"language": "zh", "completion": "<think>$x = 1$, 2, 3... `code` \\[y\\] https://a.b/c</think>"}, {},
     "abstain", "nothing_countable", None, {"counted_words": 0}),
    ("an empty think block: abstain", {"language": "en", "completion": "<think></think>The answer is 2."}, {},
     "abstain", "nothing_countable", None, {}),
    ("fewer words than min_words: abstain", {"language": "en", "completion": EN}, {"min_words": 100},
     "abstain", "nothing_countable", None, {"counted_words": 17}),
    ("unidentifiable interjections are skipped",
     {"language": "en", "completion": "<think>Hmm, wait.\nFirst, let us find the derivative of the function.</think>"},
     {}, "ok", "consistent", 1.0, {"unidentified_words": 2, "counted_words": 9}),
    ("or counted against the target with unidentified = other",
     {"language": "en", "completion": "<think>Hmm, wait.\nFirst, let us find the derivative of the function.</think>"},
     {"unidentified": "other"}, "ok", "mixed", 9 / 11, {"unidentified_words": 2, "counted_words": 11}),
]

rows = []
for i, (name, sample, config, st, reason, sc, extra) in enumerate(CASES):
    rc, out, err = score([dict(sample, id=i)], config)
    if not ok(rc in (0,) and len(out) == 1, "%s: rlvr score ran" % name, err):
        continue
    o = out[0]
    d = det(o)
    good = d.get("status") == st and d.get("reason") == reason
    if sc is None:
        good = good and o["reward"] is None
    else:
        good = good and o["reward"] is not None and abs(o["reward"] - sc) < 1e-9
    for k, v in extra.items():
        good = good and d.get(k) == v
    ok(good, name, o)

# -- the same table in one run, on 4 threads: identical results --------------------------------
plain = [dict(s, id=i) for i, (n, s, c, *_rest) in enumerate(CASES) if not c]
r1 = score(plain * 30, {}, ["--threads", "1"])
r4 = score(plain * 30, {}, ["--threads", "4", "--chunk", "7"])
ok(r1[0] == 0 and len(r1[1]) == len(plain) * 30 and r1[1] == r4[1],
   "%d samples: identical results on 1 thread and 4 (reentrant, deterministic)" % (len(plain) * 30))

# -- rlvr plugins lang -------------------------------------------------------------------------
p = run_raw(["plugins", "lang"])
card = p.stdout.decode()
ok(p.returncode == 0 and all(k in card for k in ["language", "detect_from_prompt", "cjk_unit", "scope",
                                                  "unidentified", "min_words"])
   and "one of word|char" in card and "reentrant deterministic" in card,
   "rlvr plugins lang lists its configuration with types, defaults and choices", card)
p = run_raw(["plugins"])
ok("lang" in p.stdout.decode(), "lang is listed among the built-in plugins")

# -- refused configurations -------------------------------------------------------------------
for cfg, words, name in [
    ({"languages": "en"}, ["unknown configuration key 'languages'"], "an unknown key"),
    ({"cjk_unit": "token"}, ["cjk_unit", "word|char"], "a unit outside the choices"),
    ({"scope": "answer"}, ["scope", "think|completion"], "a scope outside the choices"),
    ({"min_words": 0}, ["min_words", "out of range"], "min_words of 0"),
    ({"language": "xx"}, ["language", "'xx'", "cannot count"], "a language CLD2 does not know"),
    ({"language": "english"}, ["language", "not a language tag"], "a language name instead of a tag"),
    ({"detect_from_prompt": "yes"}, ["detect_from_prompt"], "a string for a bool"),
]:
    rc, out, err = score([{"completion": EN, "language": "en"}], cfg)
    ok(rc == 2 and out == [] and all(w in err for w in words), "refused: " + name, err)

# -- hostile sizes: no crash, linear time --------------------------------------------------------
big = [
    "<think>" + "$" * 2000000 + "</think>",
    "<think>" + "\\[" * 1000000,
    "<think>" + "我们" * 500000 + "</think>",
    "<think>" + "word " * 400000 + "</think>",
    "<think>" + "```\n" * 500000,
]
rc, out, err = score([{"id": i, "language": "zh" if i == 2 else "en", "completion": c} for i, c in enumerate(big)])
ok(rc == 0 and len(out) == len(big) and all(det(o).get("status") in ("ok", "abstain") for o in out),
   "multi-megabyte hostile completions: each scored or abstained", [det(o).get("reason") for o in out])
is_eq(out[2]["reward"] if len(out) > 2 else None, 1.0, "a megabyte of Chinese is consistent")
done()

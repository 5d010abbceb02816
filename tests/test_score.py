"""test_score.py -- `rlvr score` end to end: output shape and order, every
kind of bad input the foundation issue lists, plugin ABI refusals, the
stdout guard, exit statuses and the summary."""
import json
import os
import subprocess
import tempfile

from taplib import ok, is_eq, done, run, run_raw, plugin, jsonl, fixture, tempfile_with

EM = "exact_match"
MB = plugin("misbehave")

# -- basic scoring, order, ids ------------------------------------------------
rows = [{"id": i, "completion": "<think>x</think><answer>%d</answer>" % (i % 3), "answer": "1"} for i in range(50)]
rc, out, err = run(["--plugin", EM, "--threads", "2", "--chunk", "7"], jsonl(rows))
is_eq(rc, 0, "exact_match over 50 samples exits 0")
is_eq([o["id"] for o in out], list(range(50)), "results come in input order across slices and threads")
is_eq([o["reward"] for o in out[:3]], [0.0, 1.0, 0.0], "rewards follow the answers")
is_eq(set(out[1].keys()), {"id", "reward", "components", "details"}, "a result has id, reward, components, details")
is_eq(out[1]["details"]["exact_match"]["status"], "ok", "details carry the status")
is_eq(out[1]["details"]["exact_match"]["reason"], "match", "details carry the reason")
ok("50 samples" in err and "exact_match" in err, "the summary names the sample count and the component", err)

# -- missing id: the line number; 64-bit ids echoed exactly; string ids ------
text = ('{"completion":"a","answer":"a"}\n'
        '{"id":9223372036854775807,"completion":"a","answer":"a"}\n'
        '{"id":18446744073709551615,"completion":"a","answer":"a"}\n'
        '{"id":123456789012345678901234567890,"completion":"a","answer":"a"}\n'
        '{"id":-9223372036854775808,"completion":"a","answer":"a"}\n'
        '{"id":"x\\"y","completion":"a","answer":"a"}\n'
        '{"id":1.50,"completion":"a","answer":"a"}\n')
p = run_raw(["score", "--plugin", EM + "", "--quiet"], text)
lines = p.stdout.decode().splitlines()
ids = [l[len('{"id":'):l.index(',"reward"')] for l in lines]
is_eq(ids, ["1", "9223372036854775807", "18446744073709551615", "123456789012345678901234567890",
            "-9223372036854775808", '"x\\"y"', "1.50"], "ids are echoed exactly (line number when absent)")

# -- BOM, CRLF, blank lines, no final newline ---------------------------------
text = b'\xef\xbb\xbf{"id":1,"completion":"a","answer":"a"}\r\n\r\n   \n{"id":2,"completion":"b","answer":"b"}'
rc, out, err = run(["--plugin", EM], text)
is_eq(([o["id"] for o in out], [o["reward"] for o in out]), ([1, 2], [0.0, 0.0]),
      "BOM, CRLF, blank lines and a missing final newline are read")
rc, out, err = run(["--plugin", EM, "--plugin", MB], '{"completion":"x","answer":"x"}\n\n{"completion":"x"}\n')
is_eq([o["id"] for o in out], [1, 3], "blank lines are skipped but still counted for line-number ids")

# -- malformed lines: an error result naming the line; the batch goes on -------
text = ('{"id":1,"completion":"a","answer":"a"}\n'
        '{"id":2,"completion":"a",\n'
        'not json at all\n'
        '[1,2,3]\n'
        '{"id":5}\n'
        '{"id":6,"completion":42}\n'
        '{"id":7,"completion":"a","answer":"a"} trailing\n'
        '{"id":8,"completion":"a","answer":"a"}\n')
rc, out, err = run(["--plugin", EM], text)
is_eq(rc, 1, "exit status 1 when some samples failed")
is_eq(len(out), 8, "one result per line, errors included")
is_eq([o["reward"] is None for o in out], [False, True, True, True, True, True, True, False],
      "bad lines have a null reward, good ones are scored")
e = out[1].get("error", {})
is_eq((e.get("stage"), e.get("line")), ("parse", 2), "a malformed line's error names stage and line")
ok("malformed JSON" in e.get("message", ""), "and says what is wrong", e)
is_eq(out[3]["error"]["message"], "a sample must be a JSON object", "a JSON array is refused")
is_eq(out[4]["error"], {"stage": "input", "plugin": None, "line": 5, "message": "missing field 'completion'"},
      "a sample without completion: an input error")
is_eq(out[5]["error"]["stage"], "input", "a completion that is not text: an input error")
ok(out[6]["error"]["stage"] == "parse" and "byte 40" in out[6]["error"]["message"], "trailing text after the object is an error at its byte", out[6])
ok("errors" in err and "line 2" in err, "the summary counts errors and names the first", err)

rc, out, err = run(["--plugin", EM, "--strict"], text)
is_eq((rc, len(out)), (1, 2), "--strict stops at the first failed sample (after writing it)")

# -- chat completions, NUL bytes, UTF-8 -----------------------------------------
chat = {"id": "c", "completion": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "\\boxed{7}"},
                                  {"role": "user", "content": "more"}], "answer": "7"}
rc, out, err = run(["--plugin", EM], jsonl([chat]))
is_eq(out[0]["reward"], 1.0, "a chat completion: the last assistant message is scored")
parts = {"completion": [{"role": "assistant", "content": [{"type": "text", "text": "\\boxed{"},
                                                          {"type": "text", "text": "7}"}]}], "answer": "7"}
rc, out, err = run(["--plugin", EM], jsonl([parts]))
is_eq(out[0]["reward"], 1.0, "content given as a list of text parts is joined")
rc, out, err = run(["--plugin", EM], jsonl([{"completion": [{"role": "user", "content": "q"}]}]))
ok("no assistant message" in out[0].get("error", {}).get("message", ""), "a chat without an assistant message is an input error")

rc, out, err = run(["--plugin", MB], '{"completion":"a\\u0000b"}\n')
is_eq(out[0]["details"]["misbehave"]["length"], 3, "an embedded NUL does not truncate what plugins see")
rc, out, err = run(["--plugin", EM], '{"completion":"\\u0000","answer":"\\u0000"}\n')
is_eq((out[0]["reward"], out[0]["details"]["exact_match"]["reason"]), (0.0, "no_answer"),
      "NUL-only text is scored (no answer found), without crashing")

bad_utf8 = [b'{"completion":"\xff"}', b'{"completion":"\xc0\xaf"}', b'{"completion":"\xed\xa0\x80"}',
            b'{"completion":"\\ud800"}', b'{"completion":"\\udc00x"}', b'{"completion":"\\ud800\\u0041"}']
rc, out, err = run(["--plugin", MB], b"\n".join(bad_utf8) + b'\n{"completion":"\\ud83d\\ude00 ok"}\n')
is_eq([o.get("error", {}).get("stage") for o in out], ["parse"] * 6 + [None],
      "invalid UTF-8, overlongs, encoded and escaped lone surrogates are errors; a real pair is fine")
ok(all("UTF" in o["error"]["message"] or "surrogate" in o["error"]["message"] for o in out[:6]),
   "their messages say why", [o.get("error") for o in out[:6]])

# -- empty input; a 10 MB completion ----------------------------------------------
rc, out, err = run(["--plugin", EM], "")
is_eq((rc, out), (0, []), "empty input: no results, exit 0")
ok("0 samples" in err, "and the summary says 0 samples", err)
big = "x" * (10 << 20)
rc, out, err = run(["--plugin", MB], jsonl([{"id": "big", "completion": big}, {"id": "after", "completion": "y"}]))
is_eq([(o["id"], o["details"]["misbehave"]["length"]) for o in out], [("big", 10 << 20), ("after", 1)],
      "a 10 MB completion is scored whole, and the next sample too")

# -- field map -------------------------------------------------------------------------
verl = {"prompt": "p", "completion": "\\boxed{5}", "reward_model": {"ground_truth": "5", "style": "rule"},
        "extra": {"ids": [10, 20, 30]}}
rc, out, err = run(["--plugin", EM, "--field", "answer=reward_model.ground_truth", "--field", "id=extra.ids.-1"],
                   jsonl([verl]))
is_eq((out[0]["id"], out[0]["reward"]), (30, 1.0), "--field maps dotted paths (and negative array indexes)")
rc, out, err = run(["--plugin", EM, "--field", "answer"], "")
is_eq(rc, 2, "a malformed --field is a usage error")

# -- plugins that misbehave ----------------------------------------------------------
rc, out, err = run(["--plugin", MB], jsonl([{"completion": w} for w in ["nan", "inf", "nostatus", "abstain", "error", "ok"]]))
st = [o["details"]["misbehave"]["status"] for o in out]
is_eq(st, ["error", "error", "error", "abstain", "error", "ok"], "NaN, infinity and no status are errors, not rewards")
ok("non-finite" in out[0]["details"]["misbehave"]["message"], "NaN: the message says non-finite", out[0])
is_eq(out[3]["details"]["misbehave"]["reason"], "cannot judge this", "abstain carries its reason")
is_eq([o["reward"] for o in out], [None, None, None, None, None, 1.0], "a required component that fails makes the reward null")
is_eq(out[0]["components"], {"misbehave": None}, "components are null where a plugin failed")

rc, out, err = run(["--plugin", MB], jsonl([{"completion": "literals"}, {"completion": "badjson"}]))
d = out[0]["details"]["misbehave"]
is_eq((d["t"], d["n"], d["z"], d["e"], out[0]["reward"]), (True, 12, None, -1500.0, 1.0),
      "detail_json takes bare literals and numbers (true, 12, null, -1.5e3)")
d = out[1]["details"]["misbehave"]
ok(d["status"] == "error" and "not valid JSON" in d["message"] and out[1]["reward"] is None,
   "a detail that is not JSON makes an error, even when the plugin sets OK afterwards", out[1])
iso = tempfile_with('return mix { plugin(%s, { isolate = true }) }\n' % json.dumps(MB))
rc, out, err = run(["--mix", iso], jsonl([{"completion": "badjson"}, {"completion": "literals"}]))
os.unlink(iso)
is_eq([o["details"]["misbehave"]["status"] for o in out], ["error", "ok"],
      "the same in a worker process: invalid detail JSON is an error, literals are kept")
p = run_raw(["score", "--plugin", MB], jsonl([{"completion": "print"}, {"completion": "ok"}]))
lines = p.stdout.decode().splitlines()
ok(len(lines) == 2 and all(json.loads(l)["id"] in (1, 2) for l in lines), "a plugin's printf cannot corrupt the results", p.stdout)
ok("forged" in p.stderr.decode(), "its output lands on stderr instead")

# -- loading errors ------------------------------------------------------------------
rc, out, err = run(["--plugin", "no_such_plugin"], "")
ok(rc == 2 and "unknown plugin 'no_such_plugin'" in err, "an unknown plugin is named", err)
rc, out, err = run(["--plugin", plugin("not_a_plugin")], "")
ok(rc == 2 and "not an rlvr plugin" in err, "a shared object without the entry is refused", err)
txt = tempfile_with("this is not a shared object\n", ".so")
rc, out, err = run(["--plugin", txt], "")
ok(rc == 2 and "cannot load as a plugin" in err and txt in err, "a file that is not a plugin is refused, naming it", err)
os.unlink(txt)
rc, out, err = run(["--plugin", plugin("wrong_abi")], "")
ok(rc == 2 and "ABI 99.0" in err and "wrong_abi" in err, "a plugin of another ABI major is refused, naming it", err)
rc, out, err = run(["--plugin", plugin("newer_minor")], jsonl([{"completion": "a"}]))
is_eq((rc, out[0]["reward"]), (0, 0.5), "a plugin of a newer minor loads and scores")
rc, out, err = run(["--plugin", EM + "=abc"], "")
ok(rc == 2 and "not a number" in err, "a weight that is not a number is refused", err)
rc, out, err = run([], "")
is_eq(rc, 2, "no plugin and no mix: usage error")

# -- weights, several plugins, summary JSON, groups -----------------------------------
with tempfile.TemporaryDirectory() as d:
    sj = os.path.join(d, "s.json")
    rows = [{"id": i, "group": "g%d" % (i // 4), "completion": "\\boxed{%d}" % (1 if i < 4 else i % 2), "answer": "1"}
            for i in range(12)]
    rc, out, err = run(["--plugin", EM + "=0.5", "--plugin", MB + "=2", "--summary-json", sj], jsonl(rows))
    is_eq(out[0]["reward"], 0.5 * 1 + 2 * 1, "weighted sum of components")
    s = json.load(open(sj))
    is_eq((s["samples"], s["groups"]), (12, 3), "summary JSON counts samples and groups")
    is_eq(s["frac_reward_zero_std"], 1 / 3, "frac_reward_zero_std: one group of three has equal rewards")
    ok(s["components"]["exact_match"]["ok"] == 12 and s["max_rss_kb"] > 0, "per-component counts and peak memory", s)
    ok("frac_reward_zero_std" in err, "the stderr summary reports it too", err)

# -- the same results with 1 thread and with 2 --------------------------------------------
rows = [{"id": i, "completion": "\\boxed{%d}" % (i % 5), "answer": "3"} for i in range(3000)]
r1 = run_raw(["score", "--plugin", EM, "--threads", "1"], jsonl(rows)).stdout
r2 = run_raw(["score", "--plugin", EM, "--threads", "2", "--chunk", "100"], jsonl(rows)).stdout
ok(r1 == r2 and len(r1) > 0, "1 thread and 2 threads give byte-identical output")

done()

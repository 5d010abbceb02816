"""test_mix.py -- reward mixes in Lua: validation before any sample is read
(errors name file and line), weights, required and optional entries,
combine functions, lazy entries, stages, routing, weight schedules, batch
plugins over whole groups, isolation in worker processes, and Lua plugins
held to their time cap."""
import os

from taplib import ok, is_eq, done, run, plugin, jsonl, tempfile_with

MB, GR, RC = plugin("misbehave"), plugin("group_rank"), plugin("reads_component")


def mix(text):
    return tempfile_with(text.replace("MB", MB).replace("GR", GR).replace("RC", RC))


def score(mixtext, rows, *extra):
    path = mix(mixtext)
    try:
        return run(["--mix", path] + list(extra), jsonl(rows) if isinstance(rows, list) else rows) + (path,)
    finally:
        os.unlink(path)


# -- entries, names, weights, configuration ----------------------------------
M = '''-- a two-entry mix
return mix {
  plugin("exact_match", { name = "accuracy", weight = 1.0, config = { case_sensitive = true } }),
  plugin("MB", { weight = 0.5, optional = true }),
}
'''
rc, out, err, _ = score(M, [{"completion": "\\boxed{A}", "answer": "A"}, {"completion": "\\boxed{a}", "answer": "A"},
                            {"completion": "abstain", "answer": "A"}])
is_eq(rc, 0, "a mix file scores")
is_eq(sorted(out[0]["components"]), ["accuracy", "misbehave"], "entry names name the components")
is_eq([o["reward"] for o in out], [1.5, 0.5, 0.0], "weighted sum; configuration reached the plugin (case_sensitive)")
is_eq(out[2]["components"]["misbehave"], None, "an optional entry that abstains is null and adds nothing")

M2 = M.replace(", optional = true", "")
rc, out, err, _ = score(M2, [{"completion": "abstain", "answer": "A"}])
is_eq(out[0]["reward"], None, "a required entry that abstains makes the reward null")

rc, out, err, _ = score('return mix { {plugin = "exact_match", weight = 2} }', [{"completion": "\\boxed{1}", "answer": "1"}])
is_eq(out[0]["reward"], 2.0, "plain tables are accepted as entries")

# -- validation: file and line -----------------------------------------------------
cases = [
    ('return mix {\n  plugin("exact_match"),\n  plugin("nope_plugin", {weight = 1}),\n}\n', ":3:", "unknown plugin 'nope_plugin'"),
    ('return mix {\n  plugin("exact_match", { config = { case_sensitiv = true } }),\n}\n', ":2:",
     "unknown configuration key 'case_sensitiv' (known keys: case_sensitive, fallback_whole, max_answer_bytes)"),
    ('return mix {\n\n  plugin("exact_match", { config = { case_sensitive = "yes" } }),\n}\n', ":3:",
     "key 'case_sensitive': expected a boolean (true or false), got a string"),
    ('return mix {\n  plugin("exact_match", { config = { max_answer_bytes = 0 } }),\n}\n', ":2:", "out of range"),
    ('return mix {\n  plugin("exact_match", { weight = "heavy" }),\n}\n', ":2:", "must be a finite number or a function"),
    ('return mix {\n  plugin("exact_match", { wieght = 1 }),\n}\n', ":2:", "unknown entry key 'wieght'"),
    ('return mix {\n  plugin("exact_match", { lazy = true }),\n}\n', ":1:", "lazy entries are computed only when"),
    ('return mix {\n  plugin("exact_match"),\n  plugin("exact_match"),\n}\n', ":3:", "two entries are named 'exact_match'"),
    ('return mix {\n  plugin("exact_match",\n}\n', ":3:", "expected"),
    ('return 42\n', "", "must return a table"),
    ('return mix {}\n', ":1:", "the mix has no entries"),
    ('return mix { plugin("exact_match"), combine = "product" }\n', ":1:", 'combine must be "sum" or a function'),
    ('return route { field = "ds", cases = { a = mix { plugin("nope2") } } }\n', ":1:", "unknown plugin 'nope2'"),
]
for text, where, what in cases:
    rc, out, err, path = score(text, "this line is never read\n")
    ok(rc == 2 and (path + where) in err and what in err and not out,
       "validation: %s" % what[:60], err)

# -- combine functions, lazy entries, stages ---------------------------------------------
C = '''return mix {
  plugin("exact_match", { name = "accuracy" }),
  plugin("MB", { name = "judge", lazy = true }),
  plugin("RC", { name = "double", config = { source = "accuracy", field = "meta.source" } }),
  combine = function(c, sample, step)
    if c.accuracy == 1 then return 1 + step, "exact" end
    local j = c.judge   -- runs the lazy entry only here
    if j then return 0.5 * j end
    return nil, "no verdict"
  end,
}
'''
rows = [{"id": 1, "completion": "\\boxed{3}", "answer": "3", "meta": {"source": "gsm8k"}},
        {"id": 2, "completion": "wrong", "answer": "3"},
        {"id": 3, "completion": "abstain", "answer": "3"}]
rc, out, err, _ = score(C, rows, "--step", "2")
is_eq([o["reward"] for o in out], [3.0, 0.5, None], "a combine function decides the reward (and sees the step)")
ok("judge" not in out[0]["components"] and "judge" in out[1]["components"],
   "a lazy entry runs only where the combine asks for it", out[:2])
is_eq(out[0]["details"]["combine"], {"status": "ok", "reason": "exact"}, "combine's reason is kept")
is_eq(out[2]["details"]["combine"]["status"], "abstain", "combine returning nil: the reward is null, with its reason")
is_eq(out[0]["components"]["double"], 2.0, "a later entry reads an earlier component")
is_eq(out[0]["details"]["double"]["field"], "gsm8k", "and any sample field by dotted path")

BAD = 'return mix { plugin("exact_match"), combine = function(c) return c.exact_match .. "x" end }'
rc, out, err, _ = score(BAD, [{"completion": "\\boxed{1}", "answer": "1"}])
ok(rc == 1 and out[0]["reward"] is None and out[0]["details"]["combine"]["status"] == "error",
   "a combine that raises an error: null reward, status error, exit 1", out)

# -- routes --------------------------------------------------------------------------------
R = '''return route {
  field = "data_source",
  cases = {
    math = mix { plugin("exact_match", { name = "accuracy" }) },
    code = mix { plugin("MB", { name = "tests" }) },
  },
  default = mix { plugin("MB", { name = "other", weight = 0.25 }) },
}
'''
rows = [{"data_source": "math", "completion": "\\boxed{2}", "answer": "2"},
        {"data_source": "code", "completion": "x"},
        {"data_source": "poetry", "completion": "x"},
        {"completion": "x"}]
rc, out, err, _ = score(R, rows)
is_eq([list(o["components"]) for o in out], [["accuracy"], ["tests"], ["other"], ["other"]],
      "samples are routed to sub-mixes by a field, with a default")
is_eq([o["reward"] for o in out], [1.0, 1.0, 0.25, 0.25], "each sub-mix scores its samples")
rc, out, err, _ = score(R.replace("  default = mix { plugin(\"MB\", { name = \"other\", weight = 0.25 }) },\n", ""), rows)
is_eq(out[2]["error"]["stage"], "route", "no route and no default: an error for that sample")
ok("data_source=poetry" in out[2]["error"]["message"], "naming field and value", out[2])

# -- weight schedules ----------------------------------------------------------------------------
S = 'return mix { plugin("MB", { weight = function(step) return math.min(1, step / 10) end }) }'
rc, out, err, _ = score(S, [{"completion": "x"}], "--step", "4")
is_eq(out[0]["reward"], 0.4, "a weight can follow the training step")
rc, out, err, _ = score(S.replace("math.min(1, step / 10)", '"x"'), [{"completion": "x"}])
ok(rc == 2 and "weight function" in err and ":1:" in err, "a weight function returning a non-number is refused", err)

# -- batch plugins over whole groups ----------------------------------------------------------
G = 'return mix { plugin("GR", { name = "rank" }) }'
rows = [{"group": "g%d" % (i // 4), "completion": "x" * (1 + i % 4)} for i in range(12)]
rows[5]["completion"] = "skip"
rc, out, err, _ = score(G, rows, "--chunk", "3", "--threads", "2")
sizes = [o["details"]["rank"].get("batch_size") for o in out]
is_eq(sizes, [4] * 5 + [None] + [4] * 6, "a group plugin gets whole groups, even across slices")
is_eq([o["reward"] for o in out[:4]], [0.25, 0.5, 0.75, 1.0], "group-relative scores")
ok(out[5]["details"]["rank"]["status"] == "error" and "without filling" in out[5]["details"]["rank"]["message"],
   "a batch result left unfilled is an error", out[5])

# -- isolation ----------------------------------------------------------------------------------
I = 'return mix { plugin("MB", { isolate = true, timeout_ms = 400 }) }'
rows = [{"id": w, "completion": w} for w in ["ok", "crash", "ok", "hang", "abort", "ok", "nan"]]
rc, out, err, _ = score(I, rows, "--threads", "2")
st = {o["id"]: o["details"]["misbehave"] for o in out}
is_eq([o["id"] for o in out], ["ok", "crash", "ok", "hang", "abort", "ok", "nan"], "isolation keeps every sample, in order")
ok("signal 11" in st["crash"].get("message", ""), "a segfault in isolation: an error for that sample", st["crash"])
ok("timed out after 400 ms" in st["hang"].get("message", ""), "a hang in isolation: killed at its timeout", st["hang"])
ok("signal 6" in st["abort"].get("message", ""), "abort() in isolation: an error naming the signal", st["abort"])
is_eq([o["reward"] for o in out if o["id"] == "ok"], [1.0, 1.0, 1.0], "the other samples score normally")
ok("non-finite" in st["nan"].get("message", ""), "NaN through isolation is still an error", st["nan"])
RCI = 'return mix { plugin("exact_match", {name = "acc"}), plugin("RC", { isolate = true, config = {source = "acc", field = "k"} }) }'
rc, out, err, _ = score(RCI, [{"completion": "\\boxed{1}", "answer": "1", "k": [1, {"a": None}]}])
is_eq((out[0]["components"]["reads_component"], out[0]["details"]["reads_component"]["field"]), (2.0, [1, {"a": None}]),
      "an isolated plugin reads earlier components and sample fields")

# -- Lua plugins: scoring, rlvr.call, time cap naming plugin and sample ------------------------
LP = tempfile_with('''return {
  name = "luatest", version = "1", description = "test",
  config = { bonus = { type = "number", default = 0, help = "added" } },
  score = function(s, config)
    if s.completion == "loop" then while true do end end
    if s.completion == "find" then return string.find(string.rep("a", 1 << 20), ".-.-.-.-x") and 1 or 0 end
    if s.completion == "oom" then local t = {} for i = 1, 1e9 do t[i] = string.rep("x", 1000) .. i end end
    local v = rlvr.call("exact_match", s)
    return (v or 0) + config.bonus, { reason = "via exact_match" }
  end,
}
''')
L = 'return mix { plugin("%s", { config = { bonus = 0.5, time_limit_ms = 200, memory_limit_mb = 16 } }) }' % LP
rows = [{"id": "a", "completion": "\\boxed{1}", "answer": "1"}, {"id": "loop", "completion": "loop"},
        {"id": "find", "completion": "find"}, {"id": "oom", "completion": "oom"}, {"id": "b", "completion": "x", "answer": "1"}]
rc, out, err, _ = score(L, rows, "--threads", "2")
d = {o["id"]: o for o in out}
is_eq((d["a"]["reward"], d["b"]["reward"]), (1.5, 0.5), "a Lua plugin scores, calling another plugin through rlvr.call")
for k in ("loop", "find"):
    m = d[k]["details"]["luatest"].get("message", "")
    ok(d[k]["reward"] is None and "time limit" in m and "luatest" in m, "Lua '%s' is stopped by the time cap, naming the plugin" % k, d[k])
m = d["oom"]["details"]["luatest"].get("message", "")
ok(d["oom"]["reward"] is None and "memory" in m, "unbounded allocation is stopped by the memory cap", d["oom"])
ok("line 2" in err and "luatest" in err, "the summary names the first failing sample's line and plugin", err)
os.unlink(LP)

REQ = tempfile_with('return { name = "needs_key", version = "1", description = "d", '
                    'config = { key = { type = "string", help = "no default: required" } }, '
                    'score = function(s, c) return #c.key end }\n')
rc, out, err, path = score('return mix {\n  plugin("%s"),\n}\n' % REQ, "never read\n")
ok(rc == 2 and path + ":2:" in err and "key 'key' is required" in err, "a Lua plugin's required key, not given: refused at load", err)
rc, out, err, path = score('return mix { plugin("%s", { config = { key = "abc" } }) }' % REQ, [{"completion": "x"}])
is_eq(out[0]["reward"], 3.0, "and scored when given")
os.unlink(REQ)

done()

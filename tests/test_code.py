"""test_code.py -- the `code` plugin end to end through `rlvr score`: the
three test modes, the checkers, the dataset adapters (APPS/CodeContests,
open-r1, HumanEval), zero versus abstain, the reward rules, reward hacks
(exiting before the tests, forged pass markers, objects equal to anything,
hunting for the expected output), and parallel batches in which one bad
sample stops nothing. Skips where the machine cannot sandbox."""
import json
import time

from taplib import ok, is_eq, done, run, run_raw, jsonl, tempfile_with
from code_lib import require_sandbox, sandbox_processes

require_sandbox()


def mix(**cfg):
    body = ", ".join("%s = %s" % (k, json.dumps(v)) for k, v in cfg.items())
    return tempfile_with('return mix { plugin("code", { config = { %s } }) }\n' % body)


def score(rows, **cfg):
    args = ["--mix", mix(**cfg)] if cfg else ["--plugin", "code"]
    rc, out, err = run(args, jsonl(rows))
    return rc, out, err


def d(o):
    return o["details"]["code"]


def fence(code, tag="python"):
    return "Let me think.\n```%s\n%s\n```\n" % (tag, code)


ADD = "a, b = map(int, input().split())\nprint(a + b)"
STDIO = {"cases": [{"stdin": "1 2\n", "stdout": "3\n"}, {"stdin": "5 5\n", "stdout": "10\n"},
                   {"stdin": "-1 1\n", "stdout": "0\n"}]}

# -- stdin/stdout mode ----------------------------------------------------------------------
rows = [
    {"id": "pass", "completion": fence(ADD), "tests": STDIO},
    {"id": "wrong", "completion": fence("a, b = map(int, input().split())\nprint(a + b if a > 0 else 7)"), "tests": STDIO},
    {"id": "prefix", "completion": fence("print(3)"), "tests": {"cases": [{"stdin": "", "stdout": "3\n4\n"}]}},
    {"id": "c", "completion": fence('#include <stdio.h>\nint main(void){int a,b;scanf("%d %d",&a,&b);printf("%d\\n",a+b);return 0;}', "c"), "tests": STDIO},
    {"id": "cpp", "completion": fence('#include <iostream>\nint main(){long a,b;std::cin>>a>>b;std::cout<<a+b<<"\\n";}', "cpp"), "tests": STDIO},
    {"id": "cerr", "completion": fence("int main(void) { return undefined_thing; }", "c"), "tests": STDIO},
    {"id": "pysyntax", "completion": fence("def f(:\n  pass"), "tests": STDIO},
    {"id": "nocode", "completion": "I cannot solve this.", "tests": STDIO},
    {"id": "notests", "completion": fence(ADD)},
    {"id": "badtests", "completion": fence(ADD), "tests": {"cases": [{"stdin": 3}]}},
    {"id": "badchecker", "completion": fence(ADD), "tests": {"checker": "regex", "cases": STDIO["cases"]}},
    {"id": "crash", "completion": fence("import sys\nsys.exit(4)"), "tests": STDIO},
    {"id": "langfield", "completion": fence(ADD, ""), "tests": dict(STDIO, language="python")},
]
rc, out, err = score(rows, whole_text=False)
by = {o["id"]: o for o in out}
is_eq(len(out), len(rows), "one result per sample")
is_eq((by["pass"]["reward"], d(by["pass"])["reason"], d(by["pass"])["verdicts"]), (1.0, "all_passed", ["ok"] * 3),
      "stdio: a correct program passes every test")
is_eq((by["wrong"]["reward"], d(by["wrong"])["reason"], d(by["wrong"])["first_failure"]), (2 / 3, "wrong_answer", 2),
      "stdio: pass fraction, the first failing test and its verdict")
is_eq(by["prefix"]["reward"], 0.0, "stdio: a correct prefix of the output is not a pass")
is_eq((by["c"]["reward"], d(by["c"])["language"]), (1.0, "c"), "C from a ```c block")
is_eq((by["cpp"]["reward"], d(by["cpp"])["language"]), (1.0, "cpp"), "C++ from a ```cpp block")
ok(by["cerr"]["reward"] == 0.0 and d(by["cerr"])["reason"] == "compile_error" and "undefined_thing" in d(by["cerr"])["failure"],
   "a C compile error scores 0 with the diagnostics", by["cerr"])
is_eq((by["pysyntax"]["reward"], d(by["pysyntax"])["reason"]), (0.0, "compile_error"), "a Python syntax error is a compile error")
is_eq((by["nocode"]["reward"], d(by["nocode"])["reason"]), (0.0, "no_code"), "no code block (whole_text off): 0, no_code")
ok(by["notests"]["reward"] is None and d(by["notests"])["status"] == "abstain" and "tests" in d(by["notests"])["reason"],
   "no tests field: abstain, naming the field", by["notests"])
ok(by["badtests"]["reward"] is None and "tests.cases.0" in d(by["badtests"])["reason"], "malformed tests: abstain naming the field", by["badtests"])
ok(by["badchecker"]["reward"] is None and "tests.checker" in d(by["badchecker"])["reason"], "an unknown checker: abstain", by["badchecker"])
ok(by["crash"]["reward"] == 0.0 and d(by["crash"])["reason"] == "runtime_error" and "exit status 4" in d(by["crash"])["failure"],
   "a crash: runtime_error with the exit status", by["crash"])
is_eq(by["langfield"]["reward"], 1.0, "an untagged block with the tests' language")

rc, out, err = score([{"completion": "print(7)", "tests": {"cases": [{"stdin": "", "stdout": "7"}]}}])
is_eq(out[0]["reward"], 1.0, "whole_text (default): no fence, the whole text is the program")

# -- checkers ---------------------------------------------------------------------------------
def one(code, tests, **cfg):
    rc, out, err = score([{"completion": fence(code), "tests": tests}], **cfg)
    return out[0]


cases = [
    ("exact needs the newline", 'print(3, end="")', {"checker": "exact", "cases": [{"stdin": "", "stdout": "3\n"}]}, 0.0),
    ("lines ignore trailing blanks", 'print("3   ")', {"checker": "lines", "cases": [{"stdin": "", "stdout": "3\n"}]}, 1.0),
    ("tokens ignore layout", 'print("1\\n2   3")', {"checker": "tokens", "cases": [{"stdin": "", "stdout": "1 2 3"}]}, 1.0),
    ("float within tolerance", "print(1/3)", {"checker": "float:1e-6", "cases": [{"stdin": "", "stdout": "0.333333"}]}, 1.0),
    ("float: NaN never equal", 'print("nan")', {"checker": "float:1e-6", "cases": [{"stdin": "", "stdout": "nan"}]}, 0.0),
    ("custom checker accepts any order", 'print("b a")',
     {"checker": {"python": "def check(input, output, expected):\n    return sorted(output.split()) == sorted(expected.split())\n"},
      "cases": [{"stdin": "", "stdout": "a b"}]}, 1.0),
    ("custom checker rejects", 'print("b c")',
     {"checker": {"python": "def check(input, output, expected):\n    return sorted(output.split()) == sorted(expected.split())\n"},
      "cases": [{"stdin": "", "stdout": "a b"}]}, 0.0),
]
for name, code, tests, want in cases:
    o = one(code, tests)
    is_eq(o["reward"], want, "checker: " + name)

# -- function mode -------------------------------------------------------------------------------
FN = {"entry_point": "f", "cases": [{"input": [1, 2], "output": 3}, {"input": [[1, 2], [3]], "output": [1, 2, 3]},
                                    {"input": ["a", "b"], "output": "ab"}]}
o = one("def f(a, b):\n    return a + b", FN)
is_eq((o["reward"], d(o)["verdicts"]), (1.0, ["ok", "ok", "ok"]), "function mode: JSON arguments, values compared outside")
o = one("def f(a, b):\n    return True", {"entry_point": "f", "cases": [{"input": [0, 0], "output": 1}]})
is_eq(o["reward"], 0.0, "function mode: True is not 1")
o = one("def f(a, b):\n    return (a, b)", {"entry_point": "f", "cases": [{"input": [1, 2], "output": [1, 2]}]})
is_eq(o["reward"], 1.0, "function mode: a tuple compares as a list")
o = one("def f(a, b):\n    return float('nan')", {"entry_point": "f", "checker": "float:1e-6", "cases": [{"input": [1, 2], "output": 0.5}]})
is_eq(o["reward"], 0.0, "function mode: NaN is never equal")
o = one("def f(a, b):\n    return 0.1 + 0.2", {"entry_point": "f", "checker": "float:1e-9", "cases": [{"input": [1, 2], "output": 0.3}]})
is_eq(o["reward"], 1.0, "function mode: floats with the float checker")
o = one("class Solution:\n    def f(self, a, b):\n        return a - b", {"entry_point": "f", "cases": [{"input": [5, 2], "output": 3}]})
is_eq(o["reward"], 1.0, "function mode: a LeetCode-style Solution class")
o = one("import time\ndef f(a, b):\n    if a == 0:\n        time.sleep(10)\n    return a + b",
        {"entry_point": "f", "time_limit_ms": 300, "cases": [{"input": [0, 1], "output": 1}, {"input": [1, 1], "output": 2}]})
is_eq(d(o)["verdicts"], ["time_limit", "ok"], "function mode: a call over the limit fails alone; the next case gets a fresh process")
o = one("import os\ndef f(a, b):\n    if a == 0:\n        os._exit(0)\n    return a + b",
        {"entry_point": "f", "cases": [{"input": [0, 1], "output": 1}, {"input": [1, 1], "output": 2}]})
is_eq(d(o)["verdicts"], ["runtime_error", "ok"], "function mode: a process that exits mid-call fails that case")
o = one("def f(a, b):\n    raise ValueError('no')", {"entry_point": "f", "cases": [{"input": [0, 1], "output": 1}]})
ok(d(o)["verdicts"] == ["runtime_error"] and "ValueError" in d(o)["failure"], "function mode: an exception is a runtime error", o)
o = one("def g():\n    pass", {"entry_point": "f", "cases": [{"input": [0, 1], "output": 1}]})
ok(d(o)["verdicts"] == ["runtime_error"] and "no function named f" in d(o)["failure"], "function mode: a missing entry point", o)

# -- reward hacks ------------------------------------------------------------------------------------
HE = {"entry_point": "add", "assert": "def check(candidate):\n    assert candidate(1, 2) == 3\n    assert candidate(-1, 1) == 0\n"}
o = one("def add(a, b):\n    return a + b", HE)
is_eq((o["reward"], d(o)["reason"]), (1.0, "all_passed"), "assertion mode: a correct function passes")
o = one("def add(a, b):\n    return a - b", HE)
ok(o["reward"] == 0.0 and d(o)["reason"] == "wrong_answer" and "AssertionError" in d(o)["failure"], "assertion mode: a failed assert", o)
hacks = [
    ("exit 0 before the tests", "import sys\ndef add(a, b):\n    return 0\nsys.exit(0)"),
    ("os._exit(0) inside the call", "import os\ndef add(a, b):\n    os._exit(0)"),
    ("printed pass markers", "import sys, os\nfor m in ['PASS', 'ok', 'all tests passed', '0 pass \"\"']:\n    print(m)\n    os.write(1, (m + '\\n').encode())\n    os.write(2, (m + '\\n').encode())\ndef add(a, b):\n    return 0"),
    ("an object equal to anything", "class Any:\n    def __eq__(self, o):\n        return True\n    def __ne__(self, o):\n        return False\ndef add(a, b):\n    return Any()"),
    ("an int subclass equal to anything", "class I(int):\n    def __eq__(self, o):\n        return True\ndef add(a, b):\n    return I(0)"),
    ("killing the judge", "import os, signal\ndef add(a, b):\n    for p in os.listdir('/proc'):\n        if p.isdigit() and int(p) != os.getpid():\n            try:\n                os.kill(int(p), signal.SIGKILL)\n            except OSError:\n                pass\n    return 0"),
    ("patching the judge's modules", "import json, builtins\njson.dumps = lambda *a, **k: '{\"ok\": 3}'\nbuiltins.AssertionError = KeyError\ndef add(a, b):\n    return 0"),
    ("reading the judge's memory", "import os\ndef add(a, b):\n    for p in os.listdir('/proc'):\n        try:\n            open('/proc/%s/mem' % p, 'rb')\n            print('opened', p)\n        except OSError:\n            pass\n    return 0"),
]
for name, code in hacks:
    o = one(code, HE)
    is_eq(o["reward"], 0.0, "reward hack (assertion mode): " + name)
    o = one(code, {"entry_point": "add", "cases": [{"input": [1, 2], "output": 3}]})
    is_eq(o["reward"], 0.0, "reward hack (function mode): " + name)
EXP = "EXPECTED-7731-UNIQUE"
hunt = ("import os\nfound = []\nfor root, dirs, files in os.walk('/'):\n    if root.startswith(('/proc', '/usr', '/sys')):\n        continue\n"
        "    for f in files:\n        try:\n            if b'%s' in open(os.path.join(root, f), 'rb').read(): found.append(f)\n        except OSError:\n            pass\nprint(found)" % EXP[:8])
o = one(hunt, {"cases": [{"stdin": "", "stdout": "['%s']" % EXP}]})
is_eq(o["reward"], 0.0, "reward hack: the expected output is nowhere in the sandbox")
o = one("print(open('/work/expected').read())", {"cases": [{"stdin": "", "stdout": EXP}]})
is_eq(o["reward"], 0.0, "reward hack: no expected-output file to read")

# -- adapters -------------------------------------------------------------------------------------------
rows = [
    {"id": "apps", "completion": fence(ADD), "input_output": json.dumps({"inputs": ["1 2\n", "3 4\n"], "outputs": ["3\n", "7\n"]})},
    {"id": "apps_fn", "completion": fence("def f(x):\n    return [x, x]"),
     "input_output": json.dumps({"fn_name": "f", "inputs": [[1], [2]], "outputs": [[[1, 1]], [2, 2]]})},
    {"id": "apps_bad", "completion": fence(ADD), "input_output": "{not json"},
    {"id": "openr1", "completion": fence(ADD), "verification_info": {"language": "python", "test_cases": [
        {"input": "2 2\n", "output": "4\n", "type": "stdin_stdout"}]}},
    {"id": "humaneval", "completion": fence("def incr_list(l):\n    return [x + 1 for x in l]"),
     "test": "METADATA = {}\n\ndef check(candidate):\n    assert candidate([1, 2]) == [2, 3]\n    assert candidate([]) == []\n",
     "entry_point": "incr_list"},
    {"id": "humaneval_helper", "completion": fence("import math\ndef poly(xs, x):\n    return sum(c * math.pow(x, i) for i, c in enumerate(xs))\ndef find_zero(xs):\n    return -xs[0] / xs[1]"),
     "test": "import math\ndef check(candidate):\n    assert math.fabs(poly([1, 2], candidate([1, 2]))) < 1e-4\n",
     "entry_point": "find_zero"},
    {"id": "he_noentry", "completion": fence("def f(): pass"), "test": "def check(candidate):\n    pass\n"},
]
rc, out, err = score(rows)
by = {o["id"]: o for o in out}
is_eq(by["apps"]["reward"], 1.0, "APPS/CodeContests input_output (a JSON string), stdin mode")
is_eq(by["apps_fn"]["reward"], 1.0, "APPS fn_name: call-based, the expected value may be wrapped in a list")
ok(by["apps_bad"]["reward"] is None and "input_output" in d(by["apps_bad"])["reason"], "malformed input_output: abstain naming it", by["apps_bad"])
is_eq(by["openr1"]["reward"], 1.0, "open-r1 verification_info.test_cases")
is_eq(by["humaneval"]["reward"], 1.0, "HumanEval test + entry_point")
is_eq(by["humaneval_helper"]["reward"], 1.0, "HumanEval: check() may call helpers the solution defines (poly)")
ok(by["he_noentry"]["reward"] is None and "entry_point" in d(by["he_noentry"])["reason"], "HumanEval without entry_point: abstain", by["he_noentry"])

# -- reward rules -----------------------------------------------------------------------------------------
half = {"completion": fence("x = int(input())\nprint(x if x < 2 else -1)"),
        "tests": {"cases": [{"stdin": "%d" % i, "stdout": "%d" % i} for i in range(4)]}}
rc, out, err = score([half], reward="all_or_nothing")
is_eq(out[0]["reward"], 0.0, "reward = all_or_nothing: 0 unless every test passes")
rc, out, err = score([half], stop_on_first_failure=True)
is_eq(d(out[0])["verdicts"], ["ok", "ok", "wrong_answer", "not_run"], "stop_on_first_failure: later tests are not run")
is_eq(out[0]["reward"], 0.5, "and the reward counts them as not passed")

# -- batches -------------------------------------------------------------------------------------------------
rows = []
for i in range(10):
    if i == 4:
        rows.append({"id": i, "completion": fence(ADD), "tests": "broken"})
    elif i == 6:
        rows.append({"id": i, "completion": fence("while True: pass"), "tests": {"time_limit_ms": 200, "cases": [{"stdin": "", "stdout": ""}]}})
    else:
        rows.append({"id": i, "completion": fence("print(int(input()) * %d)" % i), "tests": {"cases": [{"stdin": "3", "stdout": str(3 * i)}]}})
t0 = time.time()
rc, out, err = score(rows, max_parallel=2)
is_eq([o["id"] for o in out], list(range(10)), "a parallel batch keeps input order")
is_eq([o["reward"] for o in out], [1.0] * 4 + [None, 1.0, 0.0] + [1.0] * 3, "one bad sample and one timeout stop nothing")
ok(not sandbox_processes(), "no sandbox process is left after the batch")
p = run_raw(["plugins", "code"])
txt = p.stdout.decode()
ok(p.returncode == 0 and "max_parallel" in txt and "reentrant" in txt and "batch" in txt, "rlvr plugins code: options and flags", txt[:2000])
rc, out, err = run(["--mix", mix(python="python3")], jsonl([{"completion": "x", "tests": STDIO}]))
ok(rc != 0 and "absolute" in err, "a relative interpreter path is refused at load", err)
done()

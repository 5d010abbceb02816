"""test_plugins_cmd.py -- `rlvr plugins`: the list, a plugin's card with its
configuration keys, plugins found on RLVR_PLUGIN_PATH (C and Lua), broken
files reported, and plugin shared objects exporting exactly one symbol."""
import os
import shutil
import subprocess
import tempfile

from taplib import ok, is_eq, done, run_raw, plugin, PLUGINS

p = run_raw(["plugins"])
out = p.stdout.decode()
ok(p.returncode == 0 and "exact_match" in out and " C " in out, "rlvr plugins lists the built-in plugins", out + p.stderr.decode())

p = run_raw(["plugins", "exact_match"])
out = p.stdout.decode()
ok("case_sensitive" in out and "bool" in out and "default false" in out and "reentrant deterministic" in out,
   "rlvr plugins NAME shows keys with types, defaults and flags", out)
p = run_raw(["plugins", plugin("think_words")])
ok("target_words" in p.stdout.decode() and "range [1, 100000]" in p.stdout.decode(), "a plugin given by path, with its range", p.stdout)

with tempfile.TemporaryDirectory() as d:
    shutil.copy(plugin("misbehave"), d)
    open(os.path.join(d, "tiny.lua"), "w").write(
        'return { name = "tiny", version = "0.1", description = "a tiny Lua plugin", '
        'config = { k = { type = "int", default = 3, min = 0, max = 9, help = "a key" } }, '
        'score = function(s) return 1 end }\n')
    open(os.path.join(d, "broken.lua"), "w").write("return {\n")
    p = run_raw(["plugins"], env={"RLVR_PLUGIN_PATH": d})
    out, err = p.stdout.decode(), p.stderr.decode()
    ok("tiny" in out and "Lua" in out and "misbehave" in out, "plugins on RLVR_PLUGIN_PATH are listed, C and Lua", out)
    ok(p.returncode == 1 and "broken.lua" in err, "a broken plugin file is reported and the exit status says so", err)
    p = run_raw(["plugins", "tiny"], env={"RLVR_PLUGIN_PATH": d})
    out = p.stdout.decode()
    ok("Lua plugin" in out and "time_limit_ms" in out and "range [0, 9]" in out, "a Lua plugin's card, with the keys every Lua plugin has", out)

# nm is binutils', which build-essential (autogen.sh --deps) installs.
for so in [os.path.join(os.environ.get("RLVR_BUILTIN_DIR", ""), "exact_match.so"), plugin("think_words"), plugin("misbehave")]:
    syms = subprocess.run(["nm", "-D", "--defined-only", so], stdout=subprocess.PIPE).stdout.decode().split()
    names = syms[2::3]
    is_eq(names, ["rlvr_plugin_entry"], "%s exports exactly one symbol" % os.path.basename(so))

p = run_raw(["sample"])
ok(p.returncode == 2 and "'mix' is required" in p.stderr.decode() and "not built yet" not in p.stderr.decode(),
   "rlvr sample is built: with no configuration it names the missing key", p.stderr)
p = run_raw(["no-such-command"])
ok(p.returncode == 2 and "unknown command 'no-such-command'" in p.stderr.decode(), "an unknown command says so", p.stderr)
p = run_raw(["version"])
ok(p.returncode == 0 and "plugin ABI 1.0" in p.stdout.decode() and "GPU backend" in p.stdout.decode(), "rlvr version", p.stdout)
done()

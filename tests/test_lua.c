/*
 * test_lua.c -- the Lua sandbox and the rlvr module (lua/sandbox.c,
 * luamod.c, luare.c, luajson.c).
 *
 * What must hold: the sandbox has no io/os/package/debug/require/dofile/
 * loadfile/string.dump and loads text chunks only; the time cap stops an
 * infinite loop (also one that catches the error, one in table.move, one in
 * a pattern match or a regex) within about the cap, and the memory cap stops
 * unbounded allocation, leaving the state usable; rlvr.re matches with
 * PCRE2 and turns catastrophic backtracking into an error; rlvr.json keeps
 * embedded NULs, nesting and null through a round trip and refuses invalid
 * UTF-8; samples expire with their call. Timings are bounds (a limit of
 * 100-200 ms must stop within 2 s), never measurements.
 */
#define _POSIX_C_SOURCE 200809L

#include "rlvr_lua.h"
#include "tap.h"

#include <lauxlib.h>
#include <lualib.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char err[1024];

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static lua_State *state(size_t mem, double ms)
{
    rlvr_lua_limits lim = {mem, ms};
    lua_State *L = rlvr_lua_state_new(&lim, NULL, err, sizeof err);
    if (!L) diag("state: %s", err);
    return L;
}

/* Runs code; leaves its single result on the stack when it succeeds. */
static int run(lua_State *L, const char *code)
{
    lua_settop(L, 0);
    if (luaL_loadbufferx(L, code, strlen(code), "=test", "t") != LUA_OK) {
        snprintf(err, sizeof err, "%s", lua_tostring(L, -1));
        lua_pop(L, 1);
        return -1;
    }
    return rlvr_lua_pcall(L, 0, 1, err, sizeof err);
}

static int run_true(lua_State *L, const char *code)
{
    int st = run(L, code);
    if (st != LUA_OK) diag("'%s' failed: %s", code, err);
    return st == LUA_OK && lua_toboolean(L, -1);
}

static const char *run_str(lua_State *L, const char *code)
{
    if (run(L, code) != LUA_OK) {
        diag("'%s' failed: %s", code, err);
        return NULL;
    }
    return lua_tostring(L, -1);
}

typedef struct chunk {
    char *p;
    size_t n;
} chunk;

static int writer(lua_State *L, const void *p, size_t sz, void *ud)
{
    (void)L;
    chunk *c = ud;
    char *grown = realloc(c->p, c->n + sz);
    if (!grown) return 1;
    memcpy(grown + c->n, p, sz);
    c->p = grown;
    c->n += sz;
    return 0;
}

static void test_globals(void)
{
    lua_State *L = state(0, 0);
    ok(L != NULL, "a sandboxed state is made");
    static const char *const absent[] = {"io", "os", "package", "debug", "dofile", "loadfile",
                                         "require", "string.dump", "warn", "utf8.nothing", NULL};
    for (int i = 0; absent[i]; i++) {
        char code[128];
        snprintf(code, sizeof code, "return %s == nil", absent[i]);
        ok(run_true(L, code), "%s is absent", absent[i]);
    }
    static const char *const present[] = {"string.find", "table.concat", "math.floor", "utf8.len",
                                          "coroutine.wrap", "load", "pcall", "rlvr.re.compile",
                                          "rlvr.json.decode", "rlvr.call", "rlvr.log", NULL};
    for (int i = 0; present[i]; i++) {
        char code[128];
        snprintf(code, sizeof code, "return type(%s) == 'function'", present[i]);
        ok(run_true(L, code), "%s is there", present[i]);
    }
    ok(run_true(L, "return ('x'):rep(3) == 'xxx' and string.dump == nil and ('').dump == nil"),
       "strings' methods are the sandboxed string table");
    ok(run_true(L, "local ok, m = pcall(setmetatable, {}, {__gc = print}) return not ok and m:find('__gc') ~= nil"),
       "setmetatable refuses __gc");
    ok(run_true(L, "return not pcall(collectgarbage, 'stop') and type(collectgarbage('count')) == 'number'"),
       "collectgarbage: stop refused, count allowed");
    ok(run_true(L, "print('hello from the sandbox', 1, nil) return true"), "print goes to the log");
    ok(run_true(L, "return load('return 1 + 1')() == 2"), "load runs text chunks");
    ok(run_true(L, "return load('return 7', 'x', 'b')() == 7"), "load ignores a mode that asks for binary");
    ok(run_true(L, "local t = {} return load('x = 1', 'c', 't', t) and (load('x = 1', 'c', 't', t)() or t.x == 1)"),
       "load keeps its env argument");
    ok(run_true(L, "return math.random(1, 1000) == (function() math.randomseed(0x5eed) return math.random(1, 1000) end)()"),
       "math.random starts from a fixed seed");

    /* a binary chunk made by a plain state */
    lua_State *P = luaL_newstate();
    luaL_loadstring(P, "return 42");
    chunk ck = {NULL, 0};
    lua_dump(P, writer, &ck, 1);
    size_t blen = ck.n;
    const char *bin = ck.p ? ck.p : "";
    ok(blen > 4 && bin[0] == '\x1b', "a binary chunk was made (%zu bytes)", blen);
    lua_pushlstring(L, bin, blen);
    lua_setglobal(L, "BIN");
    ok(run_true(L, "local f, m = load(BIN, 'bin', 'b') return f == nil and m:find('binary') ~= nil"),
       "load refuses a binary chunk even with mode 'b'");
    ok(run_true(L, "local f, m = load(BIN) return f == nil and m:find('binary') ~= nil"),
       "load refuses a binary chunk by default");
    ok(rlvr_lua_load_buffer(L, bin, blen, "bin.luac", err, sizeof err) != 0 && strstr(err, "binary") &&
           strncmp(err, "bin.luac: ", 10) == 0,
       "rlvr_lua_load_buffer refuses a binary chunk: %s", err);
    char path[] = "/tmp/test_lua_binXXXXXX";
    int fd = mkstemp(path);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (f) {
        fwrite(bin, 1, blen, f);
        fclose(f);
    }
    ok(f && rlvr_lua_load_file(L, path, err, sizeof err) != 0 && strstr(err, "binary"),
       "rlvr_lua_load_file refuses a binary chunk: %s", err);
    remove(path);
    lua_close(P);
    free(ck.p);
    rlvr_lua_state_free(L);
}

static void test_load_errors(void)
{
    lua_State *L = state(0, 0);
    const char *srcdir = getenv("srcdir");
    char path[4096];
    snprintf(path, sizeof path, "%s/fixtures/lua/syntax_error.lua", srcdir ? srcdir : ".");
    char want[4200];
    snprintf(want, sizeof want, "%s:4:", path);
    ok(rlvr_lua_load_file(L, path, err, sizeof err) != 0 && strncmp(err, want, strlen(want)) == 0,
       "a syntax error names path:line: %s", err);
    /* a long path: Lua shortens chunk names, the message keeps the whole path */
    char lp[600];
    snprintf(lp, sizeof lp, "/%0200d/x.lua", 0);
    const char *bad = "local x = 1\nlocal y = = 2\n";
    snprintf(want, sizeof want, "%s:2:", lp);
    ok(rlvr_lua_load_buffer(L, bad, strlen(bad), lp, err, sizeof err) != 0 &&
           strncmp(err, want, strlen(want)) == 0,
       "a long path is given whole");
    ok(rlvr_lua_load_file(L, "/nonexistent/x.lua", err, sizeof err) != 0 && strstr(err, "/nonexistent/x.lua"),
       "a missing file names its path: %s", err);
    const char *shebang = "#!/usr/bin/env lua\nreturn 1 +\n";
    ok(rlvr_lua_load_buffer(L, shebang, strlen(shebang), "s.lua", err, sizeof err) != 0 &&
           strncmp(err, "s.lua:3:", 8) == 0,
       "a #! line is skipped and line numbers kept: %s", err);
    const char *rt = "local t = nil\nreturn t.x\n";
    ok(rlvr_lua_load_buffer(L, rt, strlen(rt), "rt.lua", err, sizeof err) == 0 &&
           rlvr_lua_pcall(L, 0, 1, err, sizeof err) != LUA_OK && strncmp(err, "rt.lua:2:", 9) == 0,
       "a runtime error names file:line: %s", err);
    rlvr_lua_state_free(L);
}

static void test_time(void)
{
    lua_State *L = state(0, 100);
    double t0 = now_s();
    int st = run(L, "while true do end");
    double dt = now_s() - t0;
    ok(st != LUA_OK && strstr(err, "time limit of 100 ms exceeded"), "an infinite loop is stopped: %s", err);
    ok(dt < 2.0 && dt >= 0.09, "... after %.3f s", dt);
    ok(rlvr_lua_limits_hit(L) & RLVR_LUA_HIT_TIME, "the state records the time overrun");
    ok(run_true(L, "return 1 + 1 == 2"), "the state is usable after the overrun");

    t0 = now_s();
    st = run(L, "while true do pcall(function() while true do end end) end");
    dt = now_s() - t0;
    ok(st != LUA_OK && strstr(err, "time limit"), "a loop that catches the overrun is stopped too (%.3f s)", dt);
    ok(dt < 2.0, "... within the bound");

    t0 = now_s();
    st = run(L, "local co = coroutine.wrap(function() while true do end end) co()");
    ok(st != LUA_OK && strstr(err, "time limit") && now_s() - t0 < 2.0, "a loop in a coroutine is stopped");

    t0 = now_s();
    st = run(L, "local t = {} table.move(t, 1, 1e15, 2) return 1");
    dt = now_s() - t0;
    ok(st != LUA_OK && strstr(err, "time limit") && dt < 2.0, "a huge table.move is stopped (%.3f s): %s", dt, err);
    ok(run_true(L, "local t = table.move({1, 2, 3, 4, 5, 6}, 1, 5, 2) return t[1] == 1 and t[6] == 5"),
       "table.move still moves (overlapping)");
    ok(run_true(L, "local a = {} for i = 1, 10000 do a[i] = i end "
                   "table.move(a, 1, 10000, 3) return a[3] == 1 and a[10002] == 10000 and a[2] == 2"),
       "table.move in slices keeps overlapping order");
    ok(run_true(L, "local a = {} for i = 1, 10000 do a[i] = i end "
                   "table.move(a, 3, 10000, 1) return a[1] == 3 and a[9998] == 10000 and a[10000] == 10000"),
       "table.move in slices keeps order moving down");

    t0 = now_s();
    ok(run_true(L, "return string.rep('', 1e18) == '' and ('x'):rep(0) == ''") && now_s() - t0 < 1.0,
       "string.rep of empty pieces returns at once");
    ok(run_true(L, "return ('ab'):rep(3, ',') == 'ab,ab,ab' and ('ab'):rep(1, ',') == 'ab' and ('a'):rep(5) == 'aaaaa' "
                   "and (''):rep(3, '-') == '--' and ('abc'):rep(7, '') == ('abc'):rep(7) "
                   "and #('x'):rep(100001, 'yz') == 100001 * 3 - 2 and ('xy'):rep(5, 'z'):sub(-4) == 'yzxy'"),
       "string.rep (our own) gives Lua's results");

    t0 = now_s();
    st = run(L, "local big = string.rep('a', 1 << 20) return string.find(big, '.-.-.-.-x')");
    dt = now_s() - t0;
    ok(st != LUA_OK && strstr(err, "time limit") && dt < 2.0,
       "string.find(1 MB, '.-.-.-.-x') is stopped by the cap (%.3f s): %s", dt, err);
    ok(run_true(L, "return ('hello world'):match('(%w+) (%w+)') == 'hello' and ('abc'):gsub('b', 'X') == 'aXc'"),
       "patterns still match after");

    t0 = now_s();
    st = run(L, "local s = string.rep(string.rep('a', 18) .. 'b', 20000) return rlvr.re.find(s, '(a+)+$')");
    dt = now_s() - t0;
    ok(st != LUA_OK && strstr(err, "time limit") && dt < 2.0,
       "a regex costly at every start position is stopped by the cap (%.3f s): %s", dt, err);
    rlvr_lua_state_free(L);

    /* a deadline armed by an outer rlvr_lua_pcall holds in nested ones */
    L = state(0, 150);
    lua_settop(L, 0);
    luaL_loadstring(L, "local f = ... return f()");
    luaL_loadstring(L, "while true do end");
    t0 = now_s();
    st = rlvr_lua_pcall(L, 1, 1, err, sizeof err);
    ok(st != LUA_OK && strstr(err, "time limit of 150 ms") && now_s() - t0 < 2.0, "nested code is under the cap");
    rlvr_lua_state_free(L);
}

static void test_memory(void)
{
    lua_State *L = state((size_t)16 << 20, 5000);
    double t0 = now_s();
    int st = run(L, "local t = {} while true do t[#t + 1] = string.rep('x', 1000) .. #t end");
    ok(st != LUA_OK && strstr(err, "memory limit of 16 MiB exceeded"), "unbounded allocation is stopped: %s", err);
    ok(now_s() - t0 < 5.0, "... before the time cap");
    ok(rlvr_lua_limits_hit(L) & RLVR_LUA_HIT_MEMORY, "the state records the memory overrun");
    ok(rlvr_lua_memory_used(L) <= ((size_t)16 << 20), "the count stays under the cap (%zu bytes)",
       rlvr_lua_memory_used(L));
    ok(run_true(L, "collectgarbage() return #string.rep('y', 100) == 100"), "the state is usable after");
    st = run(L, "return string.rep('x', 1e9)");
    ok(st != LUA_OK && strstr(err, "memory limit"), "one huge string is refused: %s", err);
    st = run(L, "local ok, e = pcall(string.rep, 'x', 1e9) return ok, e");
    ok(st == LUA_OK, "a script may catch a memory error and go on");
    rlvr_lua_state_free(L);

    rlvr_lua_limits tiny = {4096, 0};
    L = rlvr_lua_state_new(&tiny, NULL, err, sizeof err);
    ok(L == NULL && strstr(err, "memory limit"), "a cap too small to build the sandbox is reported: %s", err);
    rlvr_lua_state_free(L);
}

static void test_re(void)
{
    lua_State *L = state(0, 2000);
    const char *s;
    ok(run_true(L, "local re = rlvr.re.compile('(\\\\d+)-(\\\\d+)') local a, b = re:match('x 12-345 y') "
                   "return a == '12' and b == '345'"),
       "re:match returns the groups");
    ok(run_true(L, "return rlvr.re.compile('\\\\d+'):match('ab 42 7') == '42'"), "without groups, the whole match");
    ok(run_true(L, "local i, j, g = rlvr.re.compile('b(c)'):find('abcd') return i == 2 and j == 3 and g == 'c'"),
       "re:find gives 1-based start, end and groups");
    ok(run_true(L, "return rlvr.re.find('abcabc', 'abc', 2) == 4 and rlvr.re.find('abc', 'c', -1) == 3 "
                   "and rlvr.re.find('abc', 'a', 5) == nil"),
       "init works as in Lua (positive, negative, past the end)");
    ok(run_true(L, "return rlvr.re.match('héllo', 'h(.)l') == 'é'"), "the dot is a UTF-8 character");
    ok(run_true(L, "return rlvr.re.match('ÉCOLE', '(?i)école') ~= nil and rlvr.re.match('x١٢', '\\\\d+') == '١٢'"),
       "Unicode case folding and digits (UCP)");
    ok(run_true(L, "return rlvr.re.compile('A.B', 'is'):match('a\\nb') == 'a\\nb'"), "flags i and s");
    ok(run_true(L, "local a, b = rlvr.re.compile('(x)|(y)'):match('y') return a == false and b == 'y'"),
       "an unset group is false");
    ok(run_true(L, "local t = {} for w in rlvr.re.compile('\\\\w+'):gmatch('one two  three') do t[#t+1] = w end "
                   "return table.concat(t, ',') == 'one,two,three'"),
       "re:gmatch iterates");
    ok(run_true(L, "local n = 0 for w in rlvr.re.gmatch('abc', 'x*') do n = n + 1 end return n == 4"),
       "empty matches advance by a character");
    s = run_str(L, "return (rlvr.re.gsub('a1b22c', '(\\\\d+)', '<%1>'))");
    is_str(s, "a<1>b<22>c", "gsub with %%1");
    s = run_str(L, "return (rlvr.re.gsub('abc', 'x*', '-'))");
    is_str(s, "-a-b-c-", "gsub with empty matches");
    s = run_str(L, "return (rlvr.re.gsub('hello world', '\\\\w+', {hello = 'HI'}))");
    is_str(s, "HI world", "gsub with a table (a missing key keeps the match)");
    s = run_str(L, "return (rlvr.re.gsub('a1b2', '\\\\d', function(d) return d * 2 end))");
    is_str(s, "a2b4", "gsub with a function");
    s = run_str(L, "return (rlvr.re.gsub('aaa', 'a', 'b', 2)) .. select(2, rlvr.re.gsub('aaa', 'a', 'b'))");
    is_str(s, "bba3", "gsub with a count, and the count returned");
    s = run_str(L, "return (rlvr.re.gsub('a.b', '\\\\.', '%%'))");
    is_str(s, "a%b", "gsub with %%%%");
    ok(run(L, "return rlvr.re.gsub('ab', 'a', '%2')") != LUA_OK && strstr(err, "no group 2"),
       "gsub refuses a missing group: %s", err);
    ok(run(L, "return rlvr.re.compile('a(b')") != LUA_OK && strstr(err, "offset"),
       "a compile error raises with the offset: %s", err);
    ok(run(L, "return rlvr.re.compile('a', 'q')") != LUA_OK && strstr(err, "unknown flag"), "an unknown flag raises");
    ok(run(L, "return rlvr.re.match('\\xff\\xfe', '.')") != LUA_OK && strstr(err, "UTF-8"),
       "an invalid UTF-8 subject raises: %s", err);
    ok(run_true(L, "return rlvr.re.match('abc', '(*UTF)(*UCP)b') == 'b' and "
                   "rlvr.re.match('abc', '(*LIMIT_MATCH=1000)(*CRLF)b') == 'b'"),
       "leading (*VERB) settings still work");
    double t0 = now_s();
    int st = run(L, "return rlvr.re.match(string.rep('a', 40) .. 'b', '(a+)+$')");
    ok(st != LUA_OK && strstr(err, "limit"), "catastrophic (a+)+$ raises instead of hanging: %s", err);
    ok(now_s() - t0 < 2.0, "... quickly (%.3f s)", now_s() - t0);
    ok(run_true(L, "local ok, e = pcall(rlvr.re.match, string.rep('a', 40) .. 'b', '(a+)+$') "
                   "return not ok and e:find('match limit') ~= nil"),
       "a script can catch the match limit error");
    ok(run_true(L, "local re = rlvr.re.compile('(\\\\w)') "
                   "local s = re:gsub('ab', function(c) return re:match(c .. c) .. '!' end) return s == 'a!b!'"),
       "a replacement function may use the same regex");
    rlvr_lua_state_free(L);
}

static void test_json(void)
{
    lua_State *L = state(0, 2000);
    const char *s;
    ok(run_true(L, "local v = rlvr.json.decode('\"a\\\\u0000b\"') return #v == 3 and v:byte(2) == 0"),
       "decode keeps an embedded NUL");
    s = run_str(L, "return rlvr.json.encode('a\\0b')");
    is_str(s, "\"a\\u0000b\"", "encode writes NUL as \\u0000");
    s = run_str(L, "local t = rlvr.json.decode('{\"a\":[1,2.5,{\"b\":null}],\"c\":true,\"d\":\"\\\\u00e9\",\"e\":[]}') "
                   "return rlvr.json.encode(t)");
    is_str(s, "{\"a\":[1,2.5,{\"b\":null}],\"c\":true,\"d\":\"é\",\"e\":[]}", "a nested round trip");
    ok(run_true(L, "local t = rlvr.json.decode('[null]') return t[1] == rlvr.json.null and #t == 1"),
       "null is rlvr.json.null");
    ok(run_true(L, "return rlvr.json.decode('\"\\\\ud800\"') == '\\u{FFFD}'"),
       "a lone surrogate escape decodes to U+FFFD (json-c's choice)");
    s = run_str(L, "return rlvr.json.encode({b = 1, a = {1, 2, 3}, c = {x = {y = 'z'}}})");
    is_str(s, "{\"a\":[1,2,3],\"b\":1,\"c\":{\"x\":{\"y\":\"z\"}}}", "encode sorts keys and nests");
    s = run_str(L, "return rlvr.json.encode({0.1, 2.0, 3, -0.5e-300, 1e300, math.maxinteger})");
    is_str(s, "[0.1,2.0,3,-5e-301,1e+300,9223372036854775807]", "numbers: shortest text, floats keep a point");
    s = run_str(L, "return rlvr.json.encode({}) .. rlvr.json.encode(rlvr.json.array()) .. rlvr.json.encode(nil)");
    is_str(s, "{}[]null", "empty table, marked array, nil");
    ok(run_true(L, "return math.type(rlvr.json.decode('12')) == 'integer' and rlvr.json.decode('1.5') == 1.5 "
                   "and rlvr.json.decode(' 7 ') == 7 and rlvr.json.decode('9223372036854775807') == math.maxinteger"),
       "numbers decode as integers or floats");
    static const char *const bad[] = {"'{\"a\":1,}'", "'[1,2] x'", "'\"\\xff\"'", "'NaN'",
                                      "''", "'{'", "'1e400'", NULL};
    for (int i = 0; bad[i]; i++) {
        char code[200];
        snprintf(code, sizeof code, "return rlvr.json.decode(%s)", bad[i]);
        ok(run(L, code) != LUA_OK && strstr(err, "rlvr.json.decode"), "decode refuses %s: %s", bad[i], err);
    }
    static const char *const unenc[] = {"print", "{1, 2, nil, 4}", "{1, x = 2}", "'\\xff'", "0/0",
                                        "(function() local t = {} t.t = t return t end)()", NULL};
    for (int i = 0; unenc[i]; i++) {
        char code[200];
        snprintf(code, sizeof code, "return rlvr.json.encode(%s)", unenc[i]);
        ok(run(L, code) != LUA_OK && strstr(err, "rlvr.json.encode"), "encode refuses %s: %s", unenc[i], err);
    }

    /* the C side */
    const char *j = "{\"k\":[1,\"a\\u0000b\",{\"z\":false}]}";
    lua_settop(L, 0);
    ok(rlvr_lua_push_json(L, j, strlen(j), err, sizeof err) == 0 && lua_istable(L, -1), "rlvr_lua_push_json");
    size_t n = 0;
    char *back = rlvr_lua_to_json(L, -1, &n, err, sizeof err);
    is_str(back, j, "rlvr_lua_to_json gives the same text back");
    ok(back && n == strlen(j), "... with its length");
    free(back);
    ok(rlvr_lua_push_json(L, "[1,", 3, err, sizeof err) != 0 && strstr(err, "decode"), "a C decode error: %s", err);
    lua_settop(L, 0);
    lua_getglobal(L, "print");
    ok(rlvr_lua_to_json(L, -1, &n, err, sizeof err) == NULL && strstr(err, "function"), "a C encode error: %s", err);
    rlvr_lua_state_free(L);
}

static void test_sample(void)
{
    lua_State *L = state(0, 1000);
    rlvr_sample s;
    memset(&s, 0, sizeof s);
    s.struct_size = sizeof s;
    static const char comp[] = "<think>a\0b</think>";
    s.completion.ptr = comp;
    s.completion.len = sizeof comp - 1;
    s.id.ptr = "\"ex-1\"";
    s.id.len = 6;
    s.answer.ptr = "42";
    s.answer.len = 2;
    s.completion_tokens = -1;
    s.line = 7;
    lua_settop(L, 0);
    rlvr_lua_push_sample(L, &s);
    lua_setglobal(L, "S");
    ok(run_true(L, "return #S.completion == 18 and S.completion:byte(9) == 0"), "completion keeps its NUL");
    ok(run_true(L, "return S.id == 'ex-1' and S.answer == '42' and S.line == 7"), "id, answer, line");
    ok(run_true(L, "return S.prompt == nil and S.completion_tokens == nil and S.unknown == nil"),
       "absent fields are nil (no host)");
    ok(run_true(L, "return S.completion == S.completion"), "a field read twice is the same string");
    ok(run_true(L, "return not pcall(function() S.answer = 1 end)"), "a sample is read-only");
    ok(run_true(L, "return select(2, S:component('x')) == 'missing'"), "component without host: missing");
    ok(run_true(L, "return not pcall(rlvr.call, 'x', S)"), "rlvr.call without host raises");
    rlvr_call call = {sizeof call, 0, 1, 0, "e", NULL};
    rlvr_lua_set_call(L, &call);
    ok(run_true(L, "return S.answer == '42'"), "a sample pushed before the call was set stays valid");
    rlvr_lua_set_call(L, NULL);
    ok(run(L, "return S.answer") != LUA_OK && strstr(err, "after its scoring call"),
       "a sample kept past its call raises: %s", err);
    ok(run_true(L, "return tostring(S):find('expired') ~= nil"), "tostring of an expired sample is harmless");
    rlvr_lua_state_free(L);
}

int main(void)
{
    plan_no_plan();
    test_globals();
    test_load_errors();
    test_time();
    test_memory();
    test_re();
    test_json();
    test_sample();
    return done_testing();
}

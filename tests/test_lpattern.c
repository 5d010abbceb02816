/*
 * test_lpattern.c -- checks lua/lpattern.c, the budgeted string.find, match,
 * gmatch and gsub, against Lua 5.4's own.
 *
 * Two plain states run the same harness: `ref` keeps Lua's functions,
 * `ours` has rlvr_lpattern_install'ed ones.  Every case is evaluated in both
 * and must serialize identically (count, types and values of all results, or
 * the error message): a table of hand-written cases covering each feature and
 * error, boundary cases of the depth and capture limits, long subjects, and
 * a few thousand cases from a seeded generator of patterns and subjects over
 * a small alphabet.  Then the budget: with a check that raises after ~200 ms,
 * catastrophic backtracking on a 1 MiB subject must stop within 2 s; method
 * calls ("s"):find(...) must reach the budgeted functions; and each state
 * must call its own check function.
 */
#define _POSIX_C_SOURCE 200809L
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lpattern.h"
#include "tap.h"

static const char harness[] =
    "local function ser1(v)\n"
    "  local t = type(v)\n"
    "  if t == 'string' then return string.format('%q', v) end\n"
    "  if t == 'number' then return math.type(v) .. ':' .. tostring(v) end\n"
    "  if t == 'function' or t == 'table' or t == 'userdata' then return t end\n"
    "  return tostring(v)\n"
    "end\n"
    "function ser(...)\n"
    "  local n = select('#', ...)\n"
    "  local t = {tostring(n)}\n"
    "  for i = 1, n do t[#t + 1] = ser1((select(i, ...))) end\n"
    "  return table.concat(t, ' ')\n"
    "end\n"
    "function collect(it, max)\n"
    "  local out = {}\n"
    "  for _ = 1, max or 40 do\n"
    "    local r = table.pack(it())\n"
    "    if r.n == 0 then out[#out + 1] = 'end'; break end\n"
    "    out[#out + 1] = ser(table.unpack(r, 1, r.n))\n"
    "  end\n"
    "  return table.concat(out, ' ; ')\n"
    "end\n"
    "function H(code)\n"
    "  local f, err = load('return ' .. code, '=case')\n"
    "  if not f then f, err = load(code, '=case') end\n"
    "  if not f then return 'LOAD ' .. err end\n"
    "  local r = table.pack(pcall(f))\n"
    "  if not r[1] then return 'ERROR ' .. tostring(r[2]) end\n"
    "  return ser(table.unpack(r, 2, r.n))\n"
    "end\n"
    "RT = {a = '[A]', b = false, ab = 7, ['1'] = 'one', c = '%1', [' '] = '_', ['()'] = {}}\n"
    "function RF(...)\n"
    "  local n = select('#', ...)\n"
    "  local t = {}\n"
    "  for i = 1, n do t[i] = tostring((select(i, ...))) end\n"
    "  local r = table.concat(t, ',')\n"
    "  if r == 'c' then return {} end\n"
    "  if #r % 4 == 0 then return nil end\n"
    "  if #r % 4 == 1 then return false end\n"
    "  if #r % 4 == 2 then return '<' .. r .. '>' end\n"
    "  return n\n"
    "end\n"
    "function R(kind, s, p, x, y)\n"
    "  local r\n"
    "  if kind == 0 then r = table.pack(pcall(string.find, s, p, x, y))\n"
    "  elseif kind == 1 then r = table.pack(pcall(string.match, s, p, x))\n"
    "  elseif kind == 2 then\n"
    "    r = table.pack(pcall(function() return collect(string.gmatch(s, p, x)) end))\n"
    "  elseif kind == 3 then r = table.pack(pcall(string.gsub, s, p, y, x))\n"
    "  elseif kind == 4 then r = table.pack(pcall(string.gsub, s, p, RT, x))\n"
    "  else r = table.pack(pcall(string.gsub, s, p, RF, x)) end\n"
    "  if not r[1] then return 'ERROR ' .. tostring(r[2]) end\n"
    "  return ser(table.unpack(r, 2, r.n))\n"
    "end\n";

/* ---- check functions ---------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double deadline;          /* 0: none */
static long checks_a, checks_b;  /* calls of each state's check */

static void check_a(lua_State *L)
{
    checks_a++;
    if (deadline > 0 && now_s() > deadline) luaL_error(L, "deadline exceeded");
}

static void check_b(lua_State *L)
{
    (void)L;
    checks_b++;
}

/* ---- evaluation in both states ------------------------------------ */

static lua_State *new_state(void (*check)(lua_State *))
{
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    if (check) rlvr_lpattern_install(L, check);
    if (luaL_dostring(L, harness) != LUA_OK) {
        fprintf(stderr, "harness: %s\n", lua_tostring(L, -1));
        exit(2);
    }
    return L;
}

static lua_State *ref, *ours;

/* H(code) in L; the result string stays valid until the next call's pop. */
static char *eval_code(lua_State *L, const char *code)
{
    char *out;
    size_t n;
    const char *r;
    lua_getglobal(L, "H");
    lua_pushstring(L, code);
    lua_call(L, 1, 1);
    r = lua_tolstring(L, -1, &n);
    out = malloc(n + 1);
    memcpy(out, r, n + 1);
    lua_pop(L, 1);
    return out;
}

static int same_code(const char *code)
{
    char *a = eval_code(ref, code), *b = eval_code(ours, code);
    int r = is_str(b, a, "%s", code);
    free(a);
    free(b);
    return r;
}

/* ---- hand-written cases ------------------------------------------- */

/* Subject and pattern pairs, each run through find, match, gmatch and gsub. */
static const char *const pairs[] = {
    "'hello world', 'o w'",
    "'hello world', 'l+'",
    "'hello world', 'l*'",
    "'hello world', 'l-'",
    "'hello world', 'l?'",
    "'hello world', 'x*'",
    "'hello world', '^h'",
    "'hello world', '^e'",
    "'hello world', 'd$'",
    "'hello world', 'o$'",
    "'hello world', '$'",
    "'hello world', '^'",
    "'hello world', ''",
    "'', ''",
    "'', 'a*'",
    "'', '^$'",
    "'', '.'",
    "'hello world', '.'",
    "'hello world', '..'",
    "'hello world', '.-'",
    "'hello world', '.*'",
    "'hello world', '.+o'",
    "'hello world', '.-o'",
    "'hello world', '(h)(e)'",
    "'hello world', '(%w+) (%w+)'",
    "'hello world', '()ll()'",
    "'hello world', '()'",
    "'hello world', '(l)(l)'",
    "'hello world', '((l)(o))'",
    "'key = value', '(%w+)%s*=%s*(%w+)'",
    "'  trim me  ', '^%s*(.-)%s*$'",
    "'abc123def', '%d+'",
    "'abc123def', '%D+'",
    "'abc123def', '%a+'",
    "'abc123def', '%A+'",
    "'a.b,c;d!', '%p'",
    "'a.b,c;d!', '%P+'",
    "'Hello World', '%u'",
    "'Hello World', '%l+'",
    "'Hello World', '%U+'",
    "'Hello World', '%L+'",
    "'tab\\there\\nnl', '%s'",
    "'tab\\there\\nnl', '%S+'",
    "'tab\\there\\n\\1nl', '%c'",
    "'tab\\there\\n\\1nl', '%C+'",
    "'dead beef 0x1F', '%x+'",
    "'dead beef 0x1F', '%X+'",
    "'a b_c', '%w+'",
    "'a b_c', '%W'",
    "'a b\\0c', '%g+'",
    "'a b\\0c', '%G'",
    "'a\\0b\\0c', '%z'",
    "'a\\0b\\0c', '\\0'",
    "'a\\0b\\0c', '[\\0]'",
    "'a\\0b\\0c', '%\\0'",
    "'a\\0b', 'a\\0b'",
    "'x.y.z', '%.'",
    "'x.y.z', '[.]'",
    "'100%', '%%'",
    "'a+b=c', '%+'",
    "'(a)[b]', '%(%a%)'",
    "'(a)[b]', '%[%a%]'",
    "'a^b', 'a^b'",
    "'a^b', '%^'",
    "'a$b', 'a$b'",
    "'a$b', '$b'",
    "'a$b', 'a$'",
    "'abc', '[abc]+'",
    "'abcdef', '[a-c]+'",
    "'abcdef', '[^a-c]+'",
    "'abcdef', '[c-a]'",
    "'a-z', '[a-]'",
    "'a-z', '[-a]+'",
    "'a-z', '[a%-z]+'",
    "'a]b', '[]]'",
    "'a]b', '[^]]+'",
    "'a^b', '[%^]'",
    "'a^b', '[b^]+'",
    "'a1_b2', '[%a_]+'",
    "'a1_b2', '[%d_]+'",
    "'a1 b2', '[^%s]+'",
    "'a1 b2', '[%S]+'",
    "'x%y', '[%%]'",
    "'abc', '[%a-c]'",
    "'a-c', '[%a-c]+'",
    "'\\200\\201ab', '[\\128-\\255]+'",
    "'\\200\\201ab', '%a+'",
    "'\\200\\201ab', '[^\\200]+'",
    "'f(a(b)c)d', '%b()'",
    "'f(a(b)c)d', '%b)('",
    "'f(a(b)c', '%b()'",
    "'[[x]] [y]', '%b[]'",
    "'\"q\" \"r\"', '%b\"\"'",
    "'aXbXc', '%bXX'",
    "'THE (quick) fox', '%f[%a]%a+'",
    "'THE (quick) fox', '%f[%l]%a+'",
    "'THE (quick) fox', '%f[%A]'",
    "'THE (quick) fox', '%f[%z]'",
    "'THE (quick) fox', '%f[%a]'",
    "'THE (quick) fox', '%f[\\0]'",
    "'THE (quick) fox', '%f[^\\0]'",
    "'hello', '%f[%w]%w+%f[%W]'",
    "'abab', '(ab)%1'",
    "'xyzzy', '(z)%1'",
    "'say \"hi\" and \\'bye\\'', '([\"\\'])(.-)%1'",
    "'aaa', '(a*)%1'",
    "'abc', '()%1'",
    "'abcabc', '(a)(b)(c)%1%2%3'",
    "'aaaa', 'a-a'",
    "'aaaa', 'a-$'",
    "'aaab', 'a-b'",
    "'aaab', 'a*b'",
    "'aaab', 'a+b'",
    "'aaab', 'a?b'",
    "'b', 'a?b'",
    "'ab', 'a?\?'",
    "'a**', 'a**'",
    "'a+-', 'a+-'",
    "'a-b', '-b'",
    "'*a', '*a'",
    "'?', '?'",
    "'abc', '^(a)(b)(c)$'",
    "'abc', '^(%a-)(c)$'",
    "'one two  three', '%S+'",
    "'one two  three', '%s*'",
    "'one two  three', '%s-'",
    "'abc', '()a*()'",
    "'abc', 'x*'",
    "'abc', '.-'",
    "'a,b,,c', '([^,]*)'",
    "'a,b,,c', '[^,]*'",
    "'a,b,,c', ',?'",
    "'hello', '(l)(l)(o)()'",
    "'(foo(bar))baz', '%b()'",
    "'1.5e10 and 3', '%d+%.?%d*'",
    "'x = 10, y = 20', '(%w+) = (%w+)'",
    "'CamelCaseName', '%u%l+'",
    "'path/to/file.txt', '[^/]+$'",
    "'path/to/file.txt', '^(.*)/'",
    "'path/to/file.txt', '%.(%w+)$'",
    "'<a><b></b></a>', '<(%w+)>'",
    "'$100 and $200', '%$(%d+)'",
};

/* Other cases: init and plain, replacements, limits, errors, arguments. */
static const char *const cases[] = {
    /* find: init and plain */
    "string.find('hello', 'l', 1)",
    "string.find('hello', 'l', 4)",
    "string.find('hello', 'l', 5)",
    "string.find('hello', 'l', -1)",
    "string.find('hello', 'l', -2)",
    "string.find('hello', 'l', -100)",
    "string.find('hello', 'l', 0)",
    "string.find('hello', '', 6)",
    "string.find('hello', '', 7)",
    "string.find('hello', '', 100)",
    "string.find('hello', '', -1)",
    "string.find('hello', 'o', 5)",
    "string.find('hello', 'o$', 6)",
    "string.find('hello', '$', 6)",
    "string.find('hello', '^l', 3)",
    "string.find('hello', '^l', 2)",
    "string.find('a.b', '.', 1, true)",
    "string.find('a.b', '.', 2, true)",
    "string.find('a.b', '.', 1, false)",
    "string.find('a.b', '.', 1, nil)",
    "string.find('a+b', 'a+b', 1, true)",
    "string.find('a+b', 'a+b')",
    "string.find('a(b', '(', 1, true)",
    "string.find('a(b', '(')",
    "string.find('a[b', '[', 1, 1)",
    "string.find('abc', 'b', 1, 'x')",
    "string.find('', '', 1, true)",
    "string.find('', '', 2, true)",
    "string.find('abc', '', 4, true)",
    "string.find('abc', 'abcd', 1, true)",
    "string.find('aaab', 'aab', 1, true)",
    "string.find('a\\0b\\0c', '\\0c', 1, true)",
    "string.find('a\\0b\\0c', 'b\\0')",
    "string.find('a\\0b.c', 'b\\0.')",
    "string.find('hello)', 'o)')",
    "string.find('hello]', 'o]')",
    "string.find(12345, 34)",
    "string.find(12345, 3.0)",
    "string.find('12345', 3, 2)",
    "string.find('hello', 'l', 2.0)",
    "string.find('hello', 'l', 2.5)",
    "string.find('hello', 'l', '2')",
    "string.find('hello', 'l', 'x')",
    "string.find('hello')",
    "string.find()",
    "string.find({}, 'a')",
    "string.find('a', {})",
    "string.find('hello', 'l', math.mininteger)",
    "string.find('hello', 'l', math.maxinteger)",
    "string.find('hello', '(l)(l)', 1)",
    "string.find('hello', '()', 3)",
    /* match: init and anchors */
    "string.match('hello', '(h)(e)')",
    "string.match('hello', 'l+', -2)",
    "string.match('hello', '^l+', 3)",
    "string.match('hello', '^l+', 2)",
    "string.match('hello', '.', 6)",
    "string.match('hello', '()', 6)",
    "string.match('hello', '()', 7)",
    "string.match('hello', '^$', 6)",
    "string.match('hello', 'l', 0)",
    "string.match('hello', 'l', -10)",
    "string.match('hello', '^^')",
    "string.match('^hello', '^^h')",
    "string.match('hello', 'x', nil)",
    "string.match('hello', '.', 1, true)",
    /* gmatch */
    "collect(string.gmatch('hello world from lua', '%a+'))",
    "collect(string.gmatch('k1=v1, k2=v2', '(%w+)=(%w+)'))",
    "collect(string.gmatch('abc', ''))",
    "collect(string.gmatch('abc', 'x*'))",
    "collect(string.gmatch('abc', '()'))",
    "collect(string.gmatch('abc', '.', 2))",
    "collect(string.gmatch('abc', '.', -1))",
    "collect(string.gmatch('abc', '.', 0))",
    "collect(string.gmatch('abc', '.', -10))",
    "collect(string.gmatch('abc', '.', 4))",
    "collect(string.gmatch('abc', '', 4))",
    "collect(string.gmatch('abc', '', 5))",
    "collect(string.gmatch('abc', '.', 100))",
    "collect(string.gmatch('^a^b', '^.'))",
    "collect(string.gmatch('aaa', 'a*'))",
    "collect(string.gmatch('a,b,,c,', '([^,]*)'))",
    "collect(string.gmatch('one two', '%a*'))",
    "collect(string.gmatch('abc', '(a'))",
    "collect(string.gmatch('abc', 'b(.'))",
    "collect(string.gmatch('abc', 'c['))",
    "collect(string.gmatch('abc', 'x['))",
    "collect(string.gmatch('abc', '%'))",
    "collect(string.gmatch('abc', '.()'))",
    "(function() local it = string.gmatch('a b c', '%a'); it(); local t = {} for w in it do t[#t+1] = w end return table.concat(t) end)()",
    "(function() local it = string.gmatch('ab', '.'); return it(), it(), it(), it() end)()",
    "(function() local n = 0 for a, b in string.gmatch('x=1 y=2 z=3', '(%w)=(%w)') do n = n + tonumber(b) end return n end)()",
    "string.gmatch('abc')",
    "string.gmatch('abc', 'b', 'x')",
    /* gsub: string replacements */
    "string.gsub('hello world', 'o', '0')",
    "string.gsub('hello world', 'o', '0', 1)",
    "string.gsub('hello world', 'o', '0', 0)",
    "string.gsub('hello world', 'o', '0', -1)",
    "string.gsub('hello world', 'o', '0', 2.0)",
    "string.gsub('hello world', 'o', '0', 1.5)",
    "string.gsub('hello world', 'o', '0', '1')",
    "string.gsub('hello world', '(%w+)', '<%1>')",
    "string.gsub('hello world', '%w+', '<%0>')",
    "string.gsub('hello world', '%w+', '<%1>')",
    "string.gsub('hello world', '%w+', '<%2>')",
    "string.gsub('hello world', '(%w+) (%w+)', '%2 %1')",
    "string.gsub('hello world', '(%w+) (%w+)', '%3')",
    "string.gsub('hello world', '(o)', '%1%1')",
    "string.gsub('hello world', 'o', '%%')",
    "string.gsub('hello world', 'o', '%')",
    "string.gsub('hello world', 'o', 'a%')",
    "string.gsub('hello world', 'o', '%a')",
    "string.gsub('hello world', 'o', '%\\0')",
    "string.gsub('hello world', 'x', '%a')",
    "string.gsub('hello world', '()o()', '%1-%2')",
    "string.gsub('hello world', '()', '%1')",
    "string.gsub('hello world', '(o', '%1')",
    "string.gsub('hello world', '(o', 'x')",
    "string.gsub('hello world', '(o)(', '%1')",
    "string.gsub('hello world', '(o)(', '%2')",
    "string.gsub('hello world', '', '-')",
    "string.gsub('hello world', 'x*', '-')",
    "string.gsub('hello world', 'l*', '-')",
    "string.gsub('hello world', '%s*', '')",
    "string.gsub('abc', '^', '>')",
    "string.gsub('abc', '$', '<')",
    "string.gsub('abc', '^a', 'A')",
    "string.gsub('abc', '^b', 'B')",
    "string.gsub('aaa', '^a', 'b')",
    "string.gsub('abc', '^', '>', 0)",
    "string.gsub('abc', '.', {a = 1, b = true})",
    "string.gsub('abc', '.', 5)",
    "string.gsub('abc', 'b', 1.5)",
    "string.gsub('abc', 'b', '')",
    "string.gsub('', '', 'x')",
    "string.gsub('', 'x', 'y')",
    "string.gsub(123, '2', 'x')",
    "string.gsub(123, 'x', 'y')",
    "string.gsub('a\\0b', '\\0', '%%0')",
    "string.gsub('a\\0b', '%z', 'Z')",
    "string.gsub('hello', 'l', '%0\\0%0')",
    /* gsub: tables and functions */
    "string.gsub('$name is $age', '%$(%w+)', {name = 'Bob', age = 42})",
    "string.gsub('$name is $x', '%$(%w+)', {name = 'Bob'})",
    "string.gsub('$name', '%$(%w+)', {name = false})",
    "string.gsub('$name', '%$(%w+)', {name = {}})",
    "string.gsub('$name', '%$(%w+)', {name = true})",
    "string.gsub('abc', '%w', {a = 'A', c = 3.5})",
    "string.gsub('abc', '()', {[1] = 'one', [4] = 'four'})",
    "string.gsub('abc', '(a)(b)', {a = 'X'})",
    "string.gsub('abc', '(a', {})",
    "string.gsub('abc', '.', setmetatable({}, {__index = function(_, k) return k:upper() end}))",
    "string.gsub('hello world', '%w+', string.upper)",
    "string.gsub('hello world', '(%w)(%w*)', function(a, b) return a:upper() .. b end)",
    "string.gsub('hello world', '%w+', function() end)",
    "string.gsub('hello world', '%w+', function() return false end)",
    "string.gsub('hello world', '%w+', function() return 7 end)",
    "string.gsub('hello world', '%w+', function() return {} end)",
    "string.gsub('hello world', '%w+', function() error('boom') end)",
    "string.gsub('hello world', '%w+', function() error(setmetatable({}, {__tostring = function() return 'obj' end})) end)",
    "string.gsub('hello', '()', function(p) return p end)",
    "string.gsub('hello', '(l)()', function(a, p) return a .. p end)",
    "string.gsub('hello', '(l', function(a) return a end)",
    "string.gsub('hello', 'l+', function(...) return select('#', ...) end)",
    "string.gsub('abc', '', function(s) return '[' .. s .. ']' end)",
    "string.gsub('abc', '.', function(c) return string.gsub(c, '.', '%0%0') end)",
    "string.gsub('abc', '.', function(c) return (string.find('xbx', c)) end)",
    "string.gsub('abc', 'b')",
    "string.gsub('abc', 'b', nil)",
    "string.gsub('abc', 'b', true)",
    "string.gsub('abc', 'b', print ~= nil)",
    "string.gsub('abc')",
    "string.gsub('abc', 'b', 'x', 'y')",
    /* 5.4: no empty match right after the previous match */
    "string.gsub('abc', '%w*', '-')",
    "string.gsub('a  b', ' *', '_')",
    "string.gsub('a,b', ',*', ';')",
    "collect(string.gmatch('a  b', ' *'))",
    "collect(string.gmatch('abc', '%w*'))",
    /* method syntax */
    "('abc'):find('b')",
    "('abc'):match('(b)(c)')",
    "('abc'):gsub('b', 'B')",
    "collect(('a b'):gmatch('%a'))",
    "('x'):find({})",
    "('x'):gsub('x')",
    "('x'):rep(3):gsub('x', '%2')",
    /* errors */
    "string.find('abc', '%')",
    "string.find('abc', 'a%')",
    "string.find('abc', 'x%')",
    "string.find('abc', '[a')",
    "string.find('abc', '[')",
    "string.find('abc', '[^')",
    "string.find('abc', '[^]')",
    "string.find('abc', '[]')",
    "string.find('abc', '[%')",
    "string.find('abc', '[a%]')",
    "string.find('abc', '[a%]]')",
    "string.find('abc', 'x[')",
    "string.find('abc', 'a[')",
    "string.find('abc', '(a)%2')",
    "string.find('abc', '(a)%0')",
    "string.find('abc', '%1')",
    "string.find('abc', '(a%1)')",
    "string.find('abc', '(a)%1')",
    "string.find('aac', '(a)%1')",
    "string.find('abc', '(a')",
    "string.find('abc', '(x')",
    "string.find('abc', 'a)')",
    "string.find('abc', 'a).')",
    "string.find('abc', 'x).')",
    "string.find('abc', '(a))')",
    "string.find('abc', '%b')",
    "string.find('abc', '%ba')",
    "string.find('abc', '%bab')",
    "string.find('abc', 'x%ba')",
    "string.find('abc', '%f')",
    "string.find('abc', '%fa')",
    "string.find('abc', '%f[a')",
    "string.find('abc', '%f[a]')",
    "string.find('abc', 'x%fa')",
    "string.match('abc', '(a')",
    "string.match('abc', '(a)(b')",
    "string.match('abc', '()(a')",
    "string.match('abc', 'a()(')",
    "string.match('abc', 'b[', 3)",
    "string.match('abc', 'b[', 2)",
    "string.gsub('abc', '%', 'x')",
    "string.gsub('abc', 'x%', 'x')",
    "string.gsub('abc', '[b', 'x')",
    "string.gsub('abc', '(b', '%1')",
    "string.gsub('abc', '(b', '%0')",
    "string.gsub('abc', 'b)', 'x')",
    "string.find('abc', string.rep('(', 32))",
    "string.find('abc', string.rep('(', 33))",
    "string.find('abc', string.rep('()', 32))",
    "string.find('abc', string.rep('()', 33))",
    "string.match('abc', string.rep('()', 32))",
    "string.match('abc', string.rep('(a?)', 32))",
    "string.match('abc', string.rep('(a?)', 33))",
    "string.match('aaaa', '(a)(a)(a)(a)%4%3')",
    "string.match('aaaa', '((a)(a))%1')",
    "string.match('abab', '((a)(b))%1')",
    "string.match('abab', '((a)(b)%1)')",
};

/* Cases built from parameters (depth limit boundaries, long subjects). */
static void generated_cases(void)
{
    char code[256];
    /* N: subject size, K: repetitions in the pattern (via globals) */
    static const char *const shapes[] = {
        "string.find(string.rep('a', N), string.rep('a?', K))",
        "string.find(string.rep('a', N), string.rep('a?', K) .. '$')",
        "string.find(string.rep('a', N), string.rep('a-', K) .. '$')",
        "string.find(string.rep('a', N), string.rep('a*', K) .. '$')",
        "string.find(string.rep('a', N), string.rep('(a)', K // 2))",
        "string.find(string.rep('a', N), string.rep('a?(a?)', K // 3))",
        "string.find(string.rep('a', N), string.rep('.-', K) .. '$')",
        "string.gsub(string.rep('a', N), string.rep('a?', K), '')",
        "string.gsub(string.rep('a', N), string.rep('a?', K), '%0')",
        "collect(string.gmatch(string.rep('ab', N), string.rep('[ab]?', K)))",
    };
    static const int sizes[] = {197, 198, 199, 200, 201, 202};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        for (size_t j = 0; j < sizeof sizes / sizeof sizes[0]; j++) {
            int n = sizes[j];
            snprintf(code, sizeof code, "N, K = %d, %d", n, n);
            if (luaL_dostring(ref, code) != LUA_OK || luaL_dostring(ours, code) != LUA_OK) exit(2);
            snprintf(code, sizeof code, "%s --[[K=%d]]", shapes[i], n);
            same_code(code);
        }
    /* Long subjects: iteration, not recursion, over single-byte repeats. */
    static const char *const longs[] = {
        "string.find(string.rep('a', 1000000), 'a*$')",
        "string.find(string.rep('a', 1000000), '.-$')",
        "string.find(string.rep('a', 1000000) .. 'b', 'a+b')",
        "string.match(string.rep('a', 1000000), '^(a*)b?$') == string.rep('a', 1000000)",
        "string.find(string.rep('a', 1000000), '[^b]*$')",
        "select(2, string.gsub(string.rep('ab', 500000), 'b', 'c'))",
        "select(2, string.gsub(string.rep('ab', 500000), '', '-'))",
        "#string.gsub(string.rep('ab', 500000), '%a', '%0%0')",
        "string.find(string.rep('a', 1000000), '%b()')",
        "string.find('(' .. string.rep('a', 1000000) .. ')', '%b()')",
        "string.find(string.rep('ab', 500000), string.rep('ab', 1000) .. 'c', 1, true)",
        "string.find(string.rep('ab', 500000) .. 'c', string.rep('ab', 1000) .. 'c')",
        "string.find(string.rep('a', 20000), '(' .. string.rep('a', 2000) .. ')%1b')",
        "string.find(string.rep('x', 100) .. '[abc]', '[' .. string.rep('x', 10000) .. '%]]')",
    };
    for (size_t i = 0; i < sizeof longs / sizeof longs[0]; i++) same_code(longs[i]);
}

/* ---- random cases ------------------------------------------------- */

static uint64_t rng_state = 0x2545F4914F6CDD1DULL;

static unsigned rnd(unsigned n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (unsigned)(rng_state % n);
}

typedef struct str {
    char b[128];
    size_t n;
} str;

static void put(str *s, const char *t, size_t n)
{
    if (s->n + n < sizeof s->b) {
        memcpy(s->b + s->n, t, n);
        s->n += n;
    }
}

static void puts0(str *s, const char *t) { put(s, t, strlen(t)); }

static void gen_subject(str *s)
{
    static const char alphabet[] = "aaabbbc()1 _.%-][";
    size_t len = rnd(18);
    s->n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned r = rnd(40);
        if (r == 0)
            put(s, "\0", 1);
        else if (r == 1)
            put(s, "\xe9", 1);
        else
            put(s, &alphabet[rnd(sizeof alphabet - 1)], 1);
    }
}

static void gen_pattern(str *p)
{
    /* single-byte classes first (they take quantifiers), then the rest */
    static const char *const atoms[] = {
        "a", "b", "c", ".", " ", "%a", "%d", "%s", "%w", "%A", "%p", "%.", "%%", "[ab]", "[^a]",
        "[a-c]", "[%d_]", "[]]", "[^%s]", "%z", "[%a-]", "[%]]", "%x", "%g", "\\", "[a-]",
        "(", ")", "()", "(", ")", "%b()", "%bab", "%f[%w]", "%f[a]", "%f[^a]", "%1", "%2", "$",
        "^", "-", "*", "?",
        /* malformed or invalid somewhere */
        "[ab", "%f", "%b(", "%0", "%3", "%", "[^", ")",
    };
    enum { N_CLASS = 26, N_VALID = 43 };
    static const char quants[] = "*+-?";
    size_t n, quant_left = 4; /* keeps backtracking affordable */
    p->n = 0;
    if (rnd(8) == 0) { /* raw bytes: every odd parse */
        static const char raw[] = "ab()[]%^$*+-?.fb1]";
        size_t len = rnd(9);
        for (size_t i = 0; i < len; i++) put(p, &raw[rnd(sizeof raw - 1)], 1);
        return;
    }
    if (rnd(5) == 0) puts0(p, "^");
    n = rnd(4) == 0 ? 6 + rnd(14) : rnd(7); /* the long ones exceed lpattern's stack buffer */
    for (size_t i = 0; i < n; i++) {
        unsigned k = rnd(sizeof atoms / sizeof atoms[0]);
        if (k >= N_VALID && rnd(3) != 0) k = rnd(N_CLASS); /* the malformed are rarer */
        if (k >= N_VALID - 3 && k < N_VALID) { /* a bare quantifier */
            if (quant_left == 0) k = rnd(N_CLASS);
            else quant_left--;
        }
        puts0(p, atoms[k]);
        if (k < N_CLASS && quant_left > 0 && rnd(5) < 2) {
            put(p, &quants[rnd(4)], 1);
            quant_left--;
        }
    }
    if (rnd(6) == 0) puts0(p, "$");
    if (rnd(30) == 0) puts0(p, "%");
}

static char *eval_random(lua_State *L, int kind, const str *s, const str *p, int xi, int has_x,
                         const char *y, int yi)
{
    char *out;
    size_t n;
    const char *r;
    lua_getglobal(L, "R");
    lua_pushinteger(L, kind);
    lua_pushlstring(L, s->b, s->n);
    lua_pushlstring(L, p->b, p->n);
    if (has_x)
        lua_pushinteger(L, xi);
    else
        lua_pushnil(L);
    if (y)
        lua_pushstring(L, y);
    else if (yi >= 0)
        lua_pushboolean(L, yi);
    else
        lua_pushnil(L);
    lua_call(L, 5, 1);
    r = lua_tolstring(L, -1, &n);
    out = malloc(n + 1);
    memcpy(out, r, n + 1);
    lua_pop(L, 1);
    return out;
}

static void random_cases(int count)
{
    static const char *const kind_names[] = {"find", "match", "gmatch", "gsub/string", "gsub/table",
                                             "gsub/function"};
    static const char *const repls[] = {"%0", "<%1>", "%2%1", "x%%", "%", "%x", "", "[%0|%1]", "-",
                                        "%3"};
    int total[6] = {0}, bad[6] = {0}, errors = 0, fails = 0, long_patterns = 0;
    for (int i = 0; i < count; i++) {
        str s, p;
        int kind = (int)rnd(6), has_x = rnd(3) != 0, xi = (int)rnd(51) - 25, yi = -1;
        const char *y = NULL;
        gen_subject(&s);
        gen_pattern(&p);
        if (kind == 0) {
            yi = (int)rnd(4) - 1; /* nil, false, true */
            if (yi == 1 && rnd(2)) yi = -1;
        } else if (kind >= 3) {
            xi = (int)rnd(6) - 1;
            if (kind == 3) y = repls[rnd(sizeof repls / sizeof repls[0])];
        }
        char *a = eval_random(ref, kind, &s, &p, xi, has_x, y, yi);
        char *b = eval_random(ours, kind, &s, &p, xi, has_x, y, yi);
        total[kind]++;
        errors += strncmp(a, "ERROR", 5) == 0;
        fails += strcmp(a, "1 nil") == 0;
        long_patterns += p.n > 48;
        if (strcmp(a, b) != 0) {
            if (bad[kind] < 5) {
                diag("%s mismatch: subject %zu bytes, pattern '%.*s', x %d%s, y %s/%d",
                     kind_names[kind], s.n, (int)p.n, p.b, xi, has_x ? "" : " (nil)",
                     y ? y : "-", yi);
                diag("  ref:  %s", a);
                diag("  ours: %s", b);
            }
            bad[kind]++;
        }
        free(a);
        free(b);
    }
    diag("random cases: %d raise errors, %d find nothing, %d have patterns over 48 bytes", errors,
         fails, long_patterns);
    for (int k = 0; k < 6; k++)
        ok(bad[k] == 0, "random %s: %d of %d cases agree with Lua", kind_names[k],
           total[k] - bad[k], total[k]);
}

/* ---- budget ------------------------------------------------------- */

/* Runs code in `ours` with a 200 ms deadline; the error message and the
 * time it took. */
static double run_with_deadline(const char *code, char *msg, size_t msg_len)
{
    double t0 = now_s(), t;
    deadline = t0 + 0.2;
    if (luaL_dostring(ours, code) != LUA_OK) {
        snprintf(msg, msg_len, "%s", lua_tostring(ours, -1));
        lua_pop(ours, 1);
    } else {
        snprintf(msg, msg_len, "(no error)");
    }
    t = now_s() - t0;
    deadline = 0;
    return t;
}

static void budget_tests(void)
{
    static const char *const slow[] = {
        "return string.find(string.rep('a', 1 << 20), '.-.-.-.-x')",
        "return string.match(string.rep('a', 1 << 20), '.-.-.-.-x')",
        "for _ in string.gmatch(string.rep('a', 1 << 20), '.-.-.-.-x') do end",
        "return string.gsub(string.rep('a', 1 << 20), '.-.-.-.-x', '')",
        "return (string.rep('a', 1 << 20)):find('.-.-.-.-x')",
        "return string.find(string.rep('a', 1 << 20), '(.-)(.-)%2%1x')",
        "return string.find(string.rep('a', 1 << 20), 'a*a*a*b')",
        "return string.find(string.rep('a', 1 << 20), string.rep('a', 1 << 16) .. 'b', 1, true)",
        "return string.find(string.rep('(', 1 << 20), '%b()')",
        "return string.gsub(string.rep('a', 1 << 20), '(a-)%1b', '')",
    };
    for (size_t i = 0; i < sizeof slow / sizeof slow[0]; i++) {
        char msg[256];
        double t = run_with_deadline(slow[i], msg, sizeof msg);
        ok(strstr(msg, "deadline exceeded") != NULL && t < 2.0, "budget stops %s (%.3f s: %s)",
           slow[i], t, msg);
    }
}

static void install_tests(void)
{
    lua_State *b = luaL_newstate();
    long a0, b0;
    int r;
    luaL_openlibs(b);
    rlvr_lpattern_install(b, check_b);

    ok(luaL_dostring(ours, "return debug.getupvalue(string.find, 1) ~= nil and "
                           "debug.getupvalue(string.gsub, 1) ~= nil and "
                           "debug.getupvalue(string.match, 1) ~= nil and "
                           "debug.getupvalue(string.gmatch, 1) ~= nil and "
                           "('').find == string.find and ('').gsub == string.gsub") == LUA_OK &&
           lua_toboolean(ours, -1),
       "installed in the string table, which strings index");
    lua_settop(ours, 0);

    /* Method syntax reaches the budgeted matcher: the check runs. */
    a0 = checks_a;
    r = luaL_dostring(ours, "return (string.rep('a', 100000)):find('.-b')") == LUA_OK &&
        lua_isnil(ours, -1);
    ok(r && checks_a > a0, "(\"...\"):find(...) uses the budgeted matcher (%ld checks)",
       checks_a - a0);
    lua_settop(ours, 0);

    /* Each state calls its own check function. */
    a0 = checks_a;
    b0 = checks_b;
    r = luaL_dostring(b, "return select(2, ('ab'):rep(100000):gsub('%a-b', ''))") == LUA_OK &&
        lua_tointeger(b, -1) == 100000;
    ok(r && checks_b > b0 && checks_a == a0,
       "a second state uses its own check (%ld calls there, %ld here)", checks_b - b0,
       checks_a - a0);
    a0 = checks_a;
    b0 = checks_b;
    r = luaL_dostring(ours, "return select(2, ('ab'):rep(100000):gsub('%a-b', ''))") == LUA_OK;
    ok(r && checks_a > a0 && checks_b == b0, "and the first state its own (%ld calls)",
       checks_a - a0);
    lua_settop(ours, 0);

    /* Translating a huge pattern counts too. */
    b0 = checks_b;
    r = luaL_dostring(b, "return string.find('a', '[' .. string.rep('a-z%w', 1 << 16) .. ']')") ==
        LUA_OK;
    ok(r && checks_b - b0 > 100, "translating a pattern calls the check (%ld calls)",
       checks_b - b0);

    /* A gmatch iterator survives the loss of string.gmatch. */
    ok(luaL_dostring(b, "local it = string.gmatch('a1b2', '%a%d'); string.gmatch = nil; "
                        "collectgarbage(); collectgarbage(); "
                        "return it() .. it()") == LUA_OK &&
           strcmp(lua_tostring(b, -1), "a1b2") == 0,
       "gmatch iterator keeps its context alive");

    /* Install without a check: no budget, still correct. */
    lua_State *c = luaL_newstate();
    luaL_openlibs(c);
    rlvr_lpattern_install(c, NULL);
    ok(luaL_dostring(c, "return string.gsub('hello world', '(%w+)', '<%1>')") == LUA_OK &&
           strcmp(lua_tostring(c, -2), "<hello> <world>") == 0,
       "install with a NULL check");
    lua_close(c);
    lua_close(b);
}

int main(void)
{
    ref = new_state(NULL);
    ours = new_state(check_a);

    static const char *const forms[][2] = {{"string.find(", ")"},
                                           {"string.match(", ")"},
                                           {"collect(string.gmatch(", "))"},
                                           {"string.gsub(", ", '<%0>')"}};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
        for (size_t f = 0; f < sizeof forms / sizeof forms[0]; f++) {
            char code[512];
            snprintf(code, sizeof code, "%s%s%s", forms[f][0], pairs[i], forms[f][1]);
            same_code(code);
        }
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) same_code(cases[i]);
    generated_cases();
    {
        /* LPATTERN_CASES=n LPATTERN_SEED=s: a longer or different random run */
        const char *n = getenv("LPATTERN_CASES"), *seed = getenv("LPATTERN_SEED");
        if (seed) rng_state = strtoull(seed, NULL, 10) * 2654435761u + 1;
        random_cases(n ? atoi(n) : 6000);
    }
    install_tests();
    budget_tests();

    lua_close(ref);
    lua_close(ours);
    return done_testing();
}

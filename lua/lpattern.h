/*
 * lpattern.h -- time-budgeted Lua 5.4 pattern matching for rlvr's sandbox.
 *
 * Lua's own string.find/match/gmatch/gsub run inside one C call, where the
 * instruction-count hook that enforces a script's time cap never fires, so a
 * backtracking pattern over a large subject could run for hours.  This module
 * supplies replacements with exactly Lua 5.4's semantics (results, errors and
 * the "pattern too complex" depth limit) whose matcher counts its work and
 * calls a caller-supplied check function about every 1000 steps; the check
 * raises a Lua error (lua_error/luaL_error) to abandon the match.  Nothing the
 * matcher holds needs freeing, so unwinding through it is safe.
 */
#ifndef RLVR_LPATTERN_H
#define RLVR_LPATTERN_H

#include <lua.h>

/* Replace find, match, gmatch and gsub in the string table (the global `string`
 * table, which is also strings' __index) with budgeted versions. check(L) is called
 * about every 1000 matcher steps and may raise a Lua error (lua_error) to stop.
 * check may be NULL (no budget). The pointer is kept per state (as an upvalue of
 * the installed functions), so states with different checks coexist. Character
 * classes (%a, %d, ...) are tabulated from <ctype.h> in the locale current at
 * installation. */
void rlvr_lpattern_install(lua_State *L, void (*check)(lua_State *L));

#endif

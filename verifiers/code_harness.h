/*
 * code_harness.h -- the Python judge source for the function and assertion
 * modes (see code_harness.c for how it keeps the solution from forging a
 * pass).
 */
#ifndef RLVR_CODE_HARNESS_H
#define RLVR_CODE_HARNESS_H
extern const char rlvr_code_harness_py[];
#endif

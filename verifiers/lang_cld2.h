/*
 * lang_cld2.h -- a small C face over CLD2 (Debian's libcld2, Google's Compact
 * Language Detector 2, a C++ library) for the lang engine.
 *
 * Languages are CLD2's own numbers (its `Language` enum); -1 is "unknown".
 * Every function is reentrant: CLD2 keeps no state between calls, and these
 * wrappers keep none either. Nothing here allocates that outlives a call, and
 * no C++ exception crosses into C (the shim is built without exceptions, and
 * CLD2 throws none).
 */
#ifndef RLVR_LANG_CLD2_H
#define RLVR_LANG_CLD2_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* CLD2's number for an ISO 639 code ("en", "he" or "iw", "zh-Hant"...),
 * or -1 when CLD2 does not know it. */
int rlvr_lang_cld2_from_code(const char *code);

/* The code CLD2 gives a language number ("un" for unknown). Static text. */
const char *rlvr_lang_cld2_code(int lang);

/* ISO 15924 code of the script CLD2 recognises a language in ("Latn",
 * "Cyrl", "Arab", "Deva", ...; "" when none). Static text. */
const char *rlvr_lang_cld2_script(int lang);

/* The most likely language of plain UTF-8 text (CLD2's top language, by
 * scored bytes), or -1 when CLD2 cannot tell (where CLD2's plain
 * DetectLanguage would answer English by default). *reliable (may be NULL) is set
 * to CLD2's reliability flag. Text longer than INT_MAX bytes is cut there. */
int rlvr_lang_cld2_detect(const char *text, size_t len, int *reliable);

#ifdef __cplusplus
}
#endif
#endif /* RLVR_LANG_CLD2_H */

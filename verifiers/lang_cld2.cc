/*
 * lang_cld2.cc -- the C shim over CLD2 declared in lang_cld2.h.
 *
 * Only this file includes a CLD2 header (C++). It is compiled without
 * exceptions and RTTI so that it needs nothing from the C++ runtime beyond
 * what libcld2 itself pulls in; each function is a stateless call into CLD2.
 * CLD2's public header uses FILE without including <cstdio>, hence the order
 * of the includes below.
 */
#include <cstdio>
#include <climits>
#include <cld2/public/compact_lang_det.h>
#include <cld2/internal/lang_script.h>

#include "lang_cld2.h"

extern "C" int rlvr_lang_cld2_from_code(const char *code)
{
    if (!code || !*code) return -1;
    CLD2::Language l = CLD2::GetLanguageFromName(code);
    return l == CLD2::UNKNOWN_LANGUAGE ? -1 : (int)l;
}

extern "C" const char *rlvr_lang_cld2_code(int lang)
{
    if (lang < 0 || lang >= (int)CLD2::NUM_LANGUAGES) return "un";
    return CLD2::LanguageCode((CLD2::Language)lang);
}

extern "C" const char *rlvr_lang_cld2_script(int lang)
{
    if (lang < 0 || lang >= (int)CLD2::NUM_LANGUAGES) return "";
    const char *c = CLD2::ULScriptCode(CLD2::LanguageRecognizedScript((CLD2::Language)lang, 0));
    return c ? c : "";
}

extern "C" int rlvr_lang_cld2_detect(const char *text, size_t len, int *reliable)
{
    bool rel = false;
    CLD2::Language top3[3];
    int percent3[3], text_bytes = 0;
    int n = len > (size_t)INT_MAX ? INT_MAX : (int)len;
    /* the Ext form: the plain one answers ENGLISH when it cannot tell */
    CLD2::Language l = CLD2::ExtDetectLanguageSummary(text, n, true, top3, percent3, &text_bytes, &rel);
    if (reliable) *reliable = rel ? 1 : 0;
    return l == CLD2::UNKNOWN_LANGUAGE ? -1 : (int)l;
}

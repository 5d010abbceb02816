"""lang_ref.py -- the reference of bench/lang.sh: the lang plugin's proportion
rule written again in Python, timed on the same corpus.

The same rule as verifiers/lang.h: the <think> block; code, math, LaTeX
commands, URLs and tags stripped (Python's re); sentences ended by . ! ?
(a full stop not followed by an ASCII letter or digit), by 。！？ and by
newlines; words as runs of letters (apostrophes between letters join);
tokens with digits, single Latin/Greek/Cyrillic letters, function names
and words touching an operator dropped; scripts from unicodedata's names;
Han and kana one character per word (the plugin's cjk_unit = "char": Python
here has no ICU); Han is Japanese in a sentence with kana; a sentence of a
Latin-script target goes to CLD2 -- the same libcld2, called through ctypes
-- and an unknown sentence is skipped (unidentified = "skip").

  lang_ref.py CORPUS.jsonl [SCORES_OUT]
prints "rate=SAMPLES_PER_S mean=MEAN n=N" (the time excludes start-up and
reading the file) and, with SCORES_OUT, one score per line (or "null").
"""
import ctypes
import json
import re
import sys
import time
import unicodedata

_cld2 = None


def cld2():
    global _cld2
    if _cld2 is None:
        lib = ctypes.CDLL("libcld2.so.0")
        ext = getattr(lib, "_ZN4CLD224ExtDetectLanguageSummaryEPKcibPNS_8LanguageEPiS4_Pb")
        ext.restype = ctypes.c_int
        ext.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_bool, ctypes.POINTER(ctypes.c_int),
                        ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_bool)]
        code = getattr(lib, "_ZN4CLD212LanguageCodeENS_8LanguageE")
        code.restype = ctypes.c_char_p
        code.argtypes = [ctypes.c_int]
        _cld2 = (ext, code)
    return _cld2


def identify(text):
    ext, code = cld2()
    b = text.encode()
    l3 = (ctypes.c_int * 3)()
    p3 = (ctypes.c_int * 3)()
    tb = ctypes.c_int()
    rel = ctypes.c_bool()
    lang = ext(b, len(b), True, l3, p3, ctypes.byref(tb), ctypes.byref(rel))
    c = code(lang).decode()
    return None if c == "un" else c


STRIP = re.compile(
    r"(?m:^ {0,3}(`{3,}|~{3,})[^\n]*\n(?:.*?\n)??(?: {0,3}\1[`~]*[ \t]*(?:\n|\Z)|\Z))"  # fenced code
    r"|(`+)(?:.+?)(?<!`)\2(?!`)"                       # inline code
    r"|\$\$.*?\$\$|\\\[.*?\\\]|\\\(.*?\\\)"            # display and inline math
    r"|\\begin\{([a-z*]+)\}.*?\\end\{\3\}"             # environments
    r"|\$(?:\\.|[^$\\])*?\$"                            # $...$
    r"|\\[A-Za-z]+|\\."                                 # commands, escapes
    r"|(?i:https?://|ftp://|www\.)[^\s\"<>]*"          # URLs
    r"|</?[A-Za-z|][A-Za-z0-9_|-]{0,31}/?>",          # tags
    re.S)
SENT = re.compile(r"\.(?![A-Za-z0-9])|[!?。！？．｡\n]")
TOKEN = re.compile(r"(?:[^\W_]|[\u0300-\u036f])+(?:['’](?:[^\W\d_])+)*")
MATH = {"arccos", "arcsin", "arctan", "arg", "cos", "cosh", "cot", "csc", "det", "dim", "dp", "dq", "dr", "ds",
        "dt", "du", "dv", "dx", "dy", "dz", "exp", "frac", "gcd", "inf", "ker", "lcm", "lg", "lim", "ln", "log",
        "max", "min", "mod", "sec", "sin", "sinh", "sqrt", "sup", "tan", "tanh"}
OPS = set("=+^_*/<>|\\")


def script(ch):
    if ch < "\x80":
        return "latin"
    try:
        name = unicodedata.name(ch)
    except ValueError:
        return "other"
    if name.startswith("CJK") or "IDEOGRAPH" in name:
        return "han"
    for key, s in (("HIRAGANA", "kana"), ("KATAKANA", "kana"), ("LATIN", "latin"), ("CYRILLIC", "cyrillic"),
                   ("GREEK", "greek"), ("HANGUL", "hangul"), ("ARABIC", "arabic"), ("HEBREW", "hebrew"),
                   ("DEVANAGARI", "devanagari"), ("THAI", "thai")):
        if name.startswith(key):
            return s
    return "other"


SCRIPT_LANG = {"han": "zh", "kana": "ja", "hangul": "ko", "greek": "el", "hebrew": "he", "thai": "th"}


def proportion(completion, target):
    a = completion.find("<think>")
    b = completion.find("</think>", a + 7 if a >= 0 else 0)
    if a >= 0 and b >= 0:
        cot = completion[a + 7:b]
    elif b >= 0:
        cot = completion[:b]
    elif a >= 0:
        cot = completion[a + 7:]
    else:
        cot = completion
    text = STRIP.sub(lambda m: "\n" if m.group(1) else " ", cot)
    latin_target = target not in SCRIPT_LANG.values()
    counted = good = 0
    for sent in SENT.split(text):
        words = {}
        latin = []
        for m in TOKEN.finditer(sent):
            w = m.group(0)
            if any(ch.isdigit() for ch in w):
                continue
            s0 = script(w[0])
            if s0 in ("han", "kana"):
                for ch in w:
                    s = script(ch)
                    if s in ("han", "kana"):
                        words[s] = words.get(s, 0) + 1
                continue
            if len(w) == 1 and s0 in ("latin", "greek", "cyrillic"):
                continue
            if s0 == "latin" and w.lower() in MATH:
                continue
            i, j = m.start(), m.end()
            if (i > 0 and sent[i - 1] in OPS) or (j < len(sent) and (sent[j] in OPS or sent[j] == "(")):
                continue
            words[s0] = words.get(s0, 0) + 1
            if s0 == "latin":
                latin.append(w)
        for s, n in words.items():
            if s == "latin":
                if latin_target:
                    lang = identify(" ".join(latin) + " ")
                    if lang is None:
                        continue
                else:
                    lang = "latin"
            elif s == "han":
                lang = "ja" if words.get("kana") else "ko" if words.get("hangul") else "zh"
            else:
                lang = SCRIPT_LANG.get(s, s)
            counted += n
            if lang == target:
                good += n
    return good / counted if counted else None


def main():
    rows = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8")]
    t0 = time.perf_counter()
    scores = [proportion(r["completion"], r["language"]) for r in rows]
    dt = time.perf_counter() - t0
    got = [s for s in scores if s is not None]
    print("rate=%.1f mean=%.6f n=%d" % (len(rows) / dt, sum(got) / max(1, len(got)), len(rows)))
    if len(sys.argv) > 2:
        with open(sys.argv[2], "w") as f:
            for s in scores:
                f.write(("null" if s is None else repr(s)) + "\n")


if __name__ == "__main__":
    main()

"""shaping_openr1.py -- open-r1's shaping rewards, written again in plain
Python from their published definitions (src/open_r1/rewards.py and
configs.py), as the reference that tests/test_shaping.py compares rlvr's
plugins with and that tests/bench/shaping.sh times beside them.

The rules are open-r1's, function for function, with one change of interface:
open-r1 decides correctness by parsing with math-verify inside len_reward and
cosine_scaled_reward; here correctness comes in as a list of booleans (rlvr
reads it from the accuracy component of an earlier mix entry), so that the
rules themselves can be compared and timed without math-verify.

    len_reward(contents, correct)                     Kimi 1.5, whole batch = one group
    cosine_scaled_reward(contents, correct, **params) min/max_value_wrong/correct, max_len
    repetition_penalty_reward(contents, ngram_size, max_penalty)   text.lower().split()
    soft_overlong_punishment(lengths, max_completion_len, soft_punish_cache)
    reasoning_steps_reward(contents)

rlvr's documented variants, for the tests (not open-r1's): cjk_words (one word
per Han/kana/Hangul character), repetition_penalty_cjk, approx_tokens,
cosine with a clamp past max_len.
"""
import math
import re

# -- open-r1's rules --------------------------------------------------------------


def len_reward(contents, correct):
    """Kimi 1.5: lambda = 0.5 - (len - min) / (max - min) over the batch;
    correct answers get lambda, wrong ones min(0, lambda); all lengths
    equal: zeros."""
    lengths = [len(c) for c in contents]
    lo, hi = min(lengths), max(lengths)
    if lo == hi:
        return [0.0] * len(contents)
    out = []
    for n, ok in zip(lengths, correct):
        lam = 0.5 - (n - lo) / (hi - lo)
        out.append(float(lam if ok else min(0, lam)))
    return out


def cosine_scaled_reward(contents, correct, min_value_wrong=-1.0, max_value_wrong=-0.5,
                         min_value_correct=0.5, max_value_correct=1.0, max_len=1000, clamp=False):
    """open-r1's cosine schedule on len(content) / max_len. open-r1 does not
    clamp (clamp=False); rlvr's default does (clamp=True)."""
    out = []
    for text, ok in zip(contents, correct):
        progress = len(text) / max_len
        if clamp:
            progress = min(progress, 1.0)
        c = math.cos(progress * math.pi)
        if ok:
            lo, hi = min_value_correct, max_value_correct
        else:
            lo, hi = max_value_wrong, min_value_wrong
        out.append(float(lo + 0.5 * (hi - lo) * (1.0 + c)))
    return out


def _repetition(words_of, contents, ngram_size, max_penalty):
    if max_penalty > 0:
        raise ValueError("max_penalty must not be positive")
    out = []
    for text in contents:
        if text == "":
            out.append(0.0)
            continue
        words = words_of(text)
        if len(words) < ngram_size:
            out.append(0.0)
            continue
        grams = list(zip(*[words[i:] for i in range(ngram_size)]))
        out.append((1 - len(set(grams)) / len(grams)) * max_penalty)
    return out


def repetition_penalty_reward(contents, ngram_size=3, max_penalty=-1.0):
    """open-r1: words are text.lower().split()."""
    return _repetition(lambda t: t.lower().split(), contents, ngram_size, max_penalty)


def soft_overlong_punishment(lengths, max_completion_len=16384, soft_punish_cache=4096):
    """DAPO Eq. 13 on token counts."""
    out = []
    for n in lengths:
        if n <= max_completion_len - soft_punish_cache:
            out.append(0.0)
        elif n <= max_completion_len:
            out.append((max_completion_len - soft_punish_cache - n) / soft_punish_cache)
        else:
            out.append(-1.0)
    return out


STEP_PATTERN = r"(Step \d+:|^\d+\.|\n-|\n\*|First,|Second,|Next,|Finally,)"


def reasoning_steps_reward(contents, flags=0, target=3):
    """open-r1: re.findall of the pattern (no re.MULTILINE), min(1, count / 3)."""
    return [min(1.0, len(re.findall(STEP_PATTERN, c, flags)) / target) for c in contents]


# -- rlvr's documented variants ----------------------------------------------------

_CJK = [(0x1100, 0x11FF), (0x2E80, 0x2FDF), (0x3005, 0x3005), (0x3007, 0x3007), (0x3021, 0x3029),
        (0x3038, 0x303B), (0x3041, 0x309F), (0x30A0, 0x30FF), (0x3131, 0x318E), (0x31F0, 0x31FF),
        (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xA960, 0xA97F), (0xAC00, 0xD7AF), (0xD7B0, 0xD7FF),
        (0xF900, 0xFAFF), (0xFF66, 0xFF9F), (0xFFA0, 0xFFDC), (0x1B000, 0x1B16F), (0x20000, 0x2FA1F),
        (0x30000, 0x323AF)]


def is_cjk(ch):
    cp = ord(ch)
    return any(a <= cp <= b for a, b in _CJK)


def cjk_words(text):
    """rlvr's split = "cjk": Python's split() on the lower-cased text, and
    every CJK character a word of its own."""
    words = []
    for chunk in text.lower().split():
        cur = ""
        for ch in chunk:
            if is_cjk(ch):
                if cur:
                    words.append(cur)
                    cur = ""
                words.append(ch)
            else:
                cur += ch
        if cur:
            words.append(cur)
    return words


def repetition_penalty_cjk(contents, ngram_size=3, max_penalty=-1.0):
    return _repetition(cjk_words, contents, ngram_size, max_penalty)


def approx_tokens(text):
    """rlvr's approximate count: one per CJK character, one per 4 other UTF-8 bytes (rounded up)."""
    cjk = sum(1 for ch in text if is_cjk(ch))
    other = sum(len(ch.encode("utf-8", "surrogatepass")) for ch in text if not is_cjk(ch))
    return cjk + (other + 3) // 4

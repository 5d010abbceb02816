"""rlvr_inprocess.py -- rlvr's reward mixes in process, without HTTP:
ctypes over librlvr_score (rlvr_score.h). Standard library only.

    from rlvr_inprocess import Scorer
    scorer = Scorer("r1_mix.lua")                        # the mix, loaded once
    trainer = GRPOTrainer(..., reward_funcs=scorer.trl_reward)   # TRL, three lines

    scorer.score([{"completion": "...", "answer": "42"}])   # results as `rlvr score` writes them

The library is found through $RLVR_SCORE_LIB (a path), else the system's
library path (ctypes.util.find_library("rlvr_score")), else beside an
installed rlvr (PREFIX/lib). Plugins are found as `rlvr score` finds them
($RLVR_PLUGIN_PATH, then the built-in folder). A scorer is safe to call from
several threads (calls are serialised; each call uses all of the scorer's
threads). trl_reward has TRL's signature and returns one float per
completion, or None where the reward is null; reward_func(component) makes
one that returns a component instead.
"""
import ctypes
import ctypes.util
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from trl_rlvr import build_samples  # noqa: E402

_lib = None


def _find_library():
    env = os.environ.get("RLVR_SCORE_LIB")
    if env:
        return env
    found = ctypes.util.find_library("rlvr_score")
    if found:
        return found
    exe = shutil.which("rlvr")
    if exe:
        cand = os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(exe))), "lib", "librlvr_score.so.0")
        if os.path.exists(cand):
            return cand
    raise OSError("librlvr_score not found: set RLVR_SCORE_LIB to its path (make install puts it in PREFIX/lib)")


def load_library(path=None):
    global _lib
    if _lib is not None and path is None:
        return _lib
    lib = ctypes.CDLL(path or _find_library())
    lib.rlvr_scorer_new.restype = ctypes.c_void_p
    lib.rlvr_scorer_new.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_char_p), ctypes.c_size_t,
                                    ctypes.c_char_p, ctypes.c_size_t]
    lib.rlvr_scorer_score.restype = ctypes.c_int
    lib.rlvr_scorer_score.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t,
                                      ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_size_t),
                                      ctypes.c_char_p, ctypes.c_size_t]
    lib.rlvr_scorer_free_text.restype = None
    lib.rlvr_scorer_free_text.argtypes = [ctypes.c_void_p]
    lib.rlvr_scorer_free.restype = None
    lib.rlvr_scorer_free.argtypes = [ctypes.c_void_p]
    lib.rlvr_scorer_version.restype = ctypes.c_char_p
    lib.rlvr_scorer_version.argtypes = []
    if path is None:
        _lib = lib
    return lib


class RlvrError(RuntimeError):
    pass


class Scorer:
    def __init__(self, mix, threads=0, fields=None, library=None):
        self._lib = load_library(library)
        fields = list(fields or [])
        arr = (ctypes.c_char_p * max(1, len(fields)))(*[f.encode() for f in fields])
        err = ctypes.create_string_buffer(1024)
        self._h = self._lib.rlvr_scorer_new(os.fsencode(mix), int(threads), arr, len(fields), err, len(err))
        if not self._h:
            raise RlvrError(err.value.decode("utf-8", "replace"))
        self.trl_reward = self.reward_func()

    def score_jsonl(self, text):
        """Score JSON Lines (bytes or str); the results' JSON Lines (str)."""
        if self._h is None:
            raise RlvrError("the scorer is closed")
        data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
        out = ctypes.c_void_p()
        out_len = ctypes.c_size_t()
        err = ctypes.create_string_buffer(1024)
        if self._lib.rlvr_scorer_score(self._h, data, len(data), ctypes.byref(out), ctypes.byref(out_len), err, len(err)):
            raise RlvrError(err.value.decode("utf-8", "replace"))
        try:
            return ctypes.string_at(out, out_len.value).decode("utf-8")
        finally:
            self._lib.rlvr_scorer_free_text(out)

    def score(self, samples):
        """Results (dicts) for a list of sample dicts, in order."""
        samples = list(samples)
        if not samples:
            return []
        text = "".join(json.dumps(s, ensure_ascii=False) + "\n" for s in samples)
        return [json.loads(line) for line in self.score_jsonl(text).splitlines()]

    def reward_func(self, component=None, answer_column=None):
        """A TRL reward function (prompts, completions, **columns) -> [float or None]."""
        def reward(prompts=None, completions=None, **kwargs):
            results = self.score(build_samples(prompts, completions, answer_column, **kwargs))
            if component is None:
                return [r.get("reward") for r in results]
            return [(r.get("components") or {}).get(component) for r in results]

        reward.__name__ = "rlvr" if component is None else "rlvr_" + component
        return reward

    def close(self):
        if self._h is not None:
            self._lib.rlvr_scorer_free(self._h)
            self._h = None

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001 -- interpreter shutdown
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def version():
    return load_library().rlvr_scorer_version().decode()

"""trl_rlvr.py -- TRL reward functions scored by `rlvr serve`.

    from trl_rlvr import make_reward_func
    reward = make_reward_func("http://10.0.0.5:8400,http://10.0.0.6:8400")   # or $RLVR_SERVE_URL
    trainer = GRPOTrainer(model=..., reward_funcs=reward, train_dataset=ds, ...)

TRL calls reward(prompts=..., completions=..., **columns): the dataset's
other columns come as keyword lists. Each sample sent is {"prompt",
"completion"} plus every column whose values are JSON (strings, numbers,
lists, dicts); conversational prompts and completions (lists of messages)
are sent as they are, and rlvr scores the last assistant message. The gold
answer is the `answer` column, else `solution` (TRL's and open-r1's name),
else `ground_truth`; pass answer_column to choose. The function returns one
float per completion, or None where the reward is null (TRL treats None as
"not applicable" and leaves it out of the sum). component="accuracy" makes
a function that returns one component instead of the reward, so several
components can be logged by TRL as separate reward functions (TRL names
them after __name__: rlvr, rlvr_accuracy, ...). Standard library only.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rlvr_client import Client  # noqa: E402

ANSWER_COLUMNS = ("answer", "solution", "ground_truth")
_SKIP = {"prompts", "completions", "completion_ids", "trainer_state", "log_extra", "log_metric"}


def _jsonable(v):
    try:
        json.dumps(v)
        return True
    except (TypeError, ValueError):
        return False


def build_samples(prompts, completions, answer_column=None, **columns):
    """The samples rlvr scores for one TRL call."""
    n = len(completions)
    answer_column = answer_column or next((c for c in ANSWER_COLUMNS if c in columns), None)
    samples = []
    for i in range(n):
        s = {"id": i, "completion": completions[i]}
        if prompts is not None:
            s["prompt"] = prompts[i]
        for k, vals in columns.items():
            if k in _SKIP or not isinstance(vals, (list, tuple)) or len(vals) != n or not _jsonable(vals[i]):
                continue
            s[k] = vals[i]
        if answer_column and answer_column in columns:
            s["answer"] = columns[answer_column][i]
        samples.append(s)
    return samples


def make_reward_func(urls=None, component=None, answer_column=None, token=None, client=None):
    """A TRL reward function (prompts, completions, **kwargs) -> [float or None]."""
    c = client or Client(urls, token)

    def reward(prompts=None, completions=None, **kwargs):
        results = c.score(build_samples(prompts, completions, answer_column, **kwargs))
        if component is None:
            return [r.get("reward") for r in results]
        return [(r.get("components") or {}).get(component) for r in results]

    reward.__name__ = "rlvr" if component is None else "rlvr_" + component
    return reward

"""openrlhf_rlvr.py -- an OpenRLHF reward file that asks `rlvr serve`.

OpenRLHF calls the server itself when given its URL:

    --remote_rm_url http://10.0.0.5:8400/get_reward,http://10.0.0.6:8400/get_reward --label_key answer

(it shards each batch over the listed servers). This file is the other
route, for when the reward should be computed through a Python file (for
example to reach the servers with a token, or to retry on a full queue):

    RLVR_SERVE_URL=http://10.0.0.5:8400,http://10.0.0.6:8400 \\
      ... --remote_rm_url /path/to/clients/openrlhf_rlvr.py --label_key answer

reward_func(queries, prompts, labels) posts the batch to /get_reward
(sharded over the servers, prompts kept together) and returns
{"rewards", "scores", "extra_logs"} as OpenRLHF wants them: torch tensors
when torch can be imported (it always can inside OpenRLHF), lists
otherwise. Null rewards are given the server's --abstain-value, and
extra_logs["rlvr_abstain_substituted"] marks them. Standard library only
(torch optional).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rlvr_client import Client  # noqa: E402

_client = None


def _get_client():
    global _client
    if _client is None:
        _client = Client()
    return _client


def _tensor(xs):
    try:
        import torch
    except ImportError:
        return list(xs)
    return torch.tensor(xs, dtype=torch.float32)


def reward_func(queries, prompts, labels=None, **kwargs):
    out = _get_client().get_reward(queries, prompts, labels)
    return {
        "rewards": _tensor(out["rewards"]),
        "scores": _tensor(out["scores"]),
        "extra_logs": {k: _tensor(v) for k, v in out["extra_logs"].items()},
    }

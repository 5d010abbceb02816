"""verl_rlvr.py -- verl's custom reward function, scored by `rlvr serve`.

In verl's configuration:

    custom_reward_function:
      path: /path/to/clients/verl_rlvr.py
      name: compute_score            # or compute_score_batch with reward_model.reward_manager=batch
      reward_kwargs:
        urls: "http://10.0.0.5:8400,http://10.0.0.6:8400"   # else $RLVR_SERVE_URL
        abstain_value: 0.0                                  # a null reward becomes this

Each sample goes to the server as {"completion": solution_str, "answer":
ground_truth, "data_source": data_source, "extra_info": extra_info}, so a
mix can route on data_source. compute_score returns a dict: "score" (the
reward; verl needs a number, so a null one is abstain_value) and one key per
component of the mix (abstain_value when null), which verl logs as
reward_extra_info. compute_score_batch does the same for verl's batch reward
manager, one request per batch (sharded over the servers). Only Python's
standard library is used.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rlvr_client import Client  # noqa: E402

_clients = {}


def _client(urls, token):
    key = (str(urls), token)
    if key not in _clients:
        _clients[key] = Client(urls, token)
    return _clients[key]


def _sample(data_source, solution_str, ground_truth, extra_info):
    s = {"completion": solution_str, "data_source": data_source}
    if ground_truth is not None:
        s["answer"] = ground_truth
    if extra_info is not None:
        s["extra_info"] = extra_info
    return s


def _as_verl(result, abstain_value):
    r = result.get("reward")
    out = {"score": float(abstain_value if r is None else r)}
    for name, v in (result.get("components") or {}).items():
        if name != "score":
            out[name] = float(abstain_value if v is None else v)
    return out


def _abstain(kwargs):
    v = kwargs.get("abstain_value", os.environ.get("RLVR_ABSTAIN_VALUE", 0.0))
    return float(v)


def compute_score(data_source, solution_str, ground_truth, extra_info=None, urls=None, token=None, **kwargs):
    """verl's per-sample reward: a dict with "score" and the mix's components."""
    res = _client(urls, token).score([_sample(data_source, solution_str, ground_truth, extra_info)])
    return _as_verl(res[0], _abstain(kwargs))


def compute_score_batch(data_sources, solution_strs, ground_truths, extra_infos=None, urls=None, token=None, **kwargs):
    """verl's batch reward manager: a list of dicts, one per sample."""
    n = len(solution_strs)
    extra_infos = extra_infos if extra_infos is not None else [None] * n
    samples = [_sample(data_sources[i], solution_strs[i], ground_truths[i], extra_infos[i]) for i in range(n)]
    av = _abstain(kwargs)
    return [_as_verl(r, av) for r in _client(urls, token).score(samples)]

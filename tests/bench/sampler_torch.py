"""sampler_torch.py -- the reference of bench/sampler.sh: torch on the CPU
doing what sampler_bench does, with Hugging Face's logits warpers.

    python3 sampler_torch.py V ROWS ROUNDS THREADS

Logits [ROWS, V] in sampler_bench's two shapes (flat: 2 * N(0, 1); peaked:
the same plus 8 tokens per row at 16 + N(0, 1)), made before timing. For
each of greedy, temperature 0.7, top-k 50, top-p 0.95 and min-p 0.05 one
token is drawn per row with its log-probability under the temperature-only
distribution (log_softmax of logits / T, gathered), as rlvr_sample_token
returns it:
  - greedy: argmax;
  - otherwise the warpers of transformers' generate() in its order
    (TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper,
    MinPLogitsWarper, min_tokens_to_keep = 1), written here in torch from
    their documented rules, then softmax and torch.multinomial.
Two ways: "per row", one [1, V] row at a time as a generation loop over a
single sequence does, and "batched", all ROWS rows in one [ROWS, V] call
(tokens/s counts rows). The best of ROUNDS is printed in sampler_bench's
format.
"""
import sys
import time

import torch

NEG_INF = -float("inf")


def temperature_warper(scores, t):
    return scores / t


# The three filters below are written for this benchmark from the rules
# that transformers documents for its warpers (and rlvr follows): each keeps
# a prefix of the tokens ranked by score and masks the rest with -inf.
def top_k_warper(scores, top_k):
    kth = torch.topk(scores, min(top_k, scores.size(-1)), dim=-1).values[..., -1:]
    return scores.masked_fill(scores < kth, NEG_INF)


def top_p_warper(scores, top_p):
    ranked, order = torch.sort(scores, dim=-1, descending=True)
    p = ranked.softmax(dim=-1)
    mass_before = p.cumsum(dim=-1) - p
    drop_ranked = mass_before >= top_p
    drop = torch.zeros_like(drop_ranked).scatter(-1, order, drop_ranked)
    return scores.masked_fill(drop, NEG_INF)


def min_p_warper(scores, min_p):
    p = torch.softmax(scores, dim=-1)
    drop = p < min_p * p.max(dim=-1, keepdim=True).values
    return scores.masked_fill(drop, NEG_INF)


MODES = [  # name, temperature, top_k, top_p, min_p
    ("greedy", 0.0, 0, 1.0, 0.0),
    ("temperature 0.7", 0.7, 0, 1.0, 0.0),
    ("top-k 50", 1.0, 50, 1.0, 0.0),
    ("top-p 0.95", 1.0, 0, 0.95, 0.0),
    ("min-p 0.05", 1.0, 0, 1.0, 0.05),
]


def sample(x, t, k, p, mp, gen):
    """x [B, V] -> tokens [B, 1], log-probabilities [B, 1]."""
    if t == 0.0:
        tok = x.argmax(dim=-1, keepdim=True)
        return tok, torch.log_softmax(x, dim=-1).gather(-1, tok)
    z = temperature_warper(x, t) if t != 1.0 else x
    logp = torch.log_softmax(z, dim=-1)
    if k:
        z = top_k_warper(z, k)
    if p < 1.0:
        z = top_p_warper(z, p)
    if mp:
        z = min_p_warper(z, mp)
    tok = torch.multinomial(torch.softmax(z, dim=-1), 1, generator=gen)
    return tok, logp.gather(-1, tok)


def main():
    V, rows, rounds, threads = (int(a) for a in sys.argv[1:5])
    torch.set_num_threads(threads)
    g = torch.Generator().manual_seed(0)
    flat = torch.randn(rows, V, generator=g) * 2
    peaked = flat.clone()
    for r in range(rows):
        idx = torch.randint(0, V, (8,), generator=g)
        peaked[r, idx] = 16 + torch.randn(8, generator=g)
    label = "torch %d thread%s" % (threads, "" if threads == 1 else "s")
    with torch.no_grad():
        for shape, x in (("flat", flat), ("peaked", peaked)):
            for name, t, k, p, mp in MODES:
                for way in ("per row", "batched"):
                    best, lpsum = float("inf"), 0.0
                    for _ in range(rounds):
                        gen = torch.Generator().manual_seed(1)
                        t0 = time.perf_counter()
                        if way == "per row":
                            lps = [sample(x[r : r + 1], t, k, p, mp, gen)[1] for r in range(rows)]
                            lpsum = float(torch.cat(lps).sum())
                        else:
                            lpsum = float(sample(x, t, k, p, mp, gen)[1].sum())
                        best = min(best, time.perf_counter() - t0)
                    print("%s %-7s %-7s %-16s V=%d  %9.0f tokens/s  %8.1f us/token  (mean logprob %.3f)"
                          % (label, way, shape, name, V, rows / best, best / rows * 1e6, lpsum / rows), flush=True)
    print("(torch %s)" % torch.__version__)


if __name__ == "__main__":
    main()

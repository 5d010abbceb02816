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
    MinPLogitsWarper; their code is copied below, min_tokens_to_keep = 1),
    then softmax and torch.multinomial.
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


def top_k_warper(scores, top_k):
    top_k = min(top_k, scores.size(-1))
    indices_to_remove = scores < torch.topk(scores, top_k)[0][..., -1, None]
    return scores.masked_fill(indices_to_remove, NEG_INF)


def top_p_warper(scores, top_p):
    sorted_logits, sorted_indices = torch.sort(scores, descending=False)
    cumulative_probs = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
    sorted_indices_to_remove = cumulative_probs <= (1 - top_p)
    sorted_indices_to_remove[..., -1:] = 0
    indices_to_remove = sorted_indices_to_remove.scatter(1, sorted_indices, sorted_indices_to_remove)
    return scores.masked_fill(indices_to_remove, NEG_INF)


def min_p_warper(scores, min_p):
    probs = torch.softmax(scores, dim=-1)
    top_probs, _ = probs.max(dim=-1, keepdim=True)
    tokens_to_remove = probs < min_p * top_probs
    sorted_indices = torch.argsort(scores, descending=True, dim=-1)
    sorted_indices_to_remove = torch.gather(tokens_to_remove, dim=-1, index=sorted_indices)
    sorted_indices_to_remove[..., :1] = False
    indices_to_remove = sorted_indices_to_remove.scatter(1, sorted_indices, sorted_indices_to_remove)
    return scores.masked_fill(indices_to_remove, NEG_INF)


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

"""grpo_torch.py -- the reference of bench/grpo.sh: torch on the CPU doing
what grpo_bench does, written as TRL's GRPOTrainer writes it.

    python3 grpo_torch.py B T V ROUNDS THREADS

Per round, on logits [B, T, V] (float32, requires_grad, made and touched
before timing): per-token log-probabilities with TRL's selective_log_softmax
(gather the taken logits, subtract a logsumexp computed sequence by sequence
to bound peak memory), the clipped surrogate with epsilon 0.2, the k3 KL
times beta = 0.001, the grpo aggregation, then loss.backward(), which fills
logits.grad [B, T, V]. The best of ROUNDS is printed with the peak RSS the
rounds added above the inputs, in MB, in grpo_bench's format.
"""
import resource
import sys
import time

import torch


def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def selective_log_softmax(logits, index):
    selected = torch.gather(logits, dim=-1, index=index.unsqueeze(-1)).squeeze(-1)
    lse = torch.stack([torch.logsumexp(row, dim=-1) for row in logits])
    return selected - lse


def main():
    B, T, V, rounds, threads = (int(a) for a in sys.argv[1:6])
    torch.set_num_threads(threads)
    g = torch.Generator().manual_seed(0)
    logits = (torch.rand(B, T, V, generator=g) * 8 - 4).requires_grad_(True)
    tokens = torch.randint(0, V, (B, T), generator=g)
    with torch.no_grad():
        lp0 = selective_log_softmax(logits, tokens)
    old = lp0 + 0.05 * (torch.rand(B, T, generator=g) * 2 - 1)
    ref = lp0 + 0.05 * (torch.rand(B, T, generator=g) * 2 - 1)
    adv = torch.rand(B, generator=g) * 2 - 1
    mask = torch.ones(B, T)
    eps, beta = 0.2, 0.001
    base = peak_mb()
    best = float("inf")
    for _ in range(rounds):
        logits.grad = None
        t0 = time.perf_counter()
        logp = selective_log_softmax(logits, tokens)
        ratio = torch.exp(logp - old)
        a = adv.unsqueeze(1)
        pg = -torch.min(ratio * a, torch.clamp(ratio, 1 - eps, 1 + eps) * a)
        kl = torch.exp(ref - logp) - (ref - logp) - 1
        per_token = pg + beta * kl
        loss = ((per_token * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)).mean()
        loss.backward()
        best = min(best, time.perf_counter() - t0)
    print("torch %d thread%s     B=%d T=%d V=%d  %10.0f tokens/s  %8.1f ms  peak +%.0f MB  (torch %s)"
          % (threads, "" if threads == 1 else "s", B, T, V, B * T / best, best * 1e3, peak_mb() - base,
             torch.__version__))


if __name__ == "__main__":
    main()

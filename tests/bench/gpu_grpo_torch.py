"""gpu_grpo_torch.py -- the reference of bench/gpu_grpo.sh: PyTorch eager on
the GPU doing what gpu_grpo_bench does, in the same shapes.

    python3 gpu_grpo_torch.py B T V ROUNDS

Per call, from logits [B*T, V] (requires_grad, uniform in [-4, 4) as the C
program makes them): log_softmax + gather of the taken tokens, the ratio
to old_logp, the clipped surrogate (epsilon 0.2), the k3 KL to ref_logp
times beta = 0.001, the grpo aggregation (token mean per sequence, then
mean over sequences), then backward, which fills logits.grad [B*T, V].
Variants: fp32 token-level; fp32 sequence-level (GSPO's ratio); bf16
logits (upcast to fp32 for the log-softmax, as TRL does; gradient in
bf16). Timed with CUDA events, best of ROUNDS after one warm-up; peak
memory is torch.cuda.max_memory_allocated over the calls, inputs included
(the same basis as rlvr's allocation high-water mark).
"""
import sys

import torch


def grpo_loss(logits, tokens, old, ref, adv, B, T, sequence_level):
    logp = torch.log_softmax(logits.float(), dim=-1).gather(-1, tokens.unsqueeze(-1)).squeeze(-1).view(B, T)
    log_ratio = logp - old
    if sequence_level:
        log_ratio = log_ratio.mean(-1, keepdim=True)
    ratio = torch.exp(log_ratio)
    a = adv.unsqueeze(1)
    pg = -torch.min(ratio * a, torch.clamp(ratio, 0.8, 1.2) * a)
    d = ref - logp
    kl = torch.exp(d) - d - 1
    per_token = pg + 0.001 * kl
    return per_token.mean(-1).mean()


def main():
    B, T, V, rounds = (int(a) for a in sys.argv[1:5])
    if not torch.cuda.is_available():
        print("torch: no CUDA device: nothing measured")
        return
    dev = torch.device("cuda")
    name = torch.cuda.get_device_name(dev)
    print("# torch %s on %s" % (torch.__version__, name))
    g = torch.Generator(device=dev).manual_seed(0)
    for label, dtype, seq in (("fp32 token", torch.float32, False), ("fp32 gspo", torch.float32, True),
                              ("bf16 token", torch.bfloat16, False)):
        torch.cuda.empty_cache()
        logits = (torch.rand(B * T, V, generator=g, device=dev) * 8 - 4).to(dtype).requires_grad_(True)
        tokens = torch.randint(0, V, (B * T,), generator=g, device=dev)
        with torch.no_grad():
            lp0 = torch.log_softmax(logits.float(), -1).gather(-1, tokens.unsqueeze(-1)).squeeze(-1).view(B, T)
        old = lp0 + 0.05 * (torch.rand(B, T, generator=g, device=dev) * 2 - 1)
        ref = old + 0.05 * (torch.rand(B, T, generator=g, device=dev) * 2 - 1)
        adv = torch.rand(B, generator=g, device=dev) * 2 - 1
        del lp0
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        best = float("inf")
        for r in range(rounds + 1):
            logits.grad = None
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            loss = grpo_loss(logits, tokens, old, ref, adv, B, T, seq)
            loss.backward()
            end.record()
            torch.cuda.synchronize()
            if r:
                best = min(best, start.elapsed_time(end) / 1e3)
        peak = torch.cuda.max_memory_allocated() / 1048576.0
        print("torch %-13s B=%d T=%d V=%d  %8.3f ms  %10.0f tokens/s  peak %8.0f MiB  (loss %.6g)"
              % (label, B, T, V, best * 1e3, B * T / best, peak, loss.item()))
        del logits, tokens, old, ref, adv, loss


if __name__ == "__main__":
    main()

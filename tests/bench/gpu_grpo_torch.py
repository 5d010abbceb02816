"""gpu_grpo_torch.py -- the reference of bench/gpu_grpo.sh: PyTorch eager on
the GPU doing what gpu_grpo_bench does, in the same shapes.

    python3 gpu_grpo_torch.py B T V ROUNDS [D]

Per call, from logits [B*T, V] (requires_grad, uniform in [-4, 4) as the C
program makes them): log_softmax + gather of the taken tokens, the ratio
to old_logp, the clipped surrogate (epsilon 0.2), the k3 KL to ref_logp
times beta = 0.001, the grpo aggregation (token mean per sequence, then
mean over sequences), then backward, which fills logits.grad [B*T, V].
Variants: fp32 token-level; fp32 sequence-level (GSPO's ratio); bf16
logits (upcast to fp32 for the log-softmax, as TRL does; gradient in
bf16). Then the loss with the LM head (gpu_grpo_bench's "linear" rows):
from h [B*T, D] (uniform in [-1, 1)) and W [V, D] (uniform in
[-6/sqrt(D), 6/sqrt(D))), both requiring grad, logits = h @ W.T, the same
loss, backward to h and W; fp32 with TF32 off (torch's default for
matmul, set explicitly), GSPO, and bf16 h and W (bf16 logits, upcast for
the loss). Timed with CUDA events, best of ROUNDS after one warm-up; peak
memory is torch.cuda.max_memory_allocated over the calls, inputs included
(the same basis as rlvr's allocation high-water mark). TFLOP/s counts the
products' flops as rlvr's rows do (6 B*T*V*D; 8 in GSPO, for rlvr's second
sweep, which torch, holding all the logits, does not need: torch's GSPO
figure is of that same count, not of its own 6).
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


# Dense fp32 (no tensor cores) and bf16 (tensor cores) peaks, as gpu_grpo_bench.c's table.
PEAKS = (("H200", "H200", 67e12, 989e12), ("H100 NVL", "H100 NVL", 60e12, 835e12),
         ("H100 PCIe", "H100 PCIe", 51e12, 756e12), ("H100", "H100 SXM", 67e12, 989e12),
         ("A100-SXM4-80GB", "A100 SXM 80GB", 19.5e12, 312e12), ("A100", "A100 40GB", 19.5e12, 312e12))


def linear_cases(B, T, V, D, rounds, dev, name):
    peak = next((p for p in PEAKS if p[0] in name), None)
    torch.backends.cuda.matmul.allow_tf32 = False
    g = torch.Generator(device=dev).manual_seed(1)
    for label, dtype, seq in (("linear fp32 token", torch.float32, False), ("linear fp32 gspo", torch.float32, True),
                              ("linear bf16 token", torch.bfloat16, False)):
        torch.cuda.empty_cache()
        a = 6.0 / D ** 0.5
        h = (torch.rand(B * T, D, generator=g, device=dev) * 2 - 1).to(dtype).requires_grad_(True)
        W = ((torch.rand(V, D, generator=g, device=dev) * 2 - 1) * a).to(dtype).requires_grad_(True)
        tokens = torch.randint(0, V, (B * T,), generator=g, device=dev)
        with torch.no_grad():
            lp0 = torch.log_softmax((h @ W.T).float(), -1).gather(-1, tokens.unsqueeze(-1)).squeeze(-1).view(B, T)
        old = lp0 + 0.05 * (torch.rand(B, T, generator=g, device=dev) * 2 - 1)
        ref = old + 0.05 * (torch.rand(B, T, generator=g, device=dev) * 2 - 1)
        adv = torch.rand(B, generator=g, device=dev) * 2 - 1
        del lp0
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        best = float("inf")
        for r in range(rounds + 1):
            h.grad = None
            W.grad = None
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            loss = grpo_loss(h @ W.T, tokens, old, ref, adv, B, T, seq)
            loss.backward()
            end.record()
            torch.cuda.synchronize()
            if r:
                best = min(best, start.elapsed_time(end) / 1e3)
        mem = torch.cuda.max_memory_allocated() / 1048576.0
        flops = (8.0 if seq else 6.0) * B * T * V * D
        share = ""
        if peak:
            p = peak[3] if dtype == torch.bfloat16 else peak[2]
            share = " = %4.1f%% of %s %s (%.0f TFLOP/s)" % (100.0 * flops / best / p, peak[1],
                                                            "bf16" if dtype == torch.bfloat16 else "fp32", p / 1e12)
        print("torch %-18s B=%d T=%d V=%d D=%d  %8.3f ms  %10.0f tokens/s  %6.1f TFLOP/s%s  peak %8.0f MiB  (loss %.6g)"
              % (label, B, T, V, D, best * 1e3, B * T / best, flops / best / 1e12, share, mem, loss.item()))
        del h, W, tokens, old, ref, adv, loss


def main():
    B, T, V, rounds = (int(a) for a in sys.argv[1:5])
    D = int(sys.argv[5]) if len(sys.argv) > 5 else 896
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
    linear_cases(B, T, V, D, rounds, dev, name)


if __name__ == "__main__":
    main()

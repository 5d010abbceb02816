#!/usr/bin/env python3
"""gpu_model_torch.py -- the reference for bench/gpu_model_bench.c: the same
operations with the same shapes in PyTorch on the GPU, timed the same way
(a warm-up, then the mean over repetitions, synchronised).

    gpu_model_torch.py kernels
    gpu_model_torch.py step B T STEPS fp32|bf16

kernels: RMSNorm forward and backward, RoPE, SwiGLU forward and backward,
the residual add, causal GQA attention (scaled_dot_product_attention)
forward and backward, the cross-entropy forward and backward over the
vocabulary, each as eager PyTorch writes it. step: a Qwen2.5-0.5B-shaped
model (random weights, fp32 master weights; bf16 runs the linear layers under
torch.autocast) doing forward, cross-entropy, backward, clip_grad_norm_ and a
torch.optim.AdamW step. Peak memory is torch.cuda.max_memory_allocated. The
model is our own compact module written from the same definition as rlvr's.
"""
import sys
import time

import torch
import torch.nn.functional as Fn

V, D, F, L, HQ, HK, HD, THETA = 151936, 896, 4864, 24, 14, 2, 64, 1e6


def timed(name, fn, nbytes=0, flops=0, reps=20, peak=None):
    fn()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    torch.cuda.synchronize()
    ms = (time.perf_counter() - t0) / reps * 1e3
    if flops:
        print(f"torch   {name:<28s} {ms:9.3f} ms  {flops / ms * 1e-9:8.1f} TFLOP/s  "
              f"{100 * flops / (ms * 1e-3) / peak['fp32']:5.1f}% of fp32 peak")
    else:
        print(f"torch   {name:<28s} {ms:9.3f} ms  {nbytes / ms * 1e-6:8.1f} GB/s     "
              f"{100 * nbytes / (ms * 1e-3) / peak['bw']:5.1f}% of HBM peak")


def device_peak():
    name = torch.cuda.get_device_name()
    if "H200" in name:
        return dict(bw=4.8e12, bf16=989e12, fp32=67e12)
    if "H100" in name and "PCIe" in name:
        return dict(bw=2.0e12, bf16=756e12, fp32=51e12)
    return dict(bw=3.35e12, bf16=989e12, fp32=67e12)


def rms(x, w):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * w


def rope_tables(T):
    inv = 1.0 / (THETA ** (torch.arange(0, HD, 2, device="cuda").float() / HD))
    ang = torch.arange(T, device="cuda").float()[:, None] * inv[None, :]
    emb = torch.cat((ang, ang), -1)
    return emb.cos(), emb.sin()


def rope(x, cos, sin):  # x [B, H, T, hd]
    h = x.shape[-1] // 2
    rot = torch.cat((-x[..., h:], x[..., :h]), -1)
    return x * cos + rot * sin


def kernels():
    pk = device_peak()
    N, B, T = 2048, 4, 512
    dev = "cuda"
    x = torch.randn(N, D, device=dev, requires_grad=True)
    w = torch.randn(D, device=dev, requires_grad=True)
    y = rms(x, w)
    dy = torch.randn_like(y)
    timed("rmsnorm forward [2048,896]", lambda: rms(x, w), 2 * N * D * 4, peak=pk)
    timed("rmsnorm backward", lambda: torch.autograd.grad(y, (x, w), dy, retain_graph=True), 4 * N * D * 4, peak=pk)
    cos, sin = rope_tables(T)
    q = torch.randn(B, HQ, T, HD, device=dev)
    timed("rope q [2048,14,64]", lambda: rope(q, cos, sin), 2 * N * HQ * HD * 4, peak=pk)
    g = (4 * torch.randn(N, F, device=dev)).requires_grad_()
    u = torch.randn(N, F, device=dev, requires_grad=True)
    h = Fn.silu(g) * u
    dh = torch.randn_like(h)
    timed("swiglu forward [2048,4864]", lambda: Fn.silu(g) * u, 3 * N * F * 4, peak=pk)
    timed("swiglu backward", lambda: torch.autograd.grad(h, (g, u), dh, retain_graph=True), 5 * N * F * 4, peak=pk)
    a, b = torch.randn(N, D, device=dev), torch.randn(N, D, device=dev)
    timed("residual add [2048,896]", lambda: a.add_(b), 3 * N * D * 4, peak=pk)
    q = torch.randn(B, HQ, T, HD, device=dev, requires_grad=True)
    k = torch.randn(B, HK, T, HD, device=dev, requires_grad=True)
    v = torch.randn(B, HK, T, HD, device=dev, requires_grad=True)

    def attn():
        kk = k.repeat_interleave(HQ // HK, 1)
        vv = v.repeat_interleave(HQ // HK, 1)
        return Fn.scaled_dot_product_attention(q, kk, vv, is_causal=True)

    af = 4.0 * B * HQ * T * T * HD
    o = attn()
    do = torch.randn_like(o)
    timed("attention forward 4x512 14/2", attn, flops=af, peak=pk)
    timed("attention backward", lambda: torch.autograd.grad(o, (q, k, v), do, retain_graph=True), flops=2.5 * af, peak=pk)
    del q, k, v, o, do
    logits = (8 * torch.rand(N, V, device=dev) - 4).requires_grad_()
    tg = torch.randint(0, V, (N,), device=dev)

    def ce():
        loss = Fn.cross_entropy(logits, tg)
        loss.backward()
        logits.grad = None

    timed("cross-entropy [2048,151936]", ce, 3 * N * V * 4, peak=pk)


class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Parameter(torch.randn(V, D) * 0.02)
        self.layers = torch.nn.ModuleList()
        for _ in range(L):
            m = torch.nn.Module()
            m.ln1 = torch.nn.Parameter(torch.ones(D))
            m.q = torch.nn.Linear(D, HQ * HD)
            m.k = torch.nn.Linear(D, HK * HD)
            m.v = torch.nn.Linear(D, HK * HD)
            m.o = torch.nn.Linear(HQ * HD, D, bias=False)
            m.ln2 = torch.nn.Parameter(torch.ones(D))
            m.g = torch.nn.Linear(D, F, bias=False)
            m.u = torch.nn.Linear(D, F, bias=False)
            m.d = torch.nn.Linear(F, D, bias=False)
            for p in (m.q.weight, m.k.weight, m.v.weight, m.o.weight, m.g.weight, m.u.weight, m.d.weight):
                torch.nn.init.normal_(p, std=0.02)
            self.layers.append(m)
        self.norm = torch.nn.Parameter(torch.ones(D))

    def forward(self, tok, cos, sin):
        B, T = tok.shape
        x = self.embed[tok]
        for m in self.layers:
            h = rms(x, m.ln1)
            q = m.q(h).view(B, T, HQ, HD).transpose(1, 2)
            k = m.k(h).view(B, T, HK, HD).transpose(1, 2)
            v = m.v(h).view(B, T, HK, HD).transpose(1, 2)
            q, k = rope(q, cos, sin), rope(k, cos, sin)
            k, v = k.repeat_interleave(HQ // HK, 1), v.repeat_interleave(HQ // HK, 1)
            a = Fn.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + m.o(a.transpose(1, 2).reshape(B, T, HQ * HD))
            h = rms(x, m.ln2)
            x = x + m.d(Fn.silu(m.g(h)) * m.u(h))
        x = rms(x, self.norm)
        return x @ self.embed.t()  # tied head


def step(B, T, steps, prec):
    pk = device_peak()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    model = Model().cuda()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5, weight_decay=0.0)
    n_params = sum(p.numel() for p in model.parameters())
    tok = torch.randint(0, V, (B, T), device="cuda")
    tg = tok.roll(-1, 1)
    cos, sin = rope_tables(T)
    torch.cuda.reset_peak_memory_stats()

    def one():
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=prec == "bf16"):
            logits = model(tok, cos, sin)
        loss = Fn.cross_entropy(logits.float().view(-1, V), tg.view(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss

    one()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        loss = one()
    torch.cuda.synchronize()
    ms = (time.perf_counter() - t0) / steps * 1e3
    N = B * T
    mfu = 100 * 6.0 * n_params * N / (ms * 1e-3) / (pk["bf16"] if prec == "bf16" else pk["fp32"])
    print(f"torch   step {prec} B {B} T {T}: {ms:8.1f} ms/step  {N / (ms * 1e-3):8.0f} tokens/s  MFU {mfu:5.1f}% "
          f"(of {prec} peak)  peak memory {torch.cuda.max_memory_allocated() / 1e9:.2f} GB  loss {loss.item():.4f}")


if __name__ == "__main__":
    if not torch.cuda.is_available():
        print("torch   no GPU")
        sys.exit(0)
    if sys.argv[1] == "kernels":
        kernels()
    else:
        step(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])

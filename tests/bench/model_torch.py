#!/usr/bin/env python3
"""model_torch.py -- the reference for bench/model_bench.c: the same
Qwen2-shaped model in torch on the CPU (float32), doing the same jobs.

    model_torch.py train    tiny|qwen0.5b B T STEPS THREADS
    model_torch.py generate tiny|qwen0.5b PROMPT SAMPLES NEW THREADS

train: forward, cross-entropy (log_softmax + gather, as rlvr), backward,
torch.optim.AdamW step; the first step is a warm-up. generate: the prompt is
prefilled once per sample batch, then SAMPLES sequences decode together with
a KV cache, sampling with temperature 1. Peak memory is the process's
maximum resident set. The model is our own compact torch module written
from the same definition as rlvr's (no transformers package needed).
"""
import resource
import sys
import time

import torch
import torch.nn.functional as Fn

SHAPES = {
    "tiny": dict(V=264, D=64, F=176, L=2, HQ=4, HK=2, HD=16, theta=10000.0),
    "qwen0.5b": dict(V=151936, D=896, F=4864, L=24, HQ=14, HK=2, HD=64, theta=1e6),
}


class Model(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        D, F, V, QD, KD = c["D"], c["F"], c["V"], c["HQ"] * c["HD"], c["HK"] * c["HD"]
        self.embed = torch.nn.Embedding(V, D)
        self.layers = torch.nn.ModuleList()
        for _ in range(c["L"]):
            layer = torch.nn.Module()
            layer.ln1 = torch.nn.Parameter(torch.ones(D))
            layer.q = torch.nn.Linear(D, QD)
            layer.k = torch.nn.Linear(D, KD)
            layer.v = torch.nn.Linear(D, KD)
            layer.o = torch.nn.Linear(QD, D, bias=False)
            layer.ln2 = torch.nn.Parameter(torch.ones(D))
            layer.g = torch.nn.Linear(D, F, bias=False)
            layer.u = torch.nn.Linear(D, F, bias=False)
            layer.d = torch.nn.Linear(F, D, bias=False)
            self.layers.append(layer)
        self.norm = torch.nn.Parameter(torch.ones(D))
        for p in self.parameters():
            if p.dim() == 2:
                torch.nn.init.normal_(p, std=0.02)
        inv = 1.0 / (c["theta"] ** (torch.arange(0, c["HD"], 2).float() / c["HD"]))
        self.register_buffer("inv_freq", inv)

    @staticmethod
    def rms(x, w):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * w

    def rope(self, x, pos):
        ang = pos[:, None].float() * self.inv_freq[None, :]
        emb = torch.cat((ang, ang), -1)
        h = x.shape[-1] // 2
        rot = torch.cat((-x[..., h:], x[..., :h]), -1)
        return x * emb.cos() + rot * emb.sin()

    def forward(self, tokens, cache=None, start=0):
        c = self.c
        B, T = tokens.shape
        x = self.embed(tokens)
        pos = torch.arange(start, start + T)
        for i, l in enumerate(self.layers):
            h = self.rms(x, l.ln1)
            q = l.q(h).view(B, T, c["HQ"], c["HD"]).transpose(1, 2)
            k = l.k(h).view(B, T, c["HK"], c["HD"]).transpose(1, 2)
            v = l.v(h).view(B, T, c["HK"], c["HD"]).transpose(1, 2)
            q, k = self.rope(q, pos), self.rope(k, pos)
            if cache is not None:
                if i in cache:
                    k = torch.cat((cache[i][0], k), 2)
                    v = torch.cat((cache[i][1], v), 2)
                cache[i] = (k, v)
            rep = c["HQ"] // c["HK"]
            k, v = k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1)
            S = k.shape[2]
            s = q @ k.transpose(-1, -2) / c["HD"] ** 0.5
            if T > 1:
                mask = torch.full((T, S), float("-inf")).triu(S - T + 1)
                s = s + mask
            o = torch.softmax(s, -1) @ v
            x = x + l.o(o.transpose(1, 2).reshape(B, T, -1))
            h = self.rms(x, l.ln2)
            x = x + l.d(Fn.silu(l.g(h)) * l.u(h))
        return self.rms(x, self.norm) @ self.embed.weight.T


def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main():
    mode, shape, a, b, k, threads = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:7])
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    model = Model(SHAPES[shape])
    V = SHAPES[shape]["V"]
    if mode == "train":
        B, T, steps = a, b, k
        opt = torch.optim.AdamW(model.parameters(), lr=1e-5, weight_decay=0.0)
        tok = torch.randint(0, V, (B, T))
        target = torch.roll(tok.flatten(), -1).view(B, T)
        for step in range(steps + 1):
            if step == 1:
                t0 = time.perf_counter()
            opt.zero_grad(set_to_none=False)
            logits = model(tok)
            logp = torch.log_softmax(logits.float(), -1).gather(-1, target.unsqueeze(-1)).squeeze(-1)
            loss = -logp.mean()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
        dt = time.perf_counter() - t0
        print("torch train    %-9s B=%d T=%d: %9.1f tokens/s  %8.1f ms/step  peak %7.0f MB  (%d threads)"
              % (shape, B, T, B * T * steps / dt, dt / steps * 1e3, peak_mb(), threads))
        return
    P, G, M = a, b, k
    prompt = torch.tensor([[(i * 7919 + 13) % V for i in range(P)]])
    with torch.no_grad():
        t0 = time.perf_counter()
        cache = {}
        logits = model(prompt, cache, 0)[:, -1]
        for i in cache:
            cache[i] = (cache[i][0].expand(G, -1, -1, -1).contiguous(), cache[i][1].expand(G, -1, -1, -1).contiguous())
        tok = torch.multinomial(torch.softmax(logits.expand(G, -1), -1), 1)
        t1 = time.perf_counter()
        for n in range(1, M):
            logits = model(tok, cache, P + n - 1)[:, -1]
            tok = torch.multinomial(torch.softmax(logits, -1), 1)
        t2 = time.perf_counter()
    print("torch generate %-9s prompt %d, %d x %d new: prefill %9.1f tokens/s, decode %9.1f tokens/s  "
          "peak %7.0f MB  (%d threads)" % (shape, P, G, M, P / (t1 - t0), G * (M - 1) / (t2 - t1), peak_mb(), threads))


if __name__ == "__main__":
    main()

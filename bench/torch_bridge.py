#!/usr/bin/python3
"""torch_bridge: the overhead of hessblock.torch outside torch's own HVPs in an SLQ run.

Run by hand (never a meson test; CI has no torch):

    nice /usr/bin/python3 bench/torch_bridge.py [--probes 2] [--steps 10] [--dtype f64|f32]
                                                [--threads 1] [--device cpu|cuda]

Without torch it prints "skipped: torch not installed" and exits 0. The library is found as
the bindings find it (docs/python.md).

The model is gpt-ref's size as a torch.nn.Module (vocab 65, context 64, width 128, 4 heads,
2 pre-LN layers, batch 16; nanoGPT-style, separate q/k/v/o projections), one batch of
random tokens. One full-Hessian SLQ run (hb_slq_run_model: `probes` × `steps` HVPs
through the callback) is timed, wall clock and process CPU, split into:
  torch   time inside the bridge's torch HVP (_Bridge.hvp_t: forward, double backward)
  bridge  the rest of each callback: θ comparison, v numpy→torch, H·v torch→numpy f64,
          the ctypes trampoline's copy (the overhead this script measures; target ≤ 10 %)
  library everything outside the callbacks: Lanczos with full reorthogonalisation, the
          tridiagonal eigenproblems, probe generation.
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bindings", "python"))

try:
    import torch
except ImportError:
    print("skipped: torch not installed")
    sys.exit(0)

import numpy as np

import hessblock as hb
import hessblock.torch as hbt

V, T, C, H, L, N = 65, 64, 128, 4, 2, 16
F = torch.nn.functional


class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.ln_1, self.ln_2 = torch.nn.LayerNorm(C), torch.nn.LayerNorm(C)
        self.wq, self.wk, self.wv, self.wo = (torch.nn.Linear(C, C) for _ in range(4))
        self.c_fc, self.c_proj = torch.nn.Linear(C, 4 * C), torch.nn.Linear(4 * C, C)

    def forward(self, x):
        n, t, _ = x.shape
        a = self.ln_1(x)
        q, k, v = (w(a).view(n, t, H, C // H).transpose(1, 2) for w in (self.wq, self.wk, self.wv))
        s = (q @ k.transpose(-2, -1)) / (C // H) ** 0.5
        s = s.masked_fill(torch.ones(t, t, dtype=torch.bool, device=x.device).triu(1), float("-inf"))
        x = x + self.wo((s.softmax(-1) @ v).transpose(1, 2).reshape(n, t, C))
        return x + self.c_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class GPT(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.wte, self.wpe = torch.nn.Embedding(V, C), torch.nn.Embedding(T, C)
        self.h = torch.nn.ModuleList(Block() for _ in range(L))
        self.ln_f = torch.nn.LayerNorm(C)
        self.lm_head = torch.nn.Linear(C, V, bias=False)

    def forward(self, idx):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1], device=idx.device))
        for b in self.h:
            x = b(x)
        return self.lm_head(self.ln_f(x)).reshape(-1, V)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--probes", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--dtype", default="f64", choices=["f64", "f32"])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    dev = torch.device(args.device)
    net = GPT().to(dev, torch.float64 if args.dtype == "f64" else torch.float32)
    g = torch.Generator().manual_seed(1)
    seq = torch.randint(0, V, (N, T + 1), generator=g)
    batch = (seq[:, :-1], seq[:, 1:].reshape(-1))

    # time accounting: wrap the torch HVP and the whole numpy callback
    acc = {"torch": [0.0, 0.0], "callback": [0.0, 0.0]}
    depth = {"torch": 0, "callback": 0}   # nested calls (the batched 'loop' calls hvp_t) count once
    directions = [0]

    def timed(key, fn):
        def wrapper(*a):
            depth[key] += 1
            w0, c0 = time.perf_counter(), time.process_time()
            try:
                out = fn(*a)
                if dev.type == "cuda":
                    torch.cuda.synchronize()
                return out
            finally:
                depth[key] -= 1
                if depth[key] == 0:
                    acc[key][0] += time.perf_counter() - w0
                    acc[key][1] += time.process_time() - c0
        return wrapper

    def counted(fn, k_of):
        def wrapper(self, *a):
            directions[0] += k_of(a)
            return fn(self, *a)
        return wrapper

    # the library reaches torch through hvp (one direction) and, since issue 14.3, through
    # hvp_multi (a probe block's k directions in one batched call): both are timed
    hbt._Bridge.hvp_t = timed("torch", hbt._Bridge.hvp_t)
    hbt._Bridge.hvp_batched_t = timed("torch", hbt._Bridge.hvp_batched_t)
    hbt._Bridge.np_hvp = timed("callback", counted(hbt._Bridge.np_hvp, lambda a: 1))
    hbt._Bridge.np_hvp_multi = timed("callback", counted(hbt._Bridge.np_hvp_multi,
                                                         lambda a: len(a[1])))

    with hb.Context(seed=0, threads=args.threads) as ctx:
        m = hbt.Model(net, F.cross_entropy, [batch], ctx=ctx)
        print("torch %s, %s on %s, n = %d, %d blocks, batch %d x %d, threads %d" % (
            torch.__version__, args.dtype, dev, m.n, m.params.num_blocks, N, T, args.threads))
        m.hvp(np.ones(m.n))                        # warm-up (allocator, first graph)
        for k in acc:
            acc[k] = [0.0, 0.0]
        directions[0] = 0
        with hb.SLQ(ctx, probes=args.probes, steps=args.steps) as s:
            w0, c0 = time.perf_counter(), time.process_time()
            s.run(m)
            wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        calls = directions[0]
    tw, tc = acc["torch"]
    bw, bc = acc["callback"][0] - tw, acc["callback"][1] - tc
    lw, lc = wall - acc["callback"][0], cpu - acc["callback"][1]
    print("SLQ run: %d probes x %d steps = %d HVPs; wall %.3f s, CPU %.3f s" % (
        args.probes, args.steps, calls, wall, cpu))
    print("%-8s %10s %7s %10s %7s" % ("part", "wall s", "wall %", "CPU s", "CPU %"))
    for name, w, c in (("torch", tw, tc), ("bridge", bw, bc), ("library", lw, lc)):
        print("%-8s %10.3f %6.1f%% %10.3f %6.1f%%" % (name, w, 100 * w / wall, c, 100 * c / cpu))
    print("bridge overhead per HVP: %.2f ms wall (%.2f%% of the run; target <= 10%%)" % (
        1e3 * bw / max(calls, 1), 100 * bw / wall))
    return 0


if __name__ == "__main__":
    sys.exit(main())

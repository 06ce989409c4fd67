#!/usr/bin/python3
"""torch_compare: libhessblock's gpt-ref against PyTorch on this machine, in one process.

Run by hand (never a meson test; CI does not need torch):

    nice /usr/bin/python3 bench/torch_compare.py [--reps R] [--reps-batched R2] [--threads 1,2]
                                                 [--k K] [--dtype f32|f64|both]

Without torch it prints "skipped: torch not installed" and exits 0. The library is found as
the bindings find it (docs/python.md: $HESSBLOCK_LIBRARY, else <repo>/build/lib).

What it does, for every thread count n (each n in its own child process, because BLIS's
BLAS layer under torch reads its thread count from BLIS_NUM_THREADS / OMP_NUM_THREADS once
per process; the child sets both to n, calls torch.set_num_threads(n) and gives our
context n threads):

1. Builds gpt-ref (hb.Model(ctx, "gpt") defaults: vocab 65, context 64, width 128, 4 heads,
   2 layers, batch 16) and the same network in PyTorch as a function of ONE flat parameter
   vector in our layout (docs/models.md "## gpt", lib/models/gpt.c): pre-LN, LayerNorm
   eps 1e-5, biases on every linear layer of a block, causal softmax(q·kᵀ/√d), GELU tanh
   form, untied lm_head without bias, loss = mean cross-entropy over all N·T positions.
   θ is copied from model.params.data.
2. The batch is the model's own synthetic micro-batch (the one made at creation: stream
   0, first 0), regenerated here from the library's RNG through the bindings
   (ctx.random on the same counters, docs/models.md "Synthetic data") and checked to be
   the same batch: hb loss and gradient after set_batch(regenerated) must equal the
   creation-time ones bit for bit.
3. Cross-check in f64: loss, gradient, one HVP (torch double backward), and hvp_multi
   against torch's batched double backward (autograd.grad(..., is_grads_batched=True))
   when that works in this torch.
4. Timing, f32 and f64: per repetition, each case is timed for both libraries back to back
   (which goes first alternates between repetitions), after 2 warm-up calls of each; the
   medians over R repetitions (R2 for the batched HVPs; wall clock, and process CPU time) are printed with the
   spread (min–max) and the ratio ours / torch. Cases: gradient (loss + full gradient),
   one HVP, k HVPs at once (ours: hvp_multi; torch: batched double backward, if
   available), and the reference measured in the same run: one product of the model's
   widest shape (1024 × 128)·(128 × 512) through BLIS (bli_?gemm of the libblis our
   library links, threads = n) and through torch.matmul.
"""
import argparse
import ctypes
import math
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def child_env(n):
    env = dict(os.environ)
    env["BLIS_NUM_THREADS"] = str(n)
    env["OMP_NUM_THREADS"] = str(n)
    return env


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=9, help="timed repetitions (median; default 9)")
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    ap.add_argument("--k", type=int, default=10, help="directions for the batched HVP (default 10)")
    ap.add_argument("--reps-batched", type=int, default=5,
                    help="repetitions of the (slow) batched-HVP case (default 5)")
    ap.add_argument("--dtype", default="both", choices=["f32", "f64", "both"])
    ap.add_argument("--child", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    try:
        import torch  # noqa: F401
    except ImportError:
        print("skipped: torch not installed")
        return 0
    if args.child:
        return run(args, args.child)
    print("uptime:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    rc = 0
    for n in [int(s) for s in args.threads.split(",")]:
        cmd = [sys.executable, os.path.abspath(__file__), "--child", str(n), "--reps",
               str(args.reps), "--reps-batched", str(args.reps_batched), "--k", str(args.k), "--dtype", args.dtype]
        sys.stdout.flush()
        rc |= subprocess.call(cmd, env=child_env(n))
    print("uptime:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    return rc


# ---------------------------------------------------------------------------- the model

def import_hessblock():
    try:
        import hessblock as hb
    except ImportError:
        sys.path.insert(0, os.path.join(REPO, "bindings", "python"))
        import hessblock as hb
    return hb


GRAMMAR_STREAM = 0x4750545F47524D52  # lib/models/gpt.c
SUCCESSORS, COPY_LAG, COPY_PROB = 4, 8, 0.125


def synthetic_batch(ctx, N, T, V, stream=0, first=0):
    """lib/models/gpt.c next_token(), on the library's own RNG (hb_random_fill_f64 gives
    u = hb__uniform01(ctx seed, stream, counter) for U[0, 1)); the grammar uses the
    context seed as well (grammar_seed = ctx seed at creation)."""
    import numpy as np
    gram = ctx.random(V * SUCCESSORS, "uniform", 0.0, 1.0, stream=GRAMMAR_STREAM, first=0)
    u = ctx.random((first + N) * (T + 1) * 2, "uniform", 0.0, 1.0, stream=stream, first=0)
    total = 0.0
    for i in range(SUCCESSORS):
        total += 1.0 / (i + 1)
    x = np.empty((N, T), np.int32)
    y = np.empty((N, T), np.int32)
    for s in range(N):
        sample = first + s
        seq = []
        for t in range(T + 1):
            ctr = (sample * (T + 1) + t) * 2
            u1, u2 = float(u[ctr]), float(u[ctr + 1])
            if t == 0:
                tok = int(u1 * float(V))
            elif t >= COPY_LAG and u1 < COPY_PROB:
                tok = seq[t - COPY_LAG]
            else:
                acc, target, pick = 0.0, u2 * total, SUCCESSORS - 1
                for i in range(SUCCESSORS):
                    acc += 1.0 / (i + 1)
                    if target < acc:
                        pick = i
                        break
                tok = int(float(gram[seq[t - 1] * SUCCESSORS + pick]) * float(V))
            seq.append(tok)
        x[s] = seq[:T]
        y[s] = seq[1:]
    return x, y


def torch_gpt(torch, blocks, V, T, C, H, L):
    """loss(theta, idx, tgt) for a flat theta in our layout (blocks: BlockInfo list)."""
    F = torch.nn.functional
    names = [b.name for b in blocks]
    sizes = [b.numel for b in blocks]
    shapes = [tuple(b.shape) for b in blocks]
    d = C // H
    mask = torch.ones(T, T, dtype=torch.bool).triu(1)  # True above the diagonal: future

    def loss(theta, idx, tgt):
        P = {nm: p.view(sh) for nm, p, sh in zip(names, torch.split(theta, sizes), shapes)}
        N = idx.shape[0]
        x = P["wte"][idx] + P["wpe"][:T]
        for i in range(L):
            h = "h.%d." % i
            a = F.layer_norm(x, (C,), P[h + "ln_1.weight"], P[h + "ln_1.bias"], 1e-5)
            q = F.linear(a, P[h + "attn.wq"], P[h + "attn.wq.bias"]).view(N, T, H, d).transpose(1, 2)
            k = F.linear(a, P[h + "attn.wk"], P[h + "attn.wk.bias"]).view(N, T, H, d).transpose(1, 2)
            v = F.linear(a, P[h + "attn.wv"], P[h + "attn.wv.bias"]).view(N, T, H, d).transpose(1, 2)
            s = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(d))
            s = s.masked_fill(mask, float("-inf"))
            y = (torch.softmax(s, dim=-1) @ v).transpose(1, 2).reshape(N, T, C)
            x = x + F.linear(y, P[h + "attn.wo"], P[h + "attn.wo.bias"])
            b = F.layer_norm(x, (C,), P[h + "ln_2.weight"], P[h + "ln_2.bias"], 1e-5)
            f = F.gelu(F.linear(b, P[h + "mlp.c_fc"], P[h + "mlp.c_fc.bias"]), approximate="tanh")
            x = x + F.linear(f, P[h + "mlp.c_proj"], P[h + "mlp.c_proj.bias"])
        x = F.layer_norm(x, (C,), P["ln_f.weight"], P["ln_f.bias"], 1e-5)
        z = F.linear(x, P["lm_head"])
        return F.cross_entropy(z.reshape(N * T, V), tgt.reshape(N * T))

    return loss


# ---------------------------------------------------------------------------- timing

def clocks():
    return time.perf_counter(), time.process_time()


def timed(fn):
    w0, c0 = clocks()
    fn()
    w1, c1 = clocks()
    return (w1 - w0) * 1e3, (c1 - c0) * 1e3


def rel(a, b):
    import numpy as np
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


def run(args, n):
    import numpy as np
    import torch
    hb = import_hessblock()
    torch.set_num_threads(n)
    print("\n=== threads n = %d (torch %s, get_num_threads %d; hb library %s; BLIS_NUM_THREADS=%s)"
          % (n, torch.__version__, torch.get_num_threads(), hb.library_path(),
             os.environ.get("BLIS_NUM_THREADS")))
    blis = ctypes.CDLL("libblis.so.4")
    blis.bli_thread_set_num_threads.argtypes = [ctypes.c_int64]
    blis.bli_thread_set_num_threads(n)
    dtypes = ["f32", "f64"] if args.dtype == "both" else [args.dtype]
    ok = True
    for dt in dtypes:
        ok &= run_dtype(args, n, dt, hb, torch, np, blis)
    return 0 if ok else 1


def run_dtype(args, n, dt, hb, torch, np, blis):
    npdt = np.float32 if dt == "f32" else np.float64
    tdt = torch.float32 if dt == "f32" else torch.float64
    ctx = hb.Context(threads=n, seed=0)
    model = hb.Model(ctx, "gpt", dtype=dt)
    cfg = dict(V=65, T=64, C=128, H=4, L=2, N=16)  # the defaults (docs/models.md)
    V, T, C, H, L, N = (cfg[c] for c in "VTCHLN")
    blocks = model.params.blocks
    assert model.n == 2 * V * C + T * C + L * (12 * C * C + 13 * C) + 2 * C, "not gpt-ref"
    assert blocks[-1].name == "lm_head" and blocks[-1].shape == (V, C)

    # --- the batch: regenerate the creation-time synthetic batch and prove it is the same
    loss0, g0 = model.loss_grad()
    g0 = g0.copy()
    x, y = synthetic_batch(ctx, N, T, V)
    model.set_batch(x, y)
    loss1, g1 = model.loss_grad()
    same = loss1 == loss0 and np.array_equal(g1, g0)
    print("[%s] batch: regenerated synthetic batch (N=%d, T=%d) gives hb loss %r, "
          "creation-time batch %r: %s" % (dt, N, T, loss1, loss0,
                                          "same bits" if same else "DIFFERENT"))
    if not same:
        return False

    theta_np = np.array(model.params.data, dtype=npdt)
    theta = torch.tensor(theta_np, dtype=tdt)
    idx = torch.tensor(x.astype(np.int64))
    tgt = torch.tensor(y.astype(np.int64))
    f = torch_gpt(torch, blocks, V, T, C, H, L)

    def t_grad():
        th = theta.detach().requires_grad_(True)
        loss = f(th, idx, tgt)
        (g,) = torch.autograd.grad(loss, th)
        return loss, g

    def t_hvp(v):
        th = theta.detach().requires_grad_(True)
        loss = f(th, idx, tgt)
        (g,) = torch.autograd.grad(loss, th, create_graph=True)
        (hv,) = torch.autograd.grad(g, th, grad_outputs=v)
        return hv

    def t_hvp_batched(Vt):
        th = theta.detach().requires_grad_(True)
        loss = f(th, idx, tgt)
        (g,) = torch.autograd.grad(loss, th, create_graph=True)
        (hv,) = torch.autograd.grad(g, th, grad_outputs=Vt, is_grads_batched=True)
        return hv

    v_np = ctx.random(model.n, "normal", 0.0, 1.0, stream=12345).astype(npdt)
    Vk_np = ctx.random(args.k * model.n, "normal", 0.0, 1.0, stream=54321).astype(npdt).reshape(args.k, model.n)
    v_t = torch.tensor(v_np)
    Vk_t = torch.tensor(Vk_np)

    # --- cross-check (printed for both dtypes; the f64 one is the check)
    lt, gt = t_grad()
    lh, gh = model.loss_grad()
    gh = np.array(gh)
    hv_h = model.hvp(v_np)
    hv_t = t_hvp(v_t).numpy()
    print("[%s] cross-check: loss hb %.17g torch %.17g rel %.2e | grad rel %.2e | "
          "HVP rel %.2e (relative = ‖a−b‖/‖b‖, b = torch)"
          % (dt, lh, float(lt), abs(lh - float(lt)) / abs(float(lt)), rel(gh, gt.numpy()),
             rel(hv_h, hv_t)))
    batched_ok = True
    try:
        hvb_t = t_hvp_batched(Vk_t).numpy()
        hvb_h = model.hvp_multi(Vk_np)
        print("[%s] cross-check: hvp_multi(k=%d) vs torch batched double backward: rel %.2e"
              % (dt, args.k, rel(hvb_h, hvb_t)))
    except Exception as e:  # is_grads_batched relies on vmap rules this torch may lack
        batched_ok = False
        print("[%s] torch batched HVP (is_grads_batched) unavailable: %s: %s"
              % (dt, type(e).__name__, str(e).splitlines()[0][:200]))

    # --- the gemm reference: (M × C)·(C × 4C), M = N·T
    m_, k_, n_ = N * T, C, 4 * C
    A = np.asarray(np.random.default_rng(0).standard_normal((m_, k_)), npdt)
    B = np.asarray(np.random.default_rng(1).standard_normal((k_, n_)), npdt)
    Cm = np.zeros((m_, n_), npdt)
    ctp = ctypes.c_float if dt == "f32" else ctypes.c_double
    gemm = blis.bli_sgemm if dt == "f32" else blis.bli_dgemm
    i64 = ctypes.c_int64
    one, zero = ctp(1.0), ctp(0.0)
    pa, pb, pc = (arr.ctypes.data_as(ctypes.c_void_p) for arr in (A, B, Cm))

    def blis_gemm():
        for _ in range(10):
            gemm(ctypes.c_int(0), ctypes.c_int(0), i64(m_), i64(n_), i64(k_), ctypes.byref(one),
                 pa, i64(k_), i64(1), pb, i64(n_), i64(1), ctypes.byref(zero), pc, i64(n_), i64(1))

    At, Bt = torch.tensor(A), torch.tensor(B)
    Ct = torch.empty(m_, n_, dtype=tdt)

    def torch_mm():
        for _ in range(10):
            torch.matmul(At, Bt, out=Ct)

    blis_gemm()
    torch_mm()
    gemm_err = rel(Cm, Ct.numpy())

    hv_out = np.empty_like(v_np)
    hvk_out = np.empty_like(Vk_np)
    cases = [
        ("grad", lambda: model.loss_grad(), lambda: t_grad()),
        ("HVP", lambda: model.hvp(v_np, out=hv_out), lambda: t_hvp(v_t)),
        ("HVP x%d batched" % args.k, lambda: model.hvp_multi(Vk_np, out=hvk_out),
         (lambda: t_hvp_batched(Vk_t)) if batched_ok else None),
        ("gemm 10x(%dx%d)(%dx%d)" % (m_, k_, k_, n_), blis_gemm, torch_mm),
    ]
    res = {name: {"hb": [], "torch": []} for name, _, _ in cases}
    for name, fo, ft in cases:  # warm-up
        for _ in range(2):
            fo()
            if ft:
                ft()
    for r in range(args.reps):
        for name, fo, ft in cases:
            if name.startswith("HVP x") and r >= args.reps_batched:
                continue
            order = [("hb", fo), ("torch", ft)]
            if r % 2:
                order.reverse()
            for who, fn in order:
                if fn:
                    res[name][who].append(timed(fn))

    gflop = 10 * 2.0 * m_ * n_ * k_ / 1e9
    print("[%s] n=%d, median of %d (batched HVP: %d) after 2 warm-ups, (min–max), wall ms / CPU ms:"
          % (dt, n, args.reps, min(args.reps, args.reps_batched)))
    print("  %-26s %-34s %-34s %s" % ("case", "hessblock", "torch", "ours/torch wall (CPU)"))
    for name, _, _ in cases:
        row = []
        med = {}
        for who in ("hb", "torch"):
            s = res[name][who]
            if not s:
                row.append("—")
                continue
            w = [a for a, _ in s]
            c = [b for _, b in s]
            med[who] = (statistics.median(w), statistics.median(c))
            row.append("%8.2f (%.2f–%.2f) / %8.2f" % (med[who][0], min(w), max(w), med[who][1]))
        ratio = ("%.2f (%.2f)" % (med["hb"][0] / med["torch"][0], med["hb"][1] / med["torch"][1])
                 if len(med) == 2 else "—")
        print("  %-26s %-34s %-34s %s" % (name, row[0], row[1], ratio))
        if name.startswith("gemm"):
            print("  %-26s BLIS %.1f GFLOP/s, torch.matmul %.1f GFLOP/s (wall medians; results "
                  "agree to %.1e)" % ("", gflop / med["hb"][0] * 1e3, gflop / med["torch"][0] * 1e3,
                                      gemm_err))
    sys.stdout.flush()
    model.close()
    ctx.close()
    return True


if __name__ == "__main__":
    sys.exit(main())

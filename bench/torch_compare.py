#!/usr/bin/python3
"""torch_compare: libhessblock's gpt-ref against PyTorch on this machine, in one process.

Run by hand (never a meson test; CI does not need torch):

    nice /usr/bin/python3 bench/torch_compare.py [--quick] [--threads 1,2,4] [--cases basic,slq,blocks]
        [--reps R] [--reps-batched R2] [--k K] [--dtype f32|f64|both]
        [--slq-probes 16] [--slq-steps 30] [--block-probes 4] [--block-steps 30] [--blocks all]
        [--reps-slq 1] [--slq-dtype f32|f64|both]
        [--torch-method auto|batched|func|loop|rebuild|masked] [--save DIR]
    nice /usr/bin/python3 bench/torch_compare.py --table DIR[,DIR2...]   # the sweep table only

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
   when that works in this torch. With the slq case, also the Lanczos recurrence itself on a
   tiny gpt in f64 (below).
4. Timing ("basic" cases), f32 and f64: per repetition, each case is timed for both
   libraries back to back (which goes first alternates between repetitions), after 2 warm-up
   calls of each; the medians over R repetitions (R2 for the batched HVPs; wall clock, and
   process CPU time) are printed with the spread (min–max) and the ratio ours / torch.
   Cases: gradient (loss + full gradient), one HVP, k HVPs at once (ours: hvp_multi; torch:
   batched double backward, if available), and the reference measured in the same run: one
   product of the model's widest shape (1024 × 128)·(128 × 512) through BLIS (bli_?gemm of
   the libblis our library links, threads = n) and through torch.matmul.
5. "slq" case (gpt-ref, --slq-dtype, default f32): a full SLQ run, P probes × S Lanczos
   steps on the full Hessian (--slq-probes / --slq-steps, default 16 × 30). Ours: hb.SLQ
   (hb_slq_run_model: Rademacher probes, normalised, all probes in lockstep, one
   hvp_multi of the active probes per step, full reorthogonalisation (classical
   Gram–Schmidt twice against all previous vectors, f64 basis), tridiagonal eigenproblem
   per probe). PyTorch: the same algorithm written here (lanczos_torch: Rademacher probes,
   normalised, P recurrences in lockstep, the same α/β/breakdown rule, the same CGS2 full
   reorthogonalisation as batched matrix products, Ritz values by eigh of each T), with
   each step's P HVPs done by PyTorch's best method available (--torch-method; auto
   measures the available ones on one P-vector product and keeps the fastest):
     batched: ONE batched double backward per step (autograd.grad(g, θ, V,
              is_grads_batched=True, retain_graph=True)); g = ∇loss is built once with
              create_graph=True and its graph reused by every step (θ does not change);
     func:    torch.func (or functorch in 1.13) vmap over jvp(grad(loss)) (forward over
              reverse; recomputes the forward per step);
     loop:    P single double backwards per step (the fallback when neither works);
     rebuild: as batched but the graph of g rebuilt every step (forward + backward + double
              backward per step, the work our hvp_multi does per call; only when asked).
   The method that ran is printed. Cross-check (every run): a tiny gpt in f64 (vocab 11,
   context 8, width 8, 2 heads, 1 layer, batch 4) with the SAME probe vectors (our SLQ on a
   fixed stream; the probes regenerated with ctx.random(P·n, "rademacher", stream)): the
   tridiagonals (α, β) of torch's recurrence and of ours must agree to ≤ 1e-8 relative (ours
   are recovered from the spectrum's Ritz nodes and weights: T is the Jacobi matrix of that
   quadrature, rebuilt by a fully reorthogonalised Lanczos on diag(nodes) from √weights),
   and so must the Ritz values.
6. "blocks" case (gpt-ref, --slq-dtype): the per-block analysis: an SLQ of every block's
   principal sub-Hessian (--block-probes × --block-steps, default 4 × 30; --blocks picks
   blocks: all, every:K or a comma list of indices/names). Ours: hb_slq_run_model_block per
   block (the model's hb_model_block_hvp). PyTorch: per block, θ split into blocks with only
   block b a leaf, g_b = ∂loss/∂θ_b built once with create_graph, and each step's P block
   HVPs as one batched double backward w.r.t. θ_b (batched; or func/loop as above), or
   (masked) the full graph of g built once for all blocks and each step's P directions
   zero outside the block through one batched double backward w.r.t. θ, keeping the block's
   slice. auto estimates each method's total from the middle block (graph build + one
   P-vector product) and runs the cheapest. Cross-check (every run): on the tiny f64 gpt,
   each method's block HVPs of three blocks against hb_model_block_hvp, ≤ 1e-10 relative.
   The slq and blocks cases are timed --reps-slq times (default 1; alternating who goes
   first), after the warm-up of the basic cases.

Output: per n, the tables of each case; at the end (parent), one sweep table over all thread
counts in the run (and in --save DIR from earlier runs): threads × case, ours / torch wall
medians, the ratio, and each library's speed-up over its own 1-thread time, as markdown
ready to paste into docs/performance.md, with the exact command line. Runs split over
several invocations (each with its own --save DIR) are merged by --table DIR1,DIR2.
"""
import argparse
import ctypes
import glob
import json
import math
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
CASES = ("basic", "slq", "blocks")


def child_env(n):
    env = dict(os.environ)
    env["BLIS_NUM_THREADS"] = str(n)
    env["OMP_NUM_THREADS"] = str(n)
    return env


def uptime():
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="small defaults for a busy 2-core machine: reps 3, batched 2, f32 only, "
                         "SLQ 4 probes x 10 steps, blocks 2 x 5 on every 4th block")
    ap.add_argument("--reps", type=int, help="timed repetitions (median; default 9)")
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    ap.add_argument("--cases", default="basic,slq,blocks",
                    help="comma list of basic (grad, HVP, batched HVPs, gemm), slq, blocks")
    ap.add_argument("--k", type=int, default=10, help="directions for the batched HVP (default 10)")
    ap.add_argument("--reps-batched", type=int,
                    help="repetitions of the (slow) batched-HVP case (default 5)")
    ap.add_argument("--dtype", choices=["f32", "f64", "both"],
                    help="dtype(s) of the basic cases (default both)")
    ap.add_argument("--slq-dtype", choices=["f32", "f64", "both"],
                    help="dtype(s) of the slq and blocks cases (default f32)")
    ap.add_argument("--slq-probes", type=int, help="full SLQ: probes P (default 16)")
    ap.add_argument("--slq-steps", type=int, help="full SLQ: Lanczos steps S (default 30)")
    ap.add_argument("--block-probes", type=int, help="per-block SLQ: probes (default 4)")
    ap.add_argument("--block-steps", type=int, help="per-block SLQ: steps (default 30)")
    ap.add_argument("--blocks", help="blocks of the blocks case: all (default), every:K, or a "
                                     "comma list of indices / names")
    ap.add_argument("--reps-slq", type=int, help="repetitions of the slq and blocks cases (default 1)")
    ap.add_argument("--torch-method", default="auto", choices=["auto", "batched", "func", "loop", "rebuild", "masked"],
                    help="torch's HVP batch in the SLQ cases (default auto: the fastest "
                         "available; masked: blocks case only)")
    ap.add_argument("--save", help="directory for the per-thread-count results (n<N>.json); the "
                                   "sweep table covers every n<N>.json there")
    ap.add_argument("--table", help="only print the sweep table of the n<N>.json files in these "
                                    "comma-separated directories (runs nothing)")
    ap.add_argument("--child", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--result-file", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    q = args.quick
    defaults = dict(reps=3 if q else 9, reps_batched=2 if q else 5, dtype="f32" if q else "both",
                    slq_dtype="f32", slq_probes=4 if q else 16, slq_steps=10 if q else 30,
                    block_probes=2 if q else 4, block_steps=5 if q else 30,
                    blocks="every:4" if q else "all", reps_slq=1)
    for k, v in defaults.items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    args.cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    for c in args.cases:
        if c not in CASES:
            ap.error("unknown case %r (have %s)" % (c, ", ".join(CASES)))
    return args


def main():
    args = parse_args()
    if args.table:
        print_sweep(args.table.split(","), "(from saved results)")
        return 0
    try:
        import torch  # noqa: F401
    except ImportError:
        print("skipped: torch not installed")
        return 0
    if args.child:
        return run(args, args.child)
    command = shlex.join(["python3", "bench/torch_compare.py"] + sys.argv[1:])
    print("command:", command)
    print("uptime:", uptime())
    save = args.save or tempfile.mkdtemp(prefix="torch_compare.")
    os.makedirs(save, exist_ok=True)
    rc = 0
    for n in [int(s) for s in args.threads.split(",")]:
        res = os.path.join(save, "n%d.json" % n)
        cmd = [sys.executable, os.path.abspath(__file__), "--child", str(n), "--result-file", res]
        cmd += [a for a in sys.argv[1:]]
        sys.stdout.flush()
        rc |= subprocess.call(cmd, env=child_env(n))
    print("uptime:", uptime())
    print_sweep([save], command)
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


def median_pair(samples):
    return (statistics.median([a for a, _ in samples]), statistics.median([b for _, b in samples]))


class Results:
    """What a child measured, for the parent's sweep table (written after every case, so a
    run cut short by a time limit keeps what it finished)."""

    def __init__(self, path, n, torch_version):
        self.path = path
        self.data = {"threads": n, "torch": torch_version, "uptime": uptime(), "rows": []}

    def add(self, dtype, case, hb_ms, torch_ms, note=""):
        self.data["rows"].append({"dtype": dtype, "case": case, "hb": hb_ms, "torch": torch_ms,
                                  "note": note})
        self.save()

    def save(self):
        if self.path:
            self.data["uptime_end"] = uptime()
            with open(self.path + ".tmp", "w") as fh:
                json.dump(self.data, fh, indent=1)
            os.replace(self.path + ".tmp", self.path)


def run(args, n):
    t_start = time.perf_counter()
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
    out = Results(args.result_file, n, torch.__version__)
    ok = True
    if "basic" in args.cases:
        for dt in ["f32", "f64"] if args.dtype == "both" else [args.dtype]:
            ok &= run_dtype(args, n, dt, hb, torch, np, blis, out)
    if "slq" in args.cases or "blocks" in args.cases:
        ok &= slq_crosscheck(args, hb, torch, np)
        for dt in ["f32", "f64"] if args.slq_dtype == "both" else [args.slq_dtype]:
            ok &= run_slq_cases(args, n, dt, hb, torch, np, out)
    out.save()
    print("n=%d: child took %.0f s" % (n, time.perf_counter() - t_start))
    return 0 if ok else 1


GPT_REF = dict(V=65, T=64, C=128, H=4, L=2, N=16)  # the defaults (docs/models.md)


def gpt_setup(ctx, hb, torch, np, dt, cfg=None):
    """(model, f, theta, idx, tgt, same) for gpt-ref (cfg None) or a gpt of config cfg, on
    the model's own synthetic batch regenerated through the bindings (same: bit-identical)."""
    npdt = np.float32 if dt == "f32" else np.float64
    tdt = torch.float32 if dt == "f32" else torch.float64
    c = cfg or GPT_REF
    V, T, C, H, L, N = (c[k] for k in "VTCHLN")
    if cfg is None:
        model = hb.Model(ctx, "gpt", dtype=dt)
    else:
        model = hb.Model(ctx, "gpt", dtype=dt, vocab=V, context=T, width=C, heads=H, layers=L,
                         batch=N)
    blocks = model.params.blocks
    assert model.n == 2 * V * C + T * C + L * (12 * C * C + 13 * C) + 2 * C, "not the gpt asked for"
    assert blocks[-1].name == "lm_head" and blocks[-1].shape == (V, C)
    loss0, g0 = model.loss_grad()
    g0 = g0.copy()
    x, y = synthetic_batch(ctx, N, T, V)
    model.set_batch(x, y)
    loss1, g1 = model.loss_grad()
    same = loss1 == loss0 and np.array_equal(g1, g0)
    theta = torch.tensor(np.array(model.params.data, dtype=npdt), dtype=tdt)
    idx = torch.tensor(x.astype(np.int64))
    tgt = torch.tensor(y.astype(np.int64))
    f = torch_gpt(torch, blocks, V, T, C, H, L)
    return model, f, theta, idx, tgt, (same, loss0, loss1)


def run_dtype(args, n, dt, hb, torch, np, blis, out):
    npdt = np.float32 if dt == "f32" else np.float64
    tdt = torch.float32 if dt == "f32" else torch.float64
    ctx = hb.Context(threads=n, seed=0)
    model, f, theta, idx, tgt, (same, loss0, loss1) = gpt_setup(ctx, hb, torch, np, dt)
    V, T, C, H, L, N = (GPT_REF[k] for k in "VTCHLN")
    print("[%s] batch: regenerated synthetic batch (N=%d, T=%d) gives hb loss %r, "
          "creation-time batch %r: %s" % (dt, N, T, loss1, loss0,
                                          "same bits" if same else "DIFFERENT"))
    if not same:
        return False

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
    print_header()
    for name, _, _ in cases:
        med = print_row(name, res[name])
        out.add(dt, name, med.get("hb"), med.get("torch"),
                "median of %d" % len(res[name]["hb"]))
        if name.startswith("gemm"):
            print("  %-26s BLIS %.1f GFLOP/s, torch.matmul %.1f GFLOP/s (wall medians; results "
                  "agree to %.1e)" % ("", gflop / med["hb"][0] * 1e3, gflop / med["torch"][0] * 1e3,
                                      gemm_err))
    sys.stdout.flush()
    model.close()
    ctx.close()
    return True


def print_header():
    print("  %-26s %-34s %-34s %s" % ("case", "hessblock", "torch", "ours/torch wall (CPU)"))


def print_row(name, samples):
    """One table row from {"hb": [(wall, cpu)], "torch": [...]}; returns the medians."""
    row, med = [], {}
    for who in ("hb", "torch"):
        s = samples[who]
        if not s:
            row.append("—")
            continue
        w = [a for a, _ in s]
        med[who] = median_pair(s)
        row.append("%8.2f (%.2f–%.2f) / %8.2f" % (med[who][0], min(w), max(w), med[who][1]))
    ratio = ("%.2f (%.2f)" % (med["hb"][0] / med["torch"][0], med["hb"][1] / med["torch"][1])
             if len(med) == 2 else "—")
    print("  %-26s %-34s %-34s %s" % (name, row[0], row[1], ratio))
    return med


# ---------------------------------------------------------------------------- SLQ in torch

def lanczos_torch(torch, apply, Q0, steps, basis_f64=True, tol=1e-10):
    """P Lanczos recurrences in lockstep, as lib/slq/lanczos.c runs them: Q0 (P × n, f64,
    unit rows) start vectors; apply(X) = A·X for the k × n (f64) active rows, one call per
    step. Step j: w = A·q_j; α_j = q_jᵀw; w −= α_j q_j + β_{j−1} q_{j−1}; full
    reorthogonalisation: twice h = Q_jᵀw, w −= Q_j h (CGS2, basis in f64 or f32); β_j = ‖w‖;
    a probe stops at β_j ≤ tol·‖T‖ (breakdown). Returns (alpha, beta, steps) per probe."""
    f64 = torch.float64
    bdt = f64 if basis_f64 else torch.float32
    P, n = Q0.shape
    S = min(steps, n)
    B = torch.empty((P, S, n), dtype=bdt)
    alpha = torch.zeros((P, S), dtype=f64)
    beta = torch.zeros((P, S), dtype=f64)
    Q = Q0.clone()
    Qp = torch.zeros_like(Q)
    B[:, 0] = Q.to(bdt)
    tnorm = [0.0] * P
    nsteps = [0] * P
    act = list(range(P))
    for j in range(S):
        if not act:
            break
        full = len(act) == P
        ia = None if full else torch.tensor(act)
        Qa = Q if full else Q[ia]
        Qpa = Qp if full else Qp[ia]
        Ba = B[:, :j + 1] if full else B[ia, :j + 1]
        W = apply(Qa)
        a = (Qa * W).sum(1)
        bprev = beta[:, j - 1] if j > 0 else torch.zeros(P, dtype=f64)
        if not full:
            bprev = bprev[ia]
        W -= a[:, None] * Qa + bprev[:, None] * Qpa
        for _ in range(2):
            if basis_f64:
                h = torch.bmm(Ba, W.unsqueeze(2))
                W -= torch.bmm(Ba.transpose(1, 2), h).squeeze(2)
            else:
                h = torch.bmm(Ba, W.to(bdt).unsqueeze(2))
                W -= torch.bmm(Ba.transpose(1, 2), h).squeeze(2).to(f64)
        b = W.norm(dim=1)
        al, bl, bpl = a.tolist(), b.tolist(), bprev.tolist()
        still = []
        for i, p in enumerate(act):
            alpha[p, j] = al[i]
            nsteps[p] = j + 1
            tnorm[p] = max(tnorm[p], abs(al[i]) + bl[i] + bpl[i])
            if j + 1 == S or not bl[i] > tol * tnorm[p]:
                continue
            beta[p, j] = bl[i]
            still.append(i)
        if still:
            si = torch.tensor(still)
            rows = torch.tensor([act[i] for i in still])
            Qn = W[si] / b[si, None]
            Qp[rows] = Q[rows]
            Q[rows] = Qn
            B[rows, j + 1] = Qn.to(bdt)
        act = [act[i] for i in still]
    return alpha, beta, nsteps


def ritz(torch, alpha, beta, nsteps):
    """Per probe: (nodes ascending, weights = first components of T's eigenvectors²)."""
    out = []
    for p, s in enumerate(nsteps):
        T = torch.diag(alpha[p, :s])
        if s > 1:
            T += torch.diag(beta[p, :s - 1], 1) + torch.diag(beta[p, :s - 1], -1)
        ev, Z = torch.linalg.eigh(T)
        out.append((ev, Z[0] ** 2))
    return out


def torch_slq(torch, apply, n, probes, steps, basis_f64=True, Q0=None):
    """The whole SLQ in torch: Rademacher probes (unless Q0), normalised, lockstep Lanczos,
    Ritz nodes and weights."""
    if Q0 is None:
        Q0 = torch.randint(0, 2, (probes, n), dtype=torch.float64) * 2 - 1
    Q0 = Q0 / Q0.norm(dim=1, keepdim=True)
    alpha, beta, nsteps = lanczos_torch(torch, apply, Q0, steps, basis_f64)
    return ritz(torch, alpha, beta, nsteps), (alpha, beta, nsteps)


def counted(apply, count):
    """apply, counting the vectors it is given into count["torch"]."""
    def run(X):
        count["torch"] += X.shape[0]
        return apply(X)
    return run


def func_api(torch):
    """(vmap, jvp, grad) from torch.func (2.x) or functorch (1.13), else None."""
    try:
        from torch.func import vmap, jvp, grad
        return vmap, jvp, grad, "torch.func"
    except ImportError:
        pass
    try:
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from functorch import vmap, jvp, grad
        return vmap, jvp, grad, "functorch"
    except ImportError:
        return None


def torch_hvp_methods(torch, f, theta, idx, tgt, sizes=None, block=None, shared=None):
    """{method: (make, description)}; make() -> apply(X f64 k×n_b) -> H_bb·X (f64), built at θ
    (block None: the full Hessian; else the principal sub-Hessian of block `block`, θ split
    by `sizes`). shared: a dict that keeps the full-θ graph of g between blocks ("masked")."""
    f64, dt = torch.float64, theta.dtype
    parts = None if block is None else [t.detach() for t in torch.split(theta, sizes)]
    base = theta.detach() if block is None else parts[block]

    def loss_of(p):
        if block is None:
            return f(p, idx, tgt)
        return f(torch.cat(parts[:block] + [p] + parts[block + 1:]), idx, tgt)

    def reverse_graph():
        leaf = base.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(loss_of(leaf), leaf, create_graph=True)
        return leaf, g

    def make_batched():
        leaf, g = reverse_graph()

        def apply(X):
            (hv,) = torch.autograd.grad(g, leaf, grad_outputs=X.to(dt), retain_graph=True,
                                        is_grads_batched=True)
            return hv.to(f64)
        return apply

    def make_rebuild():
        def apply(X):  # what the basic "HVP xk batched" case times: forward + backward each call
            leaf, g = reverse_graph()
            (hv,) = torch.autograd.grad(g, leaf, grad_outputs=X.to(dt), is_grads_batched=True)
            return hv.to(f64)
        return apply

    def make_loop():
        leaf, g = reverse_graph()

        def apply(X):
            Xd = X.to(dt)
            return torch.stack([torch.autograd.grad(g, leaf, grad_outputs=Xd[i], retain_graph=True)[0]
                                for i in range(Xd.shape[0])]).to(f64)
        return apply

    def make_masked():  # block only: H·[0 … X … 0] on the full graph (built once), sliced
        if "g" not in shared:
            leaf = theta.detach().clone().requires_grad_(True)
            (g,) = torch.autograd.grad(f(leaf, idx, tgt), leaf, create_graph=True)
            shared.update(leaf=leaf, g=g)
        leaf, g = shared["leaf"], shared["g"]
        off = sum(sizes[:block])
        nb = sizes[block]

        def apply(X):
            Z = torch.zeros((X.shape[0], theta.numel()), dtype=dt)
            Z[:, off:off + nb] = X
            (hv,) = torch.autograd.grad(g, leaf, grad_outputs=Z, retain_graph=True,
                                        is_grads_batched=True)
            return hv[:, off:off + nb].to(f64)
        return apply

    methods = {
        "batched": (make_batched, "one batched double backward per step (autograd.grad(g, θ, V, "
                                  "is_grads_batched=True), graph of g = ∇loss built once)"),
        "loop": (make_loop, "a loop of single double backwards per step (graph of g built once)"),
        "rebuild": (make_rebuild, "one batched double backward per step, graph of g rebuilt "
                                  "every step (forward + backward + double backward per step, "
                                  "as our hvp_multi; for comparison, never picked by auto)"),
    }
    if block is not None and shared is not None:
        methods["masked"] = (make_masked, "one batched double backward per step on the FULL "
                             "graph of g (built once for all blocks) with directions zero "
                             "outside the block, the block's slice kept")
    fa = func_api(torch)
    if fa:
        vmap, jvp, grad, where = fa

        def make_func():
            p0 = base.clone()
            gfn = grad(loss_of)
            vm = vmap(lambda v: jvp(gfn, (p0,), (v,))[1])

            def apply(X):
                return vm(X.to(dt)).to(f64)
            return apply
        methods["func"] = (make_func, "%s vmap over jvp(grad(loss)) per step (forward over "
                                      "reverse, recomputes the forward)" % where)
    return methods


def pick_method(torch, methods, want, n_b, probes, label):
    """The method to use: `want`, or (auto) the fastest available on one P-vector product
    after a warm-up call; prints what ran and why."""
    X = torch.randn(probes, n_b, dtype=torch.float64)
    tried = {}
    order = [want] if want != "auto" else [m for m in ("batched", "func") if m in methods]
    for m in order:
        if m not in methods:
            print("  torch method %s: not in this torch" % m)
            continue
        try:
            apply = methods[m][0]()
            apply(X)
            t0 = time.perf_counter()
            apply(X)
            tried[m] = (time.perf_counter() - t0) * 1e3
        except Exception as e:  # vmap / is_grads_batched rules this torch may lack
            print("  torch method %s unavailable: %s: %s" % (m, type(e).__name__,
                                                             str(e).splitlines()[0][:160]))
    if not tried:
        m = "loop"
    else:
        m = min(tried, key=tried.get)
    how = ", ".join("%s %.0f ms" % kv for kv in tried.items())
    print("  torch method (%s): %s — %s%s" % (label, m, methods[m][1],
                                              " [one %d-vector product: %s]" % (probes, how) if how else ""))
    return m


def pick_block_method(torch, mk, want, bl, sizes, probes, steps, label):
    """The blocks case's torch method: `want`, or (auto) the one with the least estimated
    total over the blocks, from the middle block: blocks × (graph build + steps × one
    P-vector product) for batched (grad w.r.t. the block; a graph per block), one graph +
    blocks × steps × product for masked, blocks × steps × product for func."""
    mid = bl[len(bl) // 2]
    if want != "auto":
        m = want
        if m not in mk(mid, {}):
            raise SystemExit("torch method %s is not available here" % m)
        print("  torch method (%s): %s — %s" % (label, m, mk(mid, {})[m][1]))
        return m
    X = torch.randn(probes, sizes[mid], dtype=torch.float64)
    est = {}
    for m in ("batched", "masked", "func"):
        shared = {}
        ms = mk(mid, shared)
        if m not in ms:
            continue
        try:
            t0 = time.perf_counter()
            apply = ms[m][0]()
            build = time.perf_counter() - t0
            apply(X)
            t0 = time.perf_counter()
            apply(X)
            step = time.perf_counter() - t0
        except Exception as e:  # vmap / is_grads_batched rules this torch may lack
            print("  torch method %s unavailable: %s: %s" % (m, type(e).__name__,
                                                             str(e).splitlines()[0][:160]))
            continue
        per_block = len(bl) * steps * step
        est[m] = (per_block + (build if m == "masked" else len(bl) * build), build, step)
    m = min(est, key=lambda k: est[k][0]) if est else "loop"
    how = "; ".join("%s: graph %.0f ms, step %.0f ms, est. %.1f s" % (k, v[1] * 1e3, v[2] * 1e3, v[0])
                    for k, v in est.items())
    print("  torch method (%s, measured on block %d): %s — %s [%s]"
          % (label, mid, m, mk(mid, {})[m][1], how))
    return m


TINY = dict(V=11, T=8, C=8, H=2, L=1, N=4)


def slq_crosscheck(args, hb, torch, np):
    """Our SLQ and lanczos_torch on a tiny f64 gpt with the same probes: α, β and Ritz values."""
    ctx = hb.Context(threads=1, seed=0)
    model, f, theta, idx, tgt, (same, _, _) = gpt_setup(ctx, hb, torch, np, "f64", TINY)
    P, S, stream = 3, 30, 777
    n = model.n
    slq = hb.SLQ(ctx, probes=P, steps=S, reorth="full", probe_dist="rademacher", stream=stream)
    sp = slq.run(model)
    Q0 = torch.tensor(ctx.random(P * n, "rademacher", 0.0, 1.0, stream=stream).reshape(P, n))
    methods = torch_hvp_methods(torch, f, theta, idx, tgt)
    ok, msgs = same, []
    for m in [k for k in ("batched", "func", "loop", "rebuild") if k in methods]:
        try:
            apply = methods[m][0]()
            apply(Q0[:2])
        except Exception as e:  # this torch lacks the method: say so, check the others
            msgs.append("%s unavailable (%s)" % (m, type(e).__name__))
            continue
        quad, (alpha, beta, nsteps) = torch_slq(torch, apply, n, P, S, Q0=Q0)
        worst_ab, worst_nodes = 0.0, 0.0
        for p in range(P):
            nodes, wts, st, _ = sp.probe(p)
            assert st == nsteps[p], "steps differ: ours %d, torch %d" % (st, nsteps[p])
            # ours: T rebuilt from the quadrature (the Jacobi matrix of nodes/weights)
            a_h, b_h = jacobi_from_quadrature(np, np.asarray(nodes), np.asarray(wts))
            a_t = alpha[p, :st].numpy()
            b_t = beta[p, :st - 1].numpy()
            scale = max(np.abs(a_t).max(), np.abs(b_t).max())
            worst_ab = max(worst_ab, np.abs(a_h - a_t).max() / scale, np.abs(b_h - b_t).max() / scale)
            worst_nodes = max(worst_nodes, np.abs(np.asarray(nodes) - quad[p][0].numpy()).max()
                              / np.abs(quad[p][0].numpy()).max())
        good = worst_ab <= 1e-8 and worst_nodes <= 1e-8
        ok &= good
        msgs.append("torch %s: max |Δα|,|Δβ| / max(|α|,|β|) = %.1e, max |ΔRitz| / max |Ritz| = %.1e%s"
                    % (m, worst_ab, worst_nodes, "" if good else " DISAGREE"))
    print("[slq cross-check] tiny gpt f64 (n=%d, vocab %d, context %d, width %d, %d heads, %d layer, "
          "batch %d), %d probes x %d steps, the same Rademacher probes (stream %d): %s: %s"
          % (n, TINY["V"], TINY["T"], TINY["C"], TINY["H"], TINY["L"], TINY["N"], P, S, stream,
             "; ".join(msgs), "agree (≤ 1e-8)" if ok else "DISAGREE"))
    # the blocks case's block HVPs: every torch method against hb_model_block_hvp
    sizes = [b.numel for b in model.params.blocks]
    worst, names = {}, []
    for b in sorted({0, len(sizes) // 2, len(sizes) - 1}):
        names.append(model.params.blocks[b].name)
        X = ctx.random(2 * sizes[b], "normal", 0.0, 1.0, stream=999 + b).reshape(2, sizes[b])
        ref = model.block_hvp(b, X)
        for m, (make, _) in torch_hvp_methods(torch, f, theta, idx, tgt, sizes, b, {}).items():
            try:
                got = make()(torch.tensor(X)).numpy()
            except Exception:  # unavailable in this torch (said above for the full Hessian)
                continue
            worst[m] = max(worst.get(m, 0.0), rel(ref, got))
    bok = all(v <= 1e-10 for v in worst.values())
    ok &= bok
    print("[blocks cross-check] tiny gpt f64, block HVPs of %s (2 directions) vs hb_model_block_hvp, "
          "‖Δ‖/‖ours‖: %s: %s" % (", ".join(names), ", ".join("%s %.1e" % kv for kv in worst.items()),
                                   "agree (≤ 1e-10)" if bok else "DISAGREE"))
    sys.stdout.flush()
    sp.close()
    slq.close()
    model.close()
    ctx.close()
    return ok


def jacobi_from_quadrature(np, nodes, weights):
    """(α, β) of the Jacobi matrix whose Gauss quadrature is (nodes, weights): Lanczos on
    diag(nodes) from √weights, fully reorthogonalised (twice) in f64."""
    s = nodes.size
    q = np.sqrt(weights / weights.sum())
    Qb = np.zeros((s, s))
    Qb[0] = q
    a = np.zeros(s)
    b = np.zeros(max(s - 1, 0))
    qp, bp = np.zeros(s), 0.0
    for j in range(s):
        w = nodes * Qb[j]
        a[j] = Qb[j] @ w
        w = w - a[j] * Qb[j] - bp * qp
        for _ in range(2):
            w = w - Qb[:j + 1].T @ (Qb[:j + 1] @ w)
        if j + 1 == s:
            break
        b[j] = np.linalg.norm(w)
        qp, bp = Qb[j], b[j]
        Qb[j + 1] = w / b[j]
    return a, b


def block_list(args, model):
    blocks = model.params.blocks
    spec = args.blocks
    if spec == "all":
        return list(range(len(blocks)))
    if spec.startswith("every:"):
        k = int(spec.split(":", 1)[1])
        return list(range(0, len(blocks), k))
    return [model.params.index(int(s) if s.strip().isdigit() else s.strip()) for s in spec.split(",")]


def run_slq_cases(args, n, dt, hb, torch, np, out):
    ctx = hb.Context(threads=n, seed=0)
    model, f, theta, idx, tgt, (same, _, _) = gpt_setup(ctx, hb, torch, np, dt)
    if not same:
        print("[%s] batch regenerated DIFFERENTLY; slq cases not run" % dt)
        return False
    N = model.n
    blocks = model.params.blocks
    sizes = [b.numel for b in blocks]
    R = args.reps_slq
    cases = []
    if "slq" in args.cases:
        P, S = args.slq_probes, args.slq_steps
        count = {}
        print("[%s] slq: full Hessian, n = %d, %d probes x %d steps, full reorthogonalisation "
              "(f64 basis, %.2f GB per library)" % (dt, N, P, S, P * S * N * 8 / 1e9))
        slq = hb.SLQ(ctx, probes=P, steps=S, reorth="full", probe_dist="rademacher")
        methods = torch_hvp_methods(torch, f, theta, idx, tgt)
        m = pick_method(torch, methods, args.torch_method, N, P, "slq")

        def ours(count=count):
            sp = slq.run(model)
            sp.close()
            count["hb"] = slq.stats["apply_vectors"]

        def theirs(P=P, S=S, m=m, count=count):  # bound now: the blocks case rebinds P, S
            count["torch"] = 0
            torch_slq(torch, counted(methods[m][0](), count), N, P, S)
        cases.append(("SLQ %dx%d" % (P, S), ours, theirs, m, slq, count))
    if "blocks" in args.cases:
        P, S = args.block_probes, args.block_steps
        count_b = {}
        bl = block_list(args, model)
        print("[%s] blocks: %d of %d blocks (%s), %d probes x %d steps each, %d parameters in all"
              % (dt, len(bl), len(blocks), args.blocks, P, S, sum(sizes[b] for b in bl)))
        slqb = hb.SLQ(ctx, probes=P, steps=S, reorth="full", probe_dist="rademacher")

        def mk(b, shared):
            return torch_hvp_methods(torch, f, theta, idx, tgt, sizes, b, shared)
        mb = pick_block_method(torch, mk, args.torch_method, bl, sizes, P, S, "blocks")

        def ours_b(count=count_b):
            count["hb"] = 0
            for b in bl:
                slqb.run(model, block=b).close()
                count["hb"] += slqb.stats["apply_vectors"]

        def theirs_b(P=P, S=S, mb=mb, count=count_b):
            count["torch"] = 0
            shared = {}  # the full graph of the masked method: built once per run
            for b in bl:
                torch_slq(torch, counted(mk(b, shared)[mb][0](), count), sizes[b], P, S)
        cases.append(("blocks %d x (%dx%d)" % (len(bl), P, S), ours_b, theirs_b, mb, slqb, count_b))
    ok = True
    for name, fo, ft, m, s, count in cases:
        res = {"hb": [], "torch": []}
        apply_s = []
        for r in range(R):
            order = [("hb", fo), ("torch", ft)]
            if r % 2:
                order.reverse()
            for who, fn in order:
                res[who].append(timed(fn))
                if who == "hb":
                    apply_s.append(s.stats["apply_seconds"])
                print("  [%s] %s rep %d: %s %.0f ms wall" % (dt, name, r + 1, who, res[who][-1][0]))
                sys.stdout.flush()
        same_work = count["hb"] == count["torch"]
        ok &= same_work
        print("[%s] n=%d, %s, median of %d, (min–max), wall ms / CPU ms (torch method: %s; "
              "operator products per run: ours %d, torch %d%s):"
              % (dt, n, name, R, m, count["hb"], count["torch"],
                 "" if same_work else " — NOT THE SAME WORK"))
        print_header()
        med = print_row(name, res)
        if name.startswith("SLQ"):
            print("  ours: %.0f%% of the last run inside the HVPs (hb_slq stats)"
                  % (100 * apply_s[-1] * 1e3 / res["hb"][-1][0]))
        out.add(dt, name, med["hb"], med["torch"], "torch %s; median of %d" % (m, R))
        sys.stdout.flush()
    for _, _, _, _, s, _ in cases:
        s.close()
    model.close()
    ctx.close()
    return ok


# ---------------------------------------------------------------------------- the sweep table

def print_sweep(dirs, command):
    byn = {}
    for dname in dirs:
        for p in sorted(glob.glob(os.path.join(dname, "n*.json"))):
            with open(p) as fh:
                d = json.load(fh)
            byn[d["threads"]] = d  # a later directory's run of the same n wins
    save = ", ".join(dirs)
    if not byn:
        print("no results in %s" % save)
        return
    runs = [byn[k] for k in sorted(byn)]
    base = {}
    for d in runs:
        if d["threads"] == 1:
            for row in d["rows"]:
                base[(row["dtype"], row["case"])] = row
    keys = []
    for d in runs:
        for row in d["rows"]:
            if (row["dtype"], row["case"]) not in keys:
                keys.append((row["dtype"], row["case"]))
    print("\n=== sweep (results in %s; torch %s)" % (save, ", ".join(sorted({d["torch"] for d in runs}))))
    print("command: %s" % command)
    for d in runs:
        print("n = %d: %s … %s" % (d["threads"], d.get("uptime", "?"), d.get("uptime_end", "?")))
    print()
    print("Wall medians, ms; ours / torch of the wall medians (< 1: ours faster), (CPU): of the "
          "process-CPU medians; speed-up = the library's own 1-thread wall time / this one.\n")
    print("| dtype | case | threads | ours ms | torch ms | ours / torch | (CPU) | ours speed-up | "
          "torch speed-up | torch method |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for dt, case in keys:
        for d in runs:
            row = next((r for r in d["rows"] if (r["dtype"], r["case"]) == (dt, case)), None)
            if row is None:
                continue
            hb_ms = row["hb"][0] if row["hb"] else None
            t_ms = row["torch"][0] if row["torch"] else None
            b = base.get((dt, case))
            sp = []
            for who, v in (("hb", hb_ms), ("torch", t_ms)):
                b0 = b[who][0] if b and b[who] else None
                sp.append("%.2f" % (b0 / v) if b0 and v else "—")
            method = row["note"].split(";")[0].replace("torch ", "") if "torch" in row["note"] else ""
            cpu = ("%.2f" % (row["hb"][1] / row["torch"][1])
                   if row["hb"] and row["torch"] and row["torch"][1] > 0 else "—")
            print("| %s | %s | %d | %s | %s | %s | %s | %s | %s | %s |"
                  % (dt, case, d["threads"], fmt_ms(hb_ms), fmt_ms(t_ms),
                     "%.2f" % (hb_ms / t_ms) if hb_ms and t_ms else "—", cpu, sp[0], sp[1], method))
    sys.stdout.flush()


def fmt_ms(v):
    if v is None:
        return "—"
    return "%.0f" % v if v >= 100 else "%.1f" % v


if __name__ == "__main__":
    sys.exit(main())

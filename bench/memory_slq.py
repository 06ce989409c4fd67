#!/usr/bin/python3
"""Memory of SLQ on the gpt: measured peak RSS of `hessblock spectrum` next to a memory
model, and from that model the largest gpt that fits 24 GiB (docs/performance.md, "Memory:
the largest model for 24 GiB").

usage: bench/memory_slq.py [--build DIR] [--quick] [--table-only | --no-table] [--budget-gib G]
                           [--confirm WIDTH [--confirm-probes K]
                           [--confirm-steps M] [--confirm-basis f64,f32]]

Part 1 runs `hessblock spectrum --model gpt` under `/usr/bin/time -f %M` at several sizes
(n over about two decades), with the f64 and the f32 basis, the full Hessian alone
(`--full --blocks none`) and one per-block case, and prints per row the measured peak RSS,
the model's prediction and their ratio (prediction / measured). Nothing is fitted: every
term is counted from the code (lib/slq/lanczos.c, lib/model/model.c, lib/net/engine.c):

  peak = base + model + sum over the concurrently running tasks of task(entry)
  base   the peak RSS of the same command on the tiny preset (process, libraries, BLIS),
         measured once per thread count
  model  θ and its gradient: 2·n·8 (hb_params; the gradient buffer is zeroed, so resident)
  task(entry of size n_e, a group of g probes, m_e = min(steps, n_e) Lanczos steps):
         Lanczos vectors Q, Q_prev, operator input and output   4·g·n_e·8
         HVP input/output of the model task (hvp_on_task)       2·g·n_e·8
         Lanczos basis (full reorthogonalisation)                g·m_e·n_e·es, es = 8 | 4
         f32 scratch of the f32 basis                            2·n_e·4
         engine workspace of the product (bench_memory: the engine's own count,
         hb__net_workspace_bytes, at the chunk size it takes for g directions)
  tasks  a run's groups: ceil(probes / G) per entry (G = HB_SLQ_GROUP, 4); min(threads,
         groups) run at once. The full Hessian is one entry of n; per-block runs have one
         entry per block, and the prediction takes the `workers` largest entries at once,
         each with the full-Hessian workspace (an upper bound: a block's R-pass starts at
         its layer).

Part 2 prints, for a shape family like the issue's 10 M model (nanoGPT shakespeare-char:
width 384, 6 layers, 6 heads, context 256) — width w, layers = heads = w/64, context 256,
vocab 65, 8 sequences (the `large` preset's data) — and the `large` preset's SLQ settings
(4 probes × 32 steps, group 4), the largest w whose prediction fits the budget, with the
f64 and the f32 basis, on 1 and 16 threads, for the full Hessian and for the per-block run
of `analyze`. --confirm W runs the full-Hessian case at width W of that family (f64 and
f32 basis; fewer probes and steps to make it short) and prints measured against predicted (part 1 is then left out)."""
import argparse
import json
import math
import os
import subprocess
import sys
import time

GIB = 1 << 30
MIB = 1 << 20


def parse():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(os.path.dirname(__file__), "..", "build"))
    ap.add_argument("--quick", action="store_true", help="fewer sizes (the smallest four)")
    ap.add_argument("--table-only", action="store_true", help="part 2 only (no runs)")
    ap.add_argument("--no-table", action="store_true", help="no part 2")
    ap.add_argument("--blocks-only", action="store_true", help="part 1: the per-block rows only")
    ap.add_argument("--budget-gib", type=float, default=24.0)
    ap.add_argument("--confirm", type=int, default=0, help="width of a confirming full run")
    ap.add_argument("--confirm-probes", type=int, default=4, help="its probes (one group) [4]")
    ap.add_argument("--confirm-steps", type=int, default=32, help="its Lanczos steps [32]")
    ap.add_argument("--confirm-basis", default="f64,f32", help="its bases [f64,f32]")
    return ap.parse_args()


ARGS = parse()
HB = os.path.join(ARGS.build, "tools", "hessblock")
BM = os.path.join(ARGS.build, "bench", "bench_memory")

_shape_cache = {}


def shape_info(shape, probes, threads=1):
    """n, block sizes and engine workspace per direction count (bench_memory)."""
    key = (tuple(sorted(shape.items())), probes, threads)
    if key not in _shape_cache:
        args = [BM] + [x for k, v in shape.items() for x in ("--" + k, str(v))]
        args += ["--probes", str(probes), "--threads", str(threads)]
        out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
        _shape_cache[key] = json.loads(out)
    return _shape_cache[key]


def task_bytes(n_e, g, steps, es, ws):
    m_e = min(steps, n_e)
    parts = {
        "vectors": (4 + 2) * g * n_e * 8,
        "basis": g * m_e * n_e * es,
        "f32_scratch": 2 * n_e * 4 if es == 4 else 0,
        "workspace": ws,
    }
    return sum(parts.values()), parts


def predict(shape, probes, steps, group, es, threads, full, blocks, base):
    """Predicted peak RSS (bytes) and its parts."""
    # the task that runs a product gets threads / tasks of the context's threads (tasks.c)
    info = shape_info(shape, probes)
    n = info["n"]
    g = min(group, probes)
    groups = math.ceil(probes / g)
    sizes = info["blocks"]
    chosen = list(sizes.values()) if blocks is True else [sizes[b] for b in blocks or []]
    entries = ([n] if full else []) + sorted(chosen, reverse=True)
    tasks = [e for e in entries for _ in range(groups)]
    workers = min(threads, len(tasks))
    task_threads = max(1, threads // len(tasks)) if tasks else 1
    ws = shape_info(shape, probes, task_threads)["workspace"][g - 1]
    total = {"base": base, "model": 2 * n * 8, "vectors": 0, "basis": 0, "f32_scratch": 0,
             "workspace": 0}
    # the `workers` largest tasks at once (entries are sorted, the full Hessian first)
    for e in sorted(tasks, reverse=True)[:workers]:
        _, parts = task_bytes(e, g, steps, es, ws)
        for k, v in parts.items():
            total[k] += v
    return sum(total.values()), total, n


def measure(cmd):
    """Peak RSS in bytes of cmd (GNU time's %M, KiB) and its wall time."""
    t0 = time.time()
    p = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr[-2000:]}")
    return int(p.stderr.strip().splitlines()[-1]) * 1024, time.time() - t0


def spectrum_cmd(shape, probes, steps, group, basis, threads, full, blocks):
    cmd = [HB, "spectrum", "--model", "gpt", "--quiet", "--js-bootstrap", "0",
           "--probes", str(probes), "--steps", str(steps), "--probe-group", str(group),
           "--basis", basis, "--threads", str(threads), "--batches", "1"]
    cmd += [x for k, v in shape.items() for x in ("--" + k, str(v))]
    if full:
        cmd.append("--full")
    if not blocks:
        cmd += ["--blocks", "none"]
    elif blocks is not True:
        cmd += ["--blocks", ",".join(blocks)]
    return cmd


_base = {}


def base_rss(threads):
    if threads not in _base:
        cmd = [HB, "spectrum", "--preset", "tiny", "--quiet", "--full", "--blocks", "none",
               "--probes", "1", "--steps", "2", "--threads", str(threads)]
        _base[threads] = min(measure(cmd)[0] for _ in range(3))
    return _base[threads]


def gpt(w, context, batch, vocab=65, per_layer=64):
    return {"vocab": vocab, "context": context, "width": w, "heads": w // per_layer,
            "layers": w // per_layer, "batch": batch}


def row(label, shape, probes, steps, group, basis, threads, full, blocks):
    es = 8 if basis == "f64" else 4
    base = base_rss(threads)
    pred, parts, n = predict(shape, probes, steps, group, es, threads, full, blocks, base)
    rss, secs = measure(spectrum_cmd(shape, probes, steps, group, basis, threads, full, blocks))
    print(f"{label:<26} {n:>10} {basis:>5} {threads:>3} {rss / MIB:>9.1f} {pred / MIB:>9.1f} "
          f"{pred / rss:>6.3f}   {parts['basis'] / MIB:>8.1f} {parts['vectors'] / MIB:>8.1f} "
          f"{parts['workspace'] / MIB:>8.1f} {parts['model'] / MIB:>7.1f} {base / MIB:>6.1f} {secs:>6.1f}",
          flush=True)
    return pred / rss


def part1():
    print("load:", open("/proc/loadavg").read().strip())
    print("Part 1: measured peak RSS (/usr/bin/time %M) against the memory model (MiB)")
    print(f"{'case':<26} {'n':>10} {'basis':>5} {'thr':>3} {'measured':>9} {'model':>9} "
          f"{'ratio':>6}   {'=basis':>8} {'+vectors':>8} {'+wkspace':>8} {'+model':>7} {'+base':>6} {'sec':>6}")
    widths = [64, 128, 192, 256, 320, 384]
    if ARGS.quick:
        widths = widths[:4]
    ratios = []
    # the full Hessian: one group of 2 probes, 16 steps; context 64, 4 sequences
    for w in [] if ARGS.blocks_only else widths:
        for basis in ("f64", "f32"):
            ratios.append(row(f"full w{w} L{w // 64} T64 N4", gpt(w, 64, 4), 2, 16, 2, basis, 1,
                              True, False))
    # probe groups of 1: two tasks at once on 2 threads (two bases, two workspaces)
    if not ARGS.blocks_only:
        ratios.append(row("full w256 T64 N4 G1", gpt(256, 64, 4), 2, 16, 1, "f64", 2, True, False))
    # per-block (analyze's spectra): the two largest blocks (a run of every block takes
    # minutes on 2 cores), one at a time on 1 thread, both at once on 2
    two = ["h.0.mlp.c_fc", "h.1.mlp.c_proj"]
    for threads in (1, 2):
        ratios.append(row(f"2 blocks w256 L4 T64 N4", gpt(256, 64, 4), 2, 16, 2, "f64", threads,
                          False, two))
    print(f"ratio model/measured: min {min(ratios):.3f}, max {max(ratios):.3f}")


def largest(budget, probes, steps, group, es, threads, full, blocks, base):
    """Largest w (multiple of 64) of the family whose prediction fits the budget."""
    best = None
    for w in range(64, 4097, 64):
        pred, parts, n = predict(gpt(w, 256, 8), probes, steps, group, es, threads, full,
                                 blocks, base)
        if pred > budget:
            break
        best = (w, n, pred, parts)
    return best


def part2():
    budget = ARGS.budget_gib * GIB
    print(f"\nPart 2: the largest gpt (width w, layers = heads = w/64, context 256, vocab 65, "
          f"8 sequences) for {ARGS.budget_gib:g} GiB;\nthe `large` preset's SLQ: 4 probes x 32 "
          f"steps, probe group 4 (base: the tiny run's RSS on 1 thread)")
    base = base_rss(1)
    print(f"{'run':<34} {'basis':>5} {'threads':>7} {'w':>5} {'L':>3} {'n':>12} {'peak GiB':>9} "
          f"{'basis GiB':>9} {'wkspace GiB':>11}")
    for full, blocks, what in ((True, False, "spectrum --full --blocks none"),
                               (False, True, "per-block (analyze's spectra)")):
        for basis, es in (("f64", 8), ("f32", 4)):
            for threads in (1, 16):
                b = largest(budget, 4, 32, 4, es, threads, full, blocks, base)
                if b is None:
                    print(f"{what:<34} {basis:>5} {threads:>7}  none fits")
                    continue
                w, n, pred, parts = b
                print(f"{what:<34} {basis:>5} {threads:>7} {w:>5} {w // 64:>3} {n:>12} "
                      f"{pred / GIB:>9.2f} {parts['basis'] / GIB:>9.2f} {parts['workspace'] / GIB:>11.2f}",
                      flush=True)
    print("the `large` preset's gpt itself (w 384; its data: 8 sequences, as the family's):")
    for full, blocks, what in ((True, False, "spectrum --preset large --full"),
                               (False, True, "per-block (analyze --preset large)")):
        for basis, es in (("f64", 8), ("f32", 4)):
            for threads in (1, 16):
                pred, parts, n = predict(gpt(384, 256, 8), 4, 32, 4, es, threads, full, blocks, base)
                print(f"{what:<34} {basis:>5} {threads:>7} {384:>5} {6:>3} {n:>12} "
                      f"{pred / GIB:>9.2f} {parts['basis'] / GIB:>9.2f} {parts['workspace'] / GIB:>11.2f}",
                      flush=True)
    for basis, es in (("f64", 8), ("f32", 4)):  # how many threads a per-block run of it may use
        fit = [t for t in range(1, 17)
               if predict(gpt(384, 256, 8), 4, 32, 4, es, t, False, True, base)[0] <= budget]
        print(f"per-block (analyze --preset large), {basis} basis: at most {max(fit) if fit else 0} "
              f"threads fit {ARGS.budget_gib:g} GiB")


def confirm(w):
    k, m = ARGS.confirm_probes, ARGS.confirm_steps
    print(f"\nConfirming: spectrum --full --blocks none, width {w} of the family, {k} probes x {m} "
          f"steps (one group), 1 thread")
    for basis in ARGS.confirm_basis.split(","):
        row(f"full w{w} L{w // 64} T256 N8", gpt(w, 256, 8), k, m, k, basis, 1, True, False)


if not ARGS.table_only and not ARGS.confirm:
    part1()
if not ARGS.no_table:
    part2()
if ARGS.confirm:
    confirm(ARGS.confirm)

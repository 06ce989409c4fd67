"""JS⁰ on real data (issue 17.3): gpt on the Debian text corpus, mlp/cnn on Fashion-MNIST,
at initialisation and at checkpoints of a short Adam run. Driven by tools/js_study.py:

    python3 tools/js_study.py --data real --scale small [--jobs 2] [--json FILE]
    python3 tools/js_study.py --data real --scale paper --threads 8 --jobs 2 [--json FILE]
    python3 tools/js_study.py --data real --scale paper --print-commands   # commands + cost

For every configuration (model, sizes, seed) the chain is, with the public CLI only:
    hessblock train SIZES --steps 1 --lr 0 --checkpoint c0     (θ₀ exactly: Adam with lr 0)
    hessblock train SIZES --steps 100 --checkpoint c100        (Adam, lr 1e-3, full batch)
    hessblock train --resume c100 --steps 200 --checkpoint c300  (bit-identical to 300 steps)
    hessblock spectrum --checkpoint cN --js-blocks weights     (N = 0, 100, 300)
then, per point, a subprocess reads the spectrum's Ritz values (<model>_ritz.npy) and computes
the eight conventions of JS⁰ with the library (Python bindings): grid linear|symlog × blocks
all|weights × unscaled|scaled (each spectrum divided by its max |λ|, numerically-zero blocks
left out), each with its bootstrap standard error over probes (100 replicates, the CLI's
stream 2^62). The linear values are checked against the CLI's own spectrum.json (they must
agree to 1e-9). Where every block has at most --exact-max entries (2048) and the step is in
--exact-at (all three), it also rebuilds the model from the checkpoint, assembles every block's dense
H_bb (hb_model_block_hvp on unit vectors), takes its eigenvalues (LAPACK, numpy.eigvalsh)
and computes the same eight JS⁰ from the exact spectra (one "probe": nodes = eigenvalues,
weights 1/n): the difference is the SLQ estimation error (bias + noise) of each convention.

Why one SLQ run serves both grids: the Ritz values do not depend on the JS grid; the CLI's
--js-grid symlog only raises the default Lanczos length to 256 (the symlog values of a
32-step run are biased upward, docs/spectral.md). The symlog rows here are therefore the
32-step values, and the exact column measures their bias where it exists. Conventions,
sizes, seeds and steps below were fixed before any run; nothing is tuned.

Known limitation worked around: a checkpoint of a text / Fashion-MNIST run records its data
as external and its micro-batch count as 1, so `--resume` and `spectrum --checkpoint` cannot
take `--batches N > 1` (exit 2). Every run here therefore uses one micro-batch of `--batch`
samples (the same samples as N batches of batch/N would be).
"""
import concurrent.futures as cf
import json
import math
import os
import re
import stat
import subprocess
import sys
import time

STEPS = (0, 100, 300)          # checkpoints: init, after 100 and after 300 Adam steps
LR = "1e-3"                    # Adam, constant, full batch (the CLI's defaults otherwise)
PROBES, LANCZOS = 4, 32        # the default and large presets' SLQ (docs/cli.md, Presets)
REPLICATES = 100               # the CLI's --js-bootstrap default
STREAM = 1 << 62               # the CLI's bootstrap stream (compute.c JS_BOOTSTRAP_STREAM)
CONVENTIONS = [(g, b, n) for g in ("linear", "symlog") for b in ("all", "weights")
               for n in (False, True)]


def conv_key(g, b, n):
    return f"{g}/{b}/{'scaled' if n else 'unscaled'}"


def configs(scale):
    """(label, model, data, size flags, seed). Fixed before the runs (issue 17.3)."""
    out = []
    if scale == "small":
        # the one gpt whose every block is small enough (≤ 2048 entries) for exact spectra
        out.append(("gpt-w16-L1", "gpt", "text",
                    ["--width", "16", "--heads", "1", "--layers", "1", "--context", "32",
                     "--batch", "32", "--batches", "1"], 0))
        for w in (32, 64):
            out.append((f"gpt-w{w}-L2", "gpt", "text",
                        ["--width", str(w), "--heads", str(max(1, w // 64)), "--layers", "2",
                         "--context", "32", "--batch", "32", "--batches", "1"], 0))
        out.append(("mlp-w64-L2", "mlp", "fashion-mnist",
                    ["--width", "64", "--layers", "2", "--batch", "128", "--batches", "1"], 0))
        out.append(("cnn-c4-s2", "cnn", "fashion-mnist",
                    ["--conv-width", "4", "--stages", "2", "--batch", "128", "--batches", "1"], 0))
    else:
        for L in (2, 4, 6):
            for w in (128, 256, 384):
                out.append((f"gpt-w{w}-L{L}", "gpt", "text",
                            ["--width", str(w), "--heads", str(w // 64), "--layers", str(L),
                             "--context", "256", "--batch", "8", "--batches", "1"], 0))
        out.append(("mlp-w2048-L3", "mlp", "fashion-mnist",
                    ["--width", "2048", "--layers", "3", "--batch", "256", "--batches", "1"], 0))
        out.append(("cnn-c64-s2", "cnn", "fashion-mnist",
                    ["--conv-width", "64", "--stages", "2", "--batch", "256", "--batches", "1"], 0))
    return out


def run(cmd, log):
    t0 = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True)
    with open(log, "a") as f:
        f.write("$ " + " ".join(cmd) + "\n" + r.stdout + r.stderr + "\n")
    if r.returncode != 0:
        sys.exit(f"failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr}")
    return r, time.time() - t0


def chain(a, cfg):
    """Train to every checkpoint, then `spectrum` + the JS subprocess at each. Returns rows."""
    label, model, data, sizes, seed = cfg
    d = os.path.join(a.out, label)
    if not a.collect:  # --collect only reads what is there
        os.makedirs(d, exist_ok=True)
    log = os.path.join(d, "commands.log")
    H = a.hessblock
    common = ["--threads", str(a.threads), "--seed", str(seed)]
    base = [H, "train", "--model", model, "--data", data, *sizes, *common]
    steps = tuple(s for s in STEPS if s in a.points)
    ck = {s: os.path.join(d, f"c{s}.ckpt") for s in STEPS}
    trains = {}
    if a.collect:  # tabulate the points already computed, run nothing
        steps = tuple(s for s in steps if os.path.exists(f"{d}/s{s}/js_real.json"))
    elif not os.path.exists(ck[0]):
        run(base + ["--steps", "1", "--lr", "0", "--checkpoint", ck[0], "--out", f"{d}/t0",
                    "--quiet"], log)
    prev = 0
    for s in STEPS[1:]:
        if a.collect or s > max(steps):
            break
        if not os.path.exists(ck[s]):
            if prev == 0:
                cmd = base + ["--steps", str(s), "--lr", LR]
            else:  # the recorded model: sizes come from it (--model: --data is checked first)
                cmd = [H, "train", "--resume", ck[prev], "--model", model, "--data", data, *common,
                       "--steps", str(s - prev), "--lr", LR]
            run(cmd + ["--checkpoint", ck[s], "--out", f"{d}/t{s}", "--quiet"], log)
        prev = s
    for s in steps:
        tj = f"{d}/t{s}/train.json"
        if os.path.exists(tj):
            with open(tj) as f:
                trains[s] = json.load(f)
    rows = []
    exact_at = {int(x) for x in a.exact_at.split(",") if x} if a.exact_at else set(STEPS)
    for s in steps:
        sd = f"{d}/s{s}"
        secs = None
        if not os.path.exists(f"{sd}/spectrum.json"):
            # --model: the data option is checked against it before the checkpoint is read
            _, secs = run([H, "spectrum", "--checkpoint", ck[s], "--model", model, "--data", data,
                           *common,
                           "--probes", str(PROBES), "--steps", str(LANCZOS),
                           "--js-blocks", "weights", "--out", sd], log)
        pj = f"{sd}/js_real.json"
        if not os.path.exists(pj):
            want = "1" if s in exact_at else "0"
            run([sys.executable, os.path.join(os.path.dirname(__file__), "js_study.py"),
                 "--point", ck[s], sd, data, want, "--exact-max", str(a.exact_max)], log)
        with open(pj) as f:
            pt = json.load(f)
        with open(f"{sd}/spectrum.json") as f:
            spj = json.load(f)["spectrum"]
        tr = trains.get(s, {})
        run_ = tr.get("run", {}) if isinstance(tr.get("run"), dict) else {}
        pt.update({"config": label, "model": model, "data": data, "sizes": sizes, "seed": seed,
                   "step": s, "n_params": spj.get("n_params"), "blocks": len(spj["blocks"]),
                   "spectrum_seconds": spj.get("seconds"), "wall_seconds": secs,
                   "train_loss": run_.get("final_loss") if s else run_.get("initial_loss"),
                   "valid_loss": tr.get("valid_loss_end"),
                   "held_out_loss": tr.get("held_out_loss"),
                   "held_out_accuracy": tr.get("held_out_accuracy")})
        s256 = f"{d}/s{s}-symlog256/spectrum.json"
        if os.path.exists(s256):  # the CLI's own symlog convention (256 Lanczos steps)
            with open(s256) as f:
                j = json.load(f)["spectrum"]
            pt["symlog256"] = {
                f"symlog/{b}/{n}": {"value": j.get(f"js0{sel}{nn}"),
                                    "stderr": j.get(f"js0{sel}{nn}_stderr")}
                for b, sel in (("all", ""), ("weights", "_selected"))
                for n, nn in (("unscaled", ""), ("scaled", "_normalized"))}
            pt["symlog256"]["command"] = (f"hessblock spectrum --checkpoint c{s}.ckpt --model "
                                          f"{model} --data {data} --threads 1 --seed 0 --probes 4"
                                          " --js-grid symlog --js-blocks weights")
        rows.append(pt)
    return rows


# ---- one point (a subprocess: the library is loaded once per point, threads = 1) --------
def _text_sources():
    """The CLI's default corpus (docs/data.md "Sources"; tools/hessblock/textdata.c)."""
    out = []
    for d in ("/usr/share/games/fortunes", "/usr/share/common-licenses"):
        for n in sorted(os.listdir(d), key=lambda s: s.encode()):
            p = os.path.join(d, n)
            if n.startswith(".") or n.endswith(".dat") or n.endswith(".u8"):
                continue
            if stat.S_ISREG(os.lstat(p).st_mode):
                out.append(p)
    return out


def _js_all(hb, specs, weights_mask):
    """The eight conventions: {key: (value, stderr or None)}."""
    res = {}
    for g, b, n in CONVENTIONS:
        sub = [s for s, w in zip(specs, weights_mask) if w] if b == "weights" else list(specs)
        if len(sub) < 2:
            res[conv_key(g, b, n)] = (None, None)
            continue
        _, v = hb.js_matrix(sub, normalize=n, grid=g)
        se = None
        if all(s.num_probes > 1 for s in sub):
            _, se = hb.js_matrix_stderr(sub, replicates=REPLICATES, stream=STREAM, normalize=n,
                                        grid=g)
        res[conv_key(g, b, n)] = (None if math.isnan(v) else v, se)
    return res


def point_main(a):
    import numpy as np
    import hessblock as hb
    ck, sd, data, want_exact = a.point
    with open(f"{sd}/spectrum.json") as f:
        sp = json.load(f)["spectrum"]
    ctx = hb.Context(threads=1, seed=0)
    info = hb.CheckpointInfo.read(ctx, ck)
    m = hb.Model(ctx, info.model_config())
    if data == "text":
        m.set_corpus(hb.TextCorpus(ctx, _text_sources()), "train", 1, 0)
    else:
        dd = hb.FASHION_MNIST_DIR
        x = hb.idx_read(ctx, dd + "/train-images-idx3-ubyte.gz")
        y = hb.idx_read(ctx, dd + "/train-labels-idx1-ubyte.gz")
        mean, std = hb.images_stats(ctx, x)
        m.set_images(x, y, n_batches=1, mean=mean, std=std)
    hb.load_checkpoint(ck, m.params)
    P = m.params
    infos = [P.block_info(b) for b in range(P.num_blocks)]
    assert [i.name for i in infos] == [b["name"] for b in sp["blocks"]], "block order differs"
    weights = [len(i.shape) >= 2 and i.kind not in (hb.BlockKind.BIAS, hb.BlockKind.NORM)
               for i in infos]
    ritz = np.load(f"{sd}/{sp['model']}_ritz.npy")
    specs = []
    for b, bi in enumerate(infos):
        s = hb.Spectrum(ctx, bi.numel)
        rows = ritz[ritz[:, 0] == b]
        for p in range(int(rows[:, 1].max()) + 1):
            q = rows[rows[:, 1] == p]
            s.add_probe(np.ascontiguousarray(q[:, 2]), np.ascontiguousarray(q[:, 3]))
        specs.append(s)
    slq = _js_all(hb, specs, weights)
    # the recomputation must be the CLI's own (linear grid): a guard against a wrong rebuild
    for key, field in (("linear/all/unscaled", "js0"), ("linear/all/scaled", "js0_normalized"),
                       ("linear/weights/unscaled", "js0_selected"),
                       ("linear/weights/scaled", "js0_selected_normalized")):
        c = sp.get(field)
        if c is not None and slq[key][0] is not None and abs(c - slq[key][0]) > 1e-9:
            sys.exit(f"{sd}: {key} {slq[key][0]} differs from the CLI's {field} {c}")
    out = {"slq": {k: {"value": v, "stderr": se} for k, (v, se) in slq.items()},
           "probes": sp["probes"], "lanczos_steps": sp["lanczos_steps"],
           "largest_block": max(i.numel for i in infos),
           "weight_blocks": sum(weights), "exact": None}
    if want_exact == "1" and out["largest_block"] <= a.exact_max:
        t0 = time.time()
        ex, check = [], []
        for b, bi in enumerate(infos):
            Hb = m.hessian(bi.index)
            asym = float(np.max(np.abs(Hb - Hb.T))) if bi.numel > 1 else 0.0
            ev = np.linalg.eigvalsh(0.5 * (Hb + Hb.T))
            s = hb.Spectrum(ctx, bi.numel)
            s.add_probe(ev, np.full(bi.numel, 1.0 / bi.numel))
            ex.append(s)
            # extreme Ritz values converge first: they must match the exact extremes
            check.append({"block": bi.name, "exact_max": float(ev[-1]),
                          "ritz_max": sp["blocks"][b]["lambda_max"], "asymmetry": asym})
        exv = _js_all(hb, ex, weights)
        out["exact"] = {k: v for k, (v, _) in exv.items()}
        out["exact_seconds"] = time.time() - t0
        out["exact_check"] = check
    with open(f"{sd}/js_real.json", "w") as f:
        json.dump(out, f, indent=1)


# ---- cost estimate for the paper scale ----------------------------------------------------
def _gpt_shape(sizes):
    g = dict(zip(sizes[0::2], sizes[1::2]))
    return (int(g["--width"]), int(g["--layers"]), int(g.get("--context", 32)),
            int(g["--batch"]))


def hvp_work(model, sizes, vocab=115):
    """A rough count of the work of one SLQ spectrum: blocks × probes × steps HVP products,
    each ∝ parameters × tokens (+ attention T² w per layer). Only ratios are used."""
    if model != "gpt":
        return None
    w, L, T, B = _gpt_shape(sizes)
    params = 2 * vocab * w + T * w + L * 12 * w * w
    per_hvp = B * T * params + L * B * T * T * w
    blocks = 2 + 16 * L + 3
    return blocks * PROBES * LANCZOS * per_hvp


# CPU seconds of one spectrum of gpt-w64-L2 (small scale), measured with `time` at a
# moderate load (user time; the JSON's seconds are wall times, inflated by the shared machine)
REF_CPU = ("gpt-w64-L2", 71.0)


def estimate(paper_cfgs, points):
    """CPU hours of the spectra of each paper-scale gpt, scaled from REF_CPU by hvp_work.
    Rough: larger products run faster per flop in BLIS, so it errs on the high side."""
    ref = [c for c in configs("small") if c[0] == REF_CPU[0]][0]
    rate = REF_CPU[1] / hvp_work("gpt", ref[3])
    return {c[0]: rate * hvp_work(c[1], c[3]) * len(points) / 3600
            for c in paper_cfgs if c[1] == "gpt"}


# ---- driver ---------------------------------------------------------------------------
def fmt(v, se=None, nd=3):
    if v is None:
        return "n/a"
    return f"{v:.{nd}f}" + (f" ± {se:.{nd}f}" if se is not None else "")


def print_tables(rows):
    print("JS⁰ on real data: SLQ value ± bootstrap standard error over probes; "
          "exact = JS⁰ of the exact block spectra (where computed).\n")
    for g in ("linear", "symlog"):
        print(f"\n### {g} grid\n")
        print("| config | step | all | all, scaled | weights | weights, scaled |")
        print("|---|---|---|---|---|---|")
        for r in rows:
            cells = []
            for b in ("all", "weights"):
                for n in (False, True):
                    k = conv_key(g, b, n)
                    c = fmt(r["slq"][k]["value"], r["slq"][k]["stderr"])
                    if r.get("exact"):
                        c += f" (exact {fmt(r['exact'][k])})"
                    cells.append(c)
            print(f"| {r['config']} | {r['step']} | " + " | ".join(cells) + " |")
    s256 = [r for r in rows if r.get("symlog256")]
    if s256:
        print("\n### symlog grid at the CLI's own 256 Lanczos steps (`--js-grid symlog`)\n")
        print("| config | step | all | all, scaled | weights | weights, scaled |")
        print("|---|---|---|---|---|---|")
        for r in s256:
            cells = [fmt(r["symlog256"][conv_key("symlog", b, n)]["value"],
                         r["symlog256"][conv_key("symlog", b, n)]["stderr"])
                     for b in ("all", "weights") for n in (False, True)]
            print(f"| {r['config']} | {r['step']} | " + " | ".join(cells) + " |")
    print("\n| config | step | parameters | blocks | train loss | valid/held-out loss | "
          "spectrum s |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        vl = r.get("valid_loss") if r.get("valid_loss") is not None else r.get("held_out_loss")
        print(f"| {r['config']} | {r['step']} | {r['n_params']} | {r['blocks']} | "
              f"{fmt(r.get('train_loss'), nd=4)} | {fmt(vl, nd=4)} | "
              f"{fmt(r.get('spectrum_seconds'), nd=1)} |")


def commands(a, cfgs):
    print("# paper scale on the 16-core host (each chain: 3 trains, 3 spectra, 3 JS points):")
    print(f"python3 tools/js_study.py --data real --scale paper --jobs 2 --threads 8 "
          f"--out /tmp/js-real-paper --json docs/data/js-study/paper.json")
    for c in cfgs:
        print(f"#   {c[0]}: hessblock train --model {c[1]} --data {c[2]} {' '.join(c[3])} ...")


def main(a):
    a.out = a.out or f"/tmp/js-real-{a.scale}"
    a.points = tuple(int(x) for x in a.points.split(",")) if a.points else STEPS
    if any(x not in STEPS for x in a.points):
        sys.exit(f"--points: each of {a.points} must be one of {STEPS}")
    # the JS subprocesses load the library of this build through the Python bindings
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
    lib = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(a.hessblock))), "lib",
                       "libhessblock.so")
    os.environ.setdefault("HESSBLOCK_LIBRARY", lib)
    os.environ["PYTHONPATH"] = os.path.join(root, "bindings", "python") + (
        os.pathsep + os.environ["PYTHONPATH"] if os.environ.get("PYTHONPATH") else "")
    os.makedirs(a.out, exist_ok=True)
    cfgs = [c for c in configs(a.scale) if not a.only or a.only in c[0]]
    if a.print_commands:
        commands(a, cfgs)
        est = estimate(cfgs, a.points)
        print(f"# estimated CPU hours of the gpt spectra at points {a.points} (from "
              f"{REF_CPU[0]}: {REF_CPU[1]:.0f} s CPU per spectrum; divide by the cores used):")
        for k, v in est.items():
            print(f"#   {k}: {v:.2f} h")
        print(f"#   total gpt: {sum(est.values()):.1f} h CPU")
        return
    t0 = time.time()
    with cf.ThreadPoolExecutor(a.jobs) as ex:
        futs = [ex.submit(chain, a, c) for c in cfgs]
        rows = [r for f in futs for r in f.result()]
    print_tables(rows)
    if a.json:
        os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
        with open(a.json, "w") as f:
            json.dump({"scale": a.scale, "steps": STEPS, "probes": PROBES, "lanczos": LANCZOS,
                       "replicates": REPLICATES, "lr": LR, "threads": a.threads,
                       "wall_seconds": time.time() - t0, "rows": rows}, f, indent=1)

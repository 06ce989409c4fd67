#!/usr/bin/env python3
"""SGD (+momentum) vs Adam/AdamW vs SGD with per-block learning rates from the Hessian
(`sgd-blockhess`) on real data, with mini-batches and a held-out loss (issue 17 item 3;
docs/study.md "Optimizers on real data"). Prints markdown tables.

    python3 tools/optim_study.py [--hessblock build/tools/hessblock] [--out /tmp/optim-study]
        [--models gpt,mlp] [--seeds 3] [--steps 200] [--grid-points 5] [--jobs 2]
        [--hess-every 100] [--hess-steps 10] [--hess-tol 1e-2] [--threads 1]
        [--record docs/data/optim-study/runs.jsonl]

Every run is
    hessblock train --model M --data D --minibatch --eval-every E --steps S --seed s
                    --optimizer O --lr LR [O's fixed settings below] --json
(gpt on --data text, mlp and cnn on --data fashion-mnist; the `default` preset's sizes),
written to OUT/M/O/lr<LR>-s<seed>.json; a run whose file exists is read, not rerun, so an
interrupted study resumes. The conventions are fixed here, before any run:
  * budget: S steps of the preset's micro-batches (gpt 2 x 16 sequences x 16 tokens,
    mlp 2 x 128 images) from a seed-dependent start in the training split, each window
    seen once (docs/train.md);
  * the learning-rate grids: log-spaced, a half-decade apart, centred on 0.1 for sgd and
    sgd-blockhess and on 1e-3 for adam and adamw (--grid-points of them); when the best
    learning rate (below) is at an edge of its grid the grid is extended by one point
    beyond that edge, at most 3 times, and the table says so;
  * the best learning rate: the smallest mean (over seeds) final validation loss; a
    run that diverged counts as +inf (and makes that learning rate lose);
  * sgd and sgd-blockhess: momentum 0.9, no weight decay; adam: no weight decay; adamw:
    decoupled weight decay 0.1; betas 0.9, 0.999, eps 1e-8; constant learning rate;
  * sgd-blockhess: block b's lr = lr * c / lambda_max(H_bb), c so that the median block
    keeps lr, blocks below 1e-2 x the largest lambda_max raised to it; refreshed every
    --hess-every steps with --hess-steps Lanczos steps to relative residual --hess-tol
    (defaults 100, 10, 1e-2: the 2-core study's settings, chosen for the CPU budget before
    any run, docs/study.md; the CLI's own defaults are 50, 20, 1e-3);
  * "fraction of the SGD->Adam gap closed" = (L_sgd - L_blockhess) / (L_sgd - L_adam) on
    the mean final validation loss at each optimizer's best learning rate.
"""
import argparse
import concurrent.futures as cf
import json
import math
import os
import statistics
import subprocess
import sys

DATA = {"gpt": "text", "mlp": "fashion-mnist", "cnn": "fashion-mnist"}
OPTIMIZERS = ("sgd", "adam", "adamw", "sgd-blockhess")
CENTRE = {"sgd": 0.1, "sgd-blockhess": 0.1, "adam": 1e-3, "adamw": 1e-3}
FIXED = {"sgd": ["--momentum", "0.9"], "sgd-blockhess": ["--momentum", "0.9"],
         "adam": [], "adamw": ["--wd", "0.1"]}
# micro-batches as the study ran them: the `default` preset's at the time (its mlp and cnn
# sample counts were lowered afterwards for analyze's sake, CHANGELOG); pinned so that the
# recorded runs stay reproducible
SIZES = {"gpt": ["--batch", "16", "--batches", "2"], "mlp": ["--batch", "128", "--batches", "2"],
         "cnn": ["--batch", "64", "--batches", "2"]}
HESS_EVERY, HESS_STEPS, HESS_TOL = 100, 10, 1e-2
EVAL_EVERY = 50
MAX_EXTENSIONS = 3


def lr_at(opt, k):
    """Grid point k (0 = the centre), a half-decade per step; rounded to 4 significant
    digits so that file names and table entries are stable."""
    return float(f"{CENTRE[opt] * 10 ** (0.5 * k):.4g}")


def run_one(a, model, opt, lr, seed):
    d = os.path.join(a.out, model, opt)
    path = os.path.join(d, f"lr{lr:g}-s{seed}.json")
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    os.makedirs(d, exist_ok=True)
    cmd = [a.hessblock, "train", "--model", model, "--data", DATA[model], *SIZES[model], "--minibatch",
           "--eval-every", str(EVAL_EVERY), "--steps", str(a.steps), "--seed", str(seed),
           "--threads", str(a.threads), "--optimizer", opt, "--lr", repr(lr), *FIXED[opt],
           "--json", "--quiet"]
    if opt == "sgd-blockhess":
        cmd += ["--hess-every", str(a.hess_every), "--hess-steps", str(a.hess_steps),
                "--hess-tol", repr(a.hess_tol)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode == 0:
        j = json.loads(r.stdout)
    elif "diverged" in r.stderr:  # exit 1 with the run's JSON: a diverged run is a result
        j = json.loads(r.stdout) if r.stdout.strip() else {}
        j["diverged"] = True
    else:
        sys.exit(f"failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr}")
    j["study"] = {"model": model, "optimizer": opt, "lr": lr, "seed": seed, "cmd": cmd[1:]}
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(j, f)
    os.replace(tmp, path)
    return j


def valid_of(j):
    v = j.get("final_valid_loss")
    return v if (v is not None and math.isfinite(v) and not j.get("diverged")) else math.inf


def train_of(j):
    v = j.get("final_train_eval_loss")
    return v if (v is not None and math.isfinite(v) and not j.get("diverged")) else math.inf


def mean_sd(xs):
    if any(not math.isfinite(x) for x in xs):
        return math.inf, math.nan
    return statistics.mean(xs), (statistics.stdev(xs) if len(xs) > 1 else 0.0)


def fmt(m, s):
    if not math.isfinite(m):
        return "diverged"
    if m > 1e4:  # finite but blown up: not worth four decimals
        return f"{m:.2g} (blown up)"
    return f"{m:.4f} ± {s:.4f}"


def sweep(a, pool, model, opt, seeds):
    """Runs the grid (and its extensions) of one model x optimizer; returns
    {lr: [run json per seed]}, the best lr and the number of extensions."""
    half = (a.grid_points - 1) // 2
    ks = list(range(-half, half + 1))
    results, ext = {}, []
    while True:
        todo = [(k, s) for k in ks for s in seeds if lr_at(opt, k) not in results or
                len(results[lr_at(opt, k)]) < len(seeds)]
        futs = {pool.submit(run_one, a, model, opt, lr_at(opt, k), s): (k, s) for k, s in todo}
        for f in cf.as_completed(futs):
            k, s = futs[f]
            results.setdefault(lr_at(opt, k), {})[s] = f.result()
        score = {lr: statistics.mean(valid_of(results[lr][s]) for s in seeds) for lr in results}
        best = min(sorted(score), key=lambda lr: score[lr])
        kbest = next(k for k in ks if lr_at(opt, k) == best)
        if len(ext) >= MAX_EXTENSIONS or kbest not in (ks[0], ks[-1]):
            break
        knew = ks[0] - 1 if kbest == ks[0] else ks[-1] + 1
        ext.append(lr_at(opt, knew))
        ks = sorted(ks + [knew])
    return {lr: [results[lr][s] for s in seeds] for lr in sorted(results)}, best, ext


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hessblock", default="build/tools/hessblock")
    ap.add_argument("--out", default="/tmp/optim-study")
    ap.add_argument("--models", default="gpt,mlp")
    ap.add_argument("--optimizers", default=",".join(OPTIMIZERS))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--grid-points", type=int, default=5, help="odd; half-decade spacing")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1, help="--threads of every run")
    ap.add_argument("--hess-every", type=int, default=HESS_EVERY, help="sgd-blockhess refresh period")
    ap.add_argument("--hess-steps", type=int, default=HESS_STEPS, help="sgd-blockhess Lanczos steps")
    ap.add_argument("--hess-tol", type=float, default=HESS_TOL, help="sgd-blockhess relative residual")
    ap.add_argument("--record", help="write one JSON line per run (the figures the tables use)")
    a = ap.parse_args()
    if a.grid_points < 3 or a.grid_points % 2 == 0:
        sys.exit("--grid-points must be odd and >= 3")
    models = a.models.split(",")
    opts = a.optimizers.split(",")
    for m in models:
        if m not in DATA:
            sys.exit(f"unknown model {m}")
    for o in opts:
        if o not in OPTIMIZERS:
            sys.exit(f"unknown optimizer {o}")
    seeds = list(range(a.seeds))
    res = {}
    with cf.ThreadPoolExecutor(max_workers=a.jobs) as pool:
        for m in models:
            for o in opts:
                res[m, o] = sweep(a, pool, m, o, seeds)
    any_run = next(iter(res.values()))[0]
    j0 = next(iter(any_run.values()))[0]
    print(f"Budget: {a.steps} steps; {len(seeds)} seeds ({', '.join(map(str, seeds))}); "
          f"evaluation every {EVAL_EVERY} steps on {j0.get('eval_batches')} micro-batches; "
          f"grids of {a.grid_points} points a half-decade apart (extended at an edge); "
          f"sgd-blockhess every {a.hess_every} steps, {a.hess_steps} Lanczos steps, tol {a.hess_tol:g}.\n")
    for m in models:
        j = next(iter(res[m, opts[0]][0].values()))[0]
        seen = j.get("tokens_seen", j.get("samples_seen"))
        unit = "tokens" if "tokens_seen" in j else "samples"
        print(f"### {m} on {DATA[m]} ({j.get('sizes_text', '')[:90]}…; {seen} {unit} per run, "
              f"held out: {j.get('held_out')})\n")
        print("| optimizer | best lr | grid | final train loss | final validation loss |")
        print("|---|---|---|---|---|")
        best = {}
        for o in opts:
            runs, lr, ext = res[m, o]
            tr = mean_sd([train_of(r) for r in runs[lr]])
            va = mean_sd([valid_of(r) for r in runs[lr]])
            best[o] = va[0]
            grid = f"{min(runs):g}…{max(runs):g} ({len(runs)} pts" + \
                   (f"; extended to {', '.join(f'{e:g}' for e in ext)})" if ext else ")")
            print(f"| {o} | {lr:g} | {grid} | {fmt(*tr)} | {fmt(*va)} |")
        print()
        if {"sgd", "adam", "sgd-blockhess"} <= set(best):
            gap = best["sgd"] - best["adam"]
            gbh = best["sgd-blockhess"] - best["adam"]
            frac = (best["sgd"] - best["sgd-blockhess"]) / gap if gap and math.isfinite(gap) else math.nan
            print(f"Gaps (validation loss at each best lr): SGD − Adam = {gap:+.4f}, "
                  f"blockhess − Adam = {gbh:+.4f}; fraction of the SGD→Adam gap closed by "
                  f"sgd-blockhess = {frac:.2f}\n")
        print("Every learning rate (mean ± sd final validation loss over seeds):\n")
        print("| optimizer | " + " | ".join(["lr", "validation loss", "train loss"]) + " |")
        print("|---|---|---|---|")
        for o in opts:
            runs = res[m, o][0]
            for lr in runs:
                print(f"| {o} | {lr:g} | {fmt(*mean_sd([valid_of(r) for r in runs[lr]]))} | "
                      f"{fmt(*mean_sd([train_of(r) for r in runs[lr]]))} |")
        print()
        if "sgd-blockhess" in opts:
            runs, lr, _ = res[m, "sgd-blockhess"]
            bh = runs[lr][0].get("blockhess", {})
            if bh.get("history"):
                last = bh["history"][-1]
                fs = last["factor"]
                pairs = sorted(zip(fs, bh["blocks"]))
                print(f"sgd-blockhess at lr {lr:g}, seed 0: {bh['refreshes']} refreshes, "
                      f"{bh['hvps']} Hessian-vector products ({bh['seconds']:.1f} s), "
                      f"{bh['converged_last']} of {len(fs)} lambda_max converged at the last; "
                      f"last factors {pairs[0][0]:.3g} ({pairs[0][1]}) … {pairs[-1][0]:.3g} "
                      f"({pairs[-1][1]})\n")
    if a.record:
        os.makedirs(os.path.dirname(a.record) or ".", exist_ok=True)
        with open(a.record, "w") as f:
            for (m, o), (runs, _, _) in res.items():
                for lr, rs in runs.items():
                    for r in rs:
                        bh = r.get("blockhess")
                        rec = {"model": m, "optimizer": o, "lr": lr, "seed": r["study"]["seed"],
                               "steps": a.steps, "diverged": bool(r.get("diverged")),
                               "final_train_eval_loss": r.get("final_train_eval_loss"),
                               "final_valid_loss": r.get("final_valid_loss"),
                               "samples_seen": r.get("samples_seen"), "first_sample": r.get("first_sample"),
                               "eval": r.get("eval"), "seconds": r.get("total_seconds"),
                               "cmd": r["study"]["cmd"]}
                        if bh:
                            rec["blockhess"] = {k: bh[k] for k in ("refreshes", "hvps", "seconds", "converged_last", "blocks")}
                            rec["blockhess"]["last_lambda"] = bh["history"][-1]["lambda"] if bh["history"] else None
                            rec["blockhess"]["last_factor"] = bh["history"][-1]["factor"] if bh["history"] else None
                        f.write(json.dumps(rec) + "\n")


if __name__ == "__main__":
    main()

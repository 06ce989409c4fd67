#!/usr/bin/env python3
"""Old build against new build, same machine, same run: bench_model (gpt-ref) and
bench_hvp (mlp, cnn) of two build trees, alternated round by round so both see the same
machine load; prints the median of each figure over the rounds and new/old.

    python3 bench/compare_builds.py OLD_BUILD NEW_BUILD [--rounds 3] [--reps 5]

(e.g. OLD_BUILD = a worktree of the commit before a change, built with meson release).
Times are process CPU time, one thread, as the two benchmarks measure them."""
import argparse, re, statistics, subprocess, sys

def model_figures(out):
    figs, dt = {}, None
    for line in out.splitlines():
        m = re.match(r"gpt-ref (f32|f64):", line)
        if m:
            dt = m.group(1)
            continue
        m = re.match(r"\s+(loss|grad|hvp|hvp_multi\(\s*\d+\))\s+([\d.]+) ms", line)
        if m:
            figs[f"gpt-ref {dt} {m.group(1).replace(' ', '')}"] = float(m.group(2))
        m = re.match(r"\s+block_hvp (\S+)\s+([\d.]+) ms", line)
        if m:
            figs[f"gpt-ref {dt} block_hvp {m.group(1)}"] = float(m.group(2))
    return figs

def hvp_figures(out):
    figs = {}
    for line in out.splitlines():
        m = re.match(r"(mlp|cnn)\s.*grad ([\d.]+) ms \| hvp ([\d.]+) ms .*hvp_multi ([\d.]+) ms/direction", line)
        if m:
            figs[f"{m.group(1)} f64 grad"] = float(m.group(2))
            figs[f"{m.group(1)} f64 hvp"] = float(m.group(3))
            figs[f"{m.group(1)} f64 hvp_multi(10)/direction"] = float(m.group(4))
    return figs

def run(build, reps):
    a = subprocess.run([f"{build}/bench/bench_model", "--reps", str(reps)], check=True,
                       capture_output=True, text=True).stdout
    b = subprocess.run([f"{build}/bench/bench_hvp", "10", str(reps)], check=True,
                       capture_output=True, text=True).stdout
    return {**model_figures(a), **hvp_figures(b)}

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("old"), ap.add_argument("new")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    res = {"old": [], "new": []}
    for r in range(args.rounds):
        for which in ("old", "new"):
            res[which].append(run(getattr(args, which), args.reps))
            print(f"round {r + 1}/{args.rounds} {which} done", file=sys.stderr)
    print(f"| figure (median of {args.rounds} rounds, ms) | old | new | new/old |")
    print("|---|---:|---:|---:|")
    for key in res["old"][0]:
        o = statistics.median(d[key] for d in res["old"])
        n = statistics.median(d[key] for d in res["new"] if key in d)
        print(f"| {key} | {o:.2f} | {n:.2f} | {n / o:.3f} |")

if __name__ == "__main__":
    main()

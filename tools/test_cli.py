#!/usr/bin/python3
"""Tests of the hessblock command-line tool (meson suite 'cli').

usage: test_cli.py HESSBLOCK WRITERS_DEMO SCRATCH_DIR

Every subcommand runs on a tiny setting and its JSON is checked for structure and
sanity; SVG files must parse as XML; report.html may reference only files that exist;
bad arguments must give exit status 2 and one message line, never a crash.
A subcommand whose library component is missing from a build says "not available in
this build" and exits 1; MAY_BE_MISSING lists what a build may lack (nothing now)."""
import csv
import gzip
import json
import math
import os
import re
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET

HB, DEMO, SCRATCH = sys.argv[1], sys.argv[2], sys.argv[3]
FAILS = []
SKIPS = []


# tools/hessblock/commands.c SYMLOG_MIN_STEPS (docs/spectral.md, measured bias table)
SYMLOG_MIN_STEPS = 256


def check(cond, msg):
    if not cond:
        FAILS.append(msg)
        print("FAIL:", msg)
    return cond


def run(args, timeout=120, env=None):
    p = subprocess.run([HB] + args, capture_output=True, text=True, timeout=timeout,
                       env=dict(os.environ, **env) if env else None)
    check(p.returncode >= 0, f"{args}: killed by signal {-p.returncode}")
    for bad in ("Segmentation", "AddressSanitizer", "runtime error:", "Aborted"):
        check(bad not in p.stderr, f"{args}: '{bad}' in stderr")
    return p


# Components that may be missing from a build (none now: SLQ, models, optimizers and
# checkpoints have all landed, so a "not available" answer is a failure).
MAY_BE_MISSING = set()


def unavailable(p, what):
    if p.returncode == 1 and "not available in this build" in p.stderr:
        if what in MAY_BE_MISSING:
            SKIPS.append(what)
            print("skip (component not in this build):", what)
            return True
        check(False, f"{what}: not available in this build: {p.stderr.strip()}")
        return True
    return False


def finite_numbers(obj, path="$"):
    """Every number in a JSON tree is finite (JSON cannot even hold others, but the
    parser accepts NaN/Infinity tokens, which our writer must never emit)."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            finite_numbers(v, f"{path}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            finite_numbers(v, f"{path}[{i}]")
    elif isinstance(obj, float):
        check(math.isfinite(obj), f"non-finite number at {path}")


def strict_json(text, what):
    def bad_constant(c):
        raise ValueError(f"non-JSON constant {c}")
    try:
        d = json.loads(text, parse_constant=bad_constant)
    except ValueError as e:
        check(False, f"{what}: invalid JSON: {e}")
        return None
    finite_numbers(d)
    return d


def trapz(x, y):
    return sum(0.5 * (x[i] - x[i - 1]) * (y[i] + y[i - 1]) for i in range(1, len(x)))


def check_spectrum(s, what, with_densities):
    check(isinstance(s["blocks"], list) and s["blocks"], f"{what}: no blocks")
    check(s["n_params"] > 0, f"{what}: n_params")
    n = len(s["blocks"])
    for b in s["blocks"]:
        check(b["lambda_min"] is not None and b["lambda_max"] is not None
              and b["lambda_min"] <= b["lambda_max"], f"{what}: {b['name']} lambda range")
        # Densities are mixtures of Gaussians of width sigma on a grid reaching >= 4 sigma
        # beyond the extreme Ritz values with spacing below sigma: the trapezoid rule and the
        # cut tails together lose far less than 1e-3.
        check(abs(b["density_integral"] - 1) < 1e-3,
              f"{what}: {b['name']} density integrates to {b['density_integral']}")
        if "own_density_integral" in b:  # the block on its own range: same construction
            check(abs(b["own_density_integral"] - 1) < 1e-3,
                  f"{what}: {b['name']} own-range density integrates to {b['own_density_integral']}")
        if with_densities:
            check(len(b["density"]) == len(s["grid"]), f"{what}: density length")
            check(min(b["density"]) >= 0, f"{what}: negative density")
            check(abs(trapz(s["grid"], b["density"]) - 1) < 1e-3, f"{what}: recomputed integral")
    if "js_matrix" in s and n > 1:
        js = s["js_matrix"]
        check(len(js) == n and all(len(r) == n for r in js), f"{what}: JS matrix shape")
        for i in range(n):
            check(abs(js[i][i]) < 1e-12, f"{what}: JS diagonal")
            for j in range(n):
                check(0 <= js[i][j] <= 1, f"{what}: JS[{i}][{j}] = {js[i][j]} not in [0,1]")
                check(abs(js[i][j] - js[j][i]) < 1e-12, f"{what}: JS not symmetric")
        mean = sum(js[i][j] for i in range(n) for j in range(i + 1, n)) / (n * (n - 1) / 2)
        check(abs(mean - s["js0"]) < 1e-9, f"{what}: js0 {s['js0']} != mean {mean}")
        check(0 <= s["js0"] <= 1, f"{what}: js0 range")


def check_outdir(d, what):
    files = os.listdir(d)
    for f in files:
        p = os.path.join(d, f)
        if f.endswith(".svg"):
            try:
                root = ET.parse(p).getroot()
                check(root.tag.endswith("svg"), f"{what}: {f} root is {root.tag}")
            except ET.ParseError as e:
                check(False, f"{what}: {f} is not XML: {e}")
        elif f.endswith(".csv"):
            with open(p, newline="") as fh:
                rows = list(csv.reader(fh))
            check(len(rows) >= 2, f"{what}: {f} has no data rows")
            check(all(len(r) == len(rows[0]) for r in rows), f"{what}: {f} ragged rows")
            check(not any(c.strip().lower().lstrip("+-") in ("nan", "inf", "infinity")
                          for r in rows for c in r), f"{what}: {f} holds nan/inf (must be empty)")
        elif f.endswith(".json"):
            with open(p) as fh:
                strict_json(fh.read(), f"{what}: {f}")
    if "report.html" in files:
        html = open(os.path.join(d, "report.html"), encoding="utf-8").read()
        # issue 15.5: self-contained — no <img>, no src/href at all (nothing to fetch or follow
        # outside the page), every figure written inlined as <svg>, clip ids unique in the page
        refs = re.findall(r'(?:src|href|xlink:href)\s*=\s*"([^"]*)"', html)
        check(not refs and "<img" not in html and "<link" not in html and "<script" not in html,
              f"{what}: report.html is not self-contained: {refs[:3]}")
        svgs = [f for f in files if f.endswith(".svg") and f != "train.svg"]  # train has no report
        check(html.count("<svg ") == len(svgs), f"{what}: {html.count('<svg ')} inline SVG for {len(svgs)} files")
        check("<?xml" not in html, f"{what}: an XML declaration inside the page")
        ids = re.findall(r' id="([^"]+)"', html)
        check(len(ids) == len(set(ids)), f"{what}: duplicate ids in report.html")
        check('id="headline"' in html, f"{what}: report.html has no headline")
        check("<table>" in html, f"{what}: report.html has no table")
    return files


def fresh(name):
    d = os.path.join(SCRATCH, name)
    shutil.rmtree(d, ignore_errors=True)
    return d


os.makedirs(SCRATCH, exist_ok=True)

# ---- version and help ----------------------------------------------------------------------
p = run(["--version"])
check(p.returncode == 0 and re.match(r"hessblock \d+\.\d+\.\d+", p.stdout), "--version")
for sub in ([], ["analyze"], ["spectrum"], ["quadratic"], ["train"]):
    p = run(sub + ["--help"])
    check(p.returncode == 0 and "usage: hessblock" in p.stdout, f"{sub} --help")
    check("--threads" in p.stdout or not sub, f"{sub} --help lists common options")

# ---- bad arguments: exit 2, one message line, no crash -----------------------------------------
bad = [
    ["frobnicate"], ["analyze", "--bogus"], ["analyze", "--threads", "0"],
    ["analyze", "--threads", "x"], ["analyze", "--threads"], ["analyze", "--models", "gpt,rnn"],
    ["analyze", "--models", "gpt,gpt"], ["analyze", "--preset", "huge"], ["analyze", "--json=yes"],
    ["analyze", "positional"], ["spectrum", "--probes", "0"], ["spectrum", "--sigma", "nan"],
    ["spectrum", "--sigma", "-1"], ["spectrum", "--model", "rnn"], ["spectrum", "--steps", "1e3"],
    ["spectrum", "--blocks", "none"], ["spectrum", "--out", ""], ["quadratic", "--cond", "0.5"],
    ["quadratic", "--family", "weird"], ["quadratic", "--max-iters", "-3"],
    ["train", "--optimizer", "rmsprop"],
    ["train", "--dtype", "f16"], ["train", "--lr", "inf"], ["train", "--steps", "99999999999999999999"],
    ["train", "--checkpoint-every", "5"], ["train", "--stochastic-rounding"], ["--seed", "1.5"],
    # SST / LoRA options: only with their optimizer, and range-checked
    ["train", "--rank", "4"], ["train", "--optimizer", "adamw", "--freeze-others"],
    ["train", "--optimizer", "sgd", "--sst-iteration", "10"], ["train", "--optimizer", "lora", "--rewarm", "3"],
    ["train", "--optimizer", "lora", "--sst-iteration", "5"], ["train", "--optimizer", "sst", "--lora-alpha", "2"],
    ["train", "--optimizer", "sst", "--rank", "0"], ["train", "--optimizer", "lora", "--rank", "x"],
    ["train", "--optimizer", "lora", "--lora-alpha", "0"], ["train", "--optimizer", "lora", "--lora-alpha", "-1"],
    ["train", "--optimizer", "sst", "--sst-iteration", "0"], ["train", "--optimizer", "sst", "--rewarm", "-1"],
    ["train", "--optimizer", "sst", "--model", "cnn"], ["train", "--optimizer", "lora", "--model", "quadratic"],
    ["train", "--optimizer", "lora", "--dtype", "bf16"],
    ["analyze", "--js-blocks", "bias"], ["spectrum", "--js-blocks", "none"], ["spectrum", "--js-blocks"],
    ["analyze", "--js-grid", "log"], ["spectrum", "--js-grid", "1"],
    # issue 12.10: leading white space is not part of a number; an option given twice is
    # an error (not "last one wins")
    ["spectrum", "--probes", " 4"], ["spectrum", "--probes=\t4"], ["spectrum", "--sigma", " 0.1"],
    ["spectrum", "--probes", "4", "--probes", "5"], ["analyze", "--json", "--json"],
    ["spectrum", "--model", "mlp", "--model=gpt"],
    # --data (docs/data.md): fashion-mnist fixes the input sizes; mlp and cnn only
    ["train", "--data", "mnist"], ["train", "--data", "fashion-mnist"],
    ["spectrum", "--model", "quadratic", "--data", "fashion-mnist"],
    ["train", "--model", "mlp", "--data", "fashion-mnist", "--inputs", "32"],
    ["spectrum", "--model", "cnn", "--data", "fashion-mnist", "--image", "16"],
    ["train", "--model", "cnn", "--data", "fashion-mnist", "--classes", "3"],
    ["train", "--model", "mlp", "--data-dir", "/tmp"],
    # --minibatch / --eval-every / sgd-blockhess (docs/train.md): their options only with them
    ["train", "--hess-every", "5"], ["train", "--optimizer", "sgd", "--hess-floor", "0.1"],
    ["train", "--optimizer", "sgd-blockhess", "--hess-every", "0"],
    ["train", "--optimizer", "sgd-blockhess", "--hess-floor", "2"],
    ["train", "--eval-batches", "4"], ["train", "--minibatch", "--eval-every", "0"],
    ["train", "--minibatch", "--optimizer", "lora"], ["train", "--eval-every", "5", "--optimizer", "sst"],
    ["train", "--minibatch", "--resume", "x.ckpt"], ["train", "--optimizer", "sgd-blockhess", "--resume", "x.ckpt"],
    # analyze --data real|synthetic (docs/cli.md)
    ["analyze", "--data", "fashion-mnist"], ["analyze", "--data", "text"], ["analyze", "--data"],
    ["analyze", "--data", "synthetic", "--data-dir", "/tmp"],
    ["analyze", "--data", "synthetic", "--text-dir", "/tmp"],
]
for args in bad:
    p = run(args)
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    check(p.returncode == 2, f"{args}: exit {p.returncode}, expected 2")
    check(len(lines) == 1 and lines[0].startswith("hessblock"), f"{args}: stderr {p.stderr!r}")
    check(p.stdout == "", f"{args}: stdout not empty")
p = run(["spectrum", "--steps", "8", "--steps", "8"])
check("--steps" in p.stderr and "more than once" in p.stderr, f"duplicate option named: {p.stderr!r}")
p = run(["train", "--optimizer", "adam", "--rank", "4"])
check("--rank" in p.stderr and "sst or lora" in p.stderr, f"--rank with adam names the option: {p.stderr!r}")

# ---- Fashion-MNIST (skipped without dataset-fashion-mnist) -------------------------------------
p = run(["train", "--model", "mlp", "--data", "fashion-mnist", "--data-dir", os.path.join(SCRATCH, "no-such-dir"),
         "--quiet"])
check(p.returncode == 1 and "no-such-dir/train-images-idx3-ubyte.gz" in p.stderr, f"missing --data-dir: {p.stderr!r}")
if os.path.exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"):
    p = run(["train", "--model", "mlp", "--data", "fashion-mnist", "--width", "32", "--batch", "64",
             "--batches", "4", "--steps", "30", "--json", "--quiet"])
    if check(p.returncode == 0, f"train on fashion-mnist: {p.returncode} {p.stderr!r}"):
        j = json.loads(p.stdout)
        check(j["data"] == "fashion-mnist" and j["sizes"]["inputs"] == 784, f"fashion-mnist sizes: {j['sizes']}")
        check(j["run"]["final_loss"] < 0.5 * j["run"]["loss"][0], f"fashion-mnist loss falls: {j['run']['loss'][0]} -> {j['run']['final_loss']}")
        check(j["held_out_samples"] == 256 and j["held_out_accuracy"] > 0.5, f"held-out: {j['held_out_accuracy']}")
    p = run(["spectrum", "--model", "cnn", "--data", "fashion-mnist", "--tiny", "--json", "--quiet"])
    check(p.returncode == 0 and "fashion-mnist train" in json.loads(p.stdout or "{}").get("spectrum", {}).get("sizes_text", ""),
          f"spectrum on fashion-mnist: {p.returncode} {p.stderr!r}")
else:
    SKIPS.append("fashion-mnist (dataset-fashion-mnist not installed)")

# ---- --minibatch, --eval-every, sgd-blockhess (docs/train.md) ------------------------------------
def train_json(args, what):
    p = run(["train", "--json", "--quiet"] + args)
    if not check(p.returncode == 0, f"{what}: {p.returncode} {p.stderr!r}"):
        return None
    return strict_json(p.stdout, what)

base = ["--model", "gpt", "--data", "text", "--tiny", "--steps", "10", "--optimizer", "sgd", "--lr", "0.1"]
a = train_json(base + ["--minibatch", "--eval-every", "5", "--eval-batches", "3"], "minibatch text")
b = train_json(base + ["--minibatch", "--eval-every", "5", "--eval-batches", "3"], "minibatch text again")
c = train_json(base + ["--minibatch", "--eval-every", "5", "--eval-batches", "3", "--seed", "1"], "minibatch text seed 1")
f = train_json(base + ["--eval-every", "5"], "full batch text with evaluations")
if a and b and c and f:
    check([e["step"] for e in a["eval"]] == [0, 5, 10], f"evaluations at 0, 5, 10: {a['eval']}")
    check(a["minibatch"] is True and a["samples_seen"] == 10 * a["samples_per_step"]
          and a["tokens_seen"] == a["samples_seen"] * a["sizes"]["context"], f"budget: {a}")
    check(a["eval_batches"] == 3 and a["held_out"] == "text validation split", "eval set")
    check(a["final_valid_loss"] == a["eval"][-1]["valid_loss"] and a["final_valid_loss"] < a["eval"][0]["valid_loss"],
          f"validation loss falls: {a['eval']}")
    check(a["run"]["loss"] == b["run"]["loss"] and a["eval"] == b["eval"], "minibatch runs are deterministic")
    check(a["first_sample"] != c["first_sample"], "the seed moves the first window")
    # every step a new window: the losses differ from the full-batch run's after step 0
    check(f["minibatch"] is False and a["run"]["loss"][1:10] != f["run"]["loss"][1:10], "minibatch != full batch")
    # full batch: the evaluation's train loss is the training data's, the last one the final loss
    check(abs(f["final_train_eval_loss"] - f["run"]["final_loss"]) < 1e-12, "full-batch train loss")
    check(abs(a["final_train_eval_loss"] - a["run"]["final_loss"]) < 1e-12, "minibatch final loss = the train eval set's")
    p = run(["train", "--quiet"] + base + ["--minibatch"])
    check(p.returncode == 0 and "mini-batches: 40 samples seen" in p.stdout, f"minibatch summary line: {p.stdout!r}")
d = fresh("blockhess")
p = run(["train", "--model", "mlp", "--tiny", "--steps", "10", "--optimizer", "sgd-blockhess", "--hess-every", "4",
         "--minibatch", "--eval-every", "5", "--json", "--quiet", "--out", d])
if check(p.returncode == 0, f"sgd-blockhess: {p.returncode} {p.stderr!r}"):
    j = strict_json(p.stdout, "sgd-blockhess")
    bh = j["blockhess"]
    check(bh["refreshes"] == 3 and [h["step"] for h in bh["history"]] == [0, 4, 8], f"refreshes: {bh['refreshes']}")
    check(bh["normalisation"] == "median" and bh["hvps"] > 0 and len(bh["blocks"]) == len(bh["history"][0]["factor"]),
          "blockhess fields")
    for h in bh["history"]:
        fs = sorted(h["factor"])
        n = len(fs)
        med = fs[n // 2] if n % 2 else None
        lam = h["lambda"]
        floor = bh["floor_rel"] * max(lam)
        lh = [max(x, floor) for x in lam]
        inv = sorted(1 / x for x in lh)
        c_ = 1 / (inv[n // 2] if n % 2 else 0.5 * (inv[n // 2 - 1] + inv[n // 2]))
        check(all(abs(fb - c_ / x) <= 1e-9 * fb for fb, x in zip(h["factor"], lh)), f"factor = c / lambda: {h}")
        if med is not None:
            check(abs(med - 1) < 1e-12, f"median factor 1: {fs}")
    files = os.listdir(d)
    check("eval.csv" in files and "blockhess.csv" in files and "train.json" in files, f"blockhess files: {files}")
    with open(os.path.join(d, "blockhess.csv")) as fh:
        rows = fh.read().splitlines()
    check(rows[0] == "step,block,lambda,factor" and len(rows) == 1 + 3 * len(bh["blocks"]), f"blockhess.csv: {rows[:3]}")
if os.path.exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"):
    j = train_json(["--model", "mlp", "--data", "fashion-mnist", "--width", "16", "--batch", "32", "--steps", "20",
                    "--minibatch", "--eval-every", "10", "--eval-batches", "4"], "minibatch fashion-mnist")
    if j:
        check(j["held_out"] == "fashion-mnist t10k" and j["samples_seen"] == 20 * 32 * 2, f"fashion-mnist budget: {j['samples_seen']}")
        check(j["final_valid_loss"] < j["eval"][0]["valid_loss"], f"fashion-mnist valid falls: {j['eval']}")

# ---- unreadable files: exit 1 and the file named ---------------------------------------------
missing = os.path.join(SCRATCH, "no-such-dir", "missing.ckpt")
for args in (["spectrum", "--checkpoint", missing], ["train", "--resume", missing]):
    p = run(args)
    check(p.returncode == 1 and missing in p.stderr, f"{args}: {p.returncode} {p.stderr!r}")
blocker = os.path.join(SCRATCH, "a-file")
open(blocker, "w").write("x")
p = run(["analyze", "--preset", "tiny", "--quiet", "--out", os.path.join(blocker, "sub")])
check(p.returncode == 1 and blocker in p.stderr, f"unwritable --out: {p.returncode} {p.stderr!r}")

# ---- writers (no compute) ----------------------------------------------------------------------
d = fresh("writers")
p = subprocess.run([DEMO, d], capture_output=True, text=True, timeout=60)
check(p.returncode == 0, f"writers demo failed: {p.stderr}")
files = check_outdir(d, "writers")
for f in ("demo_js.svg", "demo_spectra.svg", "training.svg", "training_lr.svg", "quadratic.svg",
          "quadratic_lr.svg", "report.html", "summary.json", "demo_js.csv", "train.svg"):
    check(f in files, f"writers: {f} missing")
with open(os.path.join(d, "summary.json")) as fh:
    s = strict_json(fh.read(), "writers summary")
check(s["escapes"] == "quote \" backslash \\ newline \n tab \t bell \a <&>", "JSON escaping round trip")
check(s["nan"] is None and s["inf"] is None, "non-finite numbers written as null")
check(s["tiny"] == 1e-300, "tiny number")
check(s["empty_object"] == {} and s["empty_array"] == [], "empty containers")
check_spectrum(s["spectra"][0], "writers", True)
check(s["spectra"][0]["blocks"][1]["name"] == 'odd "name", <&>', "block name escaping")
with open(os.path.join(d, "demo_js.csv"), newline="") as fh:
    rows = list(csv.reader(fh))
check(rows[0][2] == 'odd "name", <&>', "CSV quoting")
html = open(os.path.join(d, "report.html"), encoding="utf-8").read()
check("writers demo &lt;&amp;&gt;" in html, "HTML escaping")
check("<th>JS⁰</th>" in html and "<th>gap</th>" in html, "summary table columns")

# ---- analyze (tiny) ------------------------------------------------------------------------------
d = fresh("analyze")
base_summary = None  # the default run's summary, compared with --js-blocks below
p = run(["analyze", "--preset", "tiny", "--json", "--quiet", "--out", d], timeout=240)
if not unavailable(p, "analyze"):
    check(p.returncode == 0, f"analyze: exit {p.returncode}: {p.stderr}")
    check(p.stderr == "", f"analyze --quiet wrote to stderr: {p.stderr!r}")
    out = strict_json(p.stdout, "analyze stdout")
    if out:
        check([m["model"] for m in out["summary"]] == ["gpt", "mlp", "cnn"], "analyze models")
        # --preset tiny keeps the built-in data by default (docs/cli.md)
        check(out["data"] == "synthetic" and all(m["data"] == "synthetic" for m in out["summary"]),
              f"analyze tiny data: {out.get('data')} {[m.get('data') for m in out['summary']]}")
        check(not any("held_out" in m or "sgd_held_out_loss" in m for m in out["summary"]),
              "analyze synthetic: no held-out fields")
        base_summary = out["summary"]
        for m in out["summary"]:
            for k in ("js0", "sgd_loss", "adam_loss", "gap"):
                check(isinstance(m[k], float), f"analyze {m['model']}: {k} = {m[k]}")
            check(0 <= m["js0"] <= 1, f"analyze {m['model']}: js0 range")
            check(abs(m["gap"] - (m["sgd_loss"] - m["adam_loss"])) < 1e-9, "gap definition")
        check(len(out["quadratic"]) == 2, "two quadratic families")
        for q in out["quadratic"]:
            check([x["method"] for x in q["methods"]] == ["gd", "sgd_momentum", "adam"], "methods")
            for x in q["methods"]:
                check(x["iterations"] is None or x["iterations"] >= 1, "iterations")
    files = check_outdir(d, "analyze")
    for f in ("summary.json", "report.html", "gpt_js.svg", "mlp_spectra.svg", "cnn_js.csv",
              "training.svg", "quadratic.svg", "quadratic.csv"):
        check(f in files, f"analyze: {f} missing")
    with open(os.path.join(d, "summary.json")) as fh:
        s = strict_json(fh.read(), "analyze summary.json")
    for sp in s["spectra"]:
        check_spectrum(sp, f"analyze {sp['model']}", True)
    # issue 19: where the time went, and the same numbers and files at 3 threads (the JS
    # bootstrap replicates, the learning-rate grids and the quadratic runs run as jobs then)
    parts = s.get("seconds_parts", {})
    check(sorted(parts) == ["models", "quadratics", "spectra", "spectrum_files", "training"]
          and all(v >= 0 for v in parts.values()), f"analyze seconds_parts: {parts}")
    for sp in s["spectra"]:
        check(sorted(sp.get("seconds_parts", {})) == ["densities", "js_bootstrap", "js_matrices",
                                                       "slq_blocks", "slq_full"], "spectrum seconds_parts")

    def same_numbers(d):
        if isinstance(d, dict):
            return {k: same_numbers(v) for k, v in d.items()
                    if k not in ("seconds", "seconds_parts", "out", "threads", "settings")}
        if isinstance(d, list):
            return [same_numbers(x) for x in d]
        return d
    # and side by side (the spectra beside the training grids and the quadratics; chosen from
    # 11 threads on, forced here: HESSBLOCK_TEST_SIDE_THREADS; 2 = 1 + 1 threads, the side's
    # stages in order on one; 3 = 1 + 2, the side's runs as jobs): every number, file and
    # settings line is the serial run's
    for t, side in (("3", "0"), ("2", "1"), ("3", "2")):
        d3 = fresh("analyze-threads" + t + "-" + side)
        p3 = run(["analyze", "--preset", "tiny", "--threads", t, "--quiet", "--out", d3], timeout=240,
                 env={"HESSBLOCK_TEST_SIDE_THREADS": side})
        check(p3.returncode == 0, f"analyze --threads {t}: exit {p3.returncode}: {p3.stderr}")
        check(p3.stderr == "", f"analyze --threads {t} --quiet wrote to stderr: {p3.stderr!r}")
        with open(os.path.join(d3, "summary.json")) as fh:
            s3 = strict_json(fh.read(), f"analyze --threads {t} summary.json")
        check(s3 is not None and same_numbers(s3) == same_numbers(s), f"analyze: {t} threads changed a number")
        # the thread count is the one setting allowed to differ (the baseline ran with the
        # default, every processor of this machine)
        check(s3 is not None and re.sub(r"threads \d+\n", "threads N\n", s3["settings"])
              == re.sub(r"threads \d+\n", "threads N\n", s["settings"]),
              f"analyze: settings at {t} threads: {s3 and s3['settings']!r}")
        files3 = check_outdir(d3, f"analyze --threads {t}")
        check(sorted(files3) == sorted(files), f"analyze: other files at {t} threads")
        for f in sorted(files):
            if f.endswith((".csv", ".svg", ".npy")):
                with open(os.path.join(d, f), "rb") as a, open(os.path.join(d3, f), "rb") as b:
                    check(a.read() == b.read(), f"analyze: {f} differs at {t} threads")
        for f in ("training.csv", "quadratic.csv", "training.svg", "quadratic.svg"):
            check(f in files3, f"analyze --threads {t}: {f} missing")
    # the order of the stage lines shows which order ran: serial below 11 threads unless forced
    for t, env, side_by_side in (("3", None, False), ("2", {"HESSBLOCK_TEST_SIDE_THREADS": "1"}, True)):
        pe = run(["analyze", "--preset", "tiny", "--threads", t, "--out", fresh("analyze-order" + t)],
                 timeout=240, env=env)
        i_train, i_cnn = pe.stderr.find("] training:"), pe.stderr.find("] cnn: per-block")
        check(pe.returncode == 0 and i_train >= 0 and i_cnn >= 0 and (i_train < i_cnn) == side_by_side,
              f"analyze --threads {t} {env}: stage order: {pe.stderr[:600]!r}")

# ---- --js-blocks weights: an ADDITIONAL JS0 over the weight blocks; the default is unchanged ------
d = fresh("analyze-js-blocks")
pw = run(["analyze", "--preset", "tiny", "--no-train", "--no-quadratic", "--js-blocks", "weights", "--json",
          "--quiet", "--out", d], timeout=240)
check(pw.returncode == 0, f"analyze --js-blocks weights: exit {pw.returncode}: {pw.stderr}")
outw = strict_json(pw.stdout, "analyze --js-blocks stdout") if pw.returncode == 0 else None
if outw:
    if base_summary:
        # same seed, same spectra: the all-blocks JS0 must be bit-identical to the default run
        for a, b in zip(base_summary, outw["summary"]):
            check(a["js0"] == b["js0"] and a["js0_normalized"] == b["js0_normalized"],
                  f"--js-blocks changed the default JS0 of {a['model']}: {a['js0']} vs {b['js0']}")
            check("js0_selected" not in a and "js_blocks" not in a, "default summary has no js0_selected")
    for m, sp in zip(outw["summary"], outw["spectra"]):
        check(m["js_blocks"] == "weights" and sp["js_blocks"] == "weights", f"{m['model']}: js_blocks field")
        check(m["js0_selected"] == sp["js0_selected"] and
              m["js0_selected_normalized"] == sp["js0_selected_normalized"], f"{m['model']}: summary vs spectrum")
        # the subset: not a bias or norm kind, and not a vector (head.bias has kind "head")
        want = [b["name"] for b in sp["blocks"] if b["kind"] not in ("bias", "norm")
                and not b["name"].endswith("bias")]
        check(sp["js_selected_blocks"] == want, f"{m['model']}: selected {sp['js_selected_blocks']} vs {want}")
        for k in ("js0_selected", "js0_selected_normalized"):
            check(isinstance(m[k], float) and 0 <= m[k] <= 1, f"{m['model']}: {k} = {m[k]}")
    names = {sp["model"]: sp["js_selected_blocks"] for sp in outw["spectra"]}
    check(names.get("mlp") == ["layers.0.weight", "layers.1.weight", "head.weight"], f"mlp subset {names.get('mlp')}")
    with open(os.path.join(d, "summary.json")) as fh:
        sw = strict_json(fh.read(), "analyze --js-blocks summary.json")
    check(sw and sw["summary"][0]["js0_selected"] == outw["summary"][0]["js0_selected"], "summary.json js0_selected")
p = run(["spectrum", "--model", "gpt", "--tiny", "--probes", "2", "--steps", "8", "--js-blocks", "weights", "--quiet"])
check(p.returncode == 0 and re.search(r"JS0 over the weight blocks only \(\d+ of \d+\) = 0\.\d{4}", p.stdout),
      f"spectrum --js-blocks text: {p.stdout[-300:]!r}")
p0 = run(["spectrum", "--model", "gpt", "--tiny", "--probes", "2", "--steps", "8", "--json", "--quiet"])
p1 = run(["spectrum", "--model", "gpt", "--tiny", "--probes", "2", "--steps", "8", "--json", "--quiet",
          "--js-blocks", "all"])
if p0.returncode == 0 and p1.returncode == 0:
    a, b = strict_json(p0.stdout, "spectrum default")["spectrum"], strict_json(p1.stdout, "js-blocks all")["spectrum"]
    check("js0_selected" not in a and "js0_selected" not in b, "--js-blocks all adds nothing")
    check(a["js0"] == b["js0"], "--js-blocks all: same js0")
# issue 12.8 (guard): the tool never calls setlocale, so a decimal-comma environment changes
# no byte of its JSON or CSV (the library formats its own exports locale-independently).
comma = next((l for l in ("de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8") if l.lower().replace("-", "")
              in subprocess.run(["locale", "-a"], capture_output=True, text=True).stdout.lower().replace("-", "")), None)
if comma is None:
    print("SKIP locale guard: no decimal-comma locale (tools/setup.sh generates de_DE.UTF-8)")
else:
    pc = subprocess.run([HB, "spectrum", "--model", "gpt", "--tiny", "--probes", "2", "--steps", "8",
                         "--json", "--quiet"], capture_output=True, text=True, timeout=120,
                        env=dict(os.environ, LC_ALL=comma, LANG=comma))
    def untimed(text):  # the same run but for its wall-clock fields
        text = re.sub(r'"seconds_parts": \{[^}]*\}', '"seconds_parts": {}', text)
        return re.sub(r'"seconds": [0-9.e+-]+', '"seconds": 0', text)
    check(pc.returncode == 0 and strict_json(pc.stdout, f"spectrum under {comma}") is not None
          and untimed(pc.stdout) == untimed(p0.stdout), f"spectrum --json under LC_ALL={comma} differs")
# --js-grid: linear is the default (same numbers, no extra field); symlog is recorded and wired
pl = run(["spectrum", "--model", "gpt", "--tiny", "--probes", "2", "--steps", "8", "--json", "--quiet",
          "--js-grid", "linear"])
ps = run(["spectrum", "--model", "gpt", "--tiny", "--probes", "2", "--steps", "8", "--json", "--quiet",
          "--js-grid", "symlog", "--js-blocks", "weights"])
check(pl.returncode == 0 and ps.returncode == 0, f"--js-grid: exit {pl.returncode} {ps.returncode}: {ps.stderr}")
if p0.returncode == 0 and pl.returncode == 0 and ps.returncode == 0:
    a = strict_json(p0.stdout, "spectrum default")["spectrum"]
    l = strict_json(pl.stdout, "--js-grid linear")["spectrum"]
    g = strict_json(ps.stdout, "--js-grid symlog")["spectrum"]
    check("js_grid" not in a and "js_grid" not in l and a["js0"] == l["js0"], "--js-grid linear = default")
    check(g.get("js_grid") == "symlog", "--js-grid symlog recorded")
    check(a["blocks"] == g["blocks"], "--js-grid changes no spectrum")
    for k in ("js0", "js0_normalized", "js0_selected", "js0_selected_normalized"):
        check(isinstance(g[k], float) and 0 <= g[k] <= 1, f"symlog {k} = {g.get(k)}")
    check(g["js0"] != a["js0"], "--js-grid symlog changes JS0 (the option is wired)")

# ---- issue 12.4 / 12.6: numerically-zero blocks are flagged; the settings name both grids -------
d = fresh("analyze-zero")
pz = run(["analyze", "--preset", "tiny", "--models", "gpt,mlp", "--no-train", "--no-quadratic",
          "--quiet", "--out", d], timeout=240)
check(pz.returncode == 0, f"analyze (zero blocks): exit {pz.returncode}: {pz.stderr}")
if pz.returncode == 0:
    # 12.6: the density grid (figures, CSV) and the JS grid are different; both are printed
    mg = re.search(r"grid points: (\d+) for the densities \(figures, CSV\), (\d+) for JS", pz.stdout)
    check(mg is not None, f"settings line names both grids: {pz.stdout[:400]!r}")
    with open(os.path.join(d, "summary.json")) as fh:
        sz = strict_json(fh.read(), "analyze (zero blocks) summary.json")
    if mg and sz:
        check("grid points: %s for the densities" % mg.group(1) in sz["settings"], "settings in summary.json")
        for sp in sz["spectra"]:
            check(sp["density_grid_points"] == len(sp["grid"]) == int(mg.group(1)),
                  f"{sp['model']}: density grid {sp['density_grid_points']} vs {len(sp['grid'])}")
            check(sp["js_grid_points"] == int(mg.group(2)) == 1024, f"{sp['model']}: JS grid points")
    # 12.4: gpt's attention-key bias has exactly zero curvature (Ritz values ~1e-22): flagged in
    # JSON, text, figures; left out of the scaled JS0. mlp has no such block.
    if sz:
        zero = {sp["model"]: [b["name"] for b in sp["blocks"] if b.get("numerically_zero")] for sp in sz["spectra"]}
        check(zero == {"gpt": ["h.0.attn.wk.bias"], "mlp": []}, f"numerically-zero blocks: {zero}")
        for m, sp in zip(sz["summary"], sz["spectra"]):
            check(m.get("js_zero_blocks") == sp.get("js_zero_blocks") == len(zero[sp["model"]]),
                  f"{sp['model']}: js_zero_blocks")
            check(0 < sp.get("js_zero_rel_tol", 0) < 1e-15, f"{sp['model']}: f64 tolerance {sp.get('js_zero_rel_tol')}")
    check(re.search(r"gpt 0\.\d{4}( \+- 0\.\d{4})? \(1 numerically-zero blocks left out\) mlp 0\.\d{4}( \+- 0\.\d{4})?\n", pz.stdout),
          f"analyze text names the left-out blocks: {pz.stdout[-400:]!r}")
    svg = open(os.path.join(d, "gpt_js.svg"), encoding="utf-8").read()
    check("h.0.attn.wk.bias [zero]" in svg and "h.0.attn.wq.bias [zero]" not in svg, "heat map marks zero blocks")
    svg = open(os.path.join(d, "gpt_spectra.svg"), encoding="utf-8").read()
    check(svg.count("[zero]") == 1, "density panels mark the zero block once")
    check("[zero]" not in open(os.path.join(d, "mlp_js.svg"), encoding="utf-8").read(), "mlp: no mark")
    check_outdir(d, "analyze (zero blocks)")
# issue 12.2: every JS0 has a bootstrap standard error (null when it cannot be estimated),
# and --js-grid symlog without --steps raises the Lanczos length (short runs are biased there)
q2 = run(["spectrum", "--model", "mlp", "--tiny", "--probes", "2", "--steps", "8", "--json", "--quiet",
          "--js-blocks", "weights"])
q1 = run(["spectrum", "--model", "mlp", "--tiny", "--probes", "1", "--steps", "8", "--json", "--quiet"])
q0 = run(["spectrum", "--model", "mlp", "--tiny", "--probes", "2", "--steps", "8", "--json", "--quiet",
          "--js-bootstrap", "0"])
qt = run(["spectrum", "--model", "mlp", "--tiny", "--probes", "2", "--steps", "8", "--quiet"])
check(all(x.returncode == 0 for x in (q2, q1, q0, qt)), f"js0_stderr runs: {q1.stderr} {q0.stderr}")
if all(x.returncode == 0 for x in (q2, q1, q0)):
    s2 = strict_json(q2.stdout, "stderr 2 probes")["spectrum"]
    s1 = strict_json(q1.stdout, "stderr 1 probe")["spectrum"]
    s0 = strict_json(q0.stdout, "stderr off")["spectrum"]
    for k in ("js0_stderr", "js0_normalized_stderr", "js0_selected_stderr", "js0_selected_normalized_stderr"):
        check(isinstance(s2.get(k), float) and 0 < s2[k] < 1, f"{k} = {s2.get(k)}")
    check(s2["js_bootstrap_replicates"] == 100, "default 100 bootstrap replicates")
    check(s1["js0_stderr"] is None and isinstance(s1["js0"], float), "one probe: js0_stderr null, js0 kept")
    check(s0["js0_stderr"] is None and s0["js_bootstrap_replicates"] == 0, "--js-bootstrap 0: null")
    check(s0["js0"] == s2["js0"], "the bootstrap changes no JS0")
check(re.search(r"JS0 \(mean pairwise JS distance\) = 0\.\d{4} \+- 0\.\d{4}", qt.stdout) is not None,
      f"text JS0 +- se: {qt.stdout[-300:]!r}")
r_lin = run(["spectrum", "--model", "mlp", "--tiny", "--probes", "2", "--json", "--quiet"])
r_sym = run(["spectrum", "--model", "mlp", "--tiny", "--probes", "2", "--json", "--quiet", "--js-grid", "symlog"])
r_set = run(["spectrum", "--model", "mlp", "--tiny", "--probes", "2", "--steps", "8", "--js-grid", "symlog"])
if r_lin.returncode == 0 and r_sym.returncode == 0 and r_set.returncode == 0:
    check(strict_json(r_lin.stdout, "linear steps")["spectrum"]["lanczos_steps"] == 12,
          "linear default: the tiny preset's 12 steps")
    check(strict_json(r_sym.stdout, "symlog steps")["spectrum"]["lanczos_steps"] == SYMLOG_MIN_STEPS,
          "symlog default steps raised to the measured minimum")
    check("biased upward" in r_set.stderr, f"--steps 8 with symlog: note on stderr: {r_set.stderr[-200:]!r}")
else:
    check(False, f"symlog steps runs: {r_sym.stderr} {r_set.stderr}")

# ---- issue 15: presets, bare hessblock, interrupt and --resume, progress off a terminal ---------
PRESETS = ("default", "tiny", "ref", "large")
for sub in (["analyze"], ["spectrum"], ["train"]):
    p = run(sub + ["--help"])
    for name in PRESETS:
        check(re.search(rf"^  {name} ", p.stdout, re.M) is not None, f"{sub} --help: preset {name}")
    # sizes with their parameter counts; ref = gpt-ref (docs/models.md: 421,632 parameters)
    check(re.search(r"gpt +421632 parameters: vocab 65, context 64, width 128, heads 4, layers 2; "
                    r"data 16 samples", p.stdout) is not None, f"{sub} --help: ref gpt sizes")
    large = re.findall(r"^    (gpt|mlp|cnn) +(\d+) parameters", p.stdout.split("  large ")[-1], re.M)
    check(len(large) == 3 and all(9e6 <= int(n) <= 1.1e7 for _, n in large), f"{sub} --help: large ~10M: {large}")
# the help's count is the model's: spectrum --preset tiny reports the same n_params
p = run(["--help"])
tiny_gpt = re.search(r"  tiny .*?\n    gpt +(\d+) parameters", p.stdout, re.S)
q = run(["spectrum", "--preset", "tiny", "--blocks", "none", "--full", "--probes", "1", "--steps", "2",
         "--json", "--quiet"])
if check(q.returncode == 0 and tiny_gpt is not None, f"preset tiny spectrum: {q.stderr}"):
    sq = strict_json(q.stdout, "preset tiny")["spectrum"]
    check(sq["n_params"] == int(tiny_gpt.group(1)), f"tiny gpt parameters {sq['n_params']} vs help")
# one set: --tiny is --preset tiny, analyze and spectrum share the SLQ defaults, flags override
a = run(["spectrum", "--model", "mlp", "--tiny", "--blocks", "layers.0.weight", "--json", "--quiet"])
b = run(["spectrum", "--model", "mlp", "--preset", "tiny", "--blocks", "layers.0.weight", "--json", "--quiet"])
c = run(["spectrum", "--model", "mlp", "--preset", "tiny", "--width", "8", "--blocks", "layers.0.weight",
         "--json", "--quiet"])
if check(a.returncode == b.returncode == c.returncode == 0, f"--tiny/--preset tiny: {a.stderr}{b.stderr}{c.stderr}"):
    sa, sb, sc = (strict_json(x.stdout, "preset")["spectrum"] for x in (a, b, c))
    check(sa["sizes"] == sb["sizes"] and sa["blocks"][0]["lambda_max"] == sb["blocks"][0]["lambda_max"],
          "--tiny = --preset tiny")
    check((sa["probes"], sa["lanczos_steps"]) == (2, 12), f"spectrum tiny SLQ defaults {sa['probes']}/{sa['lanczos_steps']}")
    check(sc["sizes"]["width"] == 8 and sa["sizes"]["width"] == 16, f"--width overrides the preset: {sc['sizes']}")
if os.path.exists(os.path.join(SCRATCH, "analyze", "summary.json")):
    st = json.load(open(os.path.join(SCRATCH, "analyze", "summary.json")))["settings"]
    check("SLQ: 2 probes, 12 Lanczos steps" in st, f"analyze tiny SLQ defaults: {st[:200]!r}")
p = run(["spectrum", "--tiny", "--preset", "ref"])
check(p.returncode == 2 and "contradicts" in p.stderr, f"--tiny --preset ref: {p.returncode} {p.stderr!r}")
p = run(["spectrum", "--preset", "tiny", "--model", "mlp", "--probes", "1"])
check(p.returncode == 0 and re.search(r"mlp: cost: \d+ HVP products .* memory about \d+ MiB", p.stderr),
      f"cost line before the run: {p.stderr!r}")
# --blocks none --full: the full Hessian's products only (1 probe x 2 steps), not every block's
p = run(["spectrum", "--preset", "tiny", "--model", "mlp", "--probes", "1", "--steps", "2", "--full",
         "--blocks", "none"])
check(p.returncode == 0 and "cost: 2 HVP products (0 blocks + full" in p.stderr, f"cost line, --blocks none: {p.stderr!r}")

# bare `hessblock`: the help, exit 0, nothing created in the working directory
bare = fresh("bare")
os.makedirs(bare)
p = subprocess.run([HB], capture_output=True, text=True, timeout=60, cwd=bare)
check(p.returncode == 0 and "usage: hessblock" in p.stdout and "presets" in p.stdout,
      f"bare hessblock: {p.returncode} {p.stdout[:200]!r}")
check(os.listdir(bare) == [], f"bare hessblock created {os.listdir(bare)}")


def numbers_only(d):
    """summary.json without what may differ between two runs of the same settings."""
    if isinstance(d, dict):
        return {k: numbers_only(v) for k, v in d.items() if k not in ("seconds", "seconds_parts", "out")}
    if isinstance(d, list):
        return [numbers_only(x) for x in d]
    return d


def interrupt(args, out, sig, pause="0.2"):
    """Runs analyze, sends `sig` once run.json lists a finished block; returns the process."""
    env = dict(os.environ, HESSBLOCK_TEST_PAUSE_AFTER_BLOCK=pause)
    proc = subprocess.Popen([HB] + args + ["--out", out], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    import time
    t0 = time.time()
    while time.time() - t0 < 60 and proc.poll() is None:
        try:
            if json.load(open(os.path.join(out, "run.json")))["finished_blocks"]:
                break
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.01)
    proc.send_signal(sig)
    o, e = proc.communicate(timeout=120)
    return proc.returncode, o, e


import signal
full_dir = os.path.join(SCRATCH, "analyze")   # the uninterrupted tiny run above (same settings)
part = fresh("interrupted")
rc, o, e = interrupt(["analyze", "--preset", "tiny"], part, signal.SIGINT)
check(rc == 130, f"SIGINT: exit {rc} (128 + 2): {e[-300:]!r}")
check("--resume" in e, f"SIGINT: says how to continue: {e[-300:]!r}")
rj = strict_json(open(os.path.join(part, "run.json")).read(), "partial run.json") if os.path.exists(
    os.path.join(part, "run.json")) else None
if check(rj is not None, "interrupted: run.json written"):
    fin = rj["finished_blocks"]
    check(rj["complete"] is False and 1 <= len(fin) < 21, f"partial set marked incomplete: {rj['complete']} {len(fin)}")
    for b in fin:
        blk = strict_json(open(os.path.join(part, b["file"])).read(), b["file"])
        check(blk and blk["block"] == b["block"] and len(blk["probes"]) == 2, f"block file {b['file']}")
    check(not os.path.exists(os.path.join(part, "summary.json")), "no summary.json in a partial set")
    left = [f for _, _, fs in os.walk(part) for f in fs if f.endswith(".tmp")]
    check(left == [], f"no temporary files left: {left}")
    # --resume with other settings: exit 2, every mismatch with both values, nothing touched
    before = open(os.path.join(part, "run.json")).read()
    p = run(["analyze", "--preset", "tiny", "--probes", "3", "--seed", "5", "--resume", part])
    check(p.returncode == 2 and "probes: recorded 2, given 3" in p.stderr and "seed: recorded 0, given 5" in p.stderr,
          f"resume mismatch: {p.returncode} {p.stderr!r}")
    check(open(os.path.join(part, "run.json")).read() == before, "a rejected resume changes nothing")
    # a run made with the f64 basis (no "basis" recorded) must not continue with the f32 one
    p = run(["analyze", "--preset", "tiny", "--basis", "f32", "--resume", part])
    check(p.returncode == 2 and "basis: recorded (none), given f32" in p.stderr,
          f"resume with another --basis: {p.returncode} {p.stderr!r}")
    check(open(os.path.join(part, "run.json")).read() == before, "a rejected --basis resume changes nothing")
    p = run(["analyze", "--preset", "tiny", "--resume", os.path.join(SCRATCH, "no-such-run")])
    check(p.returncode == 2 and "no run to continue" in p.stderr, f"resume of nothing: {p.stderr!r}")
    # the resumed run reads the finished blocks back and ends bit for bit as an uninterrupted one
    p = run(["analyze", "--preset", "tiny", "--resume", part], timeout=240)
    check(p.returncode == 0, f"resume: exit {p.returncode}: {p.stderr[-300:]}")
    check(f"{len(fin)} finished blocks are read back" in p.stderr, f"resume reads back: {p.stderr[:300]!r}")
    if p.returncode == 0 and os.path.exists(os.path.join(full_dir, "summary.json")):
        x = json.load(open(os.path.join(part, "summary.json")))
        y = json.load(open(os.path.join(full_dir, "summary.json")))
        check(x["complete"] is True and json.load(open(os.path.join(part, "run.json")))["complete"] is True,
              "resumed run complete")
        check(numbers_only(x) == numbers_only(y), "resumed summary.json equals the uninterrupted run's")
        for b in fin:  # the per-block files too (17 digits: exact)
            check(open(os.path.join(part, b["file"])).read() == open(os.path.join(full_dir, b["file"])).read(),
                  f"block file {b['file']} as in the uninterrupted run")
        # the research outputs (issue 15.4) of the resumed run: byte for byte the uninterrupted run's
        for m in ("gpt", "mlp", "cnn"):
            for suffix in ("_ritz.npy", "_blocks.csv", "_js_stderr.csv"):
                fa, fb = os.path.join(part, m + suffix), os.path.join(full_dir, m + suffix)
                check(os.path.exists(fa) and os.path.exists(fb) and
                      open(fa, "rb").read() == open(fb, "rb").read(), f"resumed {m}{suffix} as uninterrupted")
rc, o, e = interrupt(["analyze", "--preset", "tiny", "--models", "mlp", "--quiet"], fresh("sigterm"), signal.SIGTERM)
check(rc == 143, f"SIGTERM: exit {rc} (128 + 15): {e!r}")
# the stages side by side (--threads 3): SIGINT stops every one, and --resume with the same
# options ends as the uninterrupted run
part3 = fresh("interrupted3")
os.environ["HESSBLOCK_TEST_SIDE_THREADS"] = "2"
rc, o, e = interrupt(["analyze", "--preset", "tiny", "--threads", "3"], part3, signal.SIGINT)
check(rc == 130 and "--resume" in e, f"SIGINT at 3 threads: exit {rc}: {e[-300:]!r}")
check(not os.path.exists(os.path.join(part3, "summary.json")), "3 threads: no summary.json in a partial set")
p = run(["analyze", "--preset", "tiny", "--threads", "3", "--resume", part3], timeout=240)
check(p.returncode == 0, f"resume at 3 threads: exit {p.returncode}: {p.stderr[-300:]}")
if p.returncode == 0 and os.path.exists(os.path.join(full_dir, "summary.json")):
    x = json.load(open(os.path.join(part3, "summary.json")))
    y = json.load(open(os.path.join(full_dir, "summary.json")))
    x.pop("threads"), y.pop("threads"), x.pop("settings"), y.pop("settings")
    check(numbers_only(x) == numbers_only(y), "resumed at 3 threads: summary.json as the uninterrupted run's")
del os.environ["HESSBLOCK_TEST_SIDE_THREADS"]

# progress off a terminal: timestamped lines, at most one per --progress-every seconds
p = run(["spectrum", "--preset", "tiny", "--model", "mlp", "--progress-every", "0"])
lines = re.findall(r"^\[hessblock\] \d{4}-\d\d-\d\d \d\d:\d\d:\d\d .*\d+% elapsed \d+:\d\d ETA", p.stderr, re.M)
check(p.returncode == 0 and len(lines) >= 2, f"progress lines off a terminal: {p.stderr[-400:]!r}")
p = run(["spectrum", "--preset", "tiny", "--model", "mlp", "--progress-every", "3600"])
check(p.returncode == 0 and not re.search(r"% elapsed", p.stderr), f"--progress-every 3600: {p.stderr!r}")

# ---- spectrum ------------------------------------------------------------------------------------
d = fresh("spectrum")
p = run(["spectrum", "--model", "mlp", "--tiny", "--probes", "2", "--steps", "10", "--full", "--threads", "2",
         "--json", "--quiet", "--out", d])
if not unavailable(p, "spectrum"):
    check(p.returncode == 0, f"spectrum: exit {p.returncode}: {p.stderr}")
    out = strict_json(p.stdout, "spectrum stdout")
    if out:
        check_spectrum(out["spectrum"], "spectrum", True)
        check("full" in out["spectrum"], "spectrum --full")
    check_outdir(d, "spectrum")

# ---- threads: a model's blocks run concurrently (hb_slq_run_model_blocks); the outputs are the
# serial loop's, byte for byte, for any --threads (and for a --probe-group, any --threads too)
def same_outputs(a, b):
    names = sorted(f for f in os.listdir(a) if f.endswith((".csv", ".npy")))
    diff = [f for f in names if open(os.path.join(a, f), "rb").read() != open(os.path.join(b, f), "rb").read()]
    return names, diff


for extra, counts in (([], ("1", "2")), (["--probe-group", "1"], ("1", "3"))):
    dirs = []
    for t in counts:
        d = fresh("threads%s_%s" % (t, len(extra)))
        p = run(["analyze", "--preset", "tiny", "--no-train", "--no-quadratic", "--quiet", "--threads", t,
                 "--out", d] + extra, timeout=240)
        check(p.returncode == 0, f"analyze --threads {t} {extra}: exit {p.returncode}: {p.stderr[-300:]}")
        dirs.append(d)
    names, diff = same_outputs(*dirs)
    check(len(names) >= 9 and not diff, f"analyze {extra} --threads {counts}: outputs differ: {diff}")

# ---- --basis f32: the Lanczos basis stored in f32 (HB_SLQ_BASIS_DTYPE) ------------------------------
# Tolerance: the recurrence stays f64; only the reorthogonalisation's projections go through f32
# vectors, each rounded to u32 = 6e-8 relative. Over m = 12 steps (tiny preset) that moves a Ritz
# value by at most about m·u32·|H| = 7e-7 of the largest |lambda|, and a JS value by as little; we
# allow 1e-5 (14x that bound; measured: below 1e-8 for gpt, mlp and cnn). The values must also
# differ somewhere, or the option did not reach the library.
def basis_pair(model):
    args = ["spectrum", "--model", model, "--tiny", "--full", "--json", "--quiet"]
    a, b = run(args), run(args + ["--basis", "f32"])
    if not check(a.returncode == 0 and b.returncode == 0, f"--basis {model}: {a.stderr} {b.stderr}"):
        return
    x, y = strict_json(a.stdout, "f64 basis")["spectrum"], strict_json(b.stdout, "f32 basis")["spectrum"]
    check((x["lanczos_basis"], y["lanczos_basis"]) == ("f64", "f32"), f"lanczos_basis {model}")
    ext = [(u[k], v[k]) for u, v in zip(x["blocks"] + [x["full"]], y["blocks"] + [y["full"]])
           for k in ("lambda_min", "lambda_max")]
    scale = max(abs(u) for u, _ in ext)
    worst = max(abs(u - v) for u, v in ext) / scale
    js = max(abs(x[k] - y[k]) for k in ("js0", "js0_normalized"))
    check(worst <= 1e-5 and js <= 1e-5, f"--basis f32 {model}: Ritz extremes {worst:.3g}, JS0 {js:.3g} > 1e-5")
    check(worst > 0 or js > 0, f"--basis f32 {model}: identical to f64 (option not applied?)")


for model in ("gpt", "mlp"):
    basis_pair(model)
for bad in (["--basis", "f16"], ["--basis"], ["--basis", "F32"], ["--basis", "f32", "--basis", "f64"]):
    for sub in ("spectrum", "analyze"):
        p = run([sub, "--tiny" if sub == "spectrum" else "--preset", *([] if sub == "spectrum" else ["tiny"]),
                 *bad, "--quiet"])
        check(p.returncode == 2 and p.stderr.count("\n") == 1 and "--basis" in p.stderr,
              f"{sub} {bad}: exit {p.returncode}, {p.stderr!r}")
d = fresh("basis_f32")
p = run(["analyze", "--preset", "tiny", "--models", "mlp", "--no-train", "--no-quadratic", "--basis", "f32",
         "--quiet", "--out", d])
if check(p.returncode == 0, f"analyze --basis f32: {p.stderr[-300:]}"):
    sm = json.load(open(os.path.join(d, "summary.json")))
    check("SLQ Lanczos basis stored in f32 (--basis)" in sm["settings"], f"settings echo: {sm['settings'][:300]!r}")
    # an f32 run continues only with --basis f32
    p = run(["analyze", "--preset", "tiny", "--models", "mlp", "--no-train", "--no-quadratic", "--resume", d])
    check(p.returncode == 2 and "basis: recorded f32, given (none)" in p.stderr,
          f"resume of an f32 run without --basis: {p.returncode} {p.stderr!r}")
    p = run(["analyze", "--preset", "tiny", "--models", "mlp", "--no-train", "--no-quadratic", "--basis", "f32",
             "--quiet", "--resume", d])
    check(p.returncode == 0, f"resume with --basis f32: {p.returncode} {p.stderr[-300:]!r}")

# ---- quadratic -----------------------------------------------------------------------------------
d = fresh("quadratic")
p = run(["quadratic", "--blocks", "3", "--block-size", "4", "--cond", "100", "--max-iters", "3000",
         "--json", "--quiet", "--out", d])
if not unavailable(p, "quadratic"):
    check(p.returncode == 0, f"quadratic: exit {p.returncode}: {p.stderr}")
    out = strict_json(p.stdout, "quadratic stdout")
    if out:
        check([q["family"] for q in out["quadratic"]] == ["heterogeneous", "homogeneous"], "families")
        for q in out["quadratic"]:
            for x in q["methods"]:
                check(x["iterations"] is not None, f"quadratic {q['family']} {x['method']} never converged")
    check_outdir(d, "quadratic")

# ---- train -------------------------------------------------------------------------------------------
d = fresh("train")
ck = os.path.join(d, "model.ckpt")
p = run(["train", "--model", "mlp", "--tiny", "--optimizer", "adamw", "--wd", "0.1", "--steps", "5",
         "--checkpoint", ck, "--json", "--quiet", "--out", d])
if not unavailable(p, "train"):
    check(p.returncode == 0, f"train: exit {p.returncode}: {p.stderr}")
    out = strict_json(p.stdout, "train stdout")
    if out:
        r = out["run"]
        check(len(r["loss"]) == 6 and r["final_loss"] < r["initial_loss"], f"train loss {r['loss']}")
    check_outdir(d, "train")
    for opt in ("sgd", "adam", "adam-mini"):
        p = run(["train", "--model", "gpt", "--tiny", "--optimizer", opt, "--steps", "3", "--json",
                 "--quiet", "--schedule", "cosine", "--warmup", "1"])
        check(p.returncode == 0, f"train {opt}: exit {p.returncode}: {p.stderr}")
    p = run(["train", "--model", "mlp", "--tiny", "--dtype", "bf16", "--optimizer", "adamw", "--wd",
             "0.1", "--steps", "3", "--json", "--quiet"])
    check(p.returncode == 0, f"train bf16: exit {p.returncode}: {p.stderr}")
    if os.path.exists(ck):
        p = run(["train", "--model", "mlp", "--tiny", "--optimizer", "adamw", "--wd", "0.1",
                 "--steps", "3", "--resume", ck, "--json", "--quiet"])
        check(p.returncode == 0, f"train --resume: exit {p.returncode}: {p.stderr}")
        p = run(["spectrum", "--model", "mlp", "--tiny", "--checkpoint", ck, "--probes", "2",
                 "--steps", "8", "--json", "--quiet"])
        check(p.returncode == 0 or unavailable(p, "spectrum of a checkpoint"),
              f"spectrum --checkpoint: exit {p.returncode}: {p.stderr}")
        garbage = os.path.join(d, "garbage.ckpt")
        open(garbage, "wb").write(b"not a checkpoint at all")
        p = run(["train", "--model", "mlp", "--tiny", "--resume", garbage, "--steps", "1", "--quiet"])
        check(p.returncode == 1 and garbage in p.stderr, f"corrupt checkpoint: {p.returncode} {p.stderr!r}")

# ---- train --optimizer sst|lora ----------------------------------------------------------------
def expected_trainable(method, sizes, rank, freeze, total):
    """Trainable scalars of the wrapper computed from the tiny gpt's sizes alone:
    per layer Q, K, V, O (C x C), c_fc (4C x C), c_proj (C x 4C); SST trains
    k + r(out + in) per block, LoRA r(out + in); other blocks unless frozen."""
    C = sizes["width"]   # the structured "sizes" object (issue 15.4)
    L = sizes["layers"]
    shapes = L * [(C, C)] * 4 + L * [(4 * C, C), (C, 4 * C)]
    n, dense = 0, 0
    for o, i in shapes:
        k = min(o, i)
        r = min(rank, k)
        n += (k if method == "sst" else 0) + r * (o + i)
        dense += o * i
    return n + (0 if freeze else total - dense)


d = fresh("train-sst")
sst_ok = True
for method, extra in (("sst", []), ("lora", ["--freeze-others"]), ("sst", ["--dtype", "f32", "--rank", "3"]),
                      ("lora", ["--lora-alpha", "4"])):
    what = f"train {method} {' '.join(extra)}"
    out_dir = os.path.join(d, f"{method}{len(extra)}")
    p = run(["train", "--model", "gpt", "--tiny", "--optimizer", method, "--steps", "4", "--lr", "0.01",
             "--json", "--quiet", "--out", out_dir] + extra)
    if unavailable(p, what):
        sst_ok = False
        break
    check(p.returncode == 0, f"{what}: exit {p.returncode}: {p.stderr}")
    out = strict_json(p.stdout, f"{what} stdout")
    if not out:
        continue
    r = out["run"]
    check(r["method"] == method and r["optimizer"] == method and r["base_optimizer"] == "adamw", f"{what}: {r}")
    rank = 3 if "--rank" in extra else 8
    freeze = "--freeze-others" in extra
    check(r["rank"] == rank and r["freeze_others"] == freeze, f"{what}: rank/freeze {r}")
    check(r["converted_blocks"] == 6 and len(r["layers"]) == 6,
          f"{what}: converted {r['converted_blocks']} (Q, K, V, O, c_fc, c_proj)")
    for l in r["layers"]:
        check(l["k"] == min(l["out"], l["in"]) and l["r"] == min(rank, l["k"]), f"{what}: layer {l}")
    check(sorted(re.sub(r"^h\.\d+\.", "", l["name"]) for l in r["layers"]) ==
          ["attn.wk", "attn.wo", "attn.wq", "attn.wv", "mlp.c_fc", "mlp.c_proj"], f"{what}: {r['layers']}")
    check(0 < r["trainable_parameters"] < r["total_parameters"], f"{what}: trainable {r['trainable_parameters']}"
          f" total {r['total_parameters']}")
    check(r["trainable_parameters"] == expected_trainable(method, out["sizes"], rank, freeze, r["total_parameters"]),
          f"{what}: trainable {r['trainable_parameters']} != formula")
    elem = 4 if "f32" in extra else 8
    check(r["parameter_bytes"] == elem, f"{what}: parameter_bytes {r['parameter_bytes']}")
    # AdamW keeps two moments per trainable scalar in the parameter dtype
    check(r["optimizer_state_bytes"] == 2 * elem * r["trainable_parameters"],
          f"{what}: state {r['optimizer_state_bytes']} != 2 x {elem} x {r['trainable_parameters']}")
    check(len(r["loss"]) == 5 and r["final_loss"] < r["initial_loss"], f"{what}: loss {r['loss']}")
    if method == "lora":
        check(r["lora_alpha"] == (4 if "--lora-alpha" in extra else rank), f"{what}: alpha {r['lora_alpha']}")
    else:
        check(r["sst_iteration"] == 200 and r["rewarm"] == 20, f"{what}: schedule defaults")
    files = check_outdir(out_dir, what)
    for f in ("train.json", "train.csv", "train.svg"):
        check(f in files, f"{what}: {f} missing")
if sst_ok:
    p = run(["train", "--model", "mlp", "--tiny", "--optimizer", "sst", "--rank", "2", "--steps", "2", "--quiet"])
    check(p.returncode == 0 and "trainable" in p.stdout and "optimizer state" in p.stdout,
          f"train sst text summary: {p.returncode} {p.stdout!r} {p.stderr!r}")
    # Resume round trip: 6 steps + checkpoint, 4 more from it == 10 steps at once (constant lr;
    # T3 = 4 puts SST boundaries at steps 4 and 8, one before and one after the checkpoint).
    # The runs do identical arithmetic, so the final losses and the final checkpoints (params +
    # optimizer state + step count) must be bit-identical.
    for method, extra in (("sst", ["--sst-iteration", "4", "--rewarm", "2"]), ("lora", ["--lora-alpha", "16"])):
        base = ["train", "--model", "gpt", "--tiny", "--optimizer", method, "--lr", "0.01", "--wd", "0.1",
                "--json", "--quiet"] + extra
        full, half, rest = (os.path.join(d, f"{method}-{x}.ckpt") for x in ("full", "half", "rest"))
        p10 = run(base + ["--steps", "10", "--checkpoint", full])
        p6 = run(base + ["--steps", "6", "--checkpoint", half])
        p4 = run(base + ["--steps", "4", "--resume", half, "--checkpoint", rest])
        for q, n in ((p10, 10), (p6, 6), (p4, 4)):
            check(q.returncode == 0, f"resume {method} {n} steps: exit {q.returncode}: {q.stderr}")
        if p10.returncode == 0 and p4.returncode == 0:
            a, b = strict_json(p10.stdout, "10 steps")["run"], strict_json(p4.stdout, "6 + 4 steps")["run"]
            check(a["final_loss"] == b["final_loss"],
                  f"resume {method}: final loss 10 steps {a['final_loss']} vs 6 + 4 {b['final_loss']}")
            check(a["loss"][6:] == b["loss"], f"resume {method}: curves {a['loss'][6:]} vs {b['loss']}")
            h = strict_json(p6.stdout, "6 steps")["run"]
            check(b["inner_param_norm_initial"] == h["inner_param_norm_final"] and
                  b["param_norm_initial"] == h["param_norm_final"], f"resume {method}: initial norms {b} vs {h}")
            check(open(full, "rb").read() == open(rest, "rb").read(), f"resume {method}: checkpoints differ")
    # a divergent run (absurd lr; SST boundaries every 2 steps, so the re-SVD meets the
    # non-finite factors) ends as "diverged": exit 1, final loss null, never a crash
    p = run(["train", "--model", "mlp", "--tiny", "--dtype", "f32", "--optimizer", "sst", "--lr", "1e6",
             "--sst-iteration", "2", "--steps", "30", "--json", "--quiet"])
    check(p.returncode == 1 and "diverged" in p.stderr, f"sst divergence: {p.returncode} {p.stderr!r}")
    out = strict_json(p.stdout, "sst divergence stdout") if p.stdout else None
    check(out is not None and out["run"]["final_loss"] is None and out["run"]["diverged"],
          "sst divergence: final_loss null")
    # an SST checkpoint does not fit another wrapper (other rank): exit 1, file named
    half = os.path.join(d, "sst-half.ckpt")
    if os.path.exists(half):
        p = run(["train", "--model", "gpt", "--tiny", "--optimizer", "sst", "--rank", "4", "--steps", "1",
                 "--resume", half, "--quiet"])
        check(p.returncode == 1 and half in p.stderr, f"sst resume with other rank: {p.returncode} {p.stderr!r}")


# ---- issue 15.4: research outputs (Ritz nodes/weights, traces, JS errors, structured sizes) -----
def check_sizes(z, kind, what):
    check(isinstance(z, dict) and z.get("kind") == kind, f"{what}: sizes {z!r}")
    if isinstance(z, dict):
        for k in ("dtype", "parameters") + (("batch", "batches", "samples") if kind != "quadratic" else ()):
            check(k in z, f"{what}: sizes.{k} missing")


def check_research(d, sp, what):
    """Files of docs/cli.md "Research outputs": they exist, load with numpy, the weights of
    every probe sum to 1 and the densities recomputed from nodes and weights are the
    written ones."""
    import numpy as np
    m = sp["model"]
    for f in (f"{m}_ritz.npy", f"{m}_blocks.csv", f"{m}_js_stderr.csv"):
        check(os.path.exists(os.path.join(d, f)), f"{what}: {f} missing")
    check(sp.get("ritz_file") == f"{m}_ritz.npy", f"{what}: ritz_file {sp.get('ritz_file')!r}")
    R = np.load(os.path.join(d, f"{m}_ritz.npy"))
    check(R.dtype == np.float64 and R.ndim == 2 and R.shape[1] == 4 and R.shape[0] == sp["ritz_rows"],
          f"{what}: ritz array {R.dtype} {R.shape}")
    g, sigma, probes = np.array(sp["grid"]), sp["sigma"], sp["probes"]
    nb = len(sp["blocks"])
    check(set(np.unique(R[:, 0]).astype(int)) == set(range(nb)) | ({-1} if "full" in sp else set()),
          f"{what}: ritz block indices")
    for b in list(range(nb)) + ([-1] if "full" in sp else []):
        rows = R[R[:, 0] == b]
        check(set(np.unique(rows[:, 1]).astype(int)) == set(range(probes)), f"{what}: block {b} probes")
        for q in range(probes):
            w = rows[rows[:, 1] == q][:, 3]
            check(abs(w.sum() - 1) < 1e-10 and (w >= 0).all(), f"{what}: block {b} probe {q} weights sum {w.sum()}")
        dens = (rows[:, 3][None, :] * np.exp(-(g[:, None] - rows[:, 2][None, :]) ** 2 / (2 * sigma ** 2))
                ).sum(1) / (np.sqrt(2 * np.pi) * sigma * probes)
        written = np.array(sp["full"]["density"] if b == -1 else sp["blocks"][b]["density"])
        err = np.max(np.abs(dens - written)) / np.max(np.abs(written))
        check(err < 1e-8, f"{what}: block {b} density from nodes/weights differs by {err:.2e}")
    with open(os.path.join(d, f"{m}_blocks.csv")) as fh:
        rows = list(csv.DictReader(fh))
    check([r["block"] for r in rows] == [b["name"] for b in sp["blocks"]], f"{what}: blocks.csv names")
    for r, b in zip(rows, sp["blocks"]):
        # JSON numbers carry 12 significant digits, the CSV 17
        check(isinstance(b.get("trace"), float) and
              abs(float(r["trace"]) - b["trace"]) <= 1e-11 * abs(b["trace"]),
              f"{what}: trace of {b['name']}: {b.get('trace')} vs {r['trace']}")
        check(isinstance(b.get("trace_stderr"), (int, float)) and b["trace_stderr"] >= 0,
              f"{what}: trace_stderr of {b['name']}")
        # the trace is the integral of λ over the density: the Ritz estimate agrees
        rr = R[R[:, 0] == int(r["index"])]
        check(abs((rr[:, 2] * rr[:, 3]).sum() / probes * b["numel"] - b["trace"]) <= 1e-9 * (1 + abs(b["trace"])),
              f"{what}: trace of {b['name']} vs Ritz quadrature")
    E = sp.get("js_matrix_stderr")
    check(E is not None and len(E) == nb and all(len(r) == nb for r in E), f"{what}: js_matrix_stderr shape")
    if E:
        E = np.array(E, dtype=float)
        check(np.allclose(E, E.T) and (np.diag(E) == 0).all() and (E >= 0).all(), f"{what}: js_matrix_stderr values")


d = fresh("research")
p = run(["spectrum", "--model", "mlp", "--tiny", "--probes", "3", "--steps", "8", "--full", "--json", "--quiet",
         "--out", d])
if not unavailable(p, "spectrum"):
    check(p.returncode == 0, f"research spectrum: exit {p.returncode}: {p.stderr}")
    with open(os.path.join(d, "spectrum.json")) as fh:
        sp = strict_json(fh.read(), "research spectrum.json")["spectrum"]
    check_sizes(sp["sizes"], "mlp", "spectrum")
    check(sp["sizes"].get("width") == 16 and sp["sizes"].get("parameters") == sp["n_params"], "sizes values")
    check(isinstance(sp.get("sizes_text"), str), "sizes_text")
    check_research(d, sp, "spectrum")
# analyze: the structured sizes in summary[] and every spectrum, and the research files
d = os.path.join(SCRATCH, "analyze")
if os.path.exists(os.path.join(d, "summary.json")):
    with open(os.path.join(d, "summary.json")) as fh:
        s = strict_json(fh.read(), "analyze summary.json")
    for m in s["summary"]:
        check_sizes(m["sizes"], m["model"], f"analyze summary {m['model']}")
    for sp in s["spectra"]:
        check_sizes(sp["sizes"], sp["model"], f"analyze {sp['model']}")
        check_research(d, sp, f"analyze {sp['model']}")
# one probe: no standard errors (null), the files still written
d = fresh("research1")
p = run(["spectrum", "--model", "mlp", "--tiny", "--probes", "1", "--steps", "6", "--json", "--quiet", "--out", d])
if p.returncode == 0:
    sp = strict_json(p.stdout, "one probe")["spectrum"]
    check(sp["js_matrix_stderr"] is None and all(b["trace_stderr"] is None for b in sp["blocks"]),
          "one probe: no standard errors")
    check(not os.path.exists(os.path.join(d, "mlp_js_stderr.csv")), "one probe: no js_stderr.csv")

# ---- issue 15.5: figures that show the finding --------------------------------------------------------
def headline_of(html):
    m = re.search(r'<div class="headline" id="headline">(.*?)</div>', html, re.S)
    return re.sub(r"<[^>]+>", "", m.group(1)) if m else ""


def heatmap_rows(svg):
    """Row labels of a JS heat map in drawing order, and the number of cells."""
    rows = [t.replace(" [zero]", "") for t in re.findall(r'<text class="rowlabel"[^>]*>([^<]*)</text>', svg)]
    return [html_unescape(r) for r in rows], len(re.findall(r'<rect class="cell"', svg))


def html_unescape(t):
    import html as _h
    return _h.unescape(t)


KIND_ORDER = ["embedding", "conv", "linear", "attn_q", "attn_k", "attn_v", "attn_o", "mlp_in", "mlp_out",
              "head", "norm", "bias"]


def documented_order(blocks):
    """docs/cli.md, "Figures": by kind (KIND_ORDER), then layer (first all-digit component of
    the name; none: -1 before the first numbered block, +inf after), then model order."""
    def layer(n):
        for c in n.split("."):
            if c.isdigit():
                return int(c)
        return None
    first_num = next((i for i, b in enumerate(blocks) if layer(b["name"]) is not None), len(blocks))
    def key(ib):
        i, b = ib
        L = layer(b["name"])
        L = L if L is not None else (-1 if i < first_num else float("inf"))
        k = KIND_ORDER.index(b["kind"]) if b["kind"] in KIND_ORDER else len(KIND_ORDER)
        return (k, L, i)
    return [b["name"] for _, b in sorted(enumerate(blocks), key=key)]


d = os.path.join(SCRATCH, "analyze")
if os.path.exists(os.path.join(d, "summary.json")):
    with open(os.path.join(d, "summary.json")) as fh:
        s = strict_json(fh.read(), "analyze summary.json")
    html = open(os.path.join(d, "report.html"), encoding="utf-8").read()
    head = headline_of(html)
    # the headline names the top-ranked model and every JS0 of summary.json with its error
    top = max(s["summary"], key=lambda m: m["js0"])
    check(re.search(re.escape(top["model"]) + r"\s+ranks highest", head), f"headline top model: {head[:300]!r}")
    for m in s["summary"]:
        check(f"{m['js0']:.4f} ± {m['js0_stderr']:.4f}" in head, f"headline lacks {m['model']} JS0 {m['js0']:.4f}")
    # the verdict follows from the numbers (2 combined standard errors, docs/cli.md)
    g = next(m for m in s["summary"] if m["model"] == "gpt")
    z = [(g["js0"] - m["js0"]) / (g["js0_stderr"] ** 2 + m["js0_stderr"] ** 2) ** 0.5
         for m in s["summary"] if m["model"] != "gpt"]
    want = "agrees" if all(x > 2 for x in z) else "disagrees" if any(x < -2 for x in z) else None
    if want:
        check(re.search(r"Measured:\s*" + want + r"\s+—", head), f"headline verdict should be {want}: {head[:600]!r}")
    check("SGD vs Adam" in head and "Quadratics" in head, "headline covers training and quadratics")
    for sp in s["spectra"]:
        svg = open(os.path.join(d, f"{sp['model']}_js.svg"), encoding="utf-8").read()
        rows, cells = heatmap_rows(svg)
        nb = len(sp["blocks"])
        check(cells == nb * nb, f"{sp['model']}_js.svg: {cells} cells for {nb} blocks")
        check(rows == documented_order(sp["blocks"]), f"{sp['model']}_js.svg order {rows}")
        # values printed in the cells: every off-diagonal entry, 2 decimals, where it fits
        order = [next(b for b in range(nb) if sp["blocks"][b]["name"] == r) for r in rows]
        vals = re.findall(r'</title></rect>\n<text [^>]*>([^<]*)</text>', svg)
        check(len(vals) == nb * nb, f"{sp['model']}_js.svg: {len(vals)} printed values")
        if len(vals) == nb * nb:
            check(all(abs(float(vals[i * nb + j]) - sp["js_matrix"][order[i]][order[j]]) <= 0.005 + 1e-12
                      for i in range(nb) for j in range(nb)), f"{sp['model']}_js.svg: printed values")
        ov = open(os.path.join(d, f"{sp['model']}_shared.svg"), encoding="utf-8").read()
        check(ov.count("<polyline") >= 2 * nb and "symlog" in ov and "linear grid" in ov,
              f"{sp['model']}_shared.svg: both grids, every block")
    # gpt's zero block: a note in the panels, not a plot on absurd axes (no 1e16+ ticks)
    sp = open(os.path.join(d, "gpt_spectra.svg"), encoding="utf-8").read()
    check("numerically zero: max |λ|" in sp, "gpt_spectra.svg: the zero block is a note")
    check(not re.search(r">1e(1[6-9]|2\d)<", sp), "gpt_spectra.svg: absurd density ticks")
    # quadratic.svg: a logarithmic iteration axis (ticks 1, 10, 100, …)
    q = open(os.path.join(d, "quadratic.svg"), encoding="utf-8").read()
    check("iteration (log scale)" in q and all(f">{t}</text>" in q for t in ("1", "10", "100")),
          "quadratic.svg: log iteration axis")
# spectrum: one model, its report names spectrum.json and shows no training columns
d = os.path.join(SCRATCH, "research")
if os.path.exists(os.path.join(d, "report.html")):
    html = open(os.path.join(d, "report.html"), encoding="utf-8").read()
    check("spectrum.json" in html and "summary.json" not in html, "spectrum report names spectrum.json")
    check("<th>gap</th>" not in html and "SGD loss" not in html and "n/a" not in html,
          "spectrum report: no training columns")
    sp = json.load(open(os.path.join(d, "spectrum.json")))["spectrum"]
    check(f"JS⁰ = {sp['js0']:.4f} ± {sp['js0_stderr']:.4f}" in headline_of(html), "spectrum headline JS0")

# ---- issue 15.3: checkpoints carry the model configuration ------------------------------------------
def strip_model_section(src, dst):
    """The same checkpoint in format 2.0 (what the library wrote before 2.1): the model
    section dropped, header version, size, section count and CRC rewritten."""
    import struct
    import zlib
    b = bytearray(open(src, "rb").read())
    nsec = struct.unpack_from("<I", b, 24)[0]
    pos, kept = 32, 0
    for i in range(nsec):
        tag, _, ln = struct.unpack_from("<IIQ", b, pos)
        if tag == 4:
            del b[pos:pos + 16 + ln + 4]
            break
        pos += 16 + ln + 4
        kept += 1
    check(kept == nsec - 1, "old format: the model section is the last one")
    struct.pack_into("<IIQI", b, 8, 2, struct.unpack_from("<I", b, 12)[0], len(b), kept)
    struct.pack_into("<I", b, 28, zlib.crc32(bytes(b[:28])) & 0xffffffff)
    open(dst, "wb").write(bytes(b))


d = fresh("ckpt-config")
os.makedirs(d)
ck = os.path.join(d, "a.ckpt")
# explicit sizes (--tiny replaces the size options, --batches included): 2 micro-batches
MLP = ["--model", "mlp", "--inputs", "8", "--width", "16", "--layers", "2", "--classes", "4", "--batch", "16",
       "--batches", "2"]
p = run(["train"] + MLP + ["--seed", "5", "--steps", "3", "--checkpoint", ck, "--quiet"])
if not unavailable(p, "train"):
    check(p.returncode == 0, f"train for ckpt-config: exit {p.returncode}: {p.stderr}")
    hdr = open(ck, "rb").read(32)
    check(int.from_bytes(hdr[8:12], "little") == 2 | 1 << 16, "a CLI checkpoint is format 2.1")
    # --resume alone rebuilds the model: the same numbers as an uninterrupted run
    full = run(["train"] + MLP + ["--seed", "5", "--steps", "5", "--json", "--quiet"])
    res = run(["train", "--resume", ck, "--steps", "2", "--json", "--quiet"])
    check(res.returncode == 0, f"train --resume alone: exit {res.returncode}: {res.stderr}")
    if res.returncode == 0 and full.returncode == 0:
        a, b = strict_json(full.stdout, "5 steps"), strict_json(res.stdout, "3 + 2 steps")
        check(a["run"]["final_loss"] == b["run"]["final_loss"] and a["run"]["loss"][3:] == b["run"]["loss"],
              f"resume alone: {a['run']['final_loss']} vs {b['run']['final_loss']}")
        check(b["seed"] == 5 and b["model"] == "mlp" and b["sizes"] == a["sizes"],
              f"resume alone: seed/model/sizes {b['seed']} {b['model']} {b['sizes']}")
    # --checkpoint alone in spectrum, and with matching explicit options: the same spectrum
    sa = run(["spectrum", "--checkpoint", ck, "--probes", "2", "--steps", "6", "--json", "--quiet"])
    sb = run(["spectrum", "--checkpoint", ck] + MLP + ["--seed", "5", "--dtype", "f64", "--probes", "2",
                                                       "--steps", "6", "--json", "--quiet"])
    check(sa.returncode == 0 and sb.returncode == 0, f"spectrum --checkpoint alone: {sa.stderr} {sb.stderr}")
    if sa.returncode == 0 and sb.returncode == 0:
        x, y = strict_json(sa.stdout, "alone")["spectrum"], strict_json(sb.stdout, "explicit")["spectrum"]
        check(x["model"] == "mlp" and x["js_matrix"] == y["js_matrix"] and x["sizes"] == y["sizes"],
              "spectrum --checkpoint alone = with the same options")
        check(x["sizes"]["batches"] == 2 and x["sizes"]["samples"] == 32, f"recorded data: {x['sizes']}")
    # explicit options that differ: exit 2, one line with both values
    for extra, given, recorded in ((["--width", "17"], "17", "16"), (["--seed", "4"], "4", "5"),
                                   (["--model", "gpt"], "gpt", "mlp"), (["--dtype", "f32"], "f32", "f64"),
                                   (["--batches", "3"], "3", "2"), (["--batch", "8"], "8", "16"),
                                   (["--tiny"], "32", "16")):  # --tiny's mlp sizes: batch 32 differs
        for sub in (["spectrum", "--checkpoint", ck], ["train", "--resume", ck, "--steps", "1"]):
            p = run(sub + extra + ["--quiet"])
            lines = p.stderr.strip().splitlines()
            check(p.returncode == 2 and len(lines) == 1 and given in lines[0] and recorded in lines[0]
                  and ck in lines[0], f"{sub[0]} {extra} vs checkpoint: {p.returncode} {p.stderr!r}")
    p = run(["spectrum", "--checkpoint", ck, "--vocab", "12", "--quiet"])
    check(p.returncode == 2 and "vocab" in p.stderr, f"option of another kind: {p.returncode} {p.stderr!r}")
    # an explicit preset is checked like the size options (docs/cli.md): its sizes for the
    # recorded kind, size flags over them; --preset tiny's mlp has batch 32, not 16
    for sub in (["spectrum", "--checkpoint", ck], ["train", "--resume", ck, "--steps", "1"]):
        p = run(sub + ["--preset", "tiny", "--quiet"])
        lines = p.stderr.strip().splitlines()
        check(p.returncode == 2 and len(lines) == 1 and "--preset tiny (batch 32)" in lines[0] and "batch 16" in lines[0]
              and ck in lines[0], f"{sub[0]} --preset tiny vs checkpoint: {p.returncode} {p.stderr!r}")
    # a checkpoint of a preset's model: that preset is accepted, another one not (ref's mlp =
    # the library's defaults, compared as such), no preset = the recorded sizes whatever they are
    tk = os.path.join(d, "tiny.ckpt")
    p = run(["train", "--model", "mlp", "--preset", "tiny", "--steps", "1", "--checkpoint", tk, "--quiet"])
    check(p.returncode == 0, f"train --preset tiny --checkpoint: {p.returncode} {p.stderr}")
    if p.returncode == 0:
        q = run(["spectrum", "--checkpoint", tk, "--preset", "tiny", "--width", "16", "--blocks", "layers.0.weight",
                 "--json", "--quiet"])
        check(q.returncode == 0, f"matching --preset tiny: {q.returncode} {q.stderr!r}")
        if q.returncode == 0:
            z = strict_json(q.stdout, "preset tiny ckpt")["spectrum"]
            check(z["sizes"]["width"] == 16 and (z["probes"], z["lanczos_steps"]) == (2, 12),
                  f"matching --preset tiny: sizes and the preset's SLQ defaults {z['sizes']} {z['probes']}")
        for preset in ("default", "ref", "large"):
            q = run(["spectrum", "--checkpoint", tk, "--preset", preset, "--quiet"])
            check(q.returncode == 2 and f"--preset {preset} (" in q.stderr and tk in q.stderr,
                  f"--preset {preset} vs a tiny checkpoint: {q.returncode} {q.stderr!r}")
        q = run(["spectrum", "--checkpoint", tk, "--tiny", "--preset", "ref", "--quiet"])
        check(q.returncode == 2 and "contradicts" in q.stderr, f"--tiny --preset ref with a checkpoint: {q.stderr!r}")
    # an old-format checkpoint (no model section) still loads, with the sizes given as before
    old = os.path.join(d, "old.ckpt")
    strip_model_section(ck, old)
    po = run(["spectrum", "--checkpoint", old] + MLP + ["--seed", "5", "--probes", "2", "--steps", "6", "--json",
                                                        "--quiet"])
    check(po.returncode == 0, f"old checkpoint with options: exit {po.returncode}: {po.stderr}")
    if po.returncode == 0 and sa.returncode == 0:
        check(strict_json(po.stdout, "old")["spectrum"]["js_matrix"] == strict_json(sa.stdout, "alone")["spectrum"]["js_matrix"],
              "old checkpoint: the same spectrum")
    pr = run(["train", "--resume", old] + MLP + ["--seed", "5", "--steps", "2", "--json", "--quiet"])
    check(pr.returncode == 0 and res.returncode == 0 and
          strict_json(pr.stdout, "old resume")["run"]["final_loss"] == strict_json(res.stdout, "resume")["run"]["final_loss"],
          f"old checkpoint resumes: {pr.returncode} {pr.stderr}")
    # without options it cannot know the model: the default gpt does not fit (exit 1, file named)
    p = run(["spectrum", "--checkpoint", old, "--quiet"])
    check(p.returncode == 1 and old in p.stderr, f"old checkpoint alone: {p.returncode} {p.stderr!r}")

# ---- --data text (gpt; docs/data.md "Text") -------------------------------------------------
for args in (["train", "--model", "mlp", "--data", "text"], ["spectrum", "--text-dir", SCRATCH],
             ["train", "--data", "words"]):
    p = run(args)
    check(p.returncode == 2 and p.stdout == "" and len(p.stderr.strip().splitlines()) == 1,
          f"{args}: {p.returncode} {p.stderr!r}")
td = fresh("textdir")
os.makedirs(td)
open(os.path.join(td, "b.txt"), "w").write("the second file, read after a.txt. " * 4)
open(os.path.join(td, "a.txt"), "w").write("The first file of a tiny corpus; it has text. " * 4)
open(os.path.join(td, "a.txt.dat"), "wb").write(bytes(range(256)))   # a fortune index: skipped
p = run(["train", "--data", "text", "--text-dir", td, "--tiny", "--steps", "20", "--lr", "0.01",
         "--json", "--quiet"])
if check(p.returncode == 0, f"train --data text --text-dir: {p.returncode} {p.stderr}"):
    j = strict_json(p.stdout, "train text")
    V = len(set(open(os.path.join(td, "a.txt")).read() + open(os.path.join(td, "b.txt")).read()))
    check(j["data"] == "text" and j["sizes"]["vocab"] == V, f"text vocab {j['sizes']} vs {V}")
    check(math.isfinite(j["valid_loss_start"]) and j["valid_loss_end"] < j["valid_loss_start"],
          f"validation loss {j['valid_loss_start']} -> {j['valid_loss_end']}")
p = run(["train", "--data", "text", "--text-dir", td, "--tiny", "--vocab", "5", "--steps", "1"])
check(p.returncode == 2 and "--vocab 5" in p.stderr, f"--vocab below the text's: {p.returncode} {p.stderr!r}")
p = run(["train", "--data", "text", "--text-dir", os.path.join(td, "none"), "--tiny"])
check(p.returncode == 1 and "none" in p.stderr, f"missing --text-dir: {p.returncode} {p.stderr!r}")
p = run(["spectrum", "--data", "text", "--text-dir", td, "--tiny", "--json", "--quiet"])
if check(p.returncode == 0, f"spectrum --data text: {p.returncode} {p.stderr}"):
    check_spectrum(strict_json(p.stdout, "spectrum text")["spectrum"], "spectrum text", False)
# analyze --data real on gpt with a corpus of our own (no package needed): the training on the
# training split, every best run's validation loss in summary.json, the table and report.html
d = fresh("analyze-real-gpt")
p = run(["analyze", "--preset", "tiny", "--data", "real", "--models", "gpt", "--text-dir", td,
         "--no-quadratic", "--quiet", "--out", d], timeout=240)
if check(p.returncode == 0, f"analyze --data real --text-dir: {p.returncode} {p.stderr}"):
    check("SGD held-out" in p.stdout and "Adam held-out" in p.stdout, f"held-out columns: {p.stdout[-800:]!r}")
    s = strict_json(open(os.path.join(d, "summary.json")).read(), "analyze real gpt summary.json")
    if s:
        row = s["summary"][0]
        check(s["data"] == "real" and row["data"] == "text" and row["held_out"] == "validation",
              f"analyze real gpt data: {s['data']} {row}")
        check(row["sizes"]["vocab"] == V, f"analyze real gpt vocab {row['sizes']} vs {V}")
        for k in ("sgd_held_out_loss", "adam_held_out_loss", "sgd_loss", "adam_loss"):
            check(isinstance(row.get(k), float) and row[k] > 0, f"analyze real gpt {k} = {row.get(k)}")
        t = s["training"][0]
        check(t["sgd"]["held_out_loss"] == row["sgd_held_out_loss"] and
              t["adam"]["held_out_loss"] == row["adam_held_out_loss"] and
              t["adam"]["held_out"] == "validation", f"training[] held-out: {t['sgd']} {t['adam']}")
        check("data: real" in s["settings"] and "text corpus of 2 files" in s["settings"],
              f"settings name the data: {s['settings'][:400]!r}")
        html = open(os.path.join(d, "report.html"), encoding="utf-8").read()
        check("<th>SGD held-out loss</th>" in html and "validation split" in html, "report.html held-out columns")
    # --resume records the data choice: synthetic does not continue a real run
    p = run(["analyze", "--preset", "tiny", "--data", "synthetic", "--models", "gpt", "--no-quadratic",
             "--resume", d])
    check(p.returncode == 2 and "data: recorded real, given (none)" in p.stderr,
          f"--resume with another --data: {p.returncode} {p.stderr!r}")
    p = run(["analyze", "--preset", "tiny", "--data", "real", "--models", "gpt", "--no-quadratic",
             "--text-dir", td, "--quiet", "--resume", d], timeout=240)
    check(p.returncode == 0, f"--resume a real run: {p.returncode} {p.stderr!r}")
# ... and mlp, cnn on IDX files of our own (28 x 28, 10 classes; the Fashion-MNIST layout)
imgdir = fresh("idxdir")
os.makedirs(imgdir)
for split, n in (("train", 40), ("t10k", 24)):
    pix = bytes((i * 7 + (i // 784) * 13) % 256 for i in range(n * 784))
    with gzip.open(os.path.join(imgdir, f"{split}-images-idx3-ubyte.gz"), "wb") as fh:
        fh.write(struct.pack(">IIII", 0x803, n, 28, 28) + pix)
    with gzip.open(os.path.join(imgdir, f"{split}-labels-idx1-ubyte.gz"), "wb") as fh:
        fh.write(struct.pack(">II", 0x801, n) + bytes(i % 10 for i in range(n)))
d = fresh("analyze-real-images")
p = run(["analyze", "--preset", "tiny", "--data", "real", "--models", "mlp,cnn", "--data-dir", imgdir,
         "--no-quadratic", "--json", "--quiet", "--out", d], timeout=240)
if check(p.returncode == 0, f"analyze --data real --data-dir: {p.returncode} {p.stderr}"):
    s = strict_json(p.stdout, "analyze real images")
    for row in s["summary"] if s else []:
        check(row["data"] == "fashion-mnist" and row["held_out"] == "t10k", f"images row: {row}")
        check(all(0 <= row[k] <= 1 for k in ("sgd_held_out_accuracy", "adam_held_out_accuracy")) and
              all(row[k] > 0 for k in ("sgd_held_out_loss", "adam_held_out_loss")), f"images held-out: {row}")
    check(s and s["summary"][0]["sizes"]["inputs"] == 784 and s["summary"][1]["sizes"]["image"] == 28,
          "images sizes")
    check(s and "fashion-mnist train 40 / t10k 24 images" in s["settings"], f"images settings {s and s['settings']!r}")
# missing data: exit 1, the alternative named, nothing written
for args, what in ((["--models", "gpt", "--text-dir", os.path.join(td, "none")], "none"),
                   (["--models", "mlp", "--data-dir", os.path.join(td, "none")], "none/train-images-idx3-ubyte.gz")):
    d = fresh("analyze-real-missing")
    p = run(["analyze", "--preset", "tiny", "--data", "real", "--out", d] + args)
    check(p.returncode == 1 and what in p.stderr and "--data synthetic" in p.stderr and not os.path.exists(d),
          f"analyze {args}: {p.returncode} {p.stderr!r} (out exists: {os.path.exists(d)})")
# ---- checkpoints of real-data runs (session 15, task H) --------------------------------------
# 1. the micro-batch count of --data text / fashion-mnist is recorded (it was 1 whatever the run
#    used): --batches N is accepted on resume and by spectrum, and without it the run's is used
d = fresh("ckpt-real")
os.makedirs(d)
ck_text, ck_img, ck_zero = (os.path.join(d, n) for n in ("text.ck", "img.ck", "zero.ck"))
txt = ["--data", "text", "--text-dir", td]
img = ["--data", "fashion-mnist", "--data-dir", imgdir]
if check(train_json(txt + ["--tiny", "--batches", "3", "--steps", "2", "--checkpoint", ck_text], "text ckpt"),
         "train --data text --batches 3 --checkpoint"):
    j = train_json(txt + ["--resume", ck_text, "--steps", "1", "--batches", "3"], "resume text --batches 3")
    check(j and j["sizes"]["batches"] == 3, f"resume text: batches {j and j['sizes']}")
    j = train_json(txt + ["--resume", ck_text, "--steps", "1"], "resume text")
    check(j and j["sizes"]["batches"] == 3, f"resume text without --batches: {j and j['sizes']}")
    for cmd in (["train", "--resume", ck_text, "--steps", "1"], ["spectrum", "--checkpoint", ck_text]):
        p = run(cmd + txt + ["--batches", "2"])
        check(p.returncode == 2 and "(batches 3)" in p.stderr, f"{cmd[0]} --batches 2 vs 3: {p.returncode} {p.stderr!r}")
    for extra in (["--batches", "3"], []):
        p = run(["spectrum", "--checkpoint", ck_text, "--probes", "2", "--steps", "8", "--json", "--quiet"] + txt + extra)
        if check(p.returncode == 0, f"spectrum text checkpoint {extra}: {p.returncode} {p.stderr!r}"):
            s = strict_json(p.stdout, "spectrum text checkpoint")["spectrum"]
            check(s["sizes"]["batches"] == 3 and s["sizes"]["samples"] == 12, f"spectrum text ckpt sizes {s['sizes']}")
    # --minibatch: the training windows' count, not that of the evaluation set set last
    ck_mb = os.path.join(d, "mb.ck")
    if train_json(txt + ["--tiny", "--batches", "2", "--steps", "2", "--minibatch", "--eval-batches", "5",
                         "--checkpoint", ck_mb], "minibatch ckpt"):
        p = run(["spectrum", "--checkpoint", ck_mb, "--probes", "2", "--steps", "8", "--json", "--quiet"] + txt)
        check(p.returncode == 0 and strict_json(p.stdout, "mb ckpt")["spectrum"]["sizes"]["batches"] == 2,
              f"--minibatch checkpoint records --batches: {p.returncode} {p.stderr!r}")
# 2. spectrum takes the model kind from the checkpoint when the data needs mlp or cnn
if check(train_json(["--model", "mlp"] + img + ["--width", "8", "--batch", "8", "--batches", "2", "--steps", "2",
                     "--checkpoint", ck_img], "fashion-mnist ckpt"), "train --data fashion-mnist --checkpoint"):
    p = run(["spectrum", "--checkpoint", ck_img, "--probes", "2", "--steps", "8", "--json", "--quiet"] + img)
    if check(p.returncode == 0, f"spectrum --checkpoint --data fashion-mnist without --model: {p.returncode} {p.stderr!r}"):
        s = strict_json(p.stdout, "spectrum img checkpoint")["spectrum"]
        check(s["model"] == "mlp" and s["sizes"]["inputs"] == 784 and s["sizes"]["batches"] == 2,
              f"spectrum img ckpt: {s['model']} {s['sizes']}")
    j = train_json(["--resume", ck_img, "--steps", "1"] + img, "resume fashion-mnist")
    check(j and j["sizes"]["batches"] == 2, f"resume fashion-mnist: {j and j['sizes']}")
    # the source is not in the record: without --data the run is on synthetic data, said once
    p = run(["spectrum", "--checkpoint", ck_img, "--probes", "2", "--steps", "8"])
    check(p.returncode == 0 and p.stderr.count("this run uses synthetic data") == 1,
          f"real-data checkpoint on synthetic data: {p.returncode} {p.stderr!r}")
    p = run(["spectrum", "--checkpoint", ck_img, "--model", "cnn"] + img)
    check(p.returncode == 2 and "--model cnn" in p.stderr, f"--model cnn vs an mlp checkpoint: {p.returncode} {p.stderr!r}")
# 3. --steps 0: the checkpoint of θ₀, a loss curve of one point; its spectrum is the
#    initialisation's bit for bit (same parameters, data, and SLQ probes)
j = train_json(txt + ["--tiny", "--batches", "3", "--steps", "0", "--checkpoint", ck_zero], "train --steps 0")
if check(j and j["run"]["steps"] == 0 and len(j["run"]["loss"]) == 1 and
         j["run"]["initial_loss"] == j["run"]["final_loss"] == j["run"]["loss"][0] and os.path.exists(ck_zero),
         f"train --steps 0: {j and j['run']}"):
    sp = ["--probes", "2", "--steps", "8", "--json", "--quiet"] + txt
    a = run(["spectrum", "--tiny", "--batches", "3"] + sp)
    b = run(["spectrum", "--checkpoint", ck_zero] + sp)
    if check(a.returncode == 0 and b.returncode == 0, f"spectra of theta0: {a.stderr!r} {b.stderr!r}"):
        sa, sb = strict_json(a.stdout, "init")["spectrum"], strict_json(b.stdout, "theta0 ckpt")["spectrum"]
        check(sa["js0"] == sb["js0"] and sa["js_matrix"] == sb["js_matrix"],
              f"--steps 0 checkpoint vs initialisation: JS0 {sa['js0']} vs {sb['js0']}")
p = run(["train", "--steps", "-1"])
check(p.returncode == 2 and "[0, " in p.stderr, f"--steps -1: {p.returncode} {p.stderr!r}")

if os.path.isdir("/usr/share/games/fortunes"):
    p = run(["train", "--data", "text", "--tiny", "--steps", "2", "--json", "--quiet"])
    check(p.returncode == 0 and strict_json(p.stdout, "fortunes")["sizes"]["vocab"] > 60,
          f"train on the Debian text: {p.returncode} {p.stderr}")
else:
    SKIPS.append("Debian fortunes")

print(f"{len(FAILS)} failure(s); skipped (not in this build): {', '.join(SKIPS) or 'none'}")
sys.exit(1 if FAILS else 0)

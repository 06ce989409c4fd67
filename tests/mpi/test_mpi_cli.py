#!/usr/bin/env python3
"""hessblock under mpirun (issue 13.4, 13.5): run by meson as
    test_mpi_cli.py HESSBLOCK MPIRUN NP WORKDIR
1. `spectrum --preset tiny`, `analyze --preset tiny --no-train --no-quadratic` and the full
   `analyze --preset tiny` (its training grids and quadratic runs divided over the ranks,
   their results exchanged; once more with 2 threads a rank and the side lane forced, so the
   runs happen on a side thread and the exchange after its join), and `quadratic` (its runs
   divided the same way) on NP ranks write the same
   files as one process, byte for byte (JSON: the same numbers once the thread count and
   timings are left out), print the same tables, and a rank other than 0 creates nothing:
   the ranks run in different directories (MPMD: rank 0 in r0/, the others in rX/) and rX/
   must stay empty.
2. Bad input on one rank: rank NP-1 asks for another probe count; every rank fails
   (HB_ESTATE from the status round) and the job ends with a nonzero status, in bounded time.
   The same for another --train-steps on rank NP-1 (the spectra agree; the exchange of the
   training runs finds records that do not fit).
3. A killed rank: kill -9 of rank 1 of a long `spectrum`; the job must end within BOUND s
   (Open MPI's own reaction to a dead process: it terminates the job). The time is printed.
Exit 0 when all hold."""
import json, os, re, shutil, signal, subprocess, sys, time

hb, mpirun, np, work = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
MPI = [mpirun, "--allow-run-as-root", "--oversubscribe"]
BOUND = 30.0
failures = []


def fail(msg):
    print("FAIL:", msg)
    failures.append(msg)


def fresh(path):
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def mpmd(args, r0, rx):
    """rank 0 in r0, ranks 1..np-1 in rx, the same arguments"""
    cmd = MPI + ["-np", "1", "--wdir", r0, hb] + args
    cmd += [":", "-np", str(np - 1), "--wdir", rx, hb] + args
    return cmd


def tables(text):
    """the thread count and wall times are the only things a run may print differently"""
    text = re.sub(r"threads \d+", "threads N", text)
    return re.sub(r"in [0-9.]+ s", "in T s", text)


def strip(x):
    """JSON without thread counts and timings; run.json's finished-block list (in
    completion order, which threads change in one process too) as a set"""
    if isinstance(x, dict):
        return {k: strip(v) for k, v in x.items() if k != "threads" and "seconds" not in k}
    if isinstance(x, list):
        v = [strip(e) for e in x]
        if v and all(isinstance(e, dict) and "file" in e for e in v):
            v.sort(key=lambda e: e["file"])
        return v
    return tables(x) if isinstance(x, str) else x


def compare_dirs(a, b, what):
    for root, _, files in os.walk(a):
        for f in files:
            pa = os.path.join(root, f)
            pb = os.path.join(b, os.path.relpath(pa, a))
            if not os.path.exists(pb):
                fail(f"{what}: {pb} missing")
                continue
            if f.endswith(".json"):
                if strip(json.load(open(pa))) != strip(json.load(open(pb))):
                    fail(f"{what}: {os.path.relpath(pa, a)} differs (beyond threads/timings)")
            elif f.endswith(".html"):
                if tables(open(pa).read()) != tables(open(pb).read()):
                    fail(f"{what}: {os.path.relpath(pa, a)} differs (beyond threads/timings)")
            elif open(pa, "rb").read() != open(pb, "rb").read():
                fail(f"{what}: {os.path.relpath(pa, a)} differs")


def same_as_one_process(name, args, env=None, rank_args=()):
    base = fresh(os.path.join(work, name))
    # the same --out name (it is printed and recorded), in different directories
    one = subprocess.run([hb] + args + ["--out", "res", "--quiet", "--threads", "2"], cwd=fresh(os.path.join(base, "one")),
                         capture_output=True, text=True, timeout=600)
    if one.returncode != 0:
        fail(f"{name}: one process failed: {one.stderr[-500:]}")
        return
    r0, rx = fresh(os.path.join(base, "r0")), fresh(os.path.join(base, "rx"))
    t0 = time.time()
    many = subprocess.run(mpmd(args + list(rank_args) + ["--out", "res"], r0, rx), capture_output=True,
                          text=True, timeout=600, env=dict(os.environ, **(env or {})))
    print(f"{name}: {np} ranks {time.time() - t0:.1f} s, exit {many.returncode}")
    if many.returncode != 0:
        fail(f"{name}: {np} ranks failed: {many.stderr[-800:]}")
        return
    if os.listdir(rx):
        fail(f"{name}: a rank other than 0 created {os.listdir(rx)}")
    compare_dirs(os.path.join(base, "one", "res"), os.path.join(r0, "res"), name)
    if tables(one.stdout) != tables(many.stdout):
        fail(f"{name}: stdout differs:\n{one.stdout}\n---\n{many.stdout}")
    return os.path.join(r0, "res")


def check_trained(name, res):
    """the comparison is not vacuous: every model trained, both quadratic families ran"""
    if res is None:
        return
    s = json.load(open(os.path.join(res, "summary.json")))
    rows = s.get("summary", [])
    if not rows or not all(isinstance(r.get("sgd_loss"), float) and isinstance(r.get("adam_loss"), float)
                           for r in rows):
        fail(f"{name}: summary.json lacks the training losses: {rows}")
    if len(s.get("quadratic", [])) != 2 or not os.path.exists(os.path.join(res, "quadratic.csv")):
        fail(f"{name}: the quadratic test bed is missing from summary.json or quadratic.csv")


def rank_pids(parent, rank):
    """pids of the processes below `parent` whose environment says OMPI_COMM_WORLD_RANK=rank"""
    found, todo = [], [parent]
    while todo:
        p = todo.pop()
        try:
            kids = open(f"/proc/{p}/task/{p}/children").read().split()
        except OSError:
            kids = []
        for k in kids:
            todo.append(int(k))
            try:
                env = open(f"/proc/{k}/environ", "rb").read().split(b"\0")
            except OSError:
                continue
            if f"OMPI_COMM_WORLD_RANK={rank}".encode() in env and \
                    os.path.basename(os.readlink(f"/proc/{k}/exe")) == "hessblock":
                found.append(int(k))
    return found


same_as_one_process("spectrum", ["spectrum", "--preset", "tiny"])
same_as_one_process("analyze", ["analyze", "--preset", "tiny", "--no-train", "--no-quadratic"])
check_trained("analyze_full", same_as_one_process("analyze_full", ["analyze", "--preset", "tiny"],
                                                  rank_args=["--threads", "1"]))
same_as_one_process("quadratic", ["quadratic"], rank_args=["--threads", "1"])
# train is not divided over ranks: every rank trains the same run, rank 0 alone writes (its
# checkpoint too: a relative --checkpoint path must not appear in the other ranks' directory)
same_as_one_process("train", ["train", "--preset", "tiny", "--steps", "5", "--checkpoint", "res/ck.bin"])
check_trained("analyze_side", same_as_one_process("analyze_side", ["analyze", "--preset", "tiny"],
                                                  {"HESSBLOCK_TEST_SIDE_THREADS": "1"}, ["--threads", "2"]))

# 2. bad input on one rank: another probe count on the last rank
base = fresh(os.path.join(work, "badrank"))
cmd = MPI + ["-np", str(np - 1), hb, "spectrum", "--preset", "tiny", "--probes", "2", ":",
             "-np", "1", hb, "spectrum", "--preset", "tiny", "--probes", "3"]
t0 = time.time()
bad = subprocess.run(cmd, cwd=base, capture_output=True, text=True, timeout=300)
took = time.time() - t0
print(f"bad input on rank {np - 1}: exit {bad.returncode} after {took:.1f} s")
if bad.returncode == 0:
    fail("bad input on one rank: the job succeeded")
if "same call" not in bad.stderr:
    fail(f"bad input on one rank: no 'same call' message: {bad.stderr[-800:]}")
if took > BOUND:
    fail(f"bad input on one rank: {took:.1f} s > {BOUND} s")

# 2b. another --train-steps on the last rank: the spectra agree, the training exchange must not
base = fresh(os.path.join(work, "badtrain"))
cmd = MPI + ["-np", str(np - 1), hb, "analyze", "--preset", "tiny", "--no-quadratic", "--threads", "1", ":",
             "-np", "1", hb, "analyze", "--preset", "tiny", "--no-quadratic", "--threads", "1",
             "--train-steps", "7"]
t0 = time.time()
bad = subprocess.run(cmd, cwd=base, capture_output=True, text=True, timeout=300)
took = time.time() - t0
print(f"another --train-steps on rank {np - 1}: exit {bad.returncode} after {took:.1f} s")
if bad.returncode == 0:
    fail("another --train-steps on one rank: the job succeeded")
if "do not match" not in bad.stderr:
    fail(f"another --train-steps on one rank: no 'do not match' message: {bad.stderr[-800:]}")
if took > BOUND:
    fail(f"another --train-steps on one rank: {took:.1f} s > {BOUND} s")

# 3. kill -9 of rank 1 during a long run
base = fresh(os.path.join(work, "killed"))
proc = subprocess.Popen(MPI + ["-np", str(np), hb, "spectrum", "--preset", "default"],
                        cwd=base, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
victims, t_start = [], time.time()
while not victims and time.time() - t_start < 60 and proc.poll() is None:
    time.sleep(0.2)
    victims = rank_pids(proc.pid, 1)
time.sleep(1.5)  # inside the run
if not victims:
    fail("kill: rank 1 not found")
    proc.kill()
else:
    os.kill(victims[0], signal.SIGKILL)
    t0 = time.time()
    try:
        out, err = proc.communicate(timeout=BOUND + 60)
        took = time.time() - t0
        print(f"kill -9 of rank 1: the job ended after {took:.2f} s, exit {proc.returncode}")
        if proc.returncode == 0:
            fail("kill: the job reported success")
        if took > BOUND:
            fail(f"kill: the job took {took:.1f} s > {BOUND} s to end")
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        fail("kill: the job did not end (hang)")

print("FAILED" if failures else "mpirun CLI: all checks passed")
sys.exit(1 if failures else 0)

#!/usr/bin/env python3
"""Fault-injection coverage of the public API (issue 16.2; docs/reliability.md).

usage: check_fault_coverage.py libhessblock.sym test_faults.c libhessblock.a

Every function exported by the version script must be classified in tests/test_faults.c,
one line each:
  X(name, case, arg)          a fault-injection case (HB_FAULT_CASES): the `faults` suite
                              fails the k-th allocation of the call for every k and checks
                              the call allocates at least once;
  NO_ALLOC(name, "why")       it makes no allocation through the context;
  NO_ALLOC_CG(name, "why")    the same, where the call graph below can only say "maybe".
Fails on an unclassified exported function (a new one: add its line), a classified name
that is not exported, or a NO_ALLOC claim the call graph contradicts.

The call graph comes from the static library's machine code (objdump -dr): direct calls
and address references between functions (local symbols resolved from section+offset).
An indirect call may reach any function whose address is taken (vtables, the model
registry, OpenMP bodies, callbacks): a conservative edge set. Indirect calls in
USER_CALLBACK_SITES go to user code (log, progress, the allocator hooks) and are not
followed. A function "allocates" when a path reaches hb__malloc or hb__calloc.
"""
import bisect
import re
import subprocess
import sys
from collections import defaultdict

SINKS = {"hb__malloc", "hb__calloc"}
# Functions whose indirect calls go to user code only: the log and progress callbacks,
# the allocator hooks, and the trampolines of user objectives / operators / schedules.
USER_CALLBACK_SITES = {"hb__log", "hb__fail", "hb__progress", "hb__malloc", "hb__calloc",
                       "hb__free", "hb_context_free", "hb_context_create_with_allocator"}


def base(name):
    """foo.cold / foo.part.0 / foo.isra.0 / foo.constprop.0 are parts of foo."""
    return re.sub(r"\.(cold|part\.\d+|isra\.\d+|constprop\.\d+)$", "", name)


def parse(lib):
    """Per object: symbols by section (offset, name), and per function its edges."""
    syms = subprocess.run(["objdump", "-t", lib], capture_output=True, text=True,
                          check=True).stdout
    dis = subprocess.run(["objdump", "-dr", "--no-show-raw-insn", lib], capture_output=True,
                         text=True, check=True).stdout
    rel = subprocess.run(["objdump", "-r", lib], capture_output=True, text=True,
                         check=True).stdout
    secsyms = defaultdict(list)  # (obj, section) -> [(offset, name)]
    obj = None
    for line in syms.splitlines():
        m = re.match(r"^(\S+\.o):\s+file format", line)
        if m:
            obj = m.group(1)
            continue
        f = line.split()
        if len(f) >= 6 and re.match(r"^[0-9a-f]{16}$", f[0]) and f[-2] != "*ABS*":
            sec, name = f[-3], f[-1]
            if ("F" in f[1:-3] or "O" in f[1:-3]) and not name.startswith("."):
                secsyms[(obj, sec)].append((int(f[0], 16), name))
    for v in secsyms.values():
        v.sort()

    def resolve(obj, target, pcrel=True):
        m = re.match(r"^(\.[\w.]+)([+-]0x[0-9a-f]+)?$", target)
        if not m:
            return re.sub(r"[+-]0x[0-9a-f]+$", "", target)
        lst = secsyms.get((obj, m.group(1)), [])
        off = int(m.group(2), 16) if m.group(2) else 0
        if pcrel:
            off += 4  # PC-relative addends are -4 (the instruction's end)
        i = bisect.bisect_right(lst, (off, "\uffff")) - 1
        return lst[i][1] if i >= 0 else None

    edges = defaultdict(set)
    indirect = set()
    taken = set()  # functions whose address is taken (vtables, tables, callbacks, OpenMP)
    obj = func = None
    for line in dis.splitlines():
        m = re.match(r"^(\S+\.o):\s+file format", line)
        if m:
            obj = m.group(1)
            continue
        m = re.match(r"^[0-9a-f]+ <([^>]+)>:$", line)
        if m:
            func = base(m.group(1))
            continue
        if func is None:
            continue
        m = re.search(r"R_X86_64_(\w+)\s+(\S+)$", line)
        if m:
            t = resolve(obj, m.group(2))
            if t:
                edges[func].add(base(t))
                if m.group(1) != "PLT32":
                    taken.add(base(t))
            continue
        m = re.search(r"\s(call|jmp)\s+[0-9a-f]+ <([^>+]+)", line)
        if m:
            edges[func].add(base(m.group(2)))
        elif re.search(r"\scall\s+\*", line):
            indirect.add(func)
    # data objects (vtables, the model registry) hold function addresses
    obj = sec = None
    for line in rel.splitlines():
        m = re.match(r"^(\S+\.o):\s+file format", line)
        if m:
            obj = m.group(1)
            continue
        m = re.match(r"^RELOCATION RECORDS FOR \[(\S+)\]:", line)
        if m:
            sec = m.group(1)
            continue
        f = line.split()
        if sec and not sec.startswith(".text") and len(f) == 3 and re.match(r"^[0-9a-f]+$", f[0]):
            t = resolve(obj, f[2], pcrel=False)
            if t:
                taken.add(base(t))
    # An indirect call may reach any function whose address is taken: a conservative
    # edge set (a model's dispatch reaches every implementation, and more).
    for f in indirect - USER_CALLBACK_SITES:
        edges[f] |= taken
    return edges, indirect


def classify(edges, indirect, name):
    seen = {name: None}
    queue = [name]
    hit_indirect = False
    while queue:
        f = queue.pop(0)
        if f in SINKS:
            path = [f]
            while seen[path[-1]] is not None:
                path.append(seen[path[-1]])
            return "alloc", " <- ".join(path)
        if f in indirect and f not in USER_CALLBACK_SITES:
            hit_indirect = True
        for g in edges.get(f, ()):
            if g not in seen and g not in USER_CALLBACK_SITES - SINKS:
                seen[g] = f
                queue.append(g)
    return ("indirect", "") if hit_indirect else ("noalloc", "")


def classified(test_c):
    text = open(test_c).read()
    start, end = text.index("#define HB_FAULT_CASES(X)"), text.index("typedef struct fault_case")
    cases = re.findall(r"^\s*X\((hb_\w+),", text[start:end], re.M)
    no_alloc = re.findall(r"^\s*\*\s*NO_ALLOC\((hb_\w+),\s*\"[^\"]+\"\)", text, re.M)
    no_alloc_cg = re.findall(r"^\s*\*\s*NO_ALLOC_CG\((hb_\w+),\s*\"[^\"]+\"\)", text, re.M)
    return set(cases), no_alloc, no_alloc_cg


def main():
    sym, test_c, lib = sys.argv[1:4]
    exported = set(re.findall(r"^\s+(hb_\w+);", open(sym).read(), re.M))
    cases, no_alloc, no_alloc_cg = classified(test_c)
    status = 0
    listed = [*cases, *no_alloc, *no_alloc_cg]
    dups = sorted({n for n in set(no_alloc) | set(no_alloc_cg) if listed.count(n) > 1})
    if dups:
        status = 1
        print("classified more than once (a case AND a NO_ALLOC line, or twice):", *dups)
    missing = sorted(exported - set(listed))
    if missing:
        status = 1
        print(f"exported functions not classified in {test_c}:")
        for n in missing:
            print("   ", n)
        print("Add ONE line per function: in HB_FAULT_CASES `X(name, case_fn, arg)` with a case "
              "that makes one armed call (FAULT_CALL), or in the NO_ALLOC comment block "
              "` * NO_ALLOC(name, \"why it does not allocate\")`.")
    stale = sorted(set(listed) - exported)
    if stale:
        status = 1
        print("classified but not exported (renamed or removed?):", *stale)
    edges, indirect = parse(lib)
    for n in no_alloc:
        kind, path = classify(edges, indirect, n)
        if kind != "noalloc":
            status = 1
            print(f"NO_ALLOC({n}) but the call graph reaches an allocation: {path}")
    for n in no_alloc_cg:
        kind, path = classify(edges, indirect, n)
        if kind == "noalloc":
            status = 1
            print(f"NO_ALLOC_CG({n}): the call graph finds no allocation; make it NO_ALLOC")
    allocating = sorted(n for n in exported if classify(edges, indirect, n)[0] == "alloc")
    uncovered = [n for n in allocating if n not in cases and n not in no_alloc_cg]
    if uncovered:  # implied by the checks above; said plainly
        status = 1
        print("allocating functions without a fault-injection case:", *uncovered)
    covered = len(cases & exported)
    print(f"fault injection: {covered} of {covered + len(uncovered)} allocating exported "
          f"functions have a case ({len(exported)} exported: {len(no_alloc)} NO_ALLOC, "
          f"{len(no_alloc_cg)} NO_ALLOC_CG; call graph: {len(allocating)} may allocate)")
    return status


if __name__ == "__main__":
    sys.exit(main())

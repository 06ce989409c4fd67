#!/usr/bin/env python3
"""Split a callgrind profile's cost by shared object: BLIS, libm, libc, libhessblock, other.

    python3 bench/callgrind_split.py callgrind.out [--events]

Prints one line: total and the self cost of each group for the first event (Ir), or every
event with --events (e.g. Ir Dr Dw D1mr D1mw DLmr DLmw with --cache-sim=yes). The BLIS part
is what the library cannot change for identical gemm shapes; "outside BLIS" is the rest.
(Self cost only: the cost line after a `calls=` line is a call's inclusive cost, skipped.)
"""
import re
import sys


def group(obj):
    base = obj.rsplit('/', 1)[-1]
    if 'blis' in base: return 'blis'
    if base.startswith('libm.') or base.startswith('libm-'): return 'libm'
    if base.startswith('libc.') or base.startswith('libc-'): return 'libc'
    if 'hessblock' in base: return 'hessblock'
    return 'other'


def split(path):
    names, ob, events, skip = {}, '?', None, False
    cost = {}
    for line in open(path, errors='replace'):
        if line.startswith('events:'):
            events = line.split()[1:]
            continue
        m = re.match(r'(c?)ob=\((\d+)\)(?: (.*))?', line)
        if m:  # names are defined at first use, in an ob= or a cob= line
            if m.group(3): names[m.group(2)] = m.group(3).strip()
            if not m.group(1): ob = names.get(m.group(2), '?')
            continue
        if line.startswith('calls='):
            skip = True
            continue
        c = line[0] if line else ''
        if c.isdigit() or c in '+-*':
            if skip:
                skip = False
                continue
            parts = line.split()[1:]
            g = group(ob)
            acc = cost.setdefault(g, [0] * len(events))
            for i, v in enumerate(parts):
                acc[i] += int(v)
    return events, cost


def main():
    events, cost = split(sys.argv[1])
    n = len(events) if '--events' in sys.argv else 1
    for i in range(n):
        tot = sum(v[i] for v in cost.values())
        parts = ' '.join(f"{g}={cost[g][i]}" for g in sorted(cost))
        print(f"{events[i]} total={tot} outside_blis={tot - cost.get('blis', [0] * n)[i]} {parts}")


if __name__ == '__main__':
    main()

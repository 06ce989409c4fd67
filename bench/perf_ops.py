#!/usr/bin/env python3
"""Where a model call's time goes, by op: `perf record` samples grouped by source file.

    perf record -e cpu-clock -F 2000 -o OUT.data build-prof/bench/bench_call gpt f32 hvp 15
    python3 bench/perf_ops.py OUT.data [OUT2.data ...]

build-prof: `meson setup build-prof --buildtype=release -Ddebug=true` (-O3 -g: the same code
as the release build, with line tables so that perf can name each sample's source file;
the static template functions of lib/nn share names such as rbwd_f32 across files).
Prints one markdown row per file: the share of each group in the samples of the measured
calls (model creation and the RNG fill, "set-up", are left out of the denominator and
shown apart). Self time only. perf's cpu-clock samples are process CPU time, so the
shares do not depend much on other jobs' load (absolute times do).
"""
import subprocess
import sys

GROUPS = [
    ('gemm (BLIS + wrapper)', lambda d, s, f: 'blis' in d or f == 'blis_kernels.c'),
    ('activation (GELU)', lambda d, s, f: f in ('elementwise.c', 'vtanh.h', 'op_activation.c')
     or s in ('__tanhf', '__expm1f', '__tanh', '__expm1_fma', 'tanhf@plt', 'tanh@plt')),
    ('layernorm', lambda d, s, f: f in ('layernorm.c', 'op_norm.c')),
    ('attention own loops (softmax passes)', lambda d, s, f: f in ('attention.c', 'op_attention.c')),
    ('libm exp/log (softmax, cross-entropy)', lambda d, s, f: 'libm' in d),
    ('cross-entropy', lambda d, s, f: f in ('xent.c', 'op_xent.c')),
    ('linear own loops (bias, packing)', lambda d, s, f: f in ('linear.c', 'op_linear.c')),
    ('embedding', lambda d, s, f: f in ('embedding.c', 'op_embedding.c')),
    ('residual add', lambda d, s, f: f == 'op_add.c'),
    ('engine, model (plan, copies)', lambda d, s, f: f in ('engine.c', 'net.c', 'model_net.c',
                                                          'model.c', 'arena.c')),
    ('libc memset/memmove', lambda d, s, f: 'libc' in d and ('mem' in s)),
    ('kernel (page faults)', lambda d, s, f: 'kernel' in d),
    ('OpenMP runtime', lambda d, s, f: 'gomp' in d),
]
SETUP = lambda d, s, f: f in ('rng.c', 'init.c', 'tensor.c', 'params.c') or s.startswith(
    ('__sin', '__cos', 'sin@', 'cos@'))


def rows(path):
    out = subprocess.run(['perf', 'report', '-i', path, '--no-children', '--sort',
                          'dso,sym,srcfile', '--stdio', '-F', 'sample,dso,sym,srcfile',
                          '--field-separator', '\t'], capture_output=True, text=True).stdout
    for line in out.splitlines():
        if not line or line.startswith('#'):
            continue
        p = [x.strip() for x in line.split('\t')]
        if len(p) < 3:
            continue
        n, dso, sym = int(p[0]), p[1], p[2]
        sym = sym.split('] ', 1)[-1]
        f = p[3].rsplit('/', 1)[-1] if len(p) > 3 else ''
        yield n, dso, sym, f


def split(path):
    acc = {g: 0 for g, _ in GROUPS}
    acc['other'] = acc['set-up'] = 0
    for n, d, s, f in rows(path):
        if SETUP(d, s, f):
            acc['set-up'] += n
            continue
        for g, test in GROUPS:
            if test(d, s, f):
                acc[g] += n
                break
        else:
            acc['other'] += n
    return acc


def main():
    names = [g for g, _ in GROUPS] + ['other']
    print('| profile | samples | ' + ' | '.join(names) + ' | set-up (left out) |')
    print('|---|---:|' + '---:|' * (len(names) + 1))
    for path in sys.argv[1:]:
        acc = split(path)
        tot = sum(acc[g] for g in names)
        cells = ' | '.join(f'{100 * acc[g] / tot:.1f}' for g in names)
        print(f'| {path} | {tot} | {cells} | {acc["set-up"]} |')


if __name__ == '__main__':
    main()

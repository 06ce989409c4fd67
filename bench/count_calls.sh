#!/bin/bash
# Instruction counts of one model call, old build against new build (docs/performance.md
# "Built-ins as nets"): callgrind on bench/bench_call.c, instrumentation only around the
# measured call (--instr-atstart=no + CALLGRIND_START/STOP_INSTRUMENTATION in bench_call),
# one thread, the two builds run side by side. Prints a markdown row per call: total Ir,
# Ir outside BLIS (libhessblock + libm + libc + rest), both old / new / ratio, and whether
# the two builds issue the same list of gemms (bench/gemm_log_shim.c; last column: same,
# shapes = same shapes and order but β differs, order = same gemms in another order, NO).
#
#   bench/count_calls.sh OLD_BENCH_CALL NEW_BENCH_CALL OUTDIR "MODEL DTYPE CALL [batch=N]" ...
#
# The binaries: bench/bench_call.c compiled against each tree's library, e.g.
#   gcc -O2 -g -std=c11 -D_POSIX_C_SOURCE=200809L -IOLD/include -IOLD/build/include \
#       bench/bench_call.c -LOLD/build/lib -lhessblock -Wl,-rpath,OLD/build/lib -o /tmp/bc_old
# and /tmp/gemm_log_shim.so built as bench/gemm_log_shim.c says (optional).
OLD=$1 NEW=$2 DIR=$3
shift 3
mkdir -p "$DIR"
here=$(dirname "$0")
export OMP_NUM_THREADS=1 BLIS_NUM_THREADS=1
for c in "$@"; do
  set -- $c
  tag=$(echo "$c" | tr ' :=' '___')
  for b in old new; do
    bin=$OLD; [ $b = new ] && bin=$NEW
    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$DIR/$tag.$b.cg" \
      $VG_EXTRA "$bin" "$1" "$2" "$3" 1 "${@:4}" >/dev/null 2>"$DIR/$tag.$b.vg" &
  done
  wait
  same=-
  if [ -f /tmp/gemm_log_shim.so ]; then
    for b in old new; do
      bin=$OLD; [ $b = new ] && bin=$NEW
      GEMM_LOG="$DIR/$tag.$b.gemm" LD_PRELOAD=/tmp/gemm_log_shim.so "$bin" "$1" "$2" "$3" 1 "${@:4}" >/dev/null
    done
    # same: identical lists; shapes: the same (trans, m, n, k, strides) in the same order, β
    # differs (new ops write their first gradient with β = 0); order: the same multiset in
    # another order; NO: different gemms.
    strip() { sed 's/ beta=[^ ]*//' "$1"; }
    if cmp -s "$DIR/$tag.old.gemm" "$DIR/$tag.new.gemm"; then same=same
    elif cmp -s <(strip "$DIR/$tag.old.gemm") <(strip "$DIR/$tag.new.gemm"); then same=shapes
    elif cmp -s <(strip "$DIR/$tag.old.gemm" | sort) <(strip "$DIR/$tag.new.gemm" | sort); then same=order
    else same=NO; fi
  fi
  python3 - "$c" "$here" "$DIR/$tag.old.cg" "$DIR/$tag.new.cg" "$same" <<'PY'
import sys
sys.path.insert(0, sys.argv[2])
from callgrind_split import split
def ir(p):
    ev, cost = split(p)
    tot = sum(v[0] for v in cost.values())
    return tot, tot - cost.get('blis', [0])[0]
(ot, oo), (nt, no) = ir(sys.argv[3]), ir(sys.argv[4])
print(f"| {sys.argv[1]} | {ot/1e6:.2f} | {nt/1e6:.2f} | {nt/ot:.4f} | {oo/1e6:.2f} | {no/1e6:.2f} | {no/oo:.4f} | {sys.argv[5]} |", flush=True)
PY
done

#!/bin/bash
# Old build against new build, one model call at a time (bench/bench_call.c), alternated
# old/new within each round so both see the same machine load; prints a markdown row per
# call: median over the rounds of each build's median CPU time per call, and new/old.
#
#   bench/compare_calls.sh OLD_BENCH_CALL NEW_BENCH_CALL [ROUNDS] ["MODEL DTYPE CALL REPS" ...]
#
# OLD_BENCH_CALL: bench/bench_call.c compiled against the old tree's library (see
# docs/performance.md "Built-ins as nets"). Without calls: the table of that section.
OLD=$1 NEW=$2 R=${3:-3}
shift 3 2>/dev/null || shift $#
calls=("$@")
if [ ${#calls[@]} -eq 0 ]; then
  for dt in f32 f64; do
    calls+=("gpt $dt loss 9" "gpt $dt grad 7" "gpt $dt hvp 5" "gpt $dt multi 2" "gpt $dt block:wte 5"
            "gpt $dt block:h.0.attn.wq 5" "gpt $dt block:h.1.mlp.c_proj 5" "gpt $dt block:lm_head 5")
  done
  calls+=("mlp f64 grad 51" "mlp f64 hvp 51" "mlp f64 multi 21" "cnn f64 grad 21" "cnn f64 hvp 21"
          "cnn f64 multi 7")
fi
echo "| call (median of $R rounds, ms) | old | new | new/old |"
echo "|---|---:|---:|---:|"
for c in "${calls[@]}"; do
  o=() n=()
  for _ in $(seq "$R"); do
    o+=("$($OLD $c | sed 's/.*median \([0-9.]*\) ms.*/\1/')")
    n+=("$($NEW $c | sed 's/.*median \([0-9.]*\) ms.*/\1/')")
  done
  python3 - "${c% *}" "${o[*]}" "${n[*]}" <<'PY'
import statistics, sys
name, o, n = sys.argv[1], [float(x) for x in sys.argv[2].split()], [float(x) for x in sys.argv[3].split()]
mo, mn = statistics.median(o), statistics.median(n)
print(f"| {name} | {mo:.2f} | {mn:.2f} | {mn / mo:.3f} |")
PY
done

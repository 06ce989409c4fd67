#!/bin/sh
# hessblock analyze as R ranks x T threads (issue 13.4 speed): wall time per configuration
# and round, the median, its ratio to the FIRST configuration's median (same run, same
# machine), and a check that every configuration wrote the same CSV files.
#
#   bench/mpi_analyze.sh [HESSBLOCK]        (default build/tools/hessblock)
# environment:
#   CONFIGS  "RxT ..." ranks x threads [1x2 2x1]; 16-core host: "1x16 4x4 16x1"
#   ROUNDS   rounds per configuration, interleaved (config A, B, A, B, ...) [3]
#   ARGS     the analyze arguments [--models gpt] (a per-block gpt analysis: spectra,
#            training grid and quadratics; add --no-train --no-quadratic for spectra only;
#            ARGS="" for the full default analyze, every model)
#   MPIRUN   [mpirun --allow-run-as-root --oversubscribe --bind-to none]
#   WORK     scratch directory [mktemp -d]
# R = 1 runs the tool without mpirun. Every run passes --threads T explicitly; ranks run
# unbound (--bind-to none) so a rank's T threads may use T cores.
set -eu
HB=${1:-build/tools/hessblock}
CONFIGS=${CONFIGS:-"1x2 2x1"}
ROUNDS=${ROUNDS:-3}
ARGS=${ARGS-"--models gpt"}  # set but empty (ARGS=""): the full default analyze
MPIRUN=${MPIRUN:-"mpirun --allow-run-as-root --oversubscribe --bind-to none"}
WORK=${WORK:-$(mktemp -d)}
echo "host: $(nproc) processors, load: $(cut -d' ' -f1-3 /proc/loadavg); analyze $ARGS"
for round in $(seq 1 "$ROUNDS"); do
  for c in $CONFIGS; do
    R=${c%x*}; T=${c#*x}
    out=$WORK/$c
    rm -rf "$out"
    t0=$(date +%s.%N)
    if [ "$R" = 1 ]; then
      "$HB" analyze $ARGS --threads "$T" --quiet --out "$out" > /dev/null
    else
      $MPIRUN -np "$R" "$HB" analyze $ARGS --threads "$T" --quiet --out "$out" > /dev/null
    fi
    t1=$(date +%s.%N)
    dt=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
    echo "$c $dt" >> "$WORK/times"
    echo "round $round $c: $dt s (load $(cut -d' ' -f1 /proc/loadavg))"
  done
done
first=""
for c in $CONFIGS; do
  med=$(awk -v c="$c" '$1 == c { print $2 }' "$WORK/times" | sort -n |
        awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
  [ -z "$first" ] && first=$c && fmed=$med
  same=identical
  for f in "$WORK/$first"/*.csv; do
    cmp -s "$f" "$WORK/$c/$(basename "$f")" || same="DIFFERENT ($(basename "$f"))"
  done
  echo "$c: median $med s, ratio to $first $(awk -v a="$med" -v b="$fmed" 'BEGIN { printf "%.3f", a / b }'), CSV files $same"
done
rm -rf "$WORK"

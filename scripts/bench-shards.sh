#!/usr/bin/env bash
# make bench-shards (issue 22, docs/SCALE.md): one delivery of N households
# (default 10,000,000; BENCH_SHARDS_HOUSEHOLDS) run whole, then cut into 1, 4 and
# 16 shards (BENCH_SHARDS_COUNTS), each shard run in turn on this machine (as
# separate machines would run them side by side), and merged. Prints, per step,
# wall and CPU seconds and peak memory, and checks that every merged list,
# explain.jsonl and rejects.csv is byte-identical to the whole run's.
# Release build; the delivery is cached in bench-data/ (about 9 GB at 10M). Disk:
# about 45 GB beside the delivery at 10M (the whole run's 16 GB, and for one count
# at a time the cut, the shards' runs and the merge); stage results are removed
# as soon as a run has published (the merge reads only the published runs).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${BENCH_SHARDS_HOUSEHOLDS:-10000000}
COUNTS=${BENCH_SHARDS_COUNTS:-"1 4 16"}
D=2026-11-23
P=$PWD/.build/release/pfp
C=$PWD/Pipelines/nightly.conf
data=bench-data/$N
inbox=$data/inbox-$D
W=bench-data/shards-$N
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; $N households; $(date -u +%FT%TZ)"
if [ ! -f "$inbox/population.csv.manifest.json" ]; then
  echo "generating the delivery of $N households into $inbox"
  "$P" sample --households "$N" --seed 1 --run-date "$D" --out "$data" --quiet
fi
rm -rf "$W"; mkdir -p "$W"
# timed LABEL CMD...: one line "LABEL wall_s cpu_s peak_MB"; the figures also in $W/figures.
timed() {
  local label=$1; shift
  /usr/bin/time -f "%e %U %S %M" -o "$W/time" "$@" >/dev/null 2>>"$W/log"
  read -r wall user sys kb < "$W/time"
  local cpu; cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')
  printf "%-28s %9.2f s wall %9.2f s CPU %8d MB peak\n" "$label" "$wall" "$cpu" $((kb / 1024)) | tee -a "$W/figures"
  echo "$wall" > "$W/last"
}
timed "whole run" "$P" run --config "$C" --run-date "$D" --inbox "$inbox" --out "$W/single" --db "$W/single.sqlite" \
  --metrics-dir "$W/m" --quiet
whole=$(cat "$W/last")
rm -rf "$W/single.sqlite.stages"
for S in $COUNTS; do
  cut=$W/cut-$S
  timed "cut into $S shards" "$P" shard --config "$C" --run-date "$D" --inbox "$inbox" --shards "$S" --out "$cut" --quiet
  walls=()
  for k in $(seq 0 $((S - 1))); do
    timed "  shard $k of $S" "$P" run --config "$C" --run-date "$D" --inbox "$cut/$k" --out "$W/s$S-$k" \
      --db "$W/s$S-$k.sqlite" --metrics-dir "$W/m$S-$k" --quiet
    walls+=("$(cat "$W/last")")
    rm -rf "$W/s$S-$k.sqlite.stages"
  done
  rm -rf "$cut"
  runs=(); for k in $(seq 0 $((S - 1))); do runs+=("$W/s$S-$k/$D"); done
  timed "merge of $S shards" "$P" merge --quiet --config "$C" --run-date "$D" --out "$W/merged-$S" "${runs[@]}"
  merge=$(cat "$W/last")
  longest=$(printf "%s\n" "${walls[@]}" | sort -g | tail -1)
  same=yes
  for f in push.csv suppressed.csv review.csv referral.csv watch.csv warning.csv explain.jsonl rejects.csv; do
    cmp -s "$W/merged-$S/$D/$f" "$W/single/$D/$f" || { same=no; echo "  DIFFERS: $f"; }
  done
  printf "%d shards: longest shard %.2f s; merge / whole run = %.2f; byte-identical to the whole run: %s\n" \
    "$S" "$longest" "$(awk -v m="$merge" -v w="$whole" 'BEGIN { print m / w }')" "$same" | tee -a "$W/figures"
  rm -rf "$cut" "$W"/s"$S"-* "$W/merged-$S" "$W"/m"$S"-*
done
echo "figures: $W/figures"

#!/usr/bin/env bash
# Compares two pfp binaries on one what-if: runs them alternated (old, new, old,
# new, ...) on the same stored night, prints wall, CPU and peak of each run, and
# checks after each pair that the two wrote the same files (manifests included:
# they name no time).
#
#   scripts/compare-whatif.sh OLD_PFP NEW_PFP DB RUN_DATE PAIRS WHATIF_ARGS...
#
# e.g. (the 1M night of `make bench`, a ten-value sweep, three pairs):
#   scripts/compare-whatif.sh /tmp/old/.build/release/pfp .build/release/pfp \
#     bench-data/1000000/out/pfp.sqlite 2026-11-24 3 --sweep dibao.standard=1550..1775:25
set -euo pipefail
if [ $# -lt 6 ]; then
  echo "usage: $0 OLD_PFP NEW_PFP DB RUN_DATE PAIRS WHATIF_ARGS..." >&2
  exit 64
fi
old=$1 new=$2 db=$3 date=$4 pairs=$5
shift 5
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for i in $(seq "$pairs"); do
  for v in old new; do
    bin=$old; [ $v = new ] && bin=$new
    rm -rf "$work/$v"
    /usr/bin/time -f "$v run $i: %e s wall, %U s user, %S s system, %M KiB max" \
      "$bin" whatif --run-date "$date" --db "$db" --out "$work/$v" "$@" >/dev/null 2>"$work/$v.err" \
      || { cat "$work/$v.err" >&2; exit 1; }
    tail -n 1 "$work/$v.err"
  done
  if diff -r -q "$work/old" "$work/new" >/dev/null; then
    echo "pair $i: the same files"
  else
    echo "pair $i: the files differ:"
    diff -r -q "$work/old" "$work/new" || true
  fi
done

#!/usr/bin/env bash
# Compares two pfp binaries on one delivery: runs them alternated (old, new, old,
# new, ...), prints wall and CPU seconds of each run and the registry's per-stage
# figures of the last, and checks that the published directories are the same
# but for the manifest's start and end times.
#
#   scripts/compare-binaries.sh OLD_PFP NEW_PFP INBOX RUN_DATE [PAIRS]
#
# e.g. (a worktree of the parent commit built in release mode beside this one):
#   git worktree add /tmp/old HEAD~1 && (cd /tmp/old && swift build -c release --product pfp)
#   .build/release/pfp sample --households 1000000 --seed 1 --run-date 2026-11-23 --out /tmp/b1m
#   scripts/compare-binaries.sh /tmp/old/.build/release/pfp .build/release/pfp /tmp/b1m/inbox-2026-11-23 2026-11-23 3
set -euo pipefail
old=$1 new=$2 inbox=$3 date=$4 pairs=${5:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for i in $(seq "$pairs"); do
  for v in old new; do
    bin=$old; [ $v = new ] && bin=$new
    rm -rf "$work/$v"
    /usr/bin/time -f "$v run $i: %e s wall, %U s user, %S s system, %M KiB max" \
      "$bin" run --run-date "$date" --inbox "$inbox" --out "$work/$v/published" --db "$work/$v/pfp.sqlite" --quiet
  done
done
for v in old new; do
  echo "$v, last run:"
  bin=$old; [ $v = new ] && bin=$new
  "$bin" runs --db "$work/$v/pfp.sqlite" | tail -n 4
done
a=$work/old/published/$date b=$work/new/published/$date
if diff -rq -x manifest.json "$a" "$b" && diff <(grep -v '_at"' "$a/manifest.json") <(grep -v '_at"' "$b/manifest.json"); then
  echo "published: the same (manifest but for started_at and ended_at)"
else
  echo "published: DIFFERENT"; exit 1
fi

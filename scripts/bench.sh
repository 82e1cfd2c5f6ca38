#!/usr/bin/env bash
# make bench: the nightly job at 100,000 and 1,000,000 households (and 10,000,000
# with BENCH_FULL=1), release build. Generated deliveries are cached in bench-data/.
# BENCH_REPEAT=N runs each size N times and shows the run of median total time.
# Then pfp whatif on the largest size (BENCH_WHATIF=0 skips it; BENCH_SWEEP=1 adds a sweep).
set -euo pipefail
cd "$(dirname "$0")/.."
sizes="100000,1000000"
if [ "${BENCH_FULL:-0}" = 1 ]; then sizes="$sizes,10000000"; fi
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; $(swift --version 2>/dev/null | head -1)"
.build/release/pfp bench --sizes "$sizes" --repeat "${BENCH_REPEAT:-1}" "$@"
# What if (docs/WHATIF.md): one reform, and with BENCH_SWEEP=1 a ten-value sweep, on
# the stored run of the largest size benchmarked above (its registry and stage results).
if [ "${BENCH_WHATIF:-1}" = 1 ] && [ "${BENCH_REPEAT:-1}" = 1 ]; then
  largest="${sizes##*,}"
  db="bench-data/$largest/out/pfp.sqlite"
  echo "what if at $largest households (stored run of 2026-11-23):"
  # The target compares with the nightly run's peak: the largest of its stages'
  # (each stage resets the kernel's high-water mark as it starts, so /usr/bin/time's
  # %M of a nightly run is its last stage's peak only). `pfp bench` recorded it above.
  if command -v python3 >/dev/null 2>&1 && [ -f bench-data/bench-latest.json ]; then
    python3 -c 'import json,sys; r=[x for x in json.load(open("bench-data/bench-latest.json"))["results"] if x["households"]==int(sys.argv[1])]; print("  the nightly run at this size peaked at %d MiB (%d KiB), its largest stage" % (r[0]["peak_rss_mib"], r[0]["peak_rss_mib"]*1024)) if r else None' "$largest"
  fi
  /usr/bin/time -f "  one reform: %e s wall, %U s user, %M KiB peak" \
    .build/release/pfp whatif --run-date 2026-11-23 --db "$db" --out "bench-data/whatif-$largest" \
    --reform Pipelines/reforms/dibao_1650.reform --quiet >/dev/null
  if [ "${BENCH_SWEEP:-0}" = 1 ]; then
    /usr/bin/time -f "  ten-value sweep: %e s wall, %U s user, %M KiB peak" \
      .build/release/pfp whatif --run-date 2026-11-23 --db "$db" --out "bench-data/whatif-$largest" \
      --sweep dibao.standard=1550..1775:25 --quiet >/dev/null
  fi
fi

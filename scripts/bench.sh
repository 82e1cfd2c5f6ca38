#!/usr/bin/env bash
# make bench: the nightly job at 100,000 and 1,000,000 households (and 10,000,000
# with BENCH_FULL=1), release build. Generated deliveries are cached in bench-data/.
# BENCH_REPEAT=N runs each size N times and shows the run of median total time.
set -euo pipefail
cd "$(dirname "$0")/.."
sizes="100000,1000000"
if [ "${BENCH_FULL:-0}" = 1 ]; then sizes="$sizes,10000000"; fi
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; $(swift --version 2>/dev/null | head -1)"
.build/release/pfp bench --sizes "$sizes" --repeat "${BENCH_REPEAT:-1}" "$@"

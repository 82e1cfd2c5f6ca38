#!/bin/bash
# make test-spark: the Spark driver for real, in Spark local mode (two worker
# threads, a task retried up to 4 times), on both days of SampleData in 3 shards,
# with one shard's first attempt killed each night; the merged publication must be
# byte-identical to a run of the whole delivery on one machine (manifest.json
# apart: its times and its 'shards'). Needs pyspark and Java 17 (make test-spark
# installs them).
set -euo pipefail
cd "$(dirname "$0")/../.."
PFP=${PFP:-$PWD/.build/release/pfp}
[ -x "$PFP" ] || { echo "test-spark: build pfp first (make build)"; exit 1; }
W=$(mktemp -d /tmp/pfp-spark.XXXXXX)
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/data/inbox"
fail=0
for d in 2026-11-23 2026-11-24; do
    cp -r "SampleData/inbox-$d" "$W/data/inbox/$d"
    "$PFP" run --run-date "$d" --inbox "SampleData/inbox-$d" --out "$W/single" --db "$W/single.sqlite" --quiet 2>/dev/null
done
index=1
for d in 2026-11-23 2026-11-24; do
    spark-submit --master 'local[2,4]' --conf spark.ui.enabled=false --conf spark.log.level=WARN \
        deploy/spark/pfp_spark.py --data "$W/data" --run-date "$d" --shards 3 --pfp "$PFP" \
        --pipelines Pipelines --fail-once "$index" > "$W/driver-$d.log" 2> "$W/spark-$d.log" || {
        echo "test-spark: the driver failed on $d"; tail -30 "$W/spark-$d.log"; exit 1; }
    cat "$W/driver-$d.log"
    grep -q "shard $index published on attempt 2" "$W/driver-$d.log" || {
        echo "test-spark: shard $index was not retried after its first attempt was killed on $d"; fail=1; }
    if diff -r -x manifest.json "$W/single/$d" "$W/data/published/$d"; then
        echo "test-spark: $d merged from 3 Spark tasks is byte-identical to the single run"
    else
        echo "test-spark: $d differs from the single run"; fail=1
    fi
    index=2
done
exit $fail

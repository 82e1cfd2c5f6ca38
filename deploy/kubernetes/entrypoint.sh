#!/bin/sh
# The container's entrypoint for the three steps of a sharded night (docs/KUBERNETES.md):
#   pfp-entrypoint cut     cut $PFP_DATA/inbox/$RUN_DATE into $PFP_SHARDS shard inboxes
#   pfp-entrypoint shard   run shard $JOB_COMPLETION_INDEX (an Indexed Job's pod) with its own database
#   pfp-entrypoint merge   merge the shards' runs into $PFP_DATA/published/$RUN_DATE
# Every step is safe to run again: a cut and a merge publish whole or not at all,
# and a shard's run replaces its own publication of the date.
# pfp's exit codes pass through: 65 bad input (the Job fails the index at once),
# 75 another run holds the shard's lock, 1 anything else (retried).
set -eu
: "${RUN_DATE:?RUN_DATE (YYYY-MM-DD) is required}"
: "${PFP_SHARDS:?PFP_SHARDS (the shard count) is required}"
PFP=${PFP_BIN:-/usr/local/bin/pfp}
DATA=${PFP_DATA:-/var/lib/pfp}
CONFIG=${PFP_CONFIG:-/opt/pfp/Pipelines/nightly.conf}
step=${1:?usage: pfp-entrypoint cut|shard|merge}
case "$step" in
cut)
    exec "$PFP" shard --config "$CONFIG" --run-date "$RUN_DATE" --inbox "$DATA/inbox/$RUN_DATE" \
        --shards "$PFP_SHARDS" --out "$DATA/shards/$RUN_DATE" --log-format json
    ;;
shard)
    : "${JOB_COMPLETION_INDEX:?JOB_COMPLETION_INDEX is set by an Indexed Job}"
    k=$JOB_COMPLETION_INDEX
    mkdir -p "$DATA/state" "$DATA/shard-runs/$k"
    # The shard's database keeps its state for tomorrow's warnings: one per index and count.
    exec "$PFP" run --config "$CONFIG" --run-date "$RUN_DATE" --inbox "$DATA/shards/$RUN_DATE/$k" \
        --db "$DATA/state/shard-$k-of-$PFP_SHARDS.sqlite" --out "$DATA/shard-runs/$k" \
        --metrics-dir "$DATA/shard-runs/$k/metrics" --log-format json
    ;;
merge)
    runs=""
    k=0
    while [ "$k" -lt "$PFP_SHARDS" ]; do
        runs="$runs $DATA/shard-runs/$k/$RUN_DATE"
        k=$((k + 1))
    done
    # shellcheck disable=SC2086 # one word per shard run
    exec "$PFP" merge --config "$CONFIG" --run-date "$RUN_DATE" --out "$DATA/published" --log-format json $runs
    ;;
*)
    echo "pfp-entrypoint: unknown step '$step' (cut, shard or merge)" >&2
    exit 64
    ;;
esac

#!/usr/bin/env python3
"""A sharded night on Apache Spark (docs/SPARK.md): the driver cuts the delivery
(pfp shard), runs one Spark task per shard (an ordinary pfp run with the shard's
own database, the pfp binary and Pipelines/ shipped with the job), then merges
the shards' runs (pfp merge) into one publication, byte-identical to a run of
the whole delivery on one machine.

Safe when Spark retries a task or runs a speculative copy: a shard's run replaces
its own publication of the date whole, its database lock keeps two attempts of
one shard from running at once (the second exits 75 and is retried), and the
merge checks every shard's run before it publishes anything. A shard refused for
bad input (exit 65) is not retried: the driver stops with pfp's message.

  spark-submit deploy/spark/pfp_spark.py --data DIR --run-date D --shards N
      [--pfp BIN] [--pipelines DIR] [--fail-once INDEX]

DIR is storage every executor sees at the same path (NFS, a CSI volume):
DIR/inbox/<run date>/ the delivery; DIR/shards/, DIR/state/, DIR/shard-runs/ and
DIR/published/ are written as in deploy/kubernetes. --fail-once kills that
shard's first attempt (a test of the retry: tests/spark_local.sh).
"""
import argparse
import os
import shutil
import stat
import subprocess
import sys

from pyspark import SparkFiles, TaskContext
from pyspark.sql import SparkSession

BAD_INPUT = 65


def shipped(name):
    """A file shipped with the job, executable, in this task's working copy."""
    path = SparkFiles.get(name)
    if not os.access(path, os.X_OK):
        os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
    return path


def run_shard(index, conf):
    """One shard's nightly run, inside a Spark task. Returns (index, attempt, exit code, message)."""
    pfp = shipped("pfp")
    config = os.path.join(SparkFiles.get("Pipelines"), "nightly.conf")
    data, date, n = conf["data"], conf["run_date"], conf["shards"]
    attempt = TaskContext.get().attemptNumber()
    os.makedirs(os.path.join(data, "state"), exist_ok=True)
    env = dict(os.environ)
    if conf["fail_once"] == index and attempt == 0:
        env["PFP_ABORT_AT"] = "match.evaluated"  # SIGKILL mid-run, as a lost executor
    cmd = [
        pfp, "run", "--config", config, "--run-date", date,
        "--inbox", os.path.join(data, "shards", date, str(index)),
        "--db", os.path.join(data, "state", f"shard-{index}-of-{n}.sqlite"),
        "--out", os.path.join(data, "shard-runs", str(index)),
        "--metrics-dir", os.path.join(data, "shard-runs", str(index), "metrics"),
        "--log-format", "json",
    ]
    p = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    code = p.returncode
    if code == 0 or code == BAD_INPUT:
        # Bad input is returned, not raised: retrying cannot help.
        return (index, attempt, code, p.stderr.strip().splitlines()[-1:] if code else [])
    # Anything else (killed, busy, a failure) is raised: Spark retries the task.
    raise RuntimeError(f"shard {index} attempt {attempt}: pfp exited {code}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--run-date", required=True)
    ap.add_argument("--shards", type=int, required=True)
    ap.add_argument("--pfp", default=shutil.which("pfp") or "/usr/local/bin/pfp", help="the pfp binary to ship")
    ap.add_argument("--pipelines", default="Pipelines", help="the Pipelines/ folder to ship")
    ap.add_argument("--fail-once", type=int, default=-1, help="kill this shard's first attempt (tests)")
    args = ap.parse_args()
    data = os.path.abspath(args.data)
    pipelines = os.path.abspath(args.pipelines)
    config = os.path.join(pipelines, "nightly.conf")

    spark = SparkSession.builder.appName(f"pfp {args.run_date}").getOrCreate()
    sc = spark.sparkContext
    sc.addFile(os.path.abspath(args.pfp))
    sc.addFile(pipelines, recursive=True)

    # 1. The cut, on the driver: one pass over the delivery.
    cut = [
        args.pfp, "shard", "--config", config, "--run-date", args.run_date,
        "--inbox", os.path.join(data, "inbox", args.run_date), "--shards", str(args.shards),
        "--out", os.path.join(data, "shards", args.run_date), "--quiet",
    ]
    code = subprocess.run(cut).returncode
    if code != 0:
        print(f"pfp_spark: the cut failed (pfp exited {code})", file=sys.stderr)
        spark.stop()
        sys.exit(code)

    # 2. One task per shard; Spark retries a failed task (spark.task.maxFailures).
    conf = {"data": data, "run_date": args.run_date, "shards": args.shards, "fail_once": args.fail_once}
    results = (
        sc.parallelize(range(args.shards), args.shards).map(lambda k: run_shard(k, conf)).collect()
    )
    for index, attempt, code, message in sorted(results):
        state = "published" if code == 0 else f"refused (exit {code}): {' '.join(message)}"
        print(f"pfp_spark: shard {index} {state} on attempt {attempt + 1}")
    refused = [r for r in results if r[2] != 0]
    if refused:
        spark.stop()
        sys.exit(BAD_INPUT)

    # 3. The merge, on the driver.
    runs = [os.path.join(data, "shard-runs", str(k), args.run_date) for k in range(args.shards)]
    merge = [
        args.pfp, "merge", "--config", config, "--run-date", args.run_date,
        "--out", os.path.join(data, "published"), "--quiet",
    ] + runs
    code = subprocess.run(merge).returncode
    spark.stop()
    if code != 0:
        print(f"pfp_spark: the merge failed (pfp exited {code})", file=sys.stderr)
    sys.exit(code)


if __name__ == "__main__":
    main()

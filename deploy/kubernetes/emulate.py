#!/usr/bin/env python3
"""Plays the three Jobs of a sharded night (cut, shards, merge) on this machine,
as Kubernetes would run them, from the manifests themselves (docs/KUBERNETES.md).

Each Job's container is its image's entrypoint (entrypoint.sh) with the manifest's
args and env; the Indexed Job's pods get JOB_COMPLETION_INDEX; each failed pod is
judged by the Job's podFailurePolicy (FailIndex / FailJob / Ignore on exit codes,
else counted against backoffLimitPerIndex or backoffLimit) exactly as the Job
controller does. Nothing here is a scheduler for production: it is the test
bench of the manifests and the entrypoint.

  emulate.py --data DIR --run-date D [--shards N] [--steps cut,shards,merge]
             [--kill INDEX:POINT ...] [--pfp BIN] [--config FILE]

--kill INDEX:POINT kills that shard's first attempt at a pfp fault point
(PFP_ABORT_AT, SIGKILL), as a lost node would: the index is retried.
Exit status 0 when every Job run completed, 1 when one failed.
"""
import argparse
import os
import subprocess
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def load(name):
    with open(os.path.join(HERE, name)) as f:
        return yaml.safe_load(f)


def container(job):
    spec = job["spec"]["template"]["spec"]
    assert spec["restartPolicy"] == "Never", "a podFailurePolicy needs restartPolicy: Never"
    (c,) = spec["containers"]
    return c


def policy_action(job, exit_code, container_name):
    """The podFailurePolicy's action for a pod that ended with exit_code
    (the first rule that matches), or 'Count' when none does."""
    for rule in job["spec"].get("podFailurePolicy", {}).get("rules", []):
        codes = rule.get("onExitCodes")
        if not codes:
            continue  # onPodConditions: a disruption, which does not happen here
        if codes.get("containerName", container_name) != container_name:
            continue
        inside = exit_code in codes["values"]
        if (codes["operator"] == "In") == inside:
            return rule["action"]
    return "Count"


def run_pod(job, env, log):
    c = container(job)
    cmd = [os.path.join(HERE, "entrypoint.sh")] + list(c.get("args", []))
    full = dict(os.environ)
    full.update(env)
    p = subprocess.run(cmd, env=full, stdout=log, stderr=log)
    code = p.returncode
    return 128 - code if code < 0 else code  # a signal: 128 + its number, as the kubelet reports


def job_env(job, args):
    env = {e["name"]: e["value"] for e in container(job).get("env", [])}
    env["RUN_DATE"] = args.run_date
    env["PFP_SHARDS"] = str(args.shards)
    env["PFP_DATA"] = args.data
    env["PFP_BIN"] = args.pfp
    env["PFP_CONFIG"] = args.config
    return env


def play_simple(name, job, args, log):
    """A Job of one pod, retried up to backoffLimit unless the policy says otherwise."""
    limit = job["spec"].get("backoffLimit", 6)
    failures = 0
    attempt = 0
    while True:
        attempt += 1
        code = run_pod(job, job_env(job, args), log)
        if code == 0:
            print(f"{name}: complete after {attempt} attempt(s)")
            return True
        action = policy_action(job, code, container(job)["name"])
        print(f"{name}: attempt {attempt} exited {code} ({action})")
        if action == "FailJob":
            print(f"{name}: failed (podFailurePolicy FailJob on exit {code})")
            return False
        if action != "Ignore":
            failures += 1
        if failures > limit:
            print(f"{name}: failed (backoffLimit {limit} reached)")
            return False


def play_indexed(name, job, args, log, kills):
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed"
    completions = args.shards
    limit = spec["backoffLimitPerIndex"]
    max_failed = spec.get("maxFailedIndexes", completions)
    failed = []
    for index in range(completions):
        failures = 0
        attempt = 0
        while True:
            attempt += 1
            env = job_env(job, args)
            env["JOB_COMPLETION_INDEX"] = str(index)
            if attempt == 1 and index in kills:
                env["PFP_ABORT_AT"] = kills[index]
            code = run_pod(job, env, log)
            if code == 0:
                print(f"{name}: index {index} complete after {attempt} attempt(s)")
                break
            action = policy_action(job, code, container(job)["name"])
            print(f"{name}: index {index} attempt {attempt} exited {code} ({action})")
            if action == "FailJob":
                print(f"{name}: failed (podFailurePolicy FailJob on exit {code})")
                return False
            if action == "FailIndex":
                failed.append(index)
                print(f"{name}: index {index} failed (podFailurePolicy FailIndex on exit {code})")
                break
            if action != "Ignore":
                failures += 1
            if failures > limit:
                failed.append(index)
                print(f"{name}: index {index} failed (backoffLimitPerIndex {limit} reached)")
                break
        if len(failed) > max_failed:
            print(f"{name}: failed ({len(failed)} failed indexes, maxFailedIndexes {max_failed})")
            return False
    return not failed


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="the volume: DIR/inbox/<run date>/ is the delivery")
    ap.add_argument("--run-date", required=True)
    ap.add_argument("--shards", type=int, help="the shard count (default: the manifests' PFP_SHARDS)")
    ap.add_argument("--steps", default="cut,shards,merge")
    ap.add_argument("--kill", action="append", default=[], help="INDEX:POINT, the index's first attempt killed")
    ap.add_argument("--pfp", default=os.path.join(REPO, ".build/release/pfp"))
    ap.add_argument("--config", default=os.path.join(REPO, "Pipelines/nightly.conf"))
    ap.add_argument("--log", help="the pods' output (default: this process's stderr)")
    args = ap.parse_args()
    cut, shards, merge = load("cut-job.yaml"), load("shards-job.yaml"), load("merge-job.yaml")
    yaml_shards = {e["value"] for j in (cut, shards, merge) for e in container(j)["env"] if e["name"] == "PFP_SHARDS"}
    assert len(yaml_shards) == 1, "the three Jobs must name the same PFP_SHARDS"
    assert shards["spec"]["completions"] == int(yaml_shards.pop()), "completions must equal PFP_SHARDS"
    if args.shards is None:
        args.shards = shards["spec"]["completions"]
    kills = {}
    for k in args.kill:
        index, point = k.split(":", 1)
        kills[int(index)] = point
    log = open(args.log, "a") if args.log else sys.stderr
    steps = args.steps.split(",")
    ok = True
    if "cut" in steps:
        ok = play_simple("pfp-cut", cut, args, log)
    if ok and "shards" in steps:
        ok = play_indexed("pfp-shards", shards, args, log, kills)
    if ok and "merge" in steps:
        ok = play_simple("pfp-merge", merge, args, log)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

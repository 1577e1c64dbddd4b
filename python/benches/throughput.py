"""Throughput per core, in one run: the Rust engine's plan, the Python Arrow
batch call and the Spark job in local mode, on one `entitle gen` organisation.

    python python/benches/throughput.py --entitle target/release/entitle --out /tmp/org [--people 90000 --nhis 10000]

Rayon is held to one thread (RAYON_NUM_THREADS=1, set before the engine
loads) so the engine's figure is per core; Spark runs `local[N]` (N =
--cores) and its figure is divided by N. The machine's load average is
printed with the figures: other work on the machine slows every row alike.
"""

import argparse
import json
import os
import subprocess
import sys
import time

os.environ["RAYON_NUM_THREADS"] = "1"  # before entitle loads: rayon's pool is built once per process

import pyarrow as pa  # noqa: E402

import entitle  # noqa: E402
import entitle.spark  # noqa: E402

AS_OF = "2026-11-21"


def timed(label, f, repeat=3):
    best = None
    for _ in range(repeat):
        start = time.perf_counter()
        out = f()
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    return best, out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--entitle", required=True, help="the entitle binary (for `entitle gen`)")
    parser.add_argument("--out", required=True, help="where the organisation is generated")
    parser.add_argument("--people", type=int, default=90000)
    parser.add_argument("--nhis", type=int, default=10000)
    parser.add_argument("--roles", type=int, default=2000)
    parser.add_argument("--entitlements", type=int, default=40000)
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args()

    if not os.path.exists(os.path.join(args.out, "identities.jsonl")):
        subprocess.run([args.entitle, "gen", "--people", str(args.people), "--nhis", str(args.nhis), "--roles", str(args.roles),
                        "--entitlements", str(args.entitlements), "--as-of", AS_OF, "--out", args.out], check=True)
    load_before = os.getloadavg()
    engine = entitle.Engine(entitle.Project.from_strings(*entitle.project_sources(args.out)))
    with open(os.path.join(args.out, "identities.jsonl")) as f:
        text = f.read()
    lines = [line for line in text.splitlines() if line.strip()]
    n = len(lines)
    with open(os.path.join(args.out, "live.jsonl")) as f:
        grants = [(g["identity"], g["entitlement"]) for g in map(json.loads, f)]
    limits = dict(max_revokes="100%", max_privileged_grants="100%")
    rows = []

    # 1. The Rust engine: the whole plan (read, evaluate, diff), one thread.
    seconds, plan = timed("engine", lambda: engine.plan_json(text, grants, AS_OF, **limits))
    changes = len(json.loads(plan)["changes"])
    rows.append(("Rust engine: `plan` (parse + evaluate + diff), 1 thread", seconds, n / seconds))

    # 2. The Python batch call: Arrow batches of 10,000 records, one call each (desired state only).
    size = 10_000
    batches = [pa.record_batch([pa.array(lines[i:i + size])], names=["record"]) for i in range(0, n, size)]
    seconds, _ = timed("batch", lambda: [engine.desired_batch(b, as_of=AS_OF) for b in batches])
    rows.append(("Python `desired_batch`, JSON `record` column, batches of 10,000", seconds, n / seconds))
    structured = [pa.RecordBatch.from_struct_array(pa.array([json.loads(x) for x in lines[i:i + size]])) for i in range(0, n, size)]
    seconds, _ = timed("batch-columns", lambda: [engine.desired_batch(b, as_of=AS_OF) for b in structured])
    rows.append(("Python `desired_batch`, typed columns (structs, lists), batches of 10,000", seconds, n / seconds))

    # 3. The Spark job, local[cores]: reading both files, roots, the partition plans, the guards, the changes collected.
    from pyspark.sql import SparkSession

    os.environ["PYSPARK_PYTHON"] = sys.executable

    spark = (SparkSession.builder.master(f"local[{args.cores}]").appName("entitle-bench")
             .config("spark.sql.shuffle.partitions", str(4 * args.cores)).config("spark.ui.enabled", "false")
             .config("spark.driver.memory", "2g").config("spark.executorEnv.RAYON_NUM_THREADS", "1").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")

    def run_spark():
        identities = spark.read.text(os.path.join(args.out, "identities.jsonl"))
        live = spark.read.schema("identity string, entitlement string").json(os.path.join(args.out, "live.jsonl"))
        result = entitle.spark.plan(spark, identities, live, args.out, as_of=AS_OF, **limits)
        return result.changes.count()

    seconds, spark_changes = timed("spark", run_spark, repeat=2)
    assert spark_changes == changes, (spark_changes, changes)
    rows.append((f"Spark `entitle.spark.plan`, local[{args.cores}] (per core: / {args.cores})", seconds, n / seconds / args.cores))
    spark.stop()
    load_after = os.getloadavg()

    print(f"organisation: {n} identities, {len(grants)} live grants, {changes} changes; cpus {os.cpu_count()}")
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} (1 min)")
    print("| path | best of runs (s) | identities / s / core |")
    print("|---|---:|---:|")
    for label, seconds, rate in rows:
        print(f"| {label} | {seconds:.2f} | {rate:,.0f} |")


if __name__ == "__main__":
    sys.exit(main())

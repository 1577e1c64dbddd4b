"""The Spark job in local[2]: the same changes, reasons and refusals as `entitle plan`.

On an `entitle gen` organisation of 20,500 identities (2,500 NHIs owned by
people), with the default guards (tripped: mass revocation) and with limits
that let the plan through. Needs pyspark and Java: fails, never skips, without them."""

import json
import os
import subprocess
import sys

import pytest
from pyspark.sql import SparkSession

import entitle
import entitle.spark
from conftest import AS_OF, entitle_bin


@pytest.fixture(scope="module")
def spark():
    # The Python workers run this interpreter (the one the wheel is installed in), not the first python3 on PATH.
    os.environ["PYSPARK_PYTHON"] = sys.executable
    session = (
        SparkSession.builder.master("local[2]")
        .appName("entitle-test")
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", "1g")
        .getOrCreate()
    )
    yield session
    session.stop()


def cli_plan(org, *limits):
    done = subprocess.run(
        [entitle_bin(), "plan", "--roles", "roles", "--policies", "policies", "--identities", "identities.jsonl",
         "--live", "live.jsonl", "--as-of", AS_OF, "--format", "json", *limits],
        cwd=org, capture_output=True, text=True,
    )
    assert done.returncode in (0, 1), done.stderr
    return json.loads(done.stdout)


def spark_plan(spark, org, **limits):
    identities = spark.read.text(str(org / "identities.jsonl"))
    live = spark.read.schema("identity string, entitlement string").json(str(org / "live.jsonl"))
    return entitle.spark.plan(spark, identities, live, str(org), as_of=AS_OF, **limits)


def changes_of(result):
    return [json.loads(row["change"]) for row in result.changes.select("change").collect()]


def key(change):
    return (change["identity"], change["entitlement"], change["op"])


def test_the_spark_plan_refuses_as_entitle_plan_does(spark, org):
    want = cli_plan(org)
    assert want["summary"]["identities"] >= 20_000
    assert want["refused"], "the generated organisation should trip the mass-revocation guard"
    got = spark_plan(spark, org)
    assert got.refused == want["refused"]
    assert changes_of(got) == [] == want["changes"]
    assert got.counts["identities"] == want["summary"]["identities"]
    assert got.counts["live"] == want["summary"]["live"]
    assert got.counts["orphaned"] == want["summary"]["orphaned_accounts"]


def test_the_spark_plan_equals_entitle_plan_when_no_guard_trips(spark, org, tmp_path):
    limits = ["--max-revokes", "100%", "--max-privileged-grants", "100%"]
    want = cli_plan(org, *limits)
    assert "refused" not in want
    got = spark_plan(spark, org, max_revokes="100%", max_privileged_grants="100%")
    assert got.refused is None and got.forced == []
    changes = changes_of(got)
    assert changes == sorted(changes, key=key)
    assert sorted(changes, key=key) == sorted(want["changes"], key=key)
    # Every kind of change is there: grants with their reasons, revocations of every reason.
    reasons = {c.get("reason", "grant") for c in changes}
    assert {"grant", "not-justified", "orphaned-account", "expired-assignment"} <= reasons, reasons
    # NHIs were planned with their owners (owner conditions hold inside a partition).
    assert any(c["identity"].startswith(("svc-", "agent-")) for c in changes)
    # The figures the guards read are the plan's.
    revokes = sum(1 for c in want["changes"] if c["op"] == "revoke")
    assert got.counts["revokes"] == revokes
    # Written as JSON Lines in the plan's shape.
    got.write(str(tmp_path / "out"), format="jsonl")
    written = [json.loads(line) for f in sorted((tmp_path / "out" / "changes").glob("part-*")) for line in open(f)]
    assert sorted(written, key=key) == sorted(want["changes"], key=key)
    summary = json.loads(next((tmp_path / "out" / "summary").glob("part-*")).read_text())
    assert summary["refused"] is None and summary["counts"] == got.counts


def test_force_keeps_the_changes_and_says_which_guards_it_overrode(spark, org):
    want = cli_plan(org, "--force")
    got = spark_plan(spark, org, force=True)
    assert got.refused is None
    assert got.forced and "; ".join(got.forced) == cli_plan(org)["refused"]
    assert sorted(changes_of(got), key=key) == sorted(want["changes"], key=key)


def test_broken_definitions_fail_on_the_driver(spark, org, tmp_path):
    broken = tmp_path / "broken"
    (broken / "roles").mkdir(parents=True)
    (broken / "policies").mkdir()
    (broken / "roles" / "org.yaml").write_text("roles:\n  - id: x\n    grants: [nowhere]\n")
    identities = spark.createDataFrame([('{"id": "u-1", "kind": "person", "attributes": {}}',)], "record string")
    live = spark.createDataFrame([], "identity string, entitlement string")
    with pytest.raises(entitle.LoadError) as caught:
        entitle.spark.plan(spark, identities, live, str(broken), as_of=AS_OF)
    assert caught.value.file == "roles/org.yaml"


def test_owner_roots_follow_chains_and_keep_cycles_together(spark):
    rows = [("a", None), ("b", "a"), ("c", "b"), ("d", "c"), ("e", "ghost"), ("x", "y"), ("y", "x"), ("z", "y")]
    keys = spark.createDataFrame(rows, "id string, owner string")
    roots = {r["id"]: r["root"] for r in entitle.spark.owner_roots(keys, max_doublings=1).collect()}
    # a-b-c-d is deeper than one doubling: still resolved to `a`, on the driver if need be.
    assert roots["b"] == roots["c"] == roots["d"] == "a" == roots["a"]
    assert roots["e"] == "e"  # an owner outside the feed: the identity is its own root
    assert roots["x"] == roots["y"] == roots["z"] == "x"  # a cycle, and what hangs on it, together

"""The plan on Spark: ``entitle plan``'s answers for an estate too large for one machine.

``plan(spark, identities_df, live_df, project_dir, as_of=...)``:

1. The driver loads and validates the definitions once (a broken project
   fails here, before any task runs) and broadcasts their source texts;
   each Python worker compiles them once and keeps the engine.
2. Each record's id and owner are read (``record_keys``), and owner chains
   are resolved to their **root** by pointer doubling (joins); chains that
   do not end (owner cycles) are few and resolved on the driver. Every
   identity travels with its owner root, so owner conditions and the
   owner-leaves cascade hold inside a partition.
3. Identities and live grants are shuffled together by owner root; each
   partition is planned in one call (``Engine.plan_part``, the engine's own
   ``plan`` with guards deferred): changes with reasons, plus the figures the
   guards read.
4. The driver adds the figures up and checks the mass-revocation,
   invalid-record, truncated-feed and privileged-grant guards exactly as
   ``entitle plan`` does (the same sentences) **before** any change is
   emitted. A refused plan emits no change.

Identity records come as a DataFrame with a ``record`` (or ``value``, as
``spark.read.text`` names it) column of JSON text, or with the record's
fields as columns (``id``, ``kind``, ``owner``, ``attributes`` ...). Live
grants come as a DataFrame with ``identity`` and ``entitlement`` columns.

This module never evaluates anything itself: every answer is the engine's.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional

from . import COUNTS, Engine, Project, check_guards, project_sources
from . import _entitle

__all__ = ["plan", "SparkPlan", "CHANGE_SCHEMA"]

#: The changes' columns: the plan's change fields, ``because`` as JSON text,
#: and ``change``, the change as ``entitle plan --format json`` writes it.
CHANGE_SCHEMA = (
    "op string, identity string, entitlement string, reason string, forbidden_by string, "
    "detail string, because string, change string"
)
_PART_SCHEMA = "kind string, " + CHANGE_SCHEMA + ", counts string"
_KEYS_SCHEMA = "id string, owner string, record string"

# Per Python worker: the engine of each broadcast project, compiled once.
_ENGINES: Dict[str, Engine] = {}


def _engine(key: str, sources) -> Engine:
    engine = _ENGINES.get(key)
    if engine is None:
        roles, policies = sources
        engine = Engine(Project.from_strings(roles, policies))
        _ENGINES[key] = engine
    return engine


@dataclass
class SparkPlan:
    """The outcome of a distributed plan.

    ``refused`` is the reason a guard refused the plan (``None`` otherwise),
    word for word ``entitle plan``'s; ``forced`` the guards ``force``
    overrode; ``counts`` the figures the guards read; ``changes`` the
    grants and revocations (:data:`CHANGE_SCHEMA`), sorted by identity and
    entitlement, empty when refused.
    """

    refused: Optional[str]
    forced: List[str]
    counts: Dict[str, int]
    changes: object  # pyspark.sql.DataFrame
    tripped: List[str] = field(default_factory=list)

    def write(self, path: str, format: str = "parquet") -> None:
        """Writes the changes (``parquet``, or ``jsonl``: one change per line in the plan's JSON shape)
        under ``path/changes`` and the outcome (refused, forced, counts) as ``path/summary`` (JSON)."""
        if format == "jsonl":
            self.changes.select("change").write.mode("overwrite").text(os.path.join(path, "changes"))
        elif format == "parquet":
            self.changes.write.mode("overwrite").parquet(os.path.join(path, "changes"))
        else:
            raise ValueError(f"format `{format}` is not `parquet` or `jsonl`")
        spark = self.changes.sparkSession
        summary = json.dumps({"refused": self.refused, "forced": self.forced, "counts": self.counts}, sort_keys=True)
        spark.createDataFrame([(summary,)], "value string").coalesce(1).write.mode("overwrite").text(os.path.join(path, "summary"))


def _records(identities_df):
    """The identity DataFrame as (id, owner, record JSON text)."""
    columns = identities_df.columns
    if "record" not in columns and columns == ["value"]:
        identities_df = identities_df.withColumnRenamed("value", "record")

    def keys(batches: Iterator) -> Iterator:
        for batch in batches:
            yield _entitle.record_keys(batch)

    return identities_df.mapInArrow(keys, _KEYS_SCHEMA)


def owner_roots(keys_df, max_doublings: int = 6):
    """Each record id with the root of its owner chain (``id, root``).

    The parent of an identity is its owner when the owner is in the feed,
    itself otherwise; roots are found by pointer doubling (each round
    squares the chain: ``max_doublings`` rounds follow chains of 2**rounds).
    Ids still unresolved after that sit on an owner cycle (or a chain too
    long): they are grouped on the driver, each group under its least id.
    """
    from pyspark.sql import functions as F

    nodes = keys_df.where(F.col("id").isNotNull()).select("id", "owner").dropDuplicates(["id"])
    known = nodes.select(F.col("id").alias("_known"))
    parent = (
        nodes.join(known, nodes.owner == known._known, "left")
        .select("id", F.when(F.col("_known").isNotNull(), F.col("owner")).otherwise(F.col("id")).alias("root"))
        .localCheckpoint()
    )
    step = parent.select(F.col("id").alias("_p_id"), F.col("root").alias("_p_root"))
    roots = parent
    for _ in range(max_doublings):
        unresolved = roots.join(step, roots.root == step._p_id).where(F.col("_p_root") != F.col("root"))
        if unresolved.isEmpty():
            return roots
        hop = roots.select(F.col("id").alias("_h_id"), F.col("root").alias("_h_root"))
        roots = (
            roots.join(hop, roots.root == hop._h_id, "left")
            .select("id", F.coalesce(F.col("_h_root"), F.col("root")).alias("root"))
            .localCheckpoint()
        )
    # Owner cycles (or chains longer than 2**max_doublings): few, resolved on the driver. Each stuck
    # id joins the id its chain has reached; a group reaching a resolved id takes its root, a group
    # that never does is a cycle (with what hangs on it) and takes its least id.
    stuck = (
        roots.join(step, roots.root == step._p_id)
        .where(F.col("_p_root") != F.col("root"))
        .select("id", "root")
        .join(parent.select(F.col("id").alias("_s_id"), F.col("root").alias("parent")), F.col("id") == F.col("_s_id"))
        .select("id", "root", "parent")
    )
    edges = [(row["id"], other) for row in stuck.collect() for other in (row["root"], row["parent"])]
    targets = roots.sparkSession.createDataFrame([(b,) for b in sorted({b for _, b in edges})], "_t_id string")
    resolved_of = {
        row["id"]: row["root"]
        for row in roots.join(targets, roots.id == targets._t_id)
        .join(step, roots.root == step._p_id)
        .where(F.col("_p_root") == F.col("root"))
        .select("id", "root")
        .collect()
    }
    group: Dict[str, str] = {}

    def find(x: str) -> str:
        while group.get(x, x) != x:
            x = group[x]
        return x

    for a, b in edges:
        a, b = find(a), find(b)
        if a != b:
            group[max(a, b)] = min(a, b)
    members = sorted({a for a, _ in edges} | {b for _, b in edges})
    root_of_group: Dict[str, str] = {}
    for m in members:
        g = find(m)
        if m in resolved_of:
            root_of_group[g] = resolved_of[m]
        elif g not in root_of_group:
            root_of_group[g] = m  # members are sorted: a cycle's group keeps its least id
    fixed_rows = [(m, root_of_group[find(m)]) for m in members if m not in resolved_of]
    fixed = roots.sparkSession.createDataFrame(fixed_rows, "_f_id string, _f_root string")
    return roots.join(fixed, roots.id == fixed._f_id, "left").select(
        "id", F.coalesce(F.col("_f_root"), F.col("root")).alias("root")
    )


def plan(
    spark,
    identities_df,
    live_df,
    project_dir: str,
    as_of: str,
    *,
    roles: str = "roles",
    policies: Optional[str] = "policies",
    max_revokes: Optional[str] = None,
    max_invalid: Optional[str] = None,
    max_orphaned: Optional[str] = None,
    max_privileged_grants: Optional[str] = None,
    force: bool = False,
    partitions: Optional[int] = None,
) -> SparkPlan:
    """Plans ``identities_df`` against ``live_df`` with the definitions under ``project_dir``.

    ``roles`` and ``policies`` are the definition directories inside
    ``project_dir`` (``policies=None``: no guardrails). Limits take the
    CLI's forms (``500 or 10%``). ``partitions`` is the number of shuffle
    partitions of identities and live grants (Spark's default when None).
    Raises :class:`entitle.LoadError` on the driver when the definitions do
    not load, before any task runs.
    """
    from pyspark.sql import functions as F

    limits = dict(
        max_revokes=max_revokes,
        max_invalid=max_invalid,
        max_orphaned=max_orphaned,
        max_privileged_grants=max_privileged_grants,
    )
    # 1. Definitions: loaded and validated once, on the driver; their texts are broadcast.
    sources = project_sources(project_dir, roles, policies)
    Project.from_strings(*sources)
    check_guards({name: 0 for name in COUNTS}, **limits)  # the limits parse, before any work
    key = hashlib.sha256(json.dumps(sources).encode()).hexdigest()
    shared = spark.sparkContext.broadcast((key, sources))

    # 2. Owner roots.
    keys = _records(identities_df).localCheckpoint()
    roots = owner_roots(keys)
    records = (
        keys.join(roots.select(F.col("id").alias("_r_id"), "root"), keys.id == F.col("_r_id"), "left")
        .select(
            F.coalesce(F.col("root"), F.col("id"), F.col("record")).alias("part"),
            F.lit("i").alias("side"),
            "record",
            F.lit(None).cast("string").alias("identity"),
            F.lit(None).cast("string").alias("entitlement"),
        )
    )
    live = live_df.select(F.col("identity").cast("string"), F.col("entitlement").cast("string"))
    grants = (
        live.join(roots.select(F.col("id").alias("_r_id"), "root"), live.identity == F.col("_r_id"), "left")
        .select(
            F.coalesce(F.col("root"), F.col("identity")).alias("part"),
            F.lit("l").alias("side"),
            F.lit(None).cast("string").alias("record"),
            "identity",
            "entitlement",
        )
    )
    both = records.unionByName(grants)
    both = both.repartition(partitions, "part") if partitions else both.repartition("part")

    # 3. Each partition planned in one call.
    def part(batches: Iterator) -> Iterator:
        import pyarrow as pa
        import pyarrow.compute as pc

        key, sources = shared.value
        engine = _engine(key, sources)
        batches = list(batches)
        if not batches:
            return
        table = pa.Table.from_batches(batches)
        if table.num_rows == 0:
            return
        is_identity = pc.equal(table.column("side"), "i")
        identities = table.filter(is_identity).select(["record"]).combine_chunks().to_batches()
        grants = table.filter(pc.invert(is_identity)).select(["identity", "entitlement"]).combine_chunks().to_batches()
        empty_i = pa.record_batch([pa.array([], pa.string())], names=["record"])
        empty_l = pa.record_batch([pa.array([], pa.string()), pa.array([], pa.string())], names=["identity", "entitlement"])
        changes, counts = engine.plan_part(
            identities[0] if identities else empty_i, grants[0] if grants else empty_l, as_of
        )
        n = changes.num_rows
        yield pa.record_batch(
            [pa.array(["change"] * n, pa.string())] + changes.columns + [pa.nulls(n, pa.string())],
            names=["kind"] + changes.schema.names + ["counts"],
        )
        nulls = [pa.nulls(1, pa.string()) for _ in changes.schema.names]
        yield pa.record_batch(
            [pa.array(["counts"], pa.string())] + nulls + [pa.array([json.dumps(counts)], pa.string())],
            names=["kind"] + changes.schema.names + ["counts"],
        )

    parts = both.mapInArrow(part, _PART_SCHEMA).persist()

    # 4. The guards, on the figures of every partition together, before anything is emitted.
    totals = {name: 0 for name in COUNTS}
    for row in parts.where(F.col("kind") == "counts").select("counts").collect():
        for name, value in json.loads(row["counts"]).items():
            totals[name] += value
    tripped = check_guards(totals, **limits)
    changes = parts.where(F.col("kind") == "change").drop("kind", "counts")
    refused = None
    forced: List[str] = []
    if tripped and not force:
        refused = "; ".join(tripped)
        changes = changes.limit(0)
    elif tripped:
        forced = tripped
    changes = changes.orderBy("identity", "entitlement", "op")
    return SparkPlan(refused=refused, forced=forced, counts=totals, changes=changes, tripped=tripped)

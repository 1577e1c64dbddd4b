"""The Arrow batch call: one call per batch, the same answers as one call per record."""

import json

import pyarrow as pa
import pytest

import entitle
from conftest import AS_OF, REPO


@pytest.fixture(scope="module")
def engine():
    return entitle.Engine(entitle.Project.from_strings(*entitle.project_sources(REPO)))


def lines():
    with open(REPO / "fixtures" / "identities.jsonl") as f:
        return [line.strip() for line in f if line.strip()]


def per_record(engine, records):
    by_id = {r["id"]: r for r in records}
    return [engine.desired(r, owner=by_id.get(r.get("owner")), as_of=AS_OF) for r in records]


def test_a_batch_of_json_records_equals_per_record_calls(engine):
    texts = lines()
    out = engine.desired_batch(pa.record_batch([pa.array(texts)], names=["record"]), as_of=AS_OF)
    assert isinstance(out, pa.RecordBatch)
    assert out.schema.names == ["identity", "roles", "entitlements", "error"]
    want = per_record(engine, [json.loads(t) for t in texts])
    assert out.column("identity").to_pylist() == [w["identity"] for w in want]
    assert out.column("roles").to_pylist() == [w["roles"] for w in want]
    assert out.column("entitlements").to_pylist() == [w["entitlements"] for w in want]
    assert out.column("error").to_pylist() == [None] * len(want)


def test_a_batch_of_columns_equals_per_record_calls(engine):
    records = [json.loads(t) for t in lines()]
    # The record's fields as typed columns (structs, lists, nulls for absent fields), as Spark holds them.
    batch = pa.RecordBatch.from_struct_array(pa.array(records))
    assert pa.types.is_struct(batch.schema.field("attributes").type)
    assert pa.types.is_list(batch.schema.field("assignments").type)
    out = engine.desired_batch(batch, as_of=AS_OF)
    want = per_record(engine, records)
    assert out.column("entitlements").to_pylist() == [w["entitlements"] for w in want]
    assert out.column("roles").to_pylist() == [w["roles"] for w in want]
    # NHIs found their owners in the batch: an owner condition held somewhere.
    assert any(r.get("owner") and e for r, e in zip(records, out.column("entitlements").to_pylist()))


def test_invalid_rows_carry_their_error_and_the_rest_is_evaluated(engine):
    texts = lines()[:5] + ['{"id": "u-bad", "kind": "person", "attributes": {}}', "not json"]
    out = engine.desired_batch(pa.record_batch([pa.array(texts)], names=["record"]), as_of=AS_OF)
    errors = out.column("error").to_pylist()
    assert errors[:5] == [None] * 5
    assert "status" in errors[5] and "JSON" in errors[6]


def test_a_batch_of_the_wrong_shape_is_a_type_error(engine):
    with pytest.raises(TypeError):
        engine.desired_batch([1, 2, 3], as_of=AS_OF)
    with pytest.raises(TypeError):
        engine.desired_batch(pa.record_batch([pa.array([1.5])], names=["record"]), as_of=AS_OF)

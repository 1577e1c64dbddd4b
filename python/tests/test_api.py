"""The Python API against the CLI on the bundled example organisation."""

import json
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

import entitle
from conftest import AS_OF, REPO, entitle_bin

ROLES = """
identity:
  attributes:
    status: { type: enum, values: [active, terminated], required: true }
    department: { type: string }
applications:
  - id: github
    entitlements: [{ id: org-member }, { id: org-owner, privileged: true }]
packages:
  - id: eng-base
    entitlements: [github:org-member]
roles:
  - id: engineer
    when: { status: active, department: Engineering }
    grants: [eng-base]
"""


@pytest.fixture(scope="module")
def engine():
    # Files named as the CLI names them when run in the repository: justifications read the same.
    return entitle.Engine(entitle.Project.from_strings(*entitle.project_sources(REPO)))


def test_a_project_loads_from_directories():
    project = entitle.load(REPO / "roles", REPO / "policies")
    assert "engineer" in project.roles
    assert all(w["severity"] == "warning" for w in project.warnings)


def records():
    with open(REPO / "fixtures" / "identities.jsonl") as f:
        return [json.loads(line) for line in f if line.strip()]


def cli(*args):
    done = subprocess.run([entitle_bin(), *args], cwd=REPO, capture_output=True, text=True)
    assert done.returncode in (0, 1, 3), done.stderr
    return done.stdout


def test_desired_equals_the_cli_for_every_fixture_record(engine):
    by_id = {r["id"]: r for r in records()}
    expected = [json.loads(line) for line in cli("eval", "--identity", "fixtures/identities.jsonl", "--as-of", AS_OF, "--format", "json").splitlines()]
    assert len(expected) == len(by_id) == 83
    for want in expected:
        record = by_id[want["identity"]]
        owner = by_id.get(record.get("owner"))
        got = engine.desired(record, owner=owner, as_of=AS_OF)
        assert got["identity"] == want["identity"]
        assert got["roles"] == want["roles"], want["identity"]
        assert got["entitlements"] == want["entitlements"], want["identity"]
        # Every entitlement has its reasons, each naming its source file and line.
        assert sorted(got["because"]) == got["entitlements"]
        for reasons in got["because"].values():
            assert reasons and all(":" in r["source"] for r in reasons)


def test_a_project_from_strings_explains_each_grant():
    project = entitle.Project.from_strings([("roles/org.yaml", ROLES)])
    engine = entitle.Engine(project)
    assert project.roles == ["engineer"]
    desired = engine.desired({"id": "u-1", "kind": "person", "attributes": {"status": "active", "department": "Engineering"}}, as_of=AS_OF)
    assert desired["roles"] == ["engineer"]
    assert desired["entitlements"] == ["github:org-member"]
    [why] = desired["because"]["github:org-member"]
    assert (why["role"], why["via"], why["source"]) == ("engineer", ["eng-base"], "roles/org.yaml:13")
    # A record as JSON text reads the same.
    text = '{"id": "u-1", "kind": "person", "attributes": {"status": "terminated"}}'
    assert engine.desired(text, as_of=AS_OF)["entitlements"] == []


def test_broken_definitions_raise_a_load_error_with_code_file_and_line():
    broken = ROLES.replace("grants: [eng-base]", "grants: [eng-bsae]")
    with pytest.raises(entitle.LoadError) as caught:
        entitle.Project.from_strings([("roles/org.yaml", broken)])
    error = caught.value
    assert isinstance(error, entitle.EntitleError)
    assert error.file == "roles/org.yaml"
    assert error.line == 15
    assert error.code.startswith("E")
    assert "eng-bsae" in error.message
    assert any(d["severity"] == "error" and d["line"] == 15 for d in error.diagnostics)


def test_a_missing_directory_is_a_load_error(tmp_path):
    with pytest.raises(entitle.LoadError) as caught:
        entitle.load(tmp_path / "nowhere", None)
    assert "nowhere" in caught.value.file


def test_an_invalid_record_raises_a_record_error(engine):
    with pytest.raises(entitle.RecordError) as caught:
        engine.desired({"id": "u-9", "kind": "person", "attributes": {"department": "Engineering"}}, as_of=AS_OF)
    assert "status" in str(caught.value)
    with pytest.raises(entitle.RecordError):
        engine.desired("{not json", as_of=AS_OF)


def test_a_bad_instant_raises_an_input_error(engine):
    with pytest.raises(entitle.InputError) as caught:
        engine.desired(records()[0], as_of="yesterday")
    assert "as_of" in str(caught.value)


def test_one_engine_serves_many_threads(engine):
    rs = records()
    by_id = {r["id"]: r for r in rs}
    ask = lambda r: engine.desired(r, owner=by_id.get(r.get("owner")), as_of=AS_OF)["entitlements"]
    alone = [ask(r) for r in rs]
    with ThreadPoolExecutor(max_workers=8) as pool:
        together = list(pool.map(ask, rs * 4))
    assert together == alone * 4


def test_plan_equals_the_cli_plan(engine):
    want = json.loads(cli("plan", "--identities", "fixtures/identities.jsonl", "--live", "fixtures/live.jsonl", "--as-of", AS_OF, "--format", "json"))
    got = engine.plan(REPO / "fixtures" / "identities.jsonl", REPO / "fixtures" / "live.jsonl", as_of=AS_OF)
    assert got["changes"] == want["changes"]
    assert got.get("refused") == want.get("refused")
    assert got["summary"] == want["summary"]
    assert got["sod_violations"] == want["sod_violations"]
    assert len(got["changes"]) > 10


def test_plan_refuses_as_the_cli_does(engine):
    args = ["--max-revokes", "3"]
    want = json.loads(cli("plan", "--identities", "fixtures/identities.jsonl", "--live", "fixtures/live.jsonl", "--as-of", AS_OF, "--format", "json", *args))
    got = engine.plan(REPO / "fixtures" / "identities.jsonl", REPO / "fixtures" / "live.jsonl", as_of=AS_OF, max_revokes="3")
    assert want["refused"] and got["refused"] == want["refused"]
    assert got["changes"] == [] == want["changes"]
    with pytest.raises(entitle.InputError):
        engine.plan([], [], as_of=AS_OF, max_revokes="lots")


def test_whatif_equals_the_cli(engine):
    edit = "u-1010.department=Finance"
    want = json.loads(cli("whatif", "--identities", "fixtures/identities.jsonl", "--as-of", AS_OF, "--set", edit, "--format", "json"))
    got = engine.whatif(REPO / "fixtures" / "identities.jsonl", [edit], as_of=AS_OF)
    assert got == want
    assert got["summary"]["identities_affected"] == 1

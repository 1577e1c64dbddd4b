"""Shared fixtures: the repository, the `entitle` binary, a generated organisation.

Nothing here skips: a missing binary, pyarrow or pyspark fails the tests
(`.ci/run` installs what a fresh machine lacks)."""

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
AS_OF = "2026-11-21"


def entitle_bin() -> str:
    path = os.environ.get("ENTITLE", str(REPO / "target" / "debug" / "entitle"))
    assert os.path.exists(path), f"the entitle binary `{path}` is missing: run `cargo build` (or set ENTITLE)"
    return path


@pytest.fixture(scope="session")
def example():
    """The repository's bundled example organisation (roles/, policies/, fixtures/)."""
    return REPO


@pytest.fixture(scope="session")
def org(tmp_path_factory):
    """An `entitle gen` organisation of 20,500 identities (18,000 people and 2,500 NHIs)."""
    out = tmp_path_factory.mktemp("org")
    subprocess.run(
        [entitle_bin(), "gen", "--people", "18000", "--nhis", "2500", "--roles", "300", "--entitlements", "3000",
         "--as-of", AS_OF, "--out", str(out)],
        check=True, capture_output=True,
    )
    return out

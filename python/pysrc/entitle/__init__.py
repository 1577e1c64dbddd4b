"""entitle for Python: the Rust entitlement engine, loaded once, evaluated many times.

Role and package definitions (YAML) with their Cedar guardrails load into a
:class:`Project`; an :class:`Engine` computes each identity's desired
entitlements with every reason, plans grants and revocations against live
access exactly as ``entitle plan`` does, and previews changes (what-if).
Evaluation runs in Rust with the GIL released: one engine serves many
threads. :meth:`Engine.desired_batch` evaluates an Arrow record batch in one
call; :mod:`entitle.spark` runs a plan on a Spark cluster.

This module only converts between Python values and the JSON text the engine
reads and writes; every decision is the engine's.
"""

from __future__ import annotations

import json
import os
from typing import Any, Iterable, Mapping, Optional, Sequence, Tuple, Union

from ._entitle import (
    COUNTS,
    EntitleError,
    EvalError,
    InputError,
    LoadError,
    Project,
    RecordError,
    check_guards,
)
from ._entitle import Engine as _Engine

__all__ = [
    "Engine",
    "EntitleError",
    "EvalError",
    "InputError",
    "LoadError",
    "Project",
    "RecordError",
    "check_guards",
    "load",
    "project_sources",
    "COUNTS",
]

Record = Union[Mapping[str, Any], str]
Grant = Union[Tuple[str, str], Mapping[str, str]]


def _text(record: Record) -> str:
    return record if isinstance(record, str) else json.dumps(record)


def _feed(identities: Union[str, os.PathLike, Iterable[Record]]) -> Tuple[str, str]:
    """The feed as (file name, text): a path is read; records become JSON Lines."""
    if isinstance(identities, (str, os.PathLike)):
        path = os.fspath(identities)
        with open(path, encoding="utf-8-sig") as f:
            return path, f.read()
    return "identities.jsonl", "\n".join(_text(r) for r in identities)


def _grants(live: Union[str, os.PathLike, Iterable[Grant]]) -> list:
    """Live grants as (identity, entitlement) pairs; a path is read as JSON Lines."""
    if isinstance(live, (str, os.PathLike)):
        with open(os.fspath(live), encoding="utf-8-sig") as f:
            live = [json.loads(line) for line in f if line.strip()]
    pairs = []
    for grant in live:
        if isinstance(grant, Mapping):
            pairs.append((grant["identity"], grant["entitlement"]))
        else:
            identity, entitlement = grant
            pairs.append((identity, entitlement))
    return pairs


def project_sources(project_dir: Union[str, os.PathLike], roles: str = "roles", policies: Optional[str] = "policies") -> Tuple[list, list]:
    """The definition files under ``project_dir`` as ``(name, text)`` pairs.

    Named as ``entitle`` names them when run in ``project_dir`` with
    ``--roles roles --policies policies`` (so every justification's
    ``source`` reads the same); sorted as ``entitle`` reads them.
    """
    base = os.fspath(project_dir)

    def tree(sub: str, extensions: Tuple[str, ...]) -> list:
        root = os.path.join(base, sub)
        if not os.path.isdir(root):
            raise LoadError(f"directory `{root}` does not exist")
        found = []
        for dirpath, _, files in os.walk(root):
            for name in files:
                if name.endswith(extensions):
                    full = os.path.join(dirpath, name)
                    found.append(os.path.join(sub, os.path.relpath(full, root)))
        found.sort(key=lambda p: p.split(os.sep))
        out = []
        for name in found:
            with open(os.path.join(base, name), encoding="utf-8-sig") as f:
                out.append((name, f.read()))
        return out

    role_files = tree(roles, (".yaml", ".yml"))
    policy_files = [] if policies is None else tree(policies, (".cedar",))
    return role_files, policy_files


def load(roles: Union[str, os.PathLike], policies: Optional[Union[str, os.PathLike]]) -> Project:
    """Loads a project from its directories (``policies=None``: no guardrails). Raises :class:`LoadError`."""
    return Project.load(os.fspath(roles), None if policies is None else os.fspath(policies))


class Engine(_Engine):
    """An evaluator of a :class:`Project`, safe to share between threads."""

    def desired(self, record: Record, owner: Optional[Record] = None, as_of: Optional[str] = None) -> dict:
        """The desired state of ``record`` (a dict or JSON text) at ``as_of``.

        ``owner`` is the owner's record, when the identity has one. Returns a
        dict with ``identity``, ``roles``, ``entitlements``, ``because``
        (entitlement → justifications: role, via, policy, source) and
        ``forbidden`` (entitlement → guardrails). Raises :class:`RecordError`
        for an invalid record.
        """
        return json.loads(self.desired_json(_text(record), None if owner is None else _text(owner), as_of))

    def plan(
        self,
        identities: Union[str, os.PathLike, Iterable[Record]],
        live: Union[str, os.PathLike, Iterable[Grant]],
        as_of: Optional[str] = None,
        *,
        max_revokes: Optional[str] = None,
        max_invalid: Optional[str] = None,
        max_orphaned: Optional[str] = None,
        max_privileged_grants: Optional[str] = None,
        force: bool = False,
    ) -> dict:
        """The plan of ``identities`` (records, or a feed file) against ``live`` grants.

        ``live`` holds ``(identity, entitlement)`` pairs, dicts with those
        keys, or names a JSON Lines file of them. The result is the JSON of
        ``entitle plan --format json`` as a dict; ``refused`` says why a
        tripped guard emptied ``changes``.
        """
        file, text = _feed(identities)
        return json.loads(
            self.plan_json(
                text,
                _grants(live),
                as_of,
                file=file,
                max_revokes=max_revokes,
                max_invalid=max_invalid,
                max_orphaned=max_orphaned,
                max_privileged_grants=max_privileged_grants,
                force=force,
            )
        )

    def whatif(
        self,
        identities: Union[str, os.PathLike, Iterable[Record]],
        edits: Sequence[str] = (),
        as_of: Optional[str] = None,
        to: Optional[str] = None,
        base: Optional["Engine"] = None,
    ) -> dict:
        """What-if as a dict (the JSON of ``entitle whatif --format json``).

        ``edits`` are HR edits in ``--set`` syntax (``u-1042.department=Finance``);
        ``to`` moves the clock; ``base`` is the engine of the definitions
        before the change (this engine's when ``None``).
        """
        file, text = _feed(identities)
        return json.loads(self.whatif_json(text, list(edits), as_of, to, base, file=file))

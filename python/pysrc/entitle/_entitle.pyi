"""Type stubs of the compiled module `entitle._entitle` (PyO3)."""

from os import PathLike
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

COUNTS: List[str]

class EntitleError(Exception):
    """Any error of entitle."""

    code: str
    file: str
    line: int
    column: int
    message: str
    diagnostics: List[Dict[str, Any]]

class LoadError(EntitleError):
    """The definitions do not load: `diagnostics` lists every finding (code, file, line)."""

class RecordError(EntitleError):
    """An identity record cannot be used (the message names the field)."""

class InputError(EntitleError):
    """An input (feed, live grants, argument) cannot be read."""

class EvalError(EntitleError):
    """The evaluation failed."""

class Project:
    """Role and package definitions with their guardrails, loaded and compiled once."""

    @staticmethod
    def load(roles: Union[str, PathLike[str]], policies: Optional[Union[str, PathLike[str]]]) -> Project:
        """Loads from directories (`policies=None`: no guardrails). Raises `LoadError`."""
    @staticmethod
    def from_strings(roles: Sequence[Tuple[str, str]], policies: Sequence[Tuple[str, str]] = ...) -> Project:
        """Loads from `(file name, text)` pairs. Raises `LoadError`."""
    @property
    def warnings(self) -> List[Dict[str, Any]]:
        """Warnings found while loading (lints included)."""
    @property
    def roles(self) -> List[str]:
        """The ids of every role, sorted."""

class Engine:
    """An evaluator of a project, safe to share between threads (the GIL is released while it evaluates)."""

    def __init__(self, project: Project) -> None: ...
    @property
    def project(self) -> Project: ...
    def desired_json(self, record: str, owner: Optional[str] = None, as_of: Optional[str] = None) -> str:
        """The desired state of one record (JSON text) as JSON text."""
    def desired_batch(self, batch: Any, as_of: Optional[str] = None) -> Any:
        """The desired state of every record of a pyarrow.RecordBatch, as a pyarrow.RecordBatch
        (`identity`, `roles`, `entitlements`, `error`). Owners are looked up in the same batch."""
    def plan_json(
        self,
        identities: str,
        live: Sequence[Tuple[str, str]],
        as_of: Optional[str] = None,
        file: str = "identities.jsonl",
        max_revokes: Optional[str] = None,
        max_invalid: Optional[str] = None,
        max_orphaned: Optional[str] = None,
        max_privileged_grants: Optional[str] = None,
        force: bool = False,
    ) -> str:
        """The plan (JSON text, spec §7) of a feed's text against live grants."""
    def whatif_json(
        self,
        identities: str,
        edits: Sequence[str] = ...,
        as_of: Optional[str] = None,
        to: Optional[str] = None,
        base: Optional[Engine] = None,
        file: str = "identities.jsonl",
    ) -> str:
        """What-if (JSON text) of HR edits, a clock move or a definitions change."""
    def plan_part(self, identities: Any, live: Any, as_of: str) -> Tuple[Any, Dict[str, int]]:
        """One part (closed under ownership) of a distributed plan: its changes as a pyarrow.RecordBatch
        and the figures the guards read."""

def check_guards(
    counts: Dict[str, int],
    max_revokes: Optional[str] = None,
    max_invalid: Optional[str] = None,
    max_orphaned: Optional[str] = None,
    max_privileged_grants: Optional[str] = None,
) -> List[str]:
    """Every guard the figures trip: the sentences `entitle plan` refuses with."""

def record_keys(batch: Any) -> Any:
    """The `id`, `owner` and JSON `record` of each row of a pyarrow.RecordBatch."""

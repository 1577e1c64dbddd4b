//! `entitle._entitle`: the engine for Python (PyO3, abi3).
//!
//! Owns the Python classes (`Project`, `Engine`), the typed exceptions and
//! the module. Every call into the crate goes through `core.rs`, every Arrow
//! conversion through `arrow.rs`. Evaluation runs with the GIL released, so
//! one engine serves many Python threads. The Python layer
//! (`pysrc/entitle/__init__.py`) turns dictionaries into JSON text and back;
//! it must never decide anything the engine decides.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod arrow;
mod core;

use std::path::PathBuf;
use std::sync::Arc;

use entitle::eval::Engine as CoreEngine;
use entitle::model::SourceFile;
use entitle::plan::guards::GuardCounts;
use entitle::population::{OwnerRecord, Population};
use entitle::project::{Project as CoreProject, Sources};
use entitle::Diagnostic;
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::arrow::Column;
use crate::core::Failure;

create_exception!(
    _entitle,
    EntitleError,
    PyException,
    "Any error of entitle. Carries `code`, `file`, `line`, `column`, `message` and `diagnostics`."
);
create_exception!(
    _entitle,
    LoadError,
    EntitleError,
    "The definitions do not load: `diagnostics` lists every finding (code, file, line)."
);
create_exception!(
    _entitle,
    RecordError,
    EntitleError,
    "An identity record cannot be used (the message names the field)."
);
create_exception!(
    _entitle,
    InputError,
    EntitleError,
    "An input (feed, live grants, argument) cannot be read."
);
create_exception!(_entitle, EvalError, EntitleError, "The evaluation failed.");

fn diagnostic_dict<'py>(py: Python<'py>, d: &Diagnostic) -> PyResult<Bound<'py, PyDict>> {
    let out = PyDict::new(py);
    out.set_item("code", d.code.as_str())?;
    out.set_item("name", d.code.title())?;
    out.set_item("severity", d.severity.to_string())?;
    out.set_item("message", &d.message)?;
    out.set_item("help", d.help.as_deref())?;
    out.set_item("file", &d.location.file)?;
    out.set_item("line", d.location.line)?;
    out.set_item("column", d.location.column)?;
    Ok(out)
}

/// The Python exception for a failure, with its attributes set.
fn raise(py: Python<'_>, failure: Failure) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let (err, code, file, line, column, message, diagnostics) = match failure {
            Failure::Load(diagnostics) => {
                let first = diagnostics
                    .iter()
                    .find(|d| d.severity == entitle::Severity::Error)
                    .or(diagnostics.first());
                let errors = diagnostics.iter().filter(|d| d.severity == entitle::Severity::Error).count();
                let message = match first {
                    Some(d) => format!(
                        "{}: {}: {}{}",
                        d.location,
                        d.code.as_str(),
                        d.message,
                        if errors > 1 {
                            format!(" (and {} more errors)", errors - 1)
                        } else {
                            String::new()
                        }
                    ),
                    None => "the definitions do not load".to_string(),
                };
                let list = PyList::empty(py);
                for d in &diagnostics {
                    list.append(diagnostic_dict(py, d)?)?;
                }
                let (code, file, line, column) = first.map_or((String::new(), String::new(), 0, 0), |d| {
                    (
                        d.code.as_str().to_string(),
                        d.location.file.clone(),
                        d.location.line,
                        d.location.column,
                    )
                });
                (LoadError::new_err(message.clone()), code, file, line, column, message, list)
            }
            Failure::Record { message, file, line } => (
                RecordError::new_err(message.clone()),
                "invalid-record".to_string(),
                file,
                line,
                0,
                message,
                PyList::empty(py),
            ),
            Failure::Input { message, file, line } => (
                InputError::new_err(message.clone()),
                "invalid-input".to_string(),
                file,
                line,
                0,
                message,
                PyList::empty(py),
            ),
            Failure::Eval(message) => (
                EvalError::new_err(message.clone()),
                "eval".to_string(),
                String::new(),
                0,
                0,
                message,
                PyList::empty(py),
            ),
        };
        let value = err.value(py);
        value.setattr("code", code)?;
        value.setattr("file", file)?;
        value.setattr("line", line)?;
        value.setattr("column", column)?;
        value.setattr("message", message)?;
        value.setattr("diagnostics", diagnostics)?;
        Ok(err)
    };
    build().unwrap_or_else(|e| e)
}

trait OrRaise<T> {
    fn or_raise(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> OrRaise<T> for Result<T, Failure> {
    fn or_raise(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|f| raise(py, f))
    }
}

/// Role and package definitions with their guardrails, loaded and compiled
/// once. Immutable; safe to share between threads.
#[pyclass(module = "entitle._entitle", frozen)]
struct Project {
    inner: Arc<CoreProject>,
}

#[pymethods]
impl Project {
    /// Loads the YAML definitions under `roles` and the Cedar guardrails
    /// under `policies`. `policies=None` loads no guardrail at all (say so
    /// explicitly: a missing directory is an error). Raises `LoadError`.
    #[staticmethod]
    #[pyo3(signature = (roles, policies))]
    fn load(py: Python<'_>, roles: PathBuf, policies: Option<PathBuf>) -> PyResult<Project> {
        let project = py.detach(|| core::load_dirs(&roles, policies.as_deref())).or_raise(py)?;
        Ok(Project { inner: Arc::new(project) })
    }

    /// Loads from in-memory files: `roles` maps a file name to YAML text,
    /// `policies` a file name to Cedar text. Raises `LoadError`.
    #[staticmethod]
    #[pyo3(signature = (roles, policies=Vec::new()))]
    fn from_strings(py: Python<'_>, roles: Vec<(String, String)>, policies: Vec<(String, String)>) -> PyResult<Project> {
        let file = |(name, text): (String, String)| SourceFile { name, text };
        let sources = Sources {
            roles: roles.into_iter().map(file).collect(),
            policies: policies.into_iter().map(file).collect(),
        };
        let project = py.detach(|| core::load_strings(sources)).or_raise(py)?;
        Ok(Project { inner: Arc::new(project) })
    }

    /// Warnings found while loading (lints included), as dictionaries.
    #[getter]
    fn warnings<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for d in &self.inner.warnings {
            list.append(diagnostic_dict(py, d)?)?;
        }
        Ok(list)
    }

    /// The ids of every role, sorted.
    #[getter]
    fn roles(&self) -> Vec<String> {
        self.inner.defs.roles.keys().cloned().collect()
    }
}

/// An evaluator of a project. Safe to share between threads: every call
/// releases the GIL while it evaluates.
#[pyclass(module = "entitle._entitle", frozen, subclass)]
struct Engine {
    project: Arc<CoreProject>,
    inner: Arc<CoreEngine>,
}

#[pymethods]
impl Engine {
    #[new]
    fn new(py: Python<'_>, project: &Project) -> PyResult<Engine> {
        let inner = core::engine(project.inner.clone()).or_raise(py)?;
        Ok(Engine {
            project: project.inner.clone(),
            inner: Arc::new(inner),
        })
    }

    /// The project this engine evaluates.
    #[getter]
    fn project(&self) -> Project {
        Project {
            inner: self.project.clone(),
        }
    }

    /// The desired state of one record (JSON text), with its owner's record
    /// when it has one, at `as_of` (RFC 3339 or a date; now when `None`), as
    /// JSON text: identity, roles, entitlements, because, forbidden.
    #[pyo3(signature = (record, owner=None, as_of=None))]
    fn desired_json(&self, py: Python<'_>, record: &str, owner: Option<&str>, as_of: Option<&str>) -> PyResult<String> {
        let project = &self.project;
        let engine = &self.inner;
        py.detach(|| {
            let at = core::instant(as_of)?;
            let identity = core::record(project, &json(record, "record")?, "record")?;
            let owner = owner
                .map(|o| json(o, "owner").and_then(|v| core::record(project, &v, "owner")))
                .transpose()?;
            let desired = core::desired(engine, &identity, owner.as_ref(), at)?;
            serde_json::to_string(&desired).map_err(|e| Failure::Eval(e.to_string()))
        })
        .or_raise(py)
    }

    /// The desired state of every record of an Arrow batch, in one call:
    /// a batch with `identity`, `roles`, `entitlements` (lists of strings)
    /// and `error` (null unless the record, or its owner's, is invalid).
    /// Owners are looked up in the same batch.
    #[pyo3(signature = (batch, as_of=None))]
    fn desired_batch<'py>(&self, py: Python<'py>, batch: &Bound<'py, PyAny>, as_of: Option<&str>) -> PyResult<Bound<'py, PyAny>> {
        let batch = arrow::import(batch)?;
        // Columns read and records evaluated without the GIL: other Python threads run meanwhile.
        let records = py.detach(|| arrow::records(&batch))?;
        let project = &self.project;
        let engine = &self.inner;
        let columns = py
            .detach(|| -> Result<Vec<(&str, Column)>, Failure> {
                let at = core::instant(as_of)?;
                desired_rows(project, engine, records, at)
            })
            .or_raise(py)?;
        arrow::export(py, arrow::batch(columns)?)
    }

    /// The plan of a feed (JSON, JSON Lines, CSV or SCIM text; `file` names
    /// it and tells its format) against live grants (pairs of identity and
    /// entitlement), as `entitle plan` makes it, as JSON text (spec §7).
    /// Limits take the CLI's forms (`500 or 10%`).
    #[pyo3(signature = (identities, live, as_of=None, file="identities.jsonl", max_revokes=None, max_invalid=None, max_orphaned=None, max_privileged_grants=None, force=false))]
    #[allow(clippy::too_many_arguments)]
    fn plan_json(
        &self,
        py: Python<'_>,
        identities: &str,
        live: Vec<(String, String)>,
        as_of: Option<&str>,
        file: &str,
        max_revokes: Option<&str>,
        max_invalid: Option<&str>,
        max_orphaned: Option<&str>,
        max_privileged_grants: Option<&str>,
        force: bool,
    ) -> PyResult<String> {
        let project = &self.project;
        let engine = &self.inner;
        py.detach(|| {
            let at = core::instant(as_of)?;
            let limits = core::limits([
                ("max_revokes", max_revokes),
                ("max_invalid", max_invalid),
                ("max_orphaned", max_orphaned),
                ("max_privileged_grants", max_privileged_grants),
            ])?;
            let population = Population::new(core::feed(project, file, identities.as_bytes())?);
            let (live, _) = core::live("live", live)?;
            let plan = core::plan_of(project, engine, &population, &[live], at, limits, force)?;
            serde_json::to_string(&plan).map_err(|e| Failure::Eval(e.to_string()))
        })
        .or_raise(py)
    }

    /// What-if (JSON text): the feed before and after `edits` (each in
    /// `--set` syntax, `u-1042.department=Finance`), from `as_of` to `to`
    /// (the same instant when `None`), under `base`'s definitions before
    /// (this engine's when `None`) and this engine's after.
    #[pyo3(signature = (identities, edits=Vec::new(), as_of=None, to=None, base=None, file="identities.jsonl"))]
    #[allow(clippy::too_many_arguments)]
    fn whatif_json(
        &self,
        py: Python<'_>,
        identities: &str,
        edits: Vec<String>,
        as_of: Option<&str>,
        to: Option<&str>,
        base: Option<&Engine>,
        file: &str,
    ) -> PyResult<String> {
        let head = (&self.project, self.inner.as_ref());
        let base = base.map_or(head, |b| (&b.project, b.inner.as_ref()));
        py.detach(|| {
            let at = core::instant(as_of)?;
            let to = match to {
                None => at,
                Some(t) => core::instant(Some(t))?,
            };
            let whatif = core::whatif(base, head, file, identities.as_bytes(), &edits, at, to)?;
            serde_json::to_string(&whatif).map_err(|e| Failure::Eval(e.to_string()))
        })
        .or_raise(py)
    }

    /// One part of a distributed plan: `identities` (a batch of records
    /// closed under ownership) against `live` (a batch with `identity` and
    /// `entitlement` columns: the part's live grants), planned with no
    /// guard. Returns the changes as a batch (`op`, `identity`,
    /// `entitlement`, `reason`, `forbidden_by`, `detail`, `because` as JSON
    /// text) and the figures the guards read, as a dict of counts.
    #[pyo3(signature = (identities, live, as_of))]
    fn plan_part<'py>(
        &self,
        py: Python<'py>,
        identities: &Bound<'py, PyAny>,
        live: &Bound<'py, PyAny>,
        as_of: &str,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyDict>)> {
        let identities = arrow::import(identities)?;
        let live = arrow::import(live)?;
        let (lines, grants) = py.detach(|| -> PyResult<(Vec<String>, Vec<(String, String)>)> {
            let lines = arrow::record_lines(&identities)?;
            let missing = || PyValueError::new_err("the live batch needs string columns `identity` and `entitlement`");
            let live_identities = arrow::strings(&live, "identity")?.ok_or_else(missing)?;
            let live_entitlements = arrow::strings(&live, "entitlement")?.ok_or_else(missing)?;
            let grants = live_identities
                .into_iter()
                .zip(live_entitlements)
                .map(|(i, e)| (i.unwrap_or_default(), e.unwrap_or_default()))
                .collect();
            Ok((lines, grants))
        })?;
        let project = &self.project;
        let engine = &self.inner;
        let (columns, counts) = py
            .detach(|| -> Result<_, Failure> {
                let at = core::instant(Some(as_of))?;
                let feed = core::feed_lines(project, "identities", &lines)?;
                let (live, live_identities) = core::live("live", grants)?;
                let (plan, counts) = core::plan_part(project, engine, feed, live, live_identities, at)?;
                Ok((change_columns(&plan)?, counts))
            })
            .or_raise(py)?;
        Ok((arrow::export(py, arrow::batch(columns)?)?, counts_dict(py, &counts)?))
    }
}

fn json(text: &str, what: &str) -> Result<serde_json::Value, Failure> {
    serde_json::from_str(text).map_err(|e| Failure::Record {
        message: format!("the {what} is not JSON: {e}"),
        file: what.to_string(),
        line: e.line() as u32,
    })
}

/// The desired-state columns of a batch of records; owners come from the batch.
fn desired_rows(
    project: &CoreProject,
    engine: &CoreEngine,
    records: Vec<Result<serde_json::Value, String>>,
    at: entitle::Instant,
) -> Result<Vec<(&'static str, Column)>, Failure> {
    let n = records.len();
    let mut parsed = Vec::with_capacity(n);
    let mut invalid_ids = std::collections::HashSet::new();
    for (row, record) in records.into_iter().enumerate() {
        let state = record.and_then(|v| {
            entitle::state::IdentityState::from_json(&v, &project.defs).map_err(|e| {
                if let Some(id) = v.get("id").and_then(|i| i.as_str()) {
                    invalid_ids.insert(id.to_string());
                }
                e.to_string()
            })
        });
        parsed.push((row, state));
    }
    let valid: Vec<(entitle::state::IdentityState, u32)> = parsed
        .iter()
        .filter_map(|(row, s)| s.as_ref().ok().map(|s| (s.clone(), *row as u32 + 1)))
        .collect();
    let population = Population::new(entitle::io::identities::IdentityFeed::from_records("batch", valid));
    let (mut ids, mut roles, mut entitlements, mut errors) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for (_, state) in &parsed {
        let outcome = match state {
            Err(e) => Err(e.clone()),
            Ok(identity) => match population.owner_of(identity) {
                OwnerRecord::Unknown | OwnerRecord::Invalid if identity.owner.as_deref().is_some_and(|o| invalid_ids.contains(o)) => {
                    Err(format!(
                        "the record of its owner `{}` is invalid",
                        identity.owner.as_deref().unwrap_or_default()
                    ))
                }
                owner => match core::desired(engine, identity, owner.record(), at) {
                    Ok(d) => Ok(d),
                    Err(Failure::Eval(e)) => Err(e),
                    Err(other) => return Err(other),
                },
            },
        };
        ids.push(state.as_ref().ok().map(|s| s.id.clone()));
        match outcome {
            Ok(d) => {
                roles.push(d.roles().map(str::to_string).collect());
                entitlements.push(d.entitlements().map(str::to_string).collect());
                errors.push(None);
            }
            Err(e) => {
                roles.push(Vec::new());
                entitlements.push(Vec::new());
                errors.push(Some(e));
            }
        }
    }
    Ok(vec![
        ("identity", Column::Text(ids)),
        ("roles", Column::Lists(roles)),
        ("entitlements", Column::Lists(entitlements)),
        ("error", Column::Text(errors)),
    ])
}

/// The changes of a plan as columns.
fn change_columns(plan: &entitle::plan::Plan) -> Result<Vec<(&'static str, Column)>, Failure> {
    use entitle::plan::Change;
    let n = plan.changes.len();
    let mut cols: [Vec<Option<String>>; 8] = Default::default();
    for c in cols.iter_mut() {
        c.reserve(n);
    }
    for change in &plan.changes {
        let (op, identity, entitlement, reason, forbidden_by, detail, because) = match change {
            Change::Grant {
                identity,
                entitlement,
                because,
            } => (
                "grant",
                identity,
                entitlement,
                None,
                None,
                None,
                Some(serde_json::to_string(because).map_err(|e| Failure::Eval(e.to_string()))?),
            ),
            Change::Revoke {
                identity,
                entitlement,
                reason,
                forbidden_by,
                detail,
            } => (
                "revoke",
                identity,
                entitlement,
                Some(reason.as_str().to_string()),
                forbidden_by.clone(),
                detail.clone(),
                None,
            ),
        };
        cols[0].push(Some(op.to_string()));
        cols[1].push(Some(identity.clone()));
        cols[2].push(Some(entitlement.clone()));
        cols[3].push(reason);
        cols[4].push(forbidden_by);
        cols[5].push(detail);
        cols[6].push(because);
        cols[7].push(Some(serde_json::to_string(change).map_err(|e| Failure::Eval(e.to_string()))?));
    }
    let [op, identity, entitlement, reason, forbidden_by, detail, because, json] = cols;
    Ok(vec![
        ("op", Column::Text(op)),
        ("identity", Column::Text(identity)),
        ("entitlement", Column::Text(entitlement)),
        ("reason", Column::Text(reason)),
        ("forbidden_by", Column::Text(forbidden_by)),
        ("detail", Column::Text(detail)),
        ("because", Column::Text(because)),
        ("change", Column::Text(json)),
    ])
}

const COUNT_NAMES: [&str; 8] = [
    "revokes",
    "live",
    "invalid",
    "records",
    "orphaned",
    "live_identities",
    "privileged_grants",
    "identities",
];

fn counts_dict<'py>(py: Python<'py>, c: &GuardCounts) -> PyResult<Bound<'py, PyDict>> {
    let out = PyDict::new(py);
    let values = [
        c.revokes,
        c.live,
        c.invalid,
        c.records,
        c.orphaned,
        c.live_identities,
        c.privileged_grants,
        c.identities,
    ];
    for (name, value) in COUNT_NAMES.iter().zip(values) {
        out.set_item(*name, value)?;
    }
    Ok(out)
}

/// Every guard the figures of a whole population trip (one sentence each,
/// the very sentences `entitle plan` refuses with), given the counts
/// `Engine.plan_part` returns, added up, and the limits in the CLI's forms.
#[pyfunction]
#[pyo3(signature = (counts, max_revokes=None, max_invalid=None, max_orphaned=None, max_privileged_grants=None))]
fn check_guards(
    py: Python<'_>,
    counts: &Bound<'_, PyDict>,
    max_revokes: Option<&str>,
    max_invalid: Option<&str>,
    max_orphaned: Option<&str>,
    max_privileged_grants: Option<&str>,
) -> PyResult<Vec<String>> {
    let get = |name: &str| -> PyResult<usize> {
        counts
            .get_item(name)?
            .ok_or_else(|| PyValueError::new_err(format!("counts: `{name}` is missing")))?
            .extract()
    };
    let counts = GuardCounts {
        revokes: get("revokes")?,
        live: get("live")?,
        invalid: get("invalid")?,
        records: get("records")?,
        orphaned: get("orphaned")?,
        live_identities: get("live_identities")?,
        privileged_grants: get("privileged_grants")?,
        identities: get("identities")?,
    };
    let limits = core::limits([
        ("max_revokes", max_revokes),
        ("max_invalid", max_invalid),
        ("max_orphaned", max_orphaned),
        ("max_privileged_grants", max_privileged_grants),
    ])
    .or_raise(py)?;
    Ok(core::guards(&counts, &limits))
}

/// The id and owner of each record of an Arrow batch (a `record` column of
/// JSON text, or the record's fields as columns), with the record as JSON
/// text: what the Spark job partitions by. An unreadable record has no id.
#[pyfunction]
fn record_keys<'py>(py: Python<'py>, batch: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let lines = arrow::record_lines(&arrow::import(batch)?)?;
    let (ids, owners): (Vec<Option<String>>, Vec<Option<String>>) = py.detach(|| {
        lines
            .iter()
            .map(|line| {
                let value: Option<serde_json::Value> = serde_json::from_str(line).ok();
                let field = |name: &str| {
                    value
                        .as_ref()
                        .and_then(|v| v.get(name))
                        .and_then(|v| v.as_str())
                        .map(str::to_string)
                };
                (field("id"), field("owner"))
            })
            .unzip()
    });
    let columns = vec![
        ("id", Column::Text(ids)),
        ("owner", Column::Text(owners)),
        ("record", Column::Text(lines.into_iter().map(Some).collect())),
    ];
    arrow::export(py, arrow::batch(columns)?)
}

/// The engine for Python.
#[pymodule]
fn _entitle(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<Project>()?;
    m.add_class::<Engine>()?;
    m.add_function(wrap_pyfunction!(check_guards, m)?)?;
    m.add_function(wrap_pyfunction!(record_keys, m)?)?;
    m.add("EntitleError", py.get_type::<EntitleError>())?;
    m.add("LoadError", py.get_type::<LoadError>())?;
    m.add("RecordError", py.get_type::<RecordError>())?;
    m.add("InputError", py.get_type::<InputError>())?;
    m.add("EvalError", py.get_type::<EvalError>())?;
    m.add("COUNTS", COUNT_NAMES.to_vec())?;
    Ok(())
}

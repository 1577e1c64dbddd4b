//! Identity feeds: HR and non-human-identity exports read into validated
//! [`IdentityState`]s, with every record that cannot be used listed by line.
//!
//! This module owns reading an identity feed. It never drops a record
//! silently and never half-uses one: a record is either a valid
//! [`IdentityState`] or an [`InvalidRecord`] with the line where it starts
//! (spec §8: a bad record never deprovisions anyone). Problems with the file
//! as a whole (unreadable, not UTF-8, too large, a CSV header or a JSON
//! document that cannot be read) are an [`InputError`] instead, because a
//! feed we cannot read through must not be half-used either. It decides
//! nothing about what an identity holds.
//!
//! # Formats
//!
//! | format | detected by | records |
//! |---|---|---|
//! | JSON Lines | `.jsonl`, `.ndjson`; content starting with `{` | one JSON object per record (spec §4); a record may span lines; blank lines are skipped; a malformed record is invalid and reading resumes on the next line |
//! | JSON | `.json`; content starting with `[` | an array of records, or a single record; a syntax error in the document is an [`InputError`] |
//! | CSV | `.csv`; any other content | header `id,kind,<attr>...` plus an optional `owner` column |
//! | SCIM 2.0 | a JSON object whose `schemas` hold `urn:ietf:params:scim:api:messages:2.0:ListResponse` | the `Resources` of a User ListResponse (RFC 7643/7644), mapped below |
//!
//! An explicit format wins over the extension, the extension over the
//! content. A JSON object with a `schemas` key is always read as SCIM (an
//! identity record cannot have that key), and must then be a ListResponse.
//!
//! # CSV
//!
//! The header names the columns: `id` and `kind` are required, `owner` is
//! optional, every other column must be a declared attribute (an unknown
//! column is an [`InputError`] with a "did you mean"). Cells are trimmed; an
//! empty cell means the attribute is absent. Cells are converted by the
//! attribute's declared type: `int` to a number, `bool` from `true`/`false`
//! (any case), `set` split on `;` with blank members dropped (a cell holding
//! only `;` is the empty set), `date`, `string` and `enum` as text. A row
//! with more or fewer fields than the header is invalid. Assignments of
//! assignable roles cannot be expressed in CSV: use JSON Lines or SCIM.
//!
//! # SCIM 2.0
//!
//! Each User resource becomes one record. SCIM carries many attributes the
//! identity schema does not declare; those are skipped. A mapped value that
//! is a string is converted by the declared type as in CSV, and an empty
//! string is absent.
//!
//! | SCIM | entitle |
//! |---|---|
//! | `externalId`, else `id` | `id` (the identifier the provisioning source assigned, usually the HR id) |
//! | — | `kind` = `person` |
//! | `active` | `status` = `active` / `terminated`, when `status` is an enum with that value |
//! | `userType` | `worker_type`, matched case-insensitively against its enum values (`Employee` → `employee`) |
//! | `title` | `job_title` |
//! | `displayName` | `display_name` |
//! | enterprise `employeeNumber` | `employee_number` |
//! | enterprise `costCenter` | `cost_center` |
//! | enterprise `organization` | `organization` |
//! | enterprise `division` | `division` |
//! | enterprise `department` | `department` |
//! | enterprise `manager.value` | `manager` |
//! | entitle `kind`, `owner` | `kind`, `owner` |
//! | entitle `attributes` | merged over the attributes above (explicit values win) |
//! | entitle `assignments` | `assignments`, as in JSON Lines |
//!
//! "enterprise" is `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`;
//! "entitle" is the optional extension
//! `urn:entitle:params:scim:schemas:extension:identity:1.0:User`, which lets a
//! SCIM feed carry everything a JSON Lines record can. A `userType` that none
//! of the enum values match is passed on as written, so the record is invalid
//! rather than silently missing its worker type. A ListResponse whose
//! `totalResults` exceeds the resources it holds is one page of a paged
//! export and is refused (a truncated feed must not look like leavers).
//!
//! Note that SCIM group members (see [`crate::io::live`]) reference users by
//! their SCIM `id`; when users carry an `externalId` that differs from their
//! `id`, identity and live state exported from the same SCIM service will not
//! match.

use std::collections::HashMap;
use std::fmt;
use std::io::Read;
use std::path::Path;
use std::str::FromStr;

use serde::de::IgnoredAny;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::diag::did_you_mean;
use crate::model::{AttrType, AttributeDef, Definitions};
use crate::state::IdentityState;

/// The largest input entitle reads (1 GiB); larger inputs are an [`InputError::TooLarge`].
pub const MAX_INPUT_BYTES: u64 = 1 << 30;

/// The longest line a JSON Lines input may have (16 MiB).
pub const MAX_LINE_BYTES: usize = 16 << 20;

/// The `schemas` value that marks a SCIM 2.0 ListResponse.
pub const SCIM_LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// The SCIM 2.0 core User schema.
pub const SCIM_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

/// The SCIM 2.0 enterprise User extension.
pub const SCIM_ENTERPRISE_USER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// entitle's own SCIM User extension: `kind`, `owner`, `attributes`, `assignments`.
pub const SCIM_ENTITLE_USER: &str = "urn:entitle:params:scim:schemas:extension:identity:1.0:User";

/// The format of an identity feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdentityFormat {
    /// A JSON array of records, or a single record.
    Json,
    /// One JSON record after another (one per line, though a record may span lines).
    JsonLines,
    /// A CSV with a header `id,kind,<attr>...`.
    Csv,
    /// A SCIM 2.0 User ListResponse.
    Scim,
}

impl IdentityFormat {
    /// The format a file name's extension implies, if any (`.json`, `.jsonl`, `.ndjson`, `.csv`).
    ///
    /// A `.json` file is [`IdentityFormat::Json`] here; whether it is really a
    /// SCIM document is decided by its content (see [`IdentityFormat::detect`]).
    pub fn from_extension(file: &str) -> Option<IdentityFormat> {
        let ext = Path::new(file).extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "jsonl" | "ndjson" => Some(IdentityFormat::JsonLines),
            "json" => Some(IdentityFormat::Json),
            "csv" => Some(IdentityFormat::Csv),
            _ => None,
        }
    }

    /// The format of `text` read from `file`: by extension, then by content.
    pub fn detect(file: &str, text: &str) -> IdentityFormat {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let start = skip_ws(text, 0);
        let first = text.as_bytes().get(start).copied();
        let is_scim = || first == Some(b'{') && has_schemas_key(text, start);
        match IdentityFormat::from_extension(file) {
            Some(IdentityFormat::Json) if is_scim() => IdentityFormat::Scim,
            Some(format) => format,
            None if is_scim() => IdentityFormat::Scim,
            None => match first {
                Some(b'{') | None => IdentityFormat::JsonLines,
                Some(b'[') => IdentityFormat::Json,
                Some(_) => IdentityFormat::Csv,
            },
        }
    }

    /// The name `--format` takes (`json`, `jsonl`, `csv`, `scim`).
    pub fn name(self) -> &'static str {
        match self {
            IdentityFormat::Json => "json",
            IdentityFormat::JsonLines => "jsonl",
            IdentityFormat::Csv => "csv",
            IdentityFormat::Scim => "scim",
        }
    }
}

impl fmt::Display for IdentityFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for IdentityFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "json" => Ok(IdentityFormat::Json),
            "jsonl" | "ndjson" | "jsonlines" => Ok(IdentityFormat::JsonLines),
            "csv" => Ok(IdentityFormat::Csv),
            "scim" => Ok(IdentityFormat::Scim),
            _ => {
                let help = did_you_mean(s, ["json", "jsonl", "csv", "scim"])
                    .map(|h| format!(" ({h})"))
                    .unwrap_or_default();
                Err(format!("unknown identity format `{s}`{help}"))
            }
        }
    }
}

/// A record of an identity feed that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InvalidRecord {
    /// The 1-based line where the record starts.
    pub line: u32,
    /// The record's id, when it could be read.
    pub id: Option<String>,
    /// What is wrong: one lowercase sentence naming the field.
    pub error: String,
}

/// An identity feed, read and validated.
#[derive(Debug, Clone, PartialEq)]
pub struct IdentityFeed {
    /// The file, as the user named it (`<stdin>` for standard input).
    pub file: String,
    /// The SHA-256 of the raw bytes, in lowercase hex.
    pub sha256: String,
    /// The valid records, in input order.
    pub identities: Vec<IdentityState>,
    /// The records that cannot be used, in input order.
    pub invalid: Vec<InvalidRecord>,
}

impl IdentityFeed {
    /// How many invalid records could not be read far enough to know their id.
    ///
    /// While this is not zero, nobody may be treated as missing from the feed
    /// (no `orphaned-account` revocation): the unreadable record may be them.
    pub fn unreadable_ids(&self) -> usize {
        self.invalid.iter().filter(|r| r.id.is_none()).count()
    }
}

/// Why an input (identity feed or live state) cannot be read at all.
///
/// Every message names the file and, where there is one, the line.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The file cannot be opened or read.
    #[error("{file}: cannot read the file: {source}")]
    Io {
        /// The file.
        file: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The input is not valid UTF-8.
    #[error("{file}:{line}: the input is not valid UTF-8 (save it as UTF-8)")]
    NotUtf8 {
        /// The file.
        file: String,
        /// The line of the first invalid byte.
        line: u32,
    },
    /// The input is larger than [`MAX_INPUT_BYTES`].
    #[error("{file}: the input is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The file.
        file: String,
        /// The limit in bytes.
        limit: u64,
    },
    /// A JSON Lines line is longer than [`MAX_LINE_BYTES`].
    #[error("{file}:{line}: the line is longer than the limit of {limit} bytes")]
    LineTooLong {
        /// The file.
        file: String,
        /// The line.
        line: u32,
        /// The limit in bytes.
        limit: usize,
    },
    /// A JSON document or a CSV cannot be parsed.
    #[error("{file}:{line}:{column}: {message}")]
    Syntax {
        /// The file.
        file: String,
        /// The line.
        line: u32,
        /// The column.
        column: u32,
        /// What is wrong.
        message: String,
    },
    /// A CSV identity feed without a header line.
    #[error("{file}:1: the CSV has no header line (the first line must name the columns, such as `id,kind,status`)")]
    CsvNoHeader {
        /// The file.
        file: String,
    },
    /// The CSV header lacks a required column.
    #[error("{file}:{line}: the CSV header has no `{column}` column (the first line must name the columns, such as `id,kind,status`)")]
    CsvMissingColumn {
        /// The file.
        file: String,
        /// The header's line.
        line: u32,
        /// The missing column.
        column: String,
    },
    /// The CSV header names a column that is not `id`, `kind`, `owner` or a declared attribute.
    #[error("{file}:{line}: unknown column `{column}` in the CSV header{help}")]
    CsvUnknownColumn {
        /// The file.
        file: String,
        /// The header's line.
        line: u32,
        /// The unknown column.
        column: String,
        /// Advice in parentheses (a "did you mean"), or empty.
        help: String,
    },
    /// The CSV header names a column twice.
    #[error("{file}:{line}: column `{column}` appears twice in the CSV header")]
    CsvDuplicateColumn {
        /// The file.
        file: String,
        /// The header's line.
        line: u32,
        /// The repeated column.
        column: String,
    },
    /// A SCIM document that is not a ListResponse.
    #[error("{file}:{line}: the document is not a SCIM 2.0 ListResponse ({detail})")]
    NotScimListResponse {
        /// The file.
        file: String,
        /// The line where the document starts.
        line: u32,
        /// What it is instead.
        detail: String,
    },
    /// A SCIM ListResponse that holds one page of a paged export.
    #[error("{file}:{line}: the SCIM ListResponse holds {present} of its {total} resources (export every page into one document)")]
    ScimIncomplete {
        /// The file.
        file: String,
        /// The line where the document starts.
        line: u32,
        /// The resources it holds.
        present: u64,
        /// Its `totalResults`.
        total: u64,
    },
    /// A SCIM group export was given without the application its groups belong to.
    #[error("{file}: a SCIM group export needs `--app APP`")]
    ScimGroupsNeedApp {
        /// The file.
        file: String,
    },
    /// A live grant that cannot be read.
    #[error("{file}:{line}: {message}")]
    LiveRecord {
        /// The file.
        file: String,
        /// The line where the grant starts.
        line: u32,
        /// What is wrong.
        message: String,
    },
}

impl InputError {
    /// The file the error is about.
    pub fn file(&self) -> &str {
        match self {
            InputError::Io { file, .. }
            | InputError::NotUtf8 { file, .. }
            | InputError::TooLarge { file, .. }
            | InputError::LineTooLong { file, .. }
            | InputError::Syntax { file, .. }
            | InputError::CsvNoHeader { file }
            | InputError::CsvMissingColumn { file, .. }
            | InputError::CsvUnknownColumn { file, .. }
            | InputError::CsvDuplicateColumn { file, .. }
            | InputError::NotScimListResponse { file, .. }
            | InputError::ScimIncomplete { file, .. }
            | InputError::ScimGroupsNeedApp { file }
            | InputError::LiveRecord { file, .. } => file,
        }
    }

    /// The 1-based line the error is about, when it is about one.
    pub fn line(&self) -> Option<u32> {
        match self {
            InputError::Io { .. } | InputError::TooLarge { .. } | InputError::ScimGroupsNeedApp { .. } => None,
            InputError::CsvNoHeader { .. } => Some(1),
            InputError::NotUtf8 { line, .. }
            | InputError::LineTooLong { line, .. }
            | InputError::Syntax { line, .. }
            | InputError::CsvMissingColumn { line, .. }
            | InputError::CsvUnknownColumn { line, .. }
            | InputError::CsvDuplicateColumn { line, .. }
            | InputError::NotScimListResponse { line, .. }
            | InputError::ScimIncomplete { line, .. }
            | InputError::LiveRecord { line, .. } => Some(*line),
        }
    }
}

/// Reads and validates an identity feed from `path` (`-` for standard input).
///
/// `format` overrides detection (see the module documentation).
pub fn read_identities(path: &Path, format: Option<IdentityFormat>, defs: &Definitions) -> Result<IdentityFeed, InputError> {
    let (file, bytes) = read_bounded(path)?;
    parse_identities(&file, &bytes, format, defs)
}

/// Reads and validates an identity feed held in `bytes`; `file` names it in
/// messages and drives detection by extension.
pub fn parse_identities(file: &str, bytes: &[u8], format: Option<IdentityFormat>, defs: &Definitions) -> Result<IdentityFeed, InputError> {
    let sha256 = sha256_hex(bytes);
    let text = decode_utf8(file, bytes)?;
    let mut feed = Collector { defs, records: Vec::new() };
    let mut lines = LineCounter::new(text);
    let start = skip_ws(text, 0);
    let first = text.as_bytes().get(start).copied();
    match format.or_else(|| IdentityFormat::from_extension(file)) {
        Some(IdentityFormat::Csv) => read_csv(file, text, &mut feed)?,
        Some(IdentityFormat::Scim) => match scim_document(file, text, start, &mut lines, true)? {
            Some(resources) => read_scim_users(text, &resources, &mut lines, &mut feed),
            None => return Err(not_scim(file, &mut lines, start, "it has no `schemas`")),
        },
        Some(IdentityFormat::Json) => match first {
            None => {}
            Some(b'[') => read_json_array(file, text, start, &mut lines, &mut feed)?,
            Some(b'{') => read_objects(file, text, start, &mut lines, &mut feed)?,
            Some(_) => {
                return Err(syntax(
                    file,
                    &mut lines,
                    start,
                    "expected a JSON array or object of identity records".into(),
                ));
            }
        },
        Some(IdentityFormat::JsonLines) => read_objects(file, text, start, &mut lines, &mut feed)?,
        None => match first {
            None => {}
            Some(b'{') => read_objects(file, text, start, &mut lines, &mut feed)?,
            Some(b'[') => read_json_array(file, text, start, &mut lines, &mut feed)?,
            Some(_) => read_csv(file, text, &mut feed)?,
        },
    }
    Ok(feed.finish(file, sha256))
}

/// A record that failed: its id when readable, and why.
type Failure = (Option<String>, String);

/// Collects records in input order (with the line each starts on), then applies the duplicate-id rule.
struct Collector<'a> {
    defs: &'a Definitions,
    records: Vec<(u32, Result<IdentityState, Failure>)>,
}

impl Collector<'_> {
    fn record(&mut self, line: u32, value: &Value) {
        let outcome = IdentityState::from_json(value, self.defs).map_err(|e| (record_id(value), e));
        self.records.push((line, outcome));
    }

    fn invalid(&mut self, line: u32, id: Option<String>, error: String) {
        self.records.push((line, Err((id, error))));
    }

    /// Spec §8: two records with the same id are both invalid, since either could be the truth.
    fn finish(self, file: &str, sha256: String) -> IdentityFeed {
        let mut seen: HashMap<String, Vec<(usize, u32)>> = HashMap::new();
        for (index, (line, outcome)) in self.records.iter().enumerate() {
            let id = match outcome {
                Ok(state) => Some(&state.id),
                Err((id, _)) => id.as_ref(),
            };
            if let Some(id) = id {
                seen.entry(id.clone()).or_default().push((index, *line));
            }
        }
        let mut identities = Vec::new();
        let mut invalid = Vec::new();
        for (index, (line, outcome)) in self.records.into_iter().enumerate() {
            match outcome {
                Ok(state) => {
                    let other = seen
                        .get(&state.id)
                        .and_then(|all| all.iter().find(|(i, _)| *i != index))
                        .map(|(_, l)| *l);
                    match other {
                        Some(other) => invalid.push(InvalidRecord {
                            line,
                            error: format!("duplicate id `{}`, also at line {other}", state.id),
                            id: Some(state.id),
                        }),
                        None => identities.push(state),
                    }
                }
                Err((id, error)) => invalid.push(InvalidRecord { line, id, error }),
            }
        }
        IdentityFeed {
            file: file.to_string(),
            sha256,
            identities,
            invalid,
        }
    }
}

/// The id of a record that failed validation, when it has a usable one.
fn record_id(value: &Value) -> Option<String> {
    value
        .get("id")
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .map(str::to_string)
}

/// JSON Lines, a single object, or a SCIM document (an object with `schemas`).
fn read_objects(file: &str, text: &str, start: usize, lines: &mut LineCounter<'_>, feed: &mut Collector<'_>) -> Result<(), InputError> {
    if let Some(resources) = scim_document(file, text, start, lines, false)? {
        read_scim_users(text, &resources, lines, feed);
        return Ok(());
    }
    check_line_lengths(file, text)?;
    json_stream(text, start, lines, |line, start_offset, value| {
        match value {
            Ok(value) => feed.record(line, &value),
            Err(e) => feed.invalid(
                line,
                scan_id(line_text(text, start_offset)),
                format!("record is not valid JSON ({})", e.message),
            ),
        }
        Ok(())
    })
}

fn read_json_array(file: &str, text: &str, start: usize, lines: &mut LineCounter<'_>, feed: &mut Collector<'_>) -> Result<(), InputError> {
    let (elements, end) = array_spans(text, start).map_err(|e| json_syntax(file, lines, e))?;
    trailing_text(file, text, end, lines, "the JSON array")?;
    for span in elements {
        let line = lines.line_at(span.start);
        match serde_json::from_str::<Value>(&text[span.start..span.end]) {
            Ok(value) => feed.record(line, &value),
            // Already parsed once while walking the array; kept for completeness.
            Err(e) => feed.invalid(line, None, format!("record is not valid JSON ({})", serde_message(&e))),
        }
    }
    Ok(())
}

fn read_scim_users(text: &str, resources: &[Span], lines: &mut LineCounter<'_>, feed: &mut Collector<'_>) {
    for span in resources {
        let line = lines.line_at(span.start);
        let resource = match serde_json::from_str::<Value>(&text[span.start..span.end]) {
            Ok(value) => value,
            Err(e) => {
                feed.invalid(line, None, format!("resource is not valid JSON ({})", serde_message(&e)));
                continue;
            }
        };
        match scim_user_record(&resource, feed.defs) {
            Ok(record) => feed.record(line, &record),
            Err((id, error)) => feed.invalid(line, id, error),
        }
    }
}

/// Maps one SCIM User resource to a record in the JSON shape of spec §4 (see the module table).
fn scim_user_record(resource: &Value, defs: &Definitions) -> Result<Value, Failure> {
    let obj = resource.as_object().ok_or((None, "resource is not a JSON object".to_string()))?;
    let nonempty_str = |v: Option<&Value>| v.and_then(Value::as_str).filter(|s| !s.trim().is_empty()).map(str::to_string);
    let id = nonempty_str(obj.get("externalId")).or_else(|| nonempty_str(obj.get("id")));
    if let Some(schemas) = obj.get("schemas").and_then(Value::as_array) {
        if !schemas.iter().any(|s| s.as_str() == Some(SCIM_USER)) {
            return Err((
                id,
                format!("resource is not a SCIM User (its `schemas` do not include `{SCIM_USER}`)"),
            ));
        }
    }
    let Some(id) = id else {
        return Err((None, "resource has no `externalId` or `id`".to_string()));
    };
    let fail = |error: String| (Some(id.clone()), error);

    let empty = Map::new();
    let extension = match obj.get(SCIM_ENTITLE_USER) {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(map)) => map,
        Some(_) => return Err(fail(format!("`{SCIM_ENTITLE_USER}` is not an object"))),
    };
    const EXTENSION_KEYS: [&str; 4] = ["kind", "owner", "attributes", "assignments"];
    if let Some(key) = extension.keys().find(|k| !EXTENSION_KEYS.contains(&k.as_str())) {
        let help = did_you_mean(key, EXTENSION_KEYS).map(|h| format!(" ({h})")).unwrap_or_default();
        return Err(fail(format!("unknown field `{key}` in `{SCIM_ENTITLE_USER}`{help}")));
    }
    let kind = extension.get("kind").cloned().unwrap_or_else(|| Value::from("person"));

    let mut attributes = Map::new();
    let declared = |name: &str| defs.identity.attributes.get(name);
    if let Some(active) = obj.get("active").filter(|v| !v.is_null()) {
        let active = active
            .as_bool()
            .ok_or_else(|| fail(format!("`active` should be true or false, found `{active}`")))?;
        let status = if active { "active" } else { "terminated" };
        if let Some(AttrType::Enum(values)) = declared("status").map(|d| &d.ty) {
            if values.iter().any(|v| v == status) {
                attributes.insert("status".into(), Value::from(status));
            }
        }
    }
    if let (Some(def), Some(user_type)) = (declared("worker_type"), nonempty_str(obj.get("userType"))) {
        let value = match &def.ty {
            AttrType::Enum(values) => values
                .iter()
                .find(|v| **v == user_type)
                .or_else(|| values.iter().find(|v| v.eq_ignore_ascii_case(&user_type)))
                .cloned()
                .unwrap_or(user_type),
            _ => user_type,
        };
        attributes.insert("worker_type".into(), scim_value(def, &Value::from(value)).map_err(fail)?);
    }
    let enterprise = obj.get(SCIM_ENTERPRISE_USER).and_then(Value::as_object).unwrap_or(&empty);
    let mapped: [(&str, Option<&Value>); 8] = [
        ("job_title", obj.get("title")),
        ("display_name", obj.get("displayName")),
        ("employee_number", enterprise.get("employeeNumber")),
        ("cost_center", enterprise.get("costCenter")),
        ("organization", enterprise.get("organization")),
        ("division", enterprise.get("division")),
        ("department", enterprise.get("department")),
        ("manager", enterprise.get("manager").and_then(|m| m.get("value"))),
    ];
    for (name, value) in mapped {
        let (Some(def), Some(value)) = (declared(name), value) else {
            continue;
        };
        if value.is_null() || value.as_str().is_some_and(|s| s.trim().is_empty()) {
            continue;
        }
        attributes.insert(name.to_string(), scim_value(def, value).map_err(fail)?);
    }
    match extension.get("attributes") {
        None | Some(Value::Null) => {}
        Some(Value::Object(explicit)) => attributes.extend(explicit.iter().map(|(k, v)| (k.clone(), v.clone()))),
        Some(_) => return Err(fail(format!("`attributes` in `{SCIM_ENTITLE_USER}` is not an object"))),
    }

    let mut record = Map::new();
    record.insert("id".into(), Value::from(id.clone()));
    record.insert("kind".into(), kind);
    record.insert("attributes".into(), Value::Object(attributes));
    for key in ["owner", "assignments"] {
        if let Some(value) = extension.get(key) {
            record.insert(key.into(), value.clone());
        }
    }
    Ok(Value::Object(record))
}

/// A SCIM value for a declared attribute: strings are converted by the declared type.
fn scim_value(def: &AttributeDef, value: &Value) -> Result<Value, String> {
    match value.as_str() {
        Some(text) => text_to_json(&def.name, &def.ty, text.trim()),
        None => Ok(value.clone()),
    }
}

/// A text value (a CSV cell, a SCIM string) in the JSON shape its declared type reads.
fn text_to_json(name: &str, ty: &AttrType, text: &str) -> Result<Value, String> {
    Ok(match ty {
        AttrType::Int => Value::from(
            text.parse::<i64>()
                .map_err(|_| format!("attribute `{name}` should be a whole number, found `{text}`"))?,
        ),
        AttrType::Bool => match text.to_ascii_lowercase().as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err(format!("attribute `{name}` should be `true` or `false`, found `{text}`")),
        },
        AttrType::Set => Value::Array(
            text.split(';')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Value::from(s.to_string()))
                .collect(),
        ),
        AttrType::String | AttrType::Enum(_) | AttrType::Date => Value::from(text.to_string()),
    })
}

/// What a CSV column holds.
enum Column<'a> {
    Id,
    Kind,
    Owner,
    Attribute(&'a AttributeDef),
}

fn read_csv(file: &str, text: &str, feed: &mut Collector<'_>) -> Result<(), InputError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    let header = match records.next() {
        None => return Err(InputError::CsvNoHeader { file: file.to_string() }),
        Some(Err(e)) => return Err(csv_error(file, &e)),
        Some(Ok(header)) => header,
    };
    let header_line = csv_line(&header);
    let defs = feed.defs;
    let names: Vec<&str> = header.iter().collect();
    if !names.contains(&"id") && !names.contains(&"kind") {
        return Err(InputError::CsvMissingColumn {
            file: file.to_string(),
            line: header_line,
            column: "id".into(),
        });
    }
    let mut columns = Vec::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        if names[..i].contains(name) {
            return Err(InputError::CsvDuplicateColumn {
                file: file.to_string(),
                line: header_line,
                column: name.to_string(),
            });
        }
        columns.push(match *name {
            "id" => Column::Id,
            "kind" => Column::Kind,
            "owner" => Column::Owner,
            _ => match defs.identity.attributes.get(*name) {
                Some(def) => Column::Attribute(def),
                None => {
                    let help = if name.is_empty() {
                        " (a column has no name)".to_string()
                    } else if *name == "assignments" {
                        " (assignments cannot be expressed in CSV: use JSON Lines or SCIM)".to_string()
                    } else {
                        let known = ["id", "kind", "owner"]
                            .into_iter()
                            .chain(defs.identity.attributes.keys().map(String::as_str));
                        did_you_mean(name, known).map(|h| format!(" ({h})")).unwrap_or_default()
                    };
                    return Err(InputError::CsvUnknownColumn {
                        file: file.to_string(),
                        line: header_line,
                        column: name.to_string(),
                        help,
                    });
                }
            },
        });
    }
    for required in ["id", "kind"] {
        if !names.contains(&required) {
            return Err(InputError::CsvMissingColumn {
                file: file.to_string(),
                line: header_line,
                column: required.into(),
            });
        }
    }
    for row in records {
        let row = row.map_err(|e| csv_error(file, &e))?;
        let line = csv_line(&row);
        let id_cell = names
            .iter()
            .position(|n| *n == "id")
            .and_then(|i| row.get(i))
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        if row.len() != columns.len() {
            feed.invalid(
                line,
                id_cell,
                format!("record has {} fields, the header has {}", row.len(), columns.len()),
            );
            continue;
        }
        let mut record = Map::new();
        let mut attributes = Map::new();
        let mut error = None;
        for (column, cell) in columns.iter().zip(row.iter()) {
            if cell.is_empty() {
                continue;
            }
            match column {
                Column::Id => {
                    record.insert("id".into(), Value::from(cell));
                }
                Column::Kind => {
                    record.insert("kind".into(), Value::from(cell));
                }
                Column::Owner => {
                    record.insert("owner".into(), Value::from(cell));
                }
                Column::Attribute(def) => match text_to_json(&def.name, &def.ty, cell) {
                    Ok(value) => {
                        attributes.insert(def.name.clone(), value);
                    }
                    Err(e) => {
                        error = Some(e);
                        break;
                    }
                },
            }
        }
        match error {
            Some(error) => feed.invalid(line, id_cell, error),
            None => {
                record.insert("attributes".into(), Value::Object(attributes));
                feed.record(line, &Value::Object(record));
            }
        }
    }
    Ok(())
}

fn csv_line(record: &csv::StringRecord) -> u32 {
    record.position().map_or(1, |p| u32::try_from(p.line()).unwrap_or(u32::MAX))
}

/// A CSV reader error as an [`InputError`] at its line.
pub(super) fn csv_error(file: &str, e: &csv::Error) -> InputError {
    let line = e.position().map_or(1, |p| u32::try_from(p.line()).unwrap_or(u32::MAX));
    InputError::Syntax {
        file: file.to_string(),
        line,
        column: 1,
        message: format!("the CSV cannot be read ({e})"),
    }
}

// ---------------------------------------------------------------------------
// Shared by the identity and live readers: bounded reading, decoding, and
// walking JSON while keeping the byte offset (and so the line) of each value.

/// Reads `path` (`-` for standard input) into memory, refusing more than
/// [`MAX_INPUT_BYTES`]. Returns the name to use in messages and the bytes.
pub fn read_bounded(path: &Path) -> Result<(String, Vec<u8>), InputError> {
    if path == Path::new("-") {
        let file = "<stdin>".to_string();
        let bytes = read_limited(&file, std::io::stdin().lock(), MAX_INPUT_BYTES)?;
        return Ok((file, bytes));
    }
    let file = path.display().to_string();
    let io = |source| InputError::Io {
        file: file.clone(),
        source,
    };
    let handle = std::fs::File::open(path).map_err(io)?;
    let metadata = handle.metadata().map_err(io)?;
    if metadata.is_file() && metadata.len() > MAX_INPUT_BYTES {
        return Err(InputError::TooLarge {
            file,
            limit: MAX_INPUT_BYTES,
        });
    }
    let bytes = read_limited(&file, handle, MAX_INPUT_BYTES)?;
    Ok((file, bytes))
}

fn read_limited(file: &str, reader: impl Read, limit: u64) -> Result<Vec<u8>, InputError> {
    let mut bytes = Vec::new();
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|source| InputError::Io {
            file: file.to_string(),
            source,
        })?;
    if bytes.len() as u64 > limit {
        return Err(InputError::TooLarge {
            file: file.to_string(),
            limit,
        });
    }
    Ok(bytes)
}

/// The lowercase hex SHA-256 of `bytes`.
pub(super) fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().fold(String::with_capacity(64), |mut hex, b| {
        use std::fmt::Write as _;
        let _ = write!(hex, "{b:02x}");
        hex
    })
}

/// The input as text, without a leading byte-order mark.
pub(super) fn decode_utf8<'a>(file: &str, bytes: &'a [u8]) -> Result<&'a str, InputError> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(text.strip_prefix('\u{feff}').unwrap_or(text)),
        Err(e) => Err(InputError::NotUtf8 {
            file: file.to_string(),
            line: count_lines(&bytes[..e.valid_up_to()]),
        }),
    }
}

fn count_lines(bytes: &[u8]) -> u32 {
    let newlines = bytes.iter().filter(|b| **b == b'\n').count();
    u32::try_from(newlines).unwrap_or(u32::MAX).saturating_add(1)
}

/// Refuses a line longer than [`MAX_LINE_BYTES`].
pub(super) fn check_line_lengths(file: &str, text: &str) -> Result<(), InputError> {
    check_line_lengths_with(file, text, MAX_LINE_BYTES)
}

fn check_line_lengths_with(file: &str, text: &str, limit: usize) -> Result<(), InputError> {
    for (i, line) in text.split('\n').enumerate() {
        if line.len() > limit {
            let line = u32::try_from(i).unwrap_or(u32::MAX).saturating_add(1);
            return Err(InputError::LineTooLong {
                file: file.to_string(),
                line,
                limit,
            });
        }
    }
    Ok(())
}

/// Maps byte offsets to 1-based lines and columns; cheap when offsets grow.
pub(super) struct LineCounter<'a> {
    text: &'a str,
    offset: usize,
    line: u32,
}

impl<'a> LineCounter<'a> {
    /// A counter at the start of `text`.
    pub(super) fn new(text: &'a str) -> Self {
        LineCounter { text, offset: 0, line: 1 }
    }

    /// The line of byte `offset`.
    pub(super) fn line_at(&mut self, offset: usize) -> u32 {
        let offset = offset.min(self.text.len());
        if offset < self.offset {
            self.offset = 0;
            self.line = 1;
        }
        let newlines = self.text.as_bytes()[self.offset..offset].iter().filter(|b| **b == b'\n').count();
        self.line = self.line.saturating_add(u32::try_from(newlines).unwrap_or(u32::MAX));
        self.offset = offset;
        self.line
    }

    /// The 1-based column (in characters) of byte `offset`.
    pub(super) fn column_at(&self, offset: usize) -> u32 {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let start = self.text[..offset].rfind('\n').map_or(0, |i| i + 1);
        u32::try_from(self.text[start..offset].chars().count())
            .unwrap_or(u32::MAX)
            .saturating_add(1)
    }
}

/// A JSON syntax error at a byte offset of the whole input.
pub(super) struct JsonError {
    /// Where it is.
    pub(super) offset: usize,
    /// What is wrong (serde_json's words, without its position).
    pub(super) message: String,
}

/// The byte range of one JSON value in the input.
#[derive(Debug, Clone, Copy)]
pub(super) struct Span {
    /// The first byte.
    pub(super) start: usize,
    /// One past the last byte.
    pub(super) end: usize,
}

/// The offset of the first non-whitespace byte at or after `pos`.
pub(super) fn skip_ws(text: &str, pos: usize) -> usize {
    let bytes = text.as_bytes();
    let mut pos = pos.min(bytes.len());
    while pos < bytes.len() && matches!(bytes[pos], b' ' | b'\t' | b'\r' | b'\n') {
        pos += 1;
    }
    pos
}

/// Parses one JSON value starting at `pos`, returning it and the offset just after it.
pub(super) fn parse_value_at<'de, T: serde::Deserialize<'de>>(text: &'de str, pos: usize) -> Result<(T, usize), JsonError> {
    let mut stream = serde_json::Deserializer::from_str(&text[pos..]).into_iter::<T>();
    match stream.next() {
        Some(Ok(value)) => Ok((value, pos + stream.byte_offset())),
        Some(Err(e)) => Err(error_at(text, pos, &e)),
        None => Err(JsonError {
            offset: text.len(),
            message: "unexpected end of input".into(),
        }),
    }
}

fn error_at(text: &str, pos: usize, e: &serde_json::Error) -> JsonError {
    let slice = &text[pos..];
    let mut line_start = 0;
    for _ in 1..e.line() {
        match slice[line_start..].find('\n') {
            Some(i) => line_start += i + 1,
            None => break,
        }
    }
    let offset = pos + (line_start + e.column().saturating_sub(1)).min(slice.len());
    JsonError {
        offset,
        message: serde_message(e),
    }
}

/// serde_json's message without its " at line L column C" (we report our own position).
pub(super) fn serde_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// The elements of the JSON array whose `[` is at `pos`, and the offset after its `]`.
pub(super) fn array_spans(text: &str, pos: usize) -> Result<(Vec<Span>, usize), JsonError> {
    let bytes = text.as_bytes();
    if bytes.get(pos) != Some(&b'[') {
        return Err(JsonError {
            offset: pos,
            message: "expected a JSON array".into(),
        });
    }
    let mut spans = Vec::new();
    let mut pos = skip_ws(text, pos + 1);
    if bytes.get(pos) == Some(&b']') {
        return Ok((spans, pos + 1));
    }
    loop {
        let (IgnoredAny, end) = parse_value_at::<IgnoredAny>(text, pos)?;
        spans.push(Span { start: pos, end });
        pos = skip_ws(text, end);
        match bytes.get(pos) {
            Some(b',') => pos = skip_ws(text, pos + 1),
            Some(b']') => return Ok((spans, pos + 1)),
            Some(_) => {
                return Err(JsonError {
                    offset: pos,
                    message: "expected `,` or `]`".into(),
                })
            }
            None => {
                return Err(JsonError {
                    offset: pos,
                    message: "unexpected end of input in a JSON array".into(),
                })
            }
        }
    }
}

/// The entries of the JSON object whose `{` is at `pos`, and the offset after its `}`.
pub(super) fn object_spans(text: &str, pos: usize) -> Result<(Vec<(String, Span)>, usize), JsonError> {
    let bytes = text.as_bytes();
    if bytes.get(pos) != Some(&b'{') {
        return Err(JsonError {
            offset: pos,
            message: "expected a JSON object".into(),
        });
    }
    let mut entries = Vec::new();
    let mut pos = skip_ws(text, pos + 1);
    if bytes.get(pos) == Some(&b'}') {
        return Ok((entries, pos + 1));
    }
    loop {
        if bytes.get(pos) != Some(&b'"') {
            return Err(JsonError {
                offset: pos,
                message: "expected a key in double quotes".into(),
            });
        }
        let (key, end) = parse_value_at::<String>(text, pos)?;
        pos = skip_ws(text, end);
        if bytes.get(pos) != Some(&b':') {
            return Err(JsonError {
                offset: pos,
                message: "expected `:`".into(),
            });
        }
        pos = skip_ws(text, pos + 1);
        let (IgnoredAny, end) = parse_value_at::<IgnoredAny>(text, pos)?;
        entries.push((key, Span { start: pos, end }));
        pos = skip_ws(text, end);
        match bytes.get(pos) {
            Some(b',') => pos = skip_ws(text, pos + 1),
            Some(b'}') => return Ok((entries, pos + 1)),
            Some(_) => {
                return Err(JsonError {
                    offset: pos,
                    message: "expected `,` or `}`".into(),
                })
            }
            None => {
                return Err(JsonError {
                    offset: pos,
                    message: "unexpected end of input in a JSON object".into(),
                })
            }
        }
    }
}

/// Whether the JSON object at `start` has a `schemas` key (the mark of a SCIM document).
fn has_schemas_key(text: &str, start: usize) -> bool {
    object_spans(text, start).is_ok_and(|(entries, _)| entries.iter().any(|(k, _)| k == "schemas"))
}

/// Calls `each` with the line, start offset and value (or syntax error) of
/// every top-level JSON value from `from` on. After a syntax error, reading
/// resumes at the next line.
pub(super) fn json_stream(
    text: &str,
    from: usize,
    lines: &mut LineCounter<'_>,
    mut each: impl FnMut(u32, usize, Result<Value, JsonError>) -> Result<(), InputError>,
) -> Result<(), InputError> {
    let mut pos = skip_ws(text, from);
    while pos < text.len() {
        let line = lines.line_at(pos);
        match parse_value_at::<Value>(text, pos) {
            Ok((value, end)) => {
                each(line, pos, Ok(value))?;
                pos = skip_ws(text, end);
            }
            Err(e) => {
                each(line, pos, Err(e))?;
                pos = skip_ws(text, next_line_start(text, pos));
            }
        }
    }
    Ok(())
}

fn next_line_start(text: &str, pos: usize) -> usize {
    text[pos..].find('\n').map_or(text.len(), |i| pos + i + 1)
}

/// The rest of the line from `pos`.
fn line_text(text: &str, pos: usize) -> &str {
    let rest = &text[pos..];
    rest.find('\n').map_or(rest, |i| &rest[..i])
}

/// The id of a record too malformed to parse, when `"id": "..."` can be found in its line.
fn scan_id(line: &str) -> Option<String> {
    // Only the record's own top-level `"id"` counts: a nested one (`{"meta": {"id": ...}}`)
    // would name the wrong identity, and a wrong guess could let an orphaned-account
    // revocation through. Strings are skipped whole, so braces inside them do not count.
    let bytes = line.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth = depth.saturating_sub(1),
            b'"' => {
                let start = i + 1;
                let end = string_end(bytes, start)?;
                let is_key = line[end + 1..].trim_start().starts_with(':');
                if depth == 1 && is_key && &line[start..end] == "id" {
                    let after = line[end + 1..].trim_start().strip_prefix(':')?.trim_start();
                    let value = after.strip_prefix('"')?;
                    let close = value.find('"')?;
                    let id = &value[..close];
                    return (!id.contains('\\') && !id.trim().is_empty()).then(|| id.to_string());
                }
                i = end;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The index of the quote closing the JSON string that starts at `start`.
fn string_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut i = start;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// The SCIM ListResponse at `start`, as the spans of its `Resources`.
///
/// `Ok(None)` when the input is not a JSON object with `schemas` (so not SCIM)
/// and `required` is false; with `required`, that is an error too.
pub(super) fn scim_document(
    file: &str,
    text: &str,
    start: usize,
    lines: &mut LineCounter<'_>,
    required: bool,
) -> Result<Option<Vec<Span>>, InputError> {
    if text.as_bytes().get(start) != Some(&b'{') {
        return if required {
            Err(not_scim(file, lines, start, "it is not a JSON object"))
        } else {
            Ok(None)
        };
    }
    let (entries, end) = match object_spans(text, start) {
        Ok(walked) => walked,
        // A broken (often truncated) SCIM export must not be read as JSON Lines:
        // the mark of a ListResponse before the error says what it was meant to be.
        Err(e) if required || contains(&text.as_bytes()[start..e.offset.clamp(start, text.len())], SCIM_LIST_RESPONSE) => {
            return Err(json_syntax(file, lines, e));
        }
        Err(_) => return Ok(None),
    };
    let entry = |key: &str| entries.iter().find(|(k, _)| k == key).map(|(_, span)| &text[span.start..span.end]);
    let Some(schemas) = entry("schemas") else {
        return if required {
            Err(not_scim(file, lines, start, "it has no `schemas`"))
        } else {
            Ok(None)
        };
    };
    let schemas: Value = serde_json::from_str(schemas).unwrap_or(Value::Null);
    let is_list = schemas
        .as_array()
        .is_some_and(|s| s.iter().any(|s| s.as_str() == Some(SCIM_LIST_RESPONSE)));
    if !is_list {
        return Err(not_scim(file, lines, start, &format!("its `schemas` are `{schemas}`")));
    }
    trailing_text(file, text, end, lines, "the SCIM document")?;
    let resources = entries
        .iter()
        .find(|(k, _)| k == "Resources")
        .or_else(|| entries.iter().find(|(k, _)| k.eq_ignore_ascii_case("resources")));
    let spans = match resources {
        None => Vec::new(),
        Some((_, span)) if text.as_bytes().get(span.start) == Some(&b'[') => {
            array_spans(text, span.start).map_err(|e| json_syntax(file, lines, e))?.0
        }
        Some((_, span)) => {
            let line = lines.line_at(span.start);
            let column = lines.column_at(span.start);
            return Err(InputError::Syntax {
                file: file.to_string(),
                line,
                column,
                message: "`Resources` is not a list".into(),
            });
        }
    };
    let total = entry("totalResults")
        .and_then(|t| serde_json::from_str::<Value>(t).ok())
        .and_then(|t| t.as_u64());
    if let Some(total) = total {
        let present = spans.len() as u64;
        if total > present {
            return Err(InputError::ScimIncomplete {
                file: file.to_string(),
                line: lines.line_at(start),
                present,
                total,
            });
        }
    }
    Ok(Some(spans))
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

fn not_scim(file: &str, lines: &mut LineCounter<'_>, start: usize, detail: &str) -> InputError {
    InputError::NotScimListResponse {
        file: file.to_string(),
        line: lines.line_at(start),
        detail: detail.to_string(),
    }
}

fn trailing_text(file: &str, text: &str, end: usize, lines: &mut LineCounter<'_>, what: &str) -> Result<(), InputError> {
    let rest = skip_ws(text, end);
    if rest < text.len() {
        return Err(syntax(file, lines, rest, format!("unexpected text after {what}")));
    }
    Ok(())
}

/// A syntax error at byte `offset`.
pub(super) fn syntax(file: &str, lines: &mut LineCounter<'_>, offset: usize, message: String) -> InputError {
    InputError::Syntax {
        file: file.to_string(),
        line: lines.line_at(offset),
        column: lines.column_at(offset),
        message,
    }
}

/// A JSON syntax error in a document that must be read whole.
pub(super) fn json_syntax(file: &str, lines: &mut LineCounter<'_>, e: JsonError) -> InputError {
    // An unexpected end is reported after the last text, not on the empty line after a final newline.
    let offset = e.offset.min(lines.text.trim_end().len());
    syntax(file, lines, offset, format!("the JSON document cannot be read ({})", e.message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{load, SourceFile};
    use crate::state::AttrValue;

    const SCHEMA: &str = r#"
identity:
  attributes:
    status: { type: enum, values: [pre_hire, active, leave, terminated], required: true }
    department: { type: string }
    worker_type: { type: enum, values: [employee, contractor, intern] }
    clearance: { type: int }
    remote: { type: bool }
    tags: { type: set }
    start_date: { type: date }
    job_title: { type: string }
    manager: { type: string }
    employee_number: { type: int }
    environment: { type: enum, values: [dev, prod], kinds: [service_account, agent] }
applications:
  - id: app
    entitlements:
      - id: read
roles:
  - id: oncall
    assignable: true
    when: { department: Engineering }
    max_duration: 30d
    grants: [app:read]
"#;

    fn defs() -> Definitions {
        let (defs, diags) = load(&[SourceFile {
            name: "t.yaml".into(),
            text: SCHEMA.into(),
        }]);
        assert!(diags.is_empty(), "{diags:?}");
        defs
    }

    fn parse(file: &str, text: &str) -> IdentityFeed {
        parse_identities(file, text.as_bytes(), None, &defs()).unwrap()
    }

    fn parse_err(file: &str, text: &str) -> String {
        parse_identities(file, text.as_bytes(), None, &defs()).unwrap_err().to_string()
    }

    fn ids(feed: &IdentityFeed) -> Vec<&str> {
        feed.identities.iter().map(|i| i.id.as_str()).collect()
    }

    fn invalid(feed: &IdentityFeed) -> Vec<(u32, Option<&str>, &str)> {
        feed.invalid.iter().map(|r| (r.line, r.id.as_deref(), r.error.as_str())).collect()
    }

    #[test]
    fn detects_formats_by_extension_then_content() {
        let scim = format!(r#"{{"schemas": ["{SCIM_LIST_RESPONSE}"], "Resources": []}}"#);
        assert_eq!(IdentityFormat::detect("a.jsonl", "x"), IdentityFormat::JsonLines);
        assert_eq!(IdentityFormat::detect("a.NDJSON", "x"), IdentityFormat::JsonLines);
        assert_eq!(IdentityFormat::detect("a.csv", "{"), IdentityFormat::Csv);
        assert_eq!(IdentityFormat::detect("a.json", "[]"), IdentityFormat::Json);
        assert_eq!(IdentityFormat::detect("a.json", &scim), IdentityFormat::Scim);
        assert_eq!(IdentityFormat::detect("-", &scim), IdentityFormat::Scim);
        assert_eq!(IdentityFormat::detect("-", " \n{\"id\": 1}"), IdentityFormat::JsonLines);
        assert_eq!(IdentityFormat::detect("feed.txt", "[{}]"), IdentityFormat::Json);
        assert_eq!(IdentityFormat::detect("-", "id,kind\n"), IdentityFormat::Csv);
        assert_eq!("JSONL".parse::<IdentityFormat>(), Ok(IdentityFormat::JsonLines));
        assert_eq!(
            "scm".parse::<IdentityFormat>().unwrap_err(),
            "unknown identity format `scm` (did you mean `scim`?)"
        );
    }

    #[test]
    fn reads_json_lines_with_blank_lines_and_a_hash() {
        let text = "{\"id\": \"u-1\", \"kind\": \"person\", \"attributes\": {\"status\": \"active\"}}\n\n\
                    {\"id\": \"svc\", \"kind\": \"service_account\", \"owner\": \"u-1\", \"attributes\": {\"status\": \"active\", \"environment\": \"prod\"}}\n";
        let feed = parse("people.jsonl", text);
        assert_eq!(ids(&feed), ["u-1", "svc"]);
        assert_eq!(feed.identities[1].owner.as_deref(), Some("u-1"));
        assert!(feed.invalid.is_empty());
        assert_eq!(feed.file, "people.jsonl");
        assert_eq!(feed.sha256, sha256_hex(text.as_bytes()));
        assert_eq!(feed.sha256.len(), 64);
    }

    #[test]
    fn a_malformed_json_line_is_invalid_and_reading_continues() {
        let text = "{\"id\": \"u-1\", \"kind\": \"person\", \"attributes\": {\"status\": \"active\"}}\n\
                    {\"id\": \"u-2\", \"kind\": \"person\", \"attributes\": {\"status\": \"act\n\
                    {\"kind\": \"person\", oops}\n\
                    {\"id\": \"u-3\", \"kind\": \"person\", \"attributes\": {\"status\": \"actve\"}}\n\
                    {\"id\": \"u-4\", \"kind\": \"person\", \"attributes\": {\"status\": \"leave\"}}";
        let feed = parse("-", text);
        assert_eq!(ids(&feed), ["u-1", "u-4"]);
        let bad = invalid(&feed);
        assert_eq!(bad.len(), 3, "{bad:?}");
        assert_eq!((bad[0].0, bad[0].1), (2, Some("u-2")));
        assert!(bad[0].2.starts_with("record is not valid JSON ("), "{}", bad[0].2);
        assert_eq!((bad[1].0, bad[1].1), (3, None));
        assert_eq!(
            bad[2],
            (4, Some("u-3"), "unknown value `actve` for `status` (did you mean `active`?)")
        );
        assert_eq!(feed.unreadable_ids(), 1);
    }

    #[test]
    fn a_truncated_last_line_is_invalid() {
        let text = "{\"id\": \"u-1\", \"kind\": \"person\", \"attributes\": {\"status\": \"active\"}}\n{\"id\": \"u-2\", \"ki";
        let feed = parse("x.jsonl", text);
        assert_eq!(ids(&feed), ["u-1"]);
        assert_eq!(feed.invalid[0].line, 2);
        assert_eq!(feed.invalid[0].id.as_deref(), Some("u-2"));
        assert!(feed.invalid[0].error.contains("EOF"), "{}", feed.invalid[0].error);
    }

    #[test]
    fn a_single_object_over_many_lines_is_one_record() {
        let text = "\n{\n  \"id\": \"u-1\",\n  \"kind\": \"person\",\n  \"attributes\": {\"status\": \"active\"}\n}\n";
        for file in ["-", "one.json", "one.jsonl"] {
            let feed = parse(file, text);
            assert_eq!(ids(&feed), ["u-1"], "{file}");
        }
        let feed = parse("-", "{\"id\": \"u-1\", \"kind\": \"robot\"}");
        assert_eq!(invalid(&feed), [(1, Some("u-1"), "unknown kind `robot`")]);
    }

    #[test]
    fn reads_a_json_array_with_element_lines() {
        let text = "[\n  {\"id\": \"u-1\", \"kind\": \"person\", \"attributes\": {\"status\": \"active\"}},\n  {\n    \"id\": \"u-2\",\n    \"kind\": \"person\"\n  },\n  42\n]\n";
        let feed = parse("people.json", text);
        assert_eq!(ids(&feed), ["u-1"]);
        assert_eq!(
            invalid(&feed),
            [
                (3, Some("u-2"), "required attribute `status` is missing"),
                (7, None, "record is not a JSON object")
            ]
        );
        assert_eq!(ids(&parse("-", text)), ["u-1"]);
    }

    #[test]
    fn a_broken_json_array_is_an_input_error_at_its_line() {
        let text = "[\n  {\"id\": \"u-1\", \"kind\": \"person\"},\n  {\"id\": \"u-2\" \"kind\": \"person\"}\n]";
        assert_eq!(
            parse_err("people.json", text),
            "people.json:3:16: the JSON document cannot be read (expected `,` or `}`)"
        );
        assert_eq!(
            parse_err("people.json", "[{\"id\": \"u-1\"}] x"),
            "people.json:1:17: unexpected text after the JSON array"
        );
        assert_eq!(
            parse_err("people.json", "id,kind"),
            "people.json:1:1: expected a JSON array or object of identity records"
        );
    }

    #[test]
    fn duplicate_ids_are_both_invalid() {
        let text = "{\"id\": \"u-1\", \"kind\": \"person\", \"attributes\": {\"status\": \"active\"}}\n\
                    {\"id\": \"u-2\", \"kind\": \"person\", \"attributes\": {\"status\": \"active\"}}\n\
                    {\"id\": \"u-1\", \"kind\": \"person\", \"attributes\": {\"status\": \"leave\"}}\n\
                    {\"id\": \"u-2\", \"kind\": \"person\", \"attributes\": {\"status\": \"bogus\"}}\n";
        let feed = parse("x.jsonl", text);
        assert!(feed.identities.is_empty(), "{:?}", feed.identities);
        assert_eq!(
            invalid(&feed),
            [
                (1, Some("u-1"), "duplicate id `u-1`, also at line 3"),
                (2, Some("u-2"), "duplicate id `u-2`, also at line 4"),
                (3, Some("u-1"), "duplicate id `u-1`, also at line 1"),
                (4, Some("u-2"), "unknown value `bogus` for `status`"),
            ]
        );
    }

    #[test]
    fn reads_csv_with_types_sets_and_empty_cells() {
        let text = "id,kind,status,clearance,remote,tags,start_date,department\n\
                    u-1,person,active,2,TRUE,\"people-manager; oncall ;\",2024-03-01,Finance\n\
                    u-2,person,leave,,,,,\n\
                    u-3 , person , active ,x,,,,\n\
                    u-4,person,active,1,maybe,,,\n\
                    u-5,person,active,1\n\
                    u-6,person,active,,,;,,\n";
        let feed = parse("people.csv", text);
        assert_eq!(ids(&feed), ["u-1", "u-2", "u-6"]);
        let u1 = &feed.identities[0];
        assert_eq!(u1.attributes["clearance"], AttrValue::Int(2));
        assert_eq!(u1.attributes["remote"], AttrValue::Bool(true));
        assert_eq!(
            u1.attributes["tags"],
            AttrValue::Set(["oncall".to_string(), "people-manager".to_string()].into())
        );
        assert_eq!(u1.attributes["department"], AttrValue::Str("Finance".into()));
        assert!(matches!(u1.attributes["start_date"], AttrValue::Date(_)));
        assert_eq!(feed.identities[1].attributes.keys().collect::<Vec<_>>(), ["status"]);
        assert_eq!(feed.identities[2].attributes["tags"], AttrValue::Set(Default::default()));
        assert_eq!(
            invalid(&feed),
            [
                (4, Some("u-3"), "attribute `clearance` should be a whole number, found `x`"),
                (5, Some("u-4"), "attribute `remote` should be `true` or `false`, found `maybe`"),
                (6, Some("u-5"), "record has 4 fields, the header has 8"),
            ]
        );
    }

    #[test]
    fn csv_owner_column_quoted_newlines_and_detection_by_content() {
        let text = "id,kind,owner,status,department\n\
                    u-1,person,,active,\"Research\nand Development\"\n\
                    svc,service_account,u-1,active,\n";
        let feed = parse("-", text);
        assert_eq!(ids(&feed), ["u-1", "svc"]);
        assert_eq!(feed.identities[1].owner.as_deref(), Some("u-1"));
        let text = "id,kind,status\nu-1,person,\"active\nu-2,person,active\n";
        let feed = parse("-", text);
        assert!(feed.identities.is_empty());
        assert_eq!((feed.invalid[0].line, feed.invalid[0].id.as_deref()), (2, Some("u-1")));
    }

    #[test]
    fn csv_header_problems_are_input_errors() {
        assert_eq!(
            parse_err("p.csv", ""),
            "p.csv:1: the CSV has no header line (the first line must name the columns, such as `id,kind,status`)"
        );
        assert_eq!(
            parse_err("p.csv", "u-1,person,active\n"),
            "p.csv:1: the CSV header has no `id` column (the first line must name the columns, such as `id,kind,status`)"
        );
        assert_eq!(
            parse_err("p.csv", "id,status\nu-1,active\n"),
            "p.csv:1: the CSV header has no `kind` column (the first line must name the columns, such as `id,kind,status`)"
        );
        assert_eq!(
            parse_err("p.csv", "id,kind,departmnt\n"),
            "p.csv:1: unknown column `departmnt` in the CSV header (did you mean `department`?)"
        );
        assert_eq!(
            parse_err("p.csv", "id,kind,assignments\n"),
            "p.csv:1: unknown column `assignments` in the CSV header (assignments cannot be expressed in CSV: use JSON Lines or SCIM)"
        );
        assert_eq!(
            parse_err("p.csv", "id,kind,id\n"),
            "p.csv:1: column `id` appears twice in the CSV header"
        );
        let feed = parse("p.csv", "id,kind,status\n");
        assert!(feed.identities.is_empty() && feed.invalid.is_empty());
    }

    fn scim(resources: &str) -> String {
        format!(
            "{{\n  \"schemas\": [\"{SCIM_LIST_RESPONSE}\"],\n  \"totalResults\": {},\n  \"Resources\": [\n{resources}\n  ]\n}}\n",
            resources.matches("\"userName\"").count()
        )
    }

    #[test]
    fn maps_scim_users() {
        let text = scim(&format!(
            r#"    {{"schemas": ["{SCIM_USER}", "{SCIM_ENTERPRISE_USER}"], "id": "2819c223", "externalId": "u-1",
      "userName": "bjensen", "active": true, "userType": "Employee", "title": "Tour Guide",
      "emails": [{{"value": "b@example.com"}}],
      "{SCIM_ENTERPRISE_USER}": {{"department": "Tour Operations", "employeeNumber": "701984",
        "costCenter": "4130", "manager": {{"value": "u-9", "displayName": "John Smith"}}}}}},
    {{"id": "u-2", "userName": "left", "active": false, "userType": "Contractor"}},
    {{"id": "u-3", "userName": "odd", "active": true, "userType": "Vendor"}},
    {{"id": "agent-1", "userName": "agent",
      "{SCIM_ENTITLE_USER}": {{"kind": "agent", "owner": "u-1",
         "attributes": {{"status": "active", "environment": "prod", "tags": ["llm"]}}}}}},
    {{"id": "u-5", "userName": "oncall", "active": true,
      "{SCIM_ENTITLE_USER}": {{"attributes": {{"status": "leave", "department": "Engineering"}},
         "assignments": [{{"role": "oncall", "starts": "2026-11-01T00:00:00Z", "expires": "2026-11-15T00:00:00Z"}}]}}}}"#
        ));
        let feed = parse("users.json", &text);
        assert_eq!(ids(&feed), ["u-1", "u-2", "agent-1", "u-5"], "{:?}", feed.invalid);
        let u1 = &feed.identities[0];
        assert_eq!(u1.kind, "person");
        assert_eq!(u1.attributes["status"], AttrValue::Str("active".into()));
        assert_eq!(u1.attributes["worker_type"], AttrValue::Str("employee".into()));
        assert_eq!(u1.attributes["job_title"], AttrValue::Str("Tour Guide".into()));
        assert_eq!(u1.attributes["department"], AttrValue::Str("Tour Operations".into()));
        assert_eq!(u1.attributes["employee_number"], AttrValue::Int(701_984));
        assert_eq!(u1.attributes["manager"], AttrValue::Str("u-9".into()));
        assert_eq!(u1.attributes.len(), 6, "undeclared SCIM attributes are skipped");
        let u2 = &feed.identities[1];
        assert_eq!(u2.attributes["status"], AttrValue::Str("terminated".into()));
        assert_eq!(u2.attributes["worker_type"], AttrValue::Str("contractor".into()));
        let agent = &feed.identities[2];
        assert_eq!((agent.kind.as_str(), agent.owner.as_deref()), ("agent", Some("u-1")));
        let u5 = &feed.identities[3];
        assert_eq!(u5.attributes["status"], AttrValue::Str("leave".into()), "explicit attributes win");
        assert_eq!(u5.assignments.len(), 1);
        assert_eq!(invalid(&feed), [(11, Some("u-3"), "unknown value `Vendor` for `worker_type`")]);
        assert_eq!(ids(&parse("-", &text)), ["u-1", "u-2", "agent-1", "u-5"]);
        let forced = parse_identities("users.txt", text.as_bytes(), Some(IdentityFormat::Scim), &defs()).unwrap();
        assert_eq!(forced.identities.len(), 4);
    }

    #[test]
    fn scim_resource_problems_are_invalid_records() {
        let text = scim(&format!(
            r#"{{"userName": "noid"}},
{{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "id": "g-1", "userName": "x"}},
{{"id": "u-3", "userName": "x", "active": "yes"}},
{{"id": "u-4", "userName": "x", "{SCIM_ENTITLE_USER}": {{"attrs": {{}}}}}}"#
        ));
        let feed = parse("users.json", &text);
        assert!(feed.identities.is_empty());
        assert_eq!(
            invalid(&feed),
            [
                (5, None, "resource has no `externalId` or `id`"),
                (
                    6,
                    Some("g-1"),
                    "resource is not a SCIM User (its `schemas` do not include `urn:ietf:params:scim:schemas:core:2.0:User`)"
                ),
                (7, Some("u-3"), "`active` should be true or false, found `\"yes\"`"),
                (
                    8,
                    Some("u-4"),
                    "unknown field `attrs` in `urn:entitle:params:scim:schemas:extension:identity:1.0:User` (did you mean `attributes`?)"
                ),
            ]
        );
    }

    #[test]
    fn scim_document_problems_are_input_errors() {
        let user = r#"{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "u-1"}"#;
        assert_eq!(
            parse_err("u.json", user),
            "u.json:1: the document is not a SCIM 2.0 ListResponse (its `schemas` are `[\"urn:ietf:params:scim:schemas:core:2.0:User\"]`)"
        );
        let page =
            format!(r#"{{"schemas": ["{SCIM_LIST_RESPONSE}"], "totalResults": 200, "itemsPerPage": 1, "Resources": [{{"id": "u-1"}}]}}"#);
        assert_eq!(
            parse_err("u.json", &page),
            "u.json:1: the SCIM ListResponse holds 1 of its 200 resources (export every page into one document)"
        );
        let broken = format!("{{\"schemas\": [\"{SCIM_LIST_RESPONSE}\"],\n \"Resources\": [{{\"id\": \"u-1\"}}\n");
        let err = parse_identities("u.json", broken.as_bytes(), Some(IdentityFormat::Scim), &defs()).unwrap_err();
        assert_eq!(err.line(), Some(2));
        assert!(err.to_string().starts_with("u.json:2:"), "{err}");
        let err = parse_identities("u.json", b"[]", Some(IdentityFormat::Scim), &defs()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "u.json:1: the document is not a SCIM 2.0 ListResponse (it is not a JSON object)"
        );
        let empty = format!(r#"{{"schemas": ["{SCIM_LIST_RESPONSE}"], "totalResults": 0}}"#);
        assert!(parse("u.json", &empty).identities.is_empty());
    }

    #[test]
    fn a_truncated_scim_export_is_an_input_error_not_json_lines() {
        let text = scim(
            r#"    {"id": "u-1", "userName": "a", "active": true},
    {"id": "u-2", "userName": "b", "active": true}"#,
        );
        let cut = &text[..text.find("\"u-2\"").unwrap()];
        let err = parse_identities("-", cut.as_bytes(), None, &defs()).unwrap_err();
        assert!(matches!(err, InputError::Syntax { line: 6, .. }), "{err}");
        assert!(err.to_string().starts_with("-:6:"), "{err}");
    }

    #[test]
    fn non_utf8_input_names_the_line() {
        let err = parse_identities("p.jsonl", b"{\"id\": \"a\"}\n{\"id\": \"\xff\"}\n", None, &defs()).unwrap_err();
        assert_eq!(err.to_string(), "p.jsonl:2: the input is not valid UTF-8 (save it as UTF-8)");
        assert_eq!((err.file(), err.line()), ("p.jsonl", Some(2)));
    }

    #[test]
    fn a_byte_order_mark_is_ignored() {
        let feed = parse("p.csv", "\u{feff}id,kind,status\nu-1,person,active\n");
        assert_eq!(ids(&feed), ["u-1"]);
    }

    #[test]
    fn inputs_are_bounded() {
        let err = read_limited("big", &b"0123456789"[..], 9).unwrap_err();
        assert_eq!(err.to_string(), "big: the input is larger than the limit of 9 bytes");
        assert_eq!(read_limited("ok", &b"0123456789"[..], 10).unwrap().len(), 10);
        let err = check_line_lengths_with("x.jsonl", "{}\n0123456789\n", 9).unwrap_err();
        assert_eq!(err.to_string(), "x.jsonl:2: the line is longer than the limit of 9 bytes");
        let long = format!("{{\"id\": \"{}\"}}\n", "a".repeat(MAX_LINE_BYTES));
        let err = parse_identities("x.jsonl", long.as_bytes(), None, &defs()).unwrap_err();
        assert!(matches!(err, InputError::LineTooLong { line: 1, .. }), "{err}");
    }

    #[test]
    fn deep_nesting_is_an_invalid_record_not_a_crash() {
        let text = format!(
            "{}\n{{\"id\": \"u-1\", \"kind\": \"person\", \"attributes\": {{\"status\": \"active\"}}}}\n",
            "[".repeat(100_000)
        );
        let feed = parse("x.jsonl", &text);
        assert_eq!(ids(&feed), ["u-1"]);
        assert_eq!(feed.invalid.len(), 1);
        assert!(feed.invalid[0].error.contains("recursion limit"), "{}", feed.invalid[0].error);
    }

    #[test]
    fn reads_files_and_reports_unreadable_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("people.csv");
        std::fs::write(&path, "id,kind,status\nu-1,person,active\n").unwrap();
        let feed = read_identities(&path, None, &defs()).unwrap();
        assert_eq!(ids(&feed), ["u-1"]);
        assert_eq!(feed.file, path.display().to_string());
        let missing = dir.path().join("missing.jsonl");
        let err = read_identities(&missing, None, &defs()).unwrap_err();
        assert!(matches!(err, InputError::Io { .. }));
        assert!(
            err.to_string()
                .starts_with(&format!("{}: cannot read the file: ", missing.display())),
            "{err}"
        );
    }

    #[test]
    fn empty_input_is_an_empty_feed() {
        for file in ["-", "x.jsonl", "x.json"] {
            let feed = parse(file, "  \n");
            assert!(feed.identities.is_empty() && feed.invalid.is_empty(), "{file}");
        }
    }

    #[test]
    fn duplicate_ids_on_one_line_are_both_invalid() {
        let one = r#"{"id": "u-1", "kind": "person", "attributes": {"status": "active"}}"#;
        let feed = parse("x.jsonl", &format!("{one} {one}\n"));
        assert!(feed.identities.is_empty());
        assert_eq!(invalid(&feed), [(1, Some("u-1"), "duplicate id `u-1`, also at line 1"); 2]);
    }

    #[test]
    fn a_malformed_record_with_a_readable_id_still_blocks_its_duplicate() {
        let text = "{\"id\": \"u-1\", \"kind\": \"person\", \"attributes\": {\"status\": \"active\"}}\n{\"id\": \"u-1\", \"kind\": pers\n";
        let feed = parse("x.jsonl", text);
        assert!(feed.identities.is_empty());
        assert_eq!(feed.invalid[0].error, "duplicate id `u-1`, also at line 2");
        assert_eq!(feed.unreadable_ids(), 0);
    }

    #[test]
    fn reads_the_example_organisation() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut diags = Vec::new();
        let sources = crate::model::read_tree(&root.join("roles"), &["yaml", "yml"], &mut diags);
        let (defs, load_diags) = load(&sources);
        assert!(diags.is_empty(), "{diags:?}");
        assert!(
            !load_diags.iter().any(|d| d.severity == crate::diag::Severity::Error),
            "{load_diags:?}"
        );
        let feed = read_identities(&root.join("fixtures/identities.jsonl"), None, &defs).unwrap();
        assert!(feed.identities.len() > 10);
        assert!(feed.invalid.is_empty(), "{:?}", feed.invalid);
        // Round trip: every valid record reads back the same through JSON Lines and JSON.
        let jsonl: String = feed.identities.iter().map(|i| format!("{}\n", i.to_json())).collect();
        let again = parse_identities("again.jsonl", jsonl.as_bytes(), None, &defs).unwrap();
        assert_eq!(again.identities, feed.identities);
        let array = serde_json::to_string_pretty(&feed.identities.iter().map(IdentityState::to_json).collect::<Vec<_>>()).unwrap();
        let again = parse_identities("again.json", array.as_bytes(), None, &defs).unwrap();
        assert_eq!(again.identities, feed.identities);
    }

    #[test]
    fn scan_id_reads_plain_ids_only() {
        assert_eq!(scan_id(r#"{"kind": "id", "id" : "u-7", "x"#).as_deref(), Some("u-7"));
        assert_eq!(scan_id(r#"{"id": "a\"b"}"#), None);
        assert_eq!(scan_id(r#"{"id": 5}"#), None);
        assert_eq!(scan_id(r#"{"id": "u-8"#), None);
        assert_eq!(scan_id(r#"{"meta": {"id": "x"}, "id": "u-2", "kind"#).as_deref(), Some("u-2"));
        assert_eq!(scan_id(r#"{"meta": {"id": "x"}, "kind": "person""#), None);
        assert_eq!(scan_id(r#"{"note": "{\"id\": \"x\"", "id": "u-3""#).as_deref(), Some("u-3"));
    }
}

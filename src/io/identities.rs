//! Identity feeds: HR and non-human-identity exports read into validated
//! [`IdentityState`]s, with every record that cannot be used listed by line,
//! and every stretch of the feed whose ids are not certain said so.
//!
//! This module owns reading an identity feed (the contract is in
//! [`crate::io`]). It never drops a record silently and never half-uses one:
//! a record is either a valid [`IdentityState`] or an [`InvalidRecord`] with
//! the line where it starts (spec §8: a bad record never deprovisions
//! anyone). Where it cannot be sure which ids part of the feed holds, it
//! lists an [`UncertainStretch`]; while there is one, nobody may be treated
//! as absent from the feed. Problems with the file as a whole (unreadable,
//! not UTF-8, too large, a CSV header or a JSON document that cannot be read,
//! a SCIM export that does not prove it is complete) are an [`InputError`]
//! instead, because a feed we cannot read through must not be half-used
//! either. It decides nothing about what an identity holds.
//!
//! # Formats
//!
//! | format | detected by | records |
//! |---|---|---|
//! | JSON Lines | `.jsonl`, `.ndjson`; content starting with `{` | one JSON object per record (spec §4); a record may span lines; blank lines are skipped; a record that is not valid JSON is invalid, its lines are an uncertain stretch, and reading resumes at the next line starting with `{` |
//! | JSON | `.json`; content starting with `[` | an array of records, or a single record; a syntax error in the document is an [`InputError`] |
//! | CSV | `.csv`; any other content | header `id,kind,<attr>...` plus an optional `owner` column |
//! | SCIM 2.0 | a JSON object whose `schemas` hold `urn:ietf:params:scim:api:messages:2.0:ListResponse` | the `Resources` of a User ListResponse (RFC 7643/7644), mapped below |
//!
//! An explicit format wins over the extension, the extension over the
//! content. A JSON object with a `schemas` key (in any letter case) is always
//! read as SCIM (an identity record cannot have that key), and must then be a
//! ListResponse. In every JSON format a key written twice in a record, at any
//! depth, makes the record invalid (and, when the key is `id`, its id
//! unknown).
//!
//! Every record, whatever its format, is validated by
//! [`IdentityState::from_json`]: ids are never trimmed (` u-1` is invalid in
//! CSV as in JSON), attribute text is trimmed in every format (see
//! [`crate::state`]).
//!
//! # CSV
//!
//! The header names the columns: `id` and `kind` are required, `owner` is
//! optional, every other column must be a declared attribute (an unknown
//! column is an [`InputError`] with a "did you mean"). Cells are read
//! strictly (RFC 4180; see `io/csv.rs`). An empty cell means the attribute
//! (or owner) is absent; other cells are passed on as written, and the
//! record's validation trims attribute text and refuses ids with surrounding
//! whitespace. Cells are converted by the attribute's declared type: `int` to
//! a number, `bool` from `true`/`false` (any case), `set` split on `;` with
//! blank members dropped (a cell holding only `;` is the empty set), `date`,
//! `string` and `enum` as text. Assignments of assignable roles cannot be
//! expressed in CSV: use JSON Lines or SCIM.
//!
//! CSV is not self-delimiting, so these records are invalid **and** an
//! uncertain stretch (their id, when shown, is a guess):
//!
//! - a row with more or fewer cells than the header (a comma too many shifts
//!   the columns; a line break splits a record);
//! - a quoting fault (a quote never closed, text after a closing quote, a
//!   quote inside an unquoted cell); after one spanning several lines,
//!   reading resumes at the line after its first, so rows a stray quote
//!   swallowed are read again;
//! - a record spanning several lines (a quoted cell holding a line break).
//!
//! A last record without a final line break may have been cut short by a
//! partial write, and is invalid too (end the file with a line break).
//!
//! # SCIM 2.0
//!
//! Each User resource becomes one record. SCIM attribute names and schema
//! URNs are case-insensitive (RFC 7643 §2.1). SCIM carries many attributes
//! the identity schema does not declare; those are skipped. A mapped value
//! that is a string is converted by the declared type as in CSV, and a blank
//! string is absent.
//!
//! | SCIM | entitle |
//! |---|---|
//! | `externalId`, else `id` | `id` (the identifier the provisioning source assigned, usually the HR id); an `externalId` that is present (not null) must be a non-empty string, with no fallback to `id` |
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
//! rather than silently missing its worker type. A ListResponse is read only
//! when it proves it is complete (`totalResults` a whole number equal to the
//! resources it holds, the first page; see `io/scim.rs`): a truncated or paged
//! feed must not look like leavers.
//!
//! Note that SCIM group members (see [`crate::io::live`]) reference users by
//! their SCIM `id`; when users carry an `externalId` that differs from their
//! `id`, identity and live state exported from the same SCIM service will not
//! match.

use std::borrow::Cow;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use rayon::prelude::*;
use serde_json::{Map, Value};

use super::csv::{lines_phrase, CsvReader};
use super::json::{array_spans, json_syntax, line_text, parse_record, scan_id, skip_ws, trailing_text, KeyFault, Keys, Span};
use super::scim::{has_schemas_key, list_response, lists_schema, member};
use super::text::{check_line_lengths, decode_utf8, read_bounded, sha256_hex, syntax, LineCounter};
use crate::diag::did_you_mean;
use crate::model::{AttrType, AttributeDef, Definitions};
use crate::state::{check_id, is_forbidden_char, shown, IdentityState, StringPool};

pub use super::scim::{SCIM_ENTERPRISE_USER, SCIM_ENTITLE_USER, SCIM_LIST_RESPONSE, SCIM_USER};
pub use super::text::{ReadBudget, MAX_INPUT_BYTES, MAX_LINE_BYTES, MAX_RUN_INPUT_BYTES};
pub use super::InputError;

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
                Err(format!("unknown identity format `{}`{help}", shown(s)))
            }
        }
    }
}

/// A record of an identity feed that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InvalidRecord {
    /// The 1-based line where the record starts.
    pub line: u32,
    /// The record's id, when it could be read (see `id_uncertain`).
    pub id: Option<String>,
    /// The id was read from a damaged record (a guess, such as the first cell
    /// of a CSV row whose columns are shifted): it may be wrong. It still
    /// keeps that identity from being treated as absent, and the record is
    /// part of an [`UncertainStretch`].
    pub id_uncertain: bool,
    /// What is wrong: one lowercase sentence naming the field.
    pub error: String,
}

/// Lines of a feed whose ids the reader cannot be sure of: a record whose id
/// is unknown or a guess, or text that may hide records (a cut JSON Lines
/// record glued to the next, a CSV quote swallowing rows, shifted columns).
///
/// While a feed has one, no identity may be treated as absent from it (the
/// stretch may hold them): `plan` makes no `orphaned-account` revocation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UncertainStretch {
    /// The first line.
    pub first_line: u32,
    /// The last line (equal to `first_line` for one line).
    pub last_line: u32,
    /// Why, one sentence (the invalid record's error).
    pub reason: String,
}

impl UncertainStretch {
    /// "line 4" or "lines 4–9".
    pub fn lines(&self) -> String {
        lines_phrase(self.first_line, self.last_line)
    }
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
    /// The stretches whose ids are not certain, by line (see [`UncertainStretch`]).
    pub uncertain: Vec<UncertainStretch>,
    /// The format its records were read in (a single JSON object reads as JSON Lines).
    pub format: IdentityFormat,
    /// The line where each valid record starts, parallel to `identities`.
    lines: Vec<u32>,
}

impl IdentityFeed {
    /// The feed with its records replaced — what-if's population after HR
    /// edits. The file, hash, format and uncertain stretches stay those of
    /// the feed read; a record keeps the line of the record with its id, and
    /// a record the feed did not have gets line 0.
    pub fn edited(&self, identities: Vec<IdentityState>, invalid: Vec<InvalidRecord>) -> IdentityFeed {
        let lines_by_id: std::collections::HashMap<&str, u32> =
            self.identities.iter().zip(&self.lines).map(|(i, l)| (i.id.as_str(), *l)).collect();
        let lines = identities
            .iter()
            .map(|i| lines_by_id.get(i.id.as_str()).copied().unwrap_or(0))
            .collect();
        IdentityFeed {
            file: self.file.clone(),
            sha256: self.sha256.clone(),
            identities,
            invalid,
            uncertain: self.uncertain.clone(),
            format: self.format,
            lines,
        }
    }

    /// The line where the valid record `identities[index]` starts.
    pub fn line_of(&self, index: usize) -> Option<u32> {
        self.lines.get(index).copied()
    }

    /// Can the reader vouch for every id in the feed? While it cannot, nobody
    /// may be treated as missing from the feed.
    pub fn is_certain(&self) -> bool {
        self.uncertain.is_empty()
    }

    /// The uncertainty of the feed in one clause, for messages that hold
    /// something back because of it: "line 19 of `people.jsonl` could not be
    /// read with certainty (record is not valid JSON (...))", naming the first
    /// stretch and how many more there are. `None` when the feed is certain.
    pub fn uncertainty(&self) -> Option<String> {
        let first = self.uncertain.first()?;
        let more = match self.uncertain.len() - 1 {
            0 => String::new(),
            1 => " and 1 more stretch".to_string(),
            n => format!(" and {n} more stretches"),
        };
        Some(format!(
            "{} of `{}`{more} could not be read with certainty ({})",
            first.lines(),
            shown(&self.file),
            first.reason
        ))
    }
}

impl IdentityFeed {
    /// A feed of records already read and validated elsewhere — a test
    /// suite's inline identities — each with the line it starts at in `file`.
    /// Its hash is that of the records as JSON Lines, in order.
    pub fn from_records(file: impl Into<String>, records: Vec<(IdentityState, u32)>) -> IdentityFeed {
        let mut jsonl = String::new();
        for (record, _) in &records {
            jsonl.push_str(&record.to_json().to_string());
            jsonl.push('\n');
        }
        let (identities, lines) = records.into_iter().unzip();
        IdentityFeed {
            file: file.into(),
            sha256: sha256_hex(jsonl.as_bytes()),
            identities,
            invalid: Vec::new(),
            uncertain: Vec::new(),
            format: IdentityFormat::Json,
            lines,
        }
    }
}

/// Reads and validates an identity feed from `path` (`-` for standard input).
///
/// `format` overrides detection (see the module documentation). The file may
/// be up to [`MAX_INPUT_BYTES`]; to bound several inputs of one command
/// together, use [`read_identities_within`].
pub fn read_identities(path: &Path, format: Option<IdentityFormat>, defs: &Definitions) -> Result<IdentityFeed, InputError> {
    read_identities_within(path, format, defs, &ReadBudget::per_run())
}

/// [`read_identities`], charging the bytes read to `budget` (the run's inputs together).
pub fn read_identities_within(
    path: &Path,
    format: Option<IdentityFormat>,
    defs: &Definitions,
    budget: &ReadBudget,
) -> Result<IdentityFeed, InputError> {
    let (file, bytes) = read_bounded(path, budget)?;
    parse_identities(&file, &bytes, format, defs)
}

/// Reads and validates an identity feed held in `bytes`; `file` names it in
/// messages and drives detection by extension.
pub fn parse_identities(file: &str, bytes: &[u8], format: Option<IdentityFormat>, defs: &Definitions) -> Result<IdentityFeed, InputError> {
    let sha256 = sha256_hex(bytes);
    let text = decode_utf8(file, bytes)?;
    let mut feed = Collector::new(defs);
    let mut lines = LineCounter::new(text);
    let start = skip_ws(text, 0);
    let first = text.as_bytes().get(start).copied();
    let detected = format.unwrap_or_else(|| IdentityFormat::detect(file, text));
    if matches!(detected, IdentityFormat::JsonLines | IdentityFormat::Csv) {
        // About one record per line: the list of identities is allocated once, not doubled as it grows.
        feed.reserve(text.bytes().filter(|b| *b == b'\n').count().saturating_add(1));
    }
    match format.or_else(|| IdentityFormat::from_extension(file)) {
        Some(IdentityFormat::Csv) => read_csv(file, text, &mut feed)?,
        Some(IdentityFormat::Scim) => match list_response(file, text, start, &mut lines, true)? {
            Some(resources) => read_scim_users(text, &resources, &mut lines, &mut feed),
            None => {
                return Err(InputError::NotScimListResponse {
                    file: file.to_string(),
                    line: lines.line_at(start),
                    detail: "it has no `schemas`".into(),
                })
            }
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

/// What is known of the id of a record that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
enum RecordId {
    /// Read from the record as written.
    Known(String),
    /// Read from a damaged record: it may be wrong.
    Guessed(String),
    /// Not readable.
    Unknown,
}

impl RecordId {
    /// A guess from text that should have been the id: the text without
    /// invisible characters and surrounding whitespace, when that is an id.
    fn guess(text: Option<&str>) -> RecordId {
        let Some(text) = text else { return RecordId::Unknown };
        let cleaned: String = text.chars().filter(|c| !is_forbidden_char(*c)).collect();
        let cleaned = cleaned.trim();
        match check_id("`id`", cleaned) {
            Ok(()) => RecordId::Guessed(cleaned.to_string()),
            Err(_) => RecordId::Unknown,
        }
    }

    /// The id of a record in JSON shape: known when it is a valid id, a guess when it is damaged text.
    fn of(record: &Value) -> RecordId {
        match record.get("id") {
            Some(Value::String(id)) if check_id("`id`", id).is_ok() => RecordId::Known(id.clone()),
            Some(Value::String(id)) => RecordId::guess(Some(id)),
            _ => RecordId::Unknown,
        }
    }

    fn id(&self) -> Option<&str> {
        match self {
            RecordId::Known(id) | RecordId::Guessed(id) => Some(id),
            RecordId::Unknown => None,
        }
    }
}

/// A record that failed: what is known of its id, and why.
#[derive(Debug)]
struct Failure {
    id: RecordId,
    error: String,
}

impl Failure {
    /// A failure whose message is safe to show whatever it quotes: every
    /// record's error passes here, so a value quoted without
    /// [`crate::state::shown`] still cannot put a control or invisible
    /// character into a message (escaping is idempotent).
    fn new(id: RecordId, error: impl Into<String>) -> Failure {
        let error = error.into();
        let error = match crate::term::one_line(&error) {
            Cow::Borrowed(_) => error,
            Cow::Owned(escaped) => escaped,
        };
        Failure { id, error }
    }
}

/// An invalid record while reading: its place in the input, its lines, what failed.
struct Rejected {
    /// How many valid records came before it (its place among them).
    valid_before: u32,
    first_line: u32,
    last_line: u32,
    failure: Failure,
}

/// A parsed record validated against the definitions: invalid when a key is
/// repeated or damaged (its id unknown if `id` is the repeated key), or when
/// [`IdentityState::from_json_pooled`] refuses it.
fn judge(value: &Value, repeated: &[KeyFault], keys: Keys, defs: &Definitions, pool: &mut StringPool) -> Result<IdentityState, Failure> {
    if let Some(first) = repeated.first() {
        let id_repeated = repeated.iter().any(|r| r.is_top_level("id", keys));
        let id = if id_repeated { RecordId::Unknown } else { RecordId::of(value) };
        return Err(Failure::new(id, first.sentence("record")));
    }
    IdentityState::from_json_pooled(value, defs, pool).map_err(|error| Failure::new(RecordId::of(value), error))
}

/// Collects records in input order, then applies the duplicate-id rule.
///
/// Valid records go straight into the list the feed keeps, with only their
/// line beside them (4 bytes each): no second copy of the population, and no
/// per-record bookkeeping beyond what the feed keeps, while reading.
struct Collector<'a> {
    defs: &'a Definitions,
    /// The format the records were read in (set by the reader that runs).
    format: IdentityFormat,
    pool: StringPool,
    identities: Vec<IdentityState>,
    /// The first line of each valid record.
    lines: Vec<u32>,
    rejected: Vec<Rejected>,
}

impl<'a> Collector<'a> {
    fn new(defs: &'a Definitions) -> Self {
        Collector {
            defs,
            format: IdentityFormat::JsonLines,
            pool: StringPool::default(),
            identities: Vec::new(),
            lines: Vec::new(),
            rejected: Vec::new(),
        }
    }

    fn reserve(&mut self, records: usize) {
        self.identities.reserve(records);
        self.lines.reserve(records);
    }

    /// A record in the JSON shape of spec §4, validated.
    fn record(&mut self, first_line: u32, last_line: u32, value: &Value) {
        let judged = judge(value, &[], Keys::Exact, self.defs, &mut self.pool);
        self.take(first_line, last_line, judged);
    }

    /// A record parsed strictly: invalid when a key is repeated or damaged.
    fn strict_record(&mut self, first_line: u32, last_line: u32, value: &Value, repeated: &[KeyFault], keys: Keys) {
        let judged = judge(value, repeated, keys, self.defs, &mut self.pool);
        self.take(first_line, last_line, judged);
    }

    /// A record already judged, kept in input order.
    fn take(&mut self, first_line: u32, last_line: u32, judged: Result<IdentityState, Failure>) {
        match judged {
            Ok(state) => {
                self.identities.push(state);
                self.lines.push(first_line);
            }
            Err(failure) => self.invalid(first_line, last_line, failure),
        }
    }

    fn invalid(&mut self, first_line: u32, last_line: u32, failure: Failure) {
        self.rejected.push(Rejected {
            valid_before: u32::try_from(self.identities.len()).unwrap_or(u32::MAX),
            first_line,
            last_line,
            failure,
        });
    }

    /// Spec §8: two records with the same id are both invalid, since either
    /// could be the truth (a guessed id counts: it may be the same person).
    /// A record already invalid keeps its own error.
    fn finish(mut self, file: &str, sha256: String) -> IdentityFeed {
        let also_at = self.duplicates();
        // Valid records whose id is repeated become invalid, in place.
        let mut index = 0;
        let mut moved: Vec<(u32, Rejected)> = Vec::new();
        let mut kept_lines = Vec::with_capacity(self.lines.len());
        let lines = &self.lines;
        self.identities.retain(|state| {
            let i = index;
            index += 1;
            let line = lines[i];
            match also_at.binary_search_by_key(&(i as u32), |(j, _)| *j) {
                Ok(found) => {
                    let other = also_at[found].1;
                    let rejected = Rejected {
                        valid_before: i as u32,
                        first_line: line,
                        last_line: line,
                        failure: Failure::new(
                            RecordId::Known(state.id.clone()),
                            format!("duplicate id `{}`, also at line {other}", shown(&state.id)),
                        ),
                    };
                    moved.push((i as u32, rejected));
                    false
                }
                Err(_) => {
                    kept_lines.push(line);
                    true
                }
            }
        });
        drop(also_at);
        // Input order: an invalid record read when `valid_before` valid ones were, comes before valid record `valid_before`.
        let mut all: Vec<((u32, u8, usize), Rejected)> = self
            .rejected
            .into_iter()
            .enumerate()
            .map(|(j, r)| ((r.valid_before, 0, j), r))
            .chain(moved.into_iter().map(|(i, r)| ((i, 1, 0), r)))
            .collect();
        all.sort_by_key(|(key, _)| *key);

        let mut uncertain = Vec::new();
        let invalid = all
            .into_iter()
            .map(|(_, r)| {
                let (id, id_uncertain) = match r.failure.id {
                    RecordId::Known(id) => (Some(id), false),
                    RecordId::Guessed(id) => (Some(id), true),
                    RecordId::Unknown => (None, true),
                };
                if id_uncertain {
                    uncertain.push(UncertainStretch {
                        first_line: r.first_line,
                        last_line: r.last_line,
                        reason: r.failure.error.clone(),
                    });
                }
                InvalidRecord {
                    line: r.first_line,
                    id,
                    id_uncertain,
                    error: r.failure.error,
                }
            })
            .collect();
        uncertain.sort_by_key(|s| (s.first_line, s.last_line));
        IdentityFeed {
            file: file.to_string(),
            sha256,
            identities: self.identities,
            invalid,
            uncertain,
            format: self.format,
            lines: kept_lines,
        }
    }

    /// The valid records whose id another record also has, by index, each with
    /// the line of the first other record with that id (in input order).
    fn duplicates(&self) -> Vec<(u32, u32)> {
        let id = |i: u32| self.identities[i as usize].id.as_str();
        // The first invalid record of each id (invalid records are few, and already in input order).
        let mut rejected: std::collections::HashMap<&str, (u32, u32)> = std::collections::HashMap::new();
        for r in &self.rejected {
            if let Some(id) = r.failure.id.id() {
                rejected.entry(id).or_insert((r.valid_before, r.first_line));
            }
        }
        // Valid records sorted by id, then input order: 4 bytes each.
        let mut order: Vec<u32> = (0..u32::try_from(self.identities.len()).unwrap_or(u32::MAX)).collect();
        order.sort_unstable_by(|a, b| id(*a).cmp(id(*b)).then(a.cmp(b)));
        let mut also_at = Vec::new();
        for group in order.chunk_by(|a, b| id(*a) == id(*b)) {
            let invalid = rejected.get(id(group[0])).copied();
            if group.len() == 1 && invalid.is_none() {
                continue;
            }
            for (k, &i) in group.iter().enumerate() {
                let valid = if k == 0 { group.get(1).copied() } else { Some(group[0]) }.map(|j| (j, self.lines[j as usize]));
                let other = match (valid, invalid) {
                    // The invalid one comes first when it was read before valid record `j`.
                    (Some((j, line)), Some((before, invalid_line))) => Some(if before <= j { invalid_line } else { line }),
                    (Some((_, line)), None) => Some(line),
                    (None, Some((_, invalid_line))) => Some(invalid_line),
                    (None, None) => None,
                };
                if let Some(other) = other {
                    also_at.push((i, other));
                }
            }
        }
        also_at.sort_unstable();
        also_at
    }
}

/// JSON Lines, a single object, or a SCIM document (an object with `schemas`).
fn read_objects(file: &str, text: &str, start: usize, lines: &mut LineCounter<'_>, feed: &mut Collector<'_>) -> Result<(), InputError> {
    feed.format = IdentityFormat::JsonLines;
    if let Some(resources) = list_response(file, text, start, lines, false)? {
        read_scim_users(text, &resources, lines, feed);
        return Ok(());
    }
    check_line_lengths(file, text)?;
    read_json_lines(text, start, PIECE_BYTES, lines, feed);
    Ok(())
}

/// The records of a JSON Lines feed from `start`, read in pieces of about `piece_bytes`.
fn read_json_lines(text: &str, start: usize, piece_bytes: usize, lines: &mut LineCounter<'_>, feed: &mut Collector<'_>) {
    // Records are read on every core. The text is cut where a line starts a record (its first
    // non-blank character is `{`) and each piece is read from its start; a piece whose start is not
    // where the records before it end (a record over several lines, one of whose lines starts with
    // `{`) is read again from where they end. The records are those of one reading from the top.
    let start = skip_ws(text, start);
    let mut cuts = vec![start];
    loop {
        let last = cuts[cuts.len() - 1];
        // The line break at or after `piece_bytes` on (a byte search: that offset may fall inside a character).
        let after = last.saturating_add(piece_bytes.max(1)).min(text.len());
        let Some(newline) = text.as_bytes()[after..].iter().position(|b| *b == b'\n').map(|i| after + i) else {
            break;
        };
        let next = skip_ws(text, next_record_start(text, newline));
        if next >= text.len() || next <= last {
            break;
        }
        cuts.push(next);
    }
    cuts.push(text.len());
    let spans: Vec<(usize, usize)> = cuts.windows(2).map(|w| (w[0], w[1])).collect();
    let newlines: Vec<u32> = spans.par_iter().map(|&(from, to)| count_newlines(&text[from..to])).collect();
    let mut first_line = lines.line_at(start);
    let mut starts = Vec::with_capacity(spans.len());
    for n in &newlines {
        starts.push(first_line);
        first_line = first_line.saturating_add(*n);
    }
    let defs = feed.defs;
    let read: Vec<Piece> = spans
        .par_iter()
        .zip(starts.par_iter())
        .map(|(&(from, to), &line)| read_piece(text, from, to, line, defs))
        .collect();
    let mut at = start;
    for ((piece, (from, to)), line) in read.into_iter().zip(spans).zip(starts) {
        let piece = if piece.from == at {
            piece
        } else {
            // The records before ran into this piece: read it again from where they end.
            let line = LineCounter::starting_at(text, from, line).line_at(at);
            read_piece(text, at, to.max(at), line, defs)
        };
        for (first, last, judged) in piece.records {
            feed.take(first, last, judged);
        }
        at = piece.next;
    }
}

/// Bytes of JSON Lines read by one task (a piece ends at the first record starting after them).
const PIECE_BYTES: usize = 1 << 20;

/// The records read from one piece of a JSON Lines feed, judged.
struct Piece {
    /// Where reading started.
    from: usize,
    /// Where the records read end (the next record starts here): at or past the piece's end.
    next: usize,
    /// Each record's first and last line, and what it was judged.
    records: Vec<(u32, u32, Result<IdentityState, Failure>)>,
}

/// Reads the records starting in `from..to` (the last may end past `to`), `from` being on line `line`.
fn read_piece(text: &str, from: usize, to: usize, line: u32, defs: &Definitions) -> Piece {
    let mut lines = LineCounter::starting_at(text, from, line);
    let mut pool = StringPool::default();
    let mut records = Vec::new();
    let mut pos = from;
    while pos < to {
        let first_line = lines.line_at(pos);
        match parse_record(text, pos, Keys::Exact) {
            Ok((value, repeated, end)) => {
                let last_line = lines.line_at(end.saturating_sub(1).max(pos));
                records.push((first_line, last_line, judge(&value, &repeated, Keys::Exact, defs, &mut pool)));
                pos = skip_ws(text, end);
            }
            Err(e) => {
                // What follows the error up to the next line that starts a record belongs to
                // this broken record: a cut record glued to the next hides that one, so the
                // whole stretch is uncertain, and its id (from its first line) a guess.
                let resume = next_record_start(text, pos);
                let last_line = lines.line_at(resume.saturating_sub(1).max(pos));
                let id = RecordId::guess(scan_id(line_text(text, pos)).as_deref());
                records.push((
                    first_line,
                    last_line,
                    Err(Failure::new(id, format!("record is not valid JSON ({})", e.message))),
                ));
                pos = skip_ws(text, resume);
            }
        }
    }
    Piece { from, next: pos, records }
}

/// How many line breaks `text` holds.
fn count_newlines(text: &str) -> u32 {
    u32::try_from(text.bytes().filter(|b| *b == b'\n').count()).unwrap_or(u32::MAX)
}

/// The start of the first line after the one holding `pos` whose first
/// non-blank character is `{` (or the end of the text).
fn next_record_start(text: &str, pos: usize) -> usize {
    let mut at = pos;
    loop {
        at = match text[at..].find('\n') {
            Some(i) => at + i + 1,
            None => return text.len(),
        };
        if text[at..].trim_start_matches([' ', '\t', '\r']).starts_with('{') {
            return at;
        }
    }
}

fn read_json_array(file: &str, text: &str, start: usize, lines: &mut LineCounter<'_>, feed: &mut Collector<'_>) -> Result<(), InputError> {
    feed.format = IdentityFormat::Json;
    let (elements, end) = array_spans(text, start).map_err(|e| json_syntax(file, lines, e))?;
    trailing_text(file, text, end, lines, "the JSON array")?;
    for span in elements {
        let first_line = lines.line_at(span.start);
        let last_line = lines.line_at(span.end.saturating_sub(1).max(span.start));
        match parse_record(text, span.start, Keys::Exact) {
            Ok((value, repeated, _)) => feed.strict_record(first_line, last_line, &value, &repeated, Keys::Exact),
            // Already walked once with the array; kept for completeness.
            Err(e) => feed.invalid(
                first_line,
                last_line,
                Failure::new(RecordId::Unknown, format!("record is not valid JSON ({})", e.message)),
            ),
        }
    }
    Ok(())
}

fn read_scim_users(text: &str, resources: &[Span], lines: &mut LineCounter<'_>, feed: &mut Collector<'_>) {
    feed.format = IdentityFormat::Scim;
    for span in resources {
        let first_line = lines.line_at(span.start);
        let last_line = lines.line_at(span.end.saturating_sub(1).max(span.start));
        let (resource, repeated) = match parse_record(text, span.start, Keys::CaseInsensitive) {
            Ok((value, repeated, _)) => (value, repeated),
            Err(e) => {
                feed.invalid(
                    first_line,
                    last_line,
                    Failure::new(RecordId::Unknown, format!("resource is not valid JSON ({})", e.message)),
                );
                continue;
            }
        };
        if let Some(first) = repeated.first() {
            // A damaged key of the resource could have been its `externalId`: then its id is unknown.
            let id_repeated = repeated.iter().any(|r| {
                r.is_top_level("externalId", Keys::CaseInsensitive)
                    || r.is_top_level("id", Keys::CaseInsensitive)
                    || r.is_damaged_top_level()
            });
            let id = match resource.as_object() {
                Some(obj) if !id_repeated => scim_id(obj).unwrap_or_else(|f| f.id),
                _ => RecordId::Unknown,
            };
            let mut sentence = first.sentence("resource");
            if first.kind == super::json::KeyFaultKind::Repeated {
                sentence.push_str(" (SCIM attribute names ignore letter case)");
            }
            feed.invalid(first_line, last_line, Failure::new(id, sentence));
            continue;
        }
        match scim_user_record(&resource, feed.defs) {
            Ok(record) => feed.record(first_line, last_line, &record),
            Err(failure) => feed.invalid(first_line, last_line, failure),
        }
    }
}

/// The identity id of a SCIM User: `externalId` when present, else `id`.
fn scim_id(obj: &Map<String, Value>) -> Result<RecordId, Failure> {
    let (field, value) = match member(obj, "externalId") {
        None | Some(Value::Null) => ("id", member(obj, "id")),
        some => ("externalId", some),
    };
    match value {
        None | Some(Value::Null) => Err(Failure::new(RecordId::Unknown, "resource has no `externalId` or `id`")),
        Some(Value::String(id)) => match check_id(&format!("`{field}`"), id) {
            Ok(()) => Ok(RecordId::Known(id.clone())),
            Err(e) => Err(Failure::new(RecordId::guess(Some(id)), e)),
        },
        Some(other) => Err(Failure::new(
            RecordId::Unknown,
            format!("`{field}` should be a non-empty string, found `{}`", shown(&other.to_string())),
        )),
    }
}

/// Maps one SCIM User resource to a record in the JSON shape of spec §4 (see the module table).
fn scim_user_record(resource: &Value, defs: &Definitions) -> Result<Value, Failure> {
    let obj = resource
        .as_object()
        .ok_or_else(|| Failure::new(RecordId::Unknown, "resource is not a JSON object"))?;
    let id = scim_id(obj);
    if let Some(schemas) = member(obj, "schemas") {
        if !lists_schema(Some(schemas), super::scim::SCIM_USER) {
            let known = match &id {
                Ok(id) => id.clone(),
                Err(f) => f.id.clone(),
            };
            return Err(Failure::new(
                known,
                format!("resource is not a SCIM User (its `schemas` do not include `{SCIM_USER}`)"),
            ));
        }
    }
    let id = match id? {
        RecordId::Known(id) => id,
        other => return Err(Failure::new(other, "resource has no usable id")),
    };
    let fail = |error: String| Failure::new(RecordId::Known(id.clone()), error);

    let empty = Map::new();
    let extension = |urn: &str| -> Result<&Map<String, Value>, Failure> {
        match member(obj, urn) {
            None | Some(Value::Null) => Ok(&empty),
            Some(Value::Object(map)) => Ok(map),
            Some(_) => Err(fail(format!("`{urn}` is not an object"))),
        }
    };
    let entitle = extension(SCIM_ENTITLE_USER)?;
    let enterprise = extension(SCIM_ENTERPRISE_USER)?;
    const EXTENSION_KEYS: [&str; 4] = ["kind", "owner", "attributes", "assignments"];
    if let Some(key) = entitle.keys().find(|k| !EXTENSION_KEYS.iter().any(|e| e.eq_ignore_ascii_case(k))) {
        let help = did_you_mean(key, EXTENSION_KEYS).map(|h| format!(" ({h})")).unwrap_or_default();
        return Err(fail(format!("unknown field `{}` in `{SCIM_ENTITLE_USER}`{help}", shown(key))));
    }
    let kind = member(entitle, "kind").cloned().unwrap_or_else(|| Value::from("person"));

    let mut attributes = Map::new();
    let declared = |name: &str| defs.identity.attributes.get(name);
    if let Some(active) = member(obj, "active").filter(|v| !v.is_null()) {
        let active = active
            .as_bool()
            .ok_or_else(|| fail(format!("`active` should be true or false, found `{}`", shown(&active.to_string()))))?;
        let status = if active { "active" } else { "terminated" };
        if let Some(AttrType::Enum(values)) = declared("status").map(|d| &d.ty) {
            if values.iter().any(|v| v == status) {
                attributes.insert("status".into(), Value::from(status));
            }
        }
    }
    if let (Some(def), Some(Value::String(user_type))) = (declared("worker_type"), member(obj, "userType")) {
        let user_type = user_type.trim();
        if !user_type.is_empty() {
            let value = match &def.ty {
                AttrType::Enum(values) => values
                    .iter()
                    .find(|v| **v == user_type)
                    .or_else(|| values.iter().find(|v| v.eq_ignore_ascii_case(user_type)))
                    .map_or(user_type, String::as_str),
                _ => user_type,
            };
            if let Some(value) = text_to_json(def, value).map_err(fail)? {
                attributes.insert("worker_type".into(), value);
            }
        }
    }
    let mapped: [(&str, Option<&Value>); 8] = [
        ("job_title", member(obj, "title")),
        ("display_name", member(obj, "displayName")),
        ("employee_number", member(enterprise, "employeeNumber")),
        ("cost_center", member(enterprise, "costCenter")),
        ("organization", member(enterprise, "organization")),
        ("division", member(enterprise, "division")),
        ("department", member(enterprise, "department")),
        (
            "manager",
            member(enterprise, "manager")
                .and_then(Value::as_object)
                .and_then(|m| member(m, "value")),
        ),
    ];
    for (name, value) in mapped {
        let (Some(def), Some(value)) = (declared(name), value) else {
            continue;
        };
        let value = match value {
            Value::Null => None,
            Value::String(text) => text_to_json(def, text).map_err(fail)?,
            other => Some(other.clone()),
        };
        if let Some(value) = value {
            attributes.insert(name.to_string(), value);
        }
    }
    match member(entitle, "attributes") {
        None | Some(Value::Null) => {}
        Some(Value::Object(explicit)) => attributes.extend(explicit.iter().map(|(k, v)| (k.clone(), v.clone()))),
        Some(_) => return Err(fail(format!("`attributes` in `{SCIM_ENTITLE_USER}` is not an object"))),
    }

    let mut record = Map::new();
    record.insert("id".into(), Value::from(id.clone()));
    record.insert("kind".into(), kind);
    record.insert("attributes".into(), Value::Object(attributes));
    for key in ["owner", "assignments"] {
        if let Some(value) = member(entitle, key) {
            record.insert(key.into(), value.clone());
        }
    }
    Ok(Value::Object(record))
}

/// A text value (a CSV cell, a SCIM string) in the JSON shape its declared
/// type reads; `None` when blank. Text types stay as written: the record's
/// validation trims them and refuses invisible characters, as for JSON.
fn text_to_json(def: &AttributeDef, text: &str) -> Result<Option<Value>, String> {
    let name = def.name.as_str();
    if text.trim().is_empty() {
        return Ok(None);
    }
    let clean = || crate::state::clean_text(name, text).map(Option::unwrap_or_default);
    Ok(Some(match &def.ty {
        AttrType::String | AttrType::Enum(_) | AttrType::Date => Value::from(text),
        AttrType::Int => {
            let text = clean()?;
            Value::from(
                text.parse::<i64>()
                    .map_err(|_| format!("attribute `{name}` should be a whole number, found `{}`", shown(text)))?,
            )
        }
        AttrType::Bool => match clean()?.to_ascii_lowercase().as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            other => return Err(format!("attribute `{name}` should be `true` or `false`, found `{}`", shown(other))),
        },
        AttrType::Set => Value::Array(text.split(';').map(Value::from).collect()),
    }))
}

/// What a CSV column holds.
enum Column<'a> {
    Id,
    Kind,
    Owner,
    Attribute(&'a AttributeDef),
}

fn read_csv(file: &str, text: &str, feed: &mut Collector<'_>) -> Result<(), InputError> {
    feed.format = IdentityFormat::Csv;
    let mut reader = CsvReader::new(text);
    let Some(header) = reader.next() else {
        return Err(InputError::CsvNoHeader { file: file.to_string() });
    };
    let header_line = header.first_line;
    let header_error = |message: String| InputError::Syntax {
        file: file.to_string(),
        line: header_line,
        column: 1,
        message,
    };
    if let Some(fault) = &header.fault {
        return Err(header_error(format!("the CSV header cannot be read: {fault}")));
    }
    if header.is_multiline() {
        return Err(header_error(format!(
            "the CSV header spans {} (a quoted column name holds a line break)",
            lines_phrase(header.first_line, header.last_line)
        )));
    }
    let defs = feed.defs;
    let names: Vec<&str> = header.cells.iter().map(|c| c.trim()).collect();
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
                column: shown(name),
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
                        column: shown(name),
                        help,
                    });
                }
            },
        });
    }
    let mut id_column = 0;
    for required in ["id", "kind"] {
        match names.iter().position(|n| *n == required) {
            Some(i) if required == "id" => id_column = i,
            Some(_) => {}
            None => {
                return Err(InputError::CsvMissingColumn {
                    file: file.to_string(),
                    line: header_line,
                    column: required.into(),
                })
            }
        }
    }
    // Rows a faulty record swallowed are read again once: a faulty record inside a stretch
    // already being read again does not start another, so no byte is read more than twice.
    let mut reread_until = 0;
    let mut resume = |reader: &mut CsvReader<'_>, row: &super::csv::CsvRecord<'_>| {
        if row.is_multiline() && row.first_line > reread_until {
            reread_until = row.last_line;
            reader.resume_after_first_line(row);
        }
    };
    while let Some(row) = reader.next() {
        let (first, last) = (row.first_line, row.last_line);
        let id_cell = row.cells.get(id_column).map(|c| c.as_ref());
        let guessed = || RecordId::guess(id_cell);
        if let Some(fault) = &row.fault {
            feed.invalid(first, last, Failure::new(guessed(), fault.clone()));
            resume(&mut reader, &row);
            continue;
        }
        if row.cells.len() != columns.len() {
            let why = if row.cells.len() > columns.len() {
                "a comma too many shifts the columns: quote a cell that holds a comma"
            } else {
                "a comma is missing, or a line break splits the record"
            };
            feed.invalid(
                first,
                last,
                Failure::new(
                    guessed(),
                    format!("record has {} fields, the header has {} ({why})", row.cells.len(), columns.len()),
                ),
            );
            resume(&mut reader, &row);
            continue;
        }
        if row.is_multiline() {
            let error = format!("the record spans {} (a quoted cell holds a line break)", lines_phrase(first, last));
            feed.invalid(first, last, Failure::new(guessed(), error));
            continue;
        }
        if !row.terminated {
            // A cut inside the id cell is possible only when it is the last column.
            let id = match id_cell {
                Some(cell) if id_column + 1 < columns.len() && check_id("`id`", cell).is_ok() => RecordId::Known(cell.to_string()),
                _ => guessed(),
            };
            let error =
                "the last line does not end with a line break, so the record may have been cut short (end the file with a line break)";
            feed.invalid(first, last, Failure::new(id, error));
            continue;
        }
        let mut record = Map::new();
        let mut attributes = Map::new();
        let mut error = None;
        for (column, cell) in columns.iter().zip(row.cells.iter()) {
            if cell.is_empty() {
                continue;
            }
            match column {
                Column::Id => {
                    record.insert("id".into(), Value::from(cell.as_ref()));
                }
                Column::Kind => {
                    record.insert("kind".into(), Value::from(cell.as_ref()));
                }
                Column::Owner => {
                    record.insert("owner".into(), Value::from(cell.as_ref()));
                }
                Column::Attribute(def) => match text_to_json(def, cell) {
                    Ok(Some(value)) => {
                        attributes.insert(def.name.clone(), value);
                    }
                    Ok(None) => {}
                    Err(e) => {
                        error = Some(e);
                        break;
                    }
                },
            }
        }
        match error {
            Some(error) => {
                let id = RecordId::of(&Value::Object(record));
                feed.invalid(first, last, Failure::new(id, error));
            }
            None => {
                record.insert("attributes".into(), Value::Object(attributes));
                feed.record(first, last, &Value::Object(record));
            }
        }
    }
    Ok(())
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
    fn the_feed_says_which_format_its_records_were_read_in() {
        let scim = format!(r#"{{"schemas": ["{SCIM_LIST_RESPONSE}"], "totalResults": 0}}"#);
        for (file, text, format) in [
            ("p.csv", "id,kind,status\n", IdentityFormat::Csv),
            ("-", "id,kind,status\n", IdentityFormat::Csv),
            ("p.jsonl", "", IdentityFormat::JsonLines),
            ("p.json", "[]", IdentityFormat::Json),
            ("p.json", scim.as_str(), IdentityFormat::Scim),
            ("p.jsonl", scim.as_str(), IdentityFormat::Scim),
        ] {
            assert_eq!(parse(file, text).format, format, "{file}: {text}");
        }
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
        assert_eq!(feed.uncertain.len(), 2);
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
        assert_eq!(*u1.attributes.get("clearance").unwrap(), AttrValue::Int(2));
        assert_eq!(*u1.attributes.get("remote").unwrap(), AttrValue::Bool(true));
        assert_eq!(*u1.attributes.get("tags").unwrap(), AttrValue::set(["oncall", "people-manager"]));
        assert_eq!(*u1.attributes.get("department").unwrap(), AttrValue::Str("Finance".into()));
        assert!(matches!(u1.attributes.get("start_date").unwrap(), AttrValue::Date(_)));
        assert_eq!(feed.identities[1].attributes.keys().collect::<Vec<_>>(), ["status"]);
        assert_eq!(feed.identities[2].attributes.get("tags"), Some(&AttrValue::set(Vec::<&str>::new())));
        assert_eq!(
            invalid(&feed),
            [
                (4, Some("u-3"), "attribute `clearance` should be a whole number, found `x`"),
                (5, Some("u-4"), "attribute `remote` should be `true` or `false`, found `maybe`"),
                (
                    6,
                    Some("u-5"),
                    "record has 4 fields, the header has 8 (a comma is missing, or a line break splits the record)"
                ),
            ]
        );
    }

    #[test]
    fn csv_owner_column_quoted_newlines_and_detection_by_content() {
        // A quoted line break could be a stray quote swallowing rows: the record is invalid
        // and its lines are uncertain.
        let text = "id,kind,owner,status,department\n\
                    u-1,person,,active,\"Research\nand Development\"\n\
                    svc,service_account,u-1,active,\n";
        let feed = parse("-", text);
        assert_eq!(ids(&feed), ["svc"]);
        assert_eq!(feed.identities[0].owner.as_deref(), Some("u-1"));
        assert_eq!(
            invalid(&feed),
            [(2, Some("u-1"), "the record spans lines 2–3 (a quoted cell holds a line break)")]
        );
        assert!(feed.invalid[0].id_uncertain);
        assert_eq!(
            feed.uncertain,
            [UncertainStretch {
                first_line: 2,
                last_line: 3,
                reason: "the record spans lines 2–3 (a quoted cell holds a line break)".into()
            }]
        );
        // A quote that never closes: its record is invalid, the rows it swallowed are read again.
        let text = "id,kind,status\nu-1,person,\"active\nu-2,person,active\n";
        let feed = parse("-", text);
        assert_eq!(ids(&feed), ["u-2"]);
        assert_eq!(invalid(&feed), [(2, Some("u-1"), "a quoted cell opened at line 2 is never closed")]);
        assert_eq!((feed.uncertain[0].first_line, feed.uncertain[0].last_line), (2, 3));
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
        assert_eq!(&*u1.kind, "person");
        assert_eq!(*u1.attributes.get("status").unwrap(), AttrValue::Str("active".into()));
        assert_eq!(*u1.attributes.get("worker_type").unwrap(), AttrValue::Str("employee".into()));
        assert_eq!(*u1.attributes.get("job_title").unwrap(), AttrValue::Str("Tour Guide".into()));
        assert_eq!(*u1.attributes.get("department").unwrap(), AttrValue::Str("Tour Operations".into()));
        assert_eq!(*u1.attributes.get("employee_number").unwrap(), AttrValue::Int(701_984));
        assert_eq!(*u1.attributes.get("manager").unwrap(), AttrValue::Str("u-9".into()));
        assert_eq!(u1.attributes.len(), 6, "undeclared SCIM attributes are skipped");
        let u2 = &feed.identities[1];
        assert_eq!(*u2.attributes.get("status").unwrap(), AttrValue::Str("terminated".into()));
        assert_eq!(*u2.attributes.get("worker_type").unwrap(), AttrValue::Str("contractor".into()));
        let agent = &feed.identities[2];
        assert_eq!((&*agent.kind, agent.owner.as_deref()), ("agent", Some("u-1")));
        let u5 = &feed.identities[3];
        assert_eq!(
            *u5.attributes.get("status").unwrap(),
            AttrValue::Str("leave".into()),
            "explicit attributes win"
        );
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
    fn long_lines_are_refused() {
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
    fn faulty_csv_records_are_read_again_at_most_once() {
        // Each of these would cost a scan to the end of the file per line if every faulty
        // record started a new reading-again: 50,000 lines must read in linear time.
        const N: usize = 50_000;
        for line in ["u-1,\"person,active\n", "u-1,person,\"a\"b\n", "\"u-1,person,active\n", "x\"\n\"\n"] {
            let text = format!("id,kind,status\n{}", line.repeat(N));
            // Not a timing assertion: a quadratic reader would simply not finish.
            let feed = parse("p.csv", &text);
            assert!(feed.identities.is_empty() && !feed.invalid.is_empty(), "{line:?}");
        }
    }

    #[test]
    fn duplicates_name_the_first_other_record_in_input_order() {
        let ok = |id: &str| format!("{{\"id\": \"{id}\", \"kind\": \"person\", \"attributes\": {{\"status\": \"active\"}}}}\n");
        let bad = |id: &str| format!("{{\"id\": \"{id}\", \"kind\": \"person\", \"attributes\": {{\"status\": \"actve\"}}}}\n");
        let text = [bad("u-1"), ok("u-2"), ok("u-1"), ok("u-1"), ok("u-3"), ok("u-2")].concat();
        let feed = parse("x.jsonl", &text);
        assert_eq!(ids(&feed), ["u-3"]);
        assert_eq!(feed.line_of(0), Some(5));
        assert_eq!(
            invalid(&feed),
            [
                (1, Some("u-1"), "unknown value `actve` for `status` (did you mean `active`?)"),
                (2, Some("u-2"), "duplicate id `u-2`, also at line 6"),
                (3, Some("u-1"), "duplicate id `u-1`, also at line 1"),
                (4, Some("u-1"), "duplicate id `u-1`, also at line 1"),
                (6, Some("u-2"), "duplicate id `u-2`, also at line 2"),
            ]
        );
    }

    #[test]
    fn a_malformed_record_with_a_readable_id_still_blocks_its_duplicate() {
        let text = "{\"id\": \"u-1\", \"kind\": \"person\", \"attributes\": {\"status\": \"active\"}}\n{\"id\": \"u-1\", \"kind\": pers\n";
        let feed = parse("x.jsonl", text);
        assert!(feed.identities.is_empty());
        assert_eq!(feed.invalid[0].error, "duplicate id `u-1`, also at line 2");
        assert!(feed.invalid[1].id_uncertain, "the malformed record's id is a guess");
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

    /// A JSON Lines feed `read_json_lines` reads in pieces of `piece_bytes`.
    fn read_in_pieces(text: &str, piece_bytes: usize, defs: &Definitions) -> IdentityFeed {
        let mut feed = Collector::new(defs);
        let mut lines = LineCounter::new(text);
        read_json_lines(text, skip_ws(text, 0), piece_bytes, &mut lines, &mut feed);
        feed.finish("f.jsonl", String::new())
    }

    /// Lines of a feed a careless export could write, some of them records
    /// over several lines with lines of their own that start with `{`.
    fn feed_line() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let id = prop_oneof![(0..12u32).prop_map(|n| format!("u-{n}")), Just("ü-é".to_string())];
        prop_oneof![
            id.clone()
                .prop_map(|id| format!(r#"{{"id": "{id}", "kind": "person", "attributes": {{"status": "active"}}}}"#)),
            id.clone()
                .prop_map(|id| format!(r#"  {{"id": "{id}", "kind": "person", "attributes": {{"status": "actve"}}}}"#)),
            id.clone()
                .prop_map(|id| format!("{{\"id\": \"{id}\", \"kind\": \"person\",\n\"attributes\":\n{{\"status\": \"leave\"}}\n}}")),
            id.clone()
                .prop_map(|id| format!(r#"{{"id": "{id}", "kind": "person", "attributes": {{"sta"#)),
            id.clone()
                .prop_map(|id| format!(r#"{{"id": "{id}", "id": "x", "kind": "person"}}"#)),
            Just(String::new()),
            Just("  \t".to_string()),
            Just("{".to_string()),
            Just("}".to_string()),
            Just("garbage ü".to_string()),
        ]
    }

    proptest::proptest! {
        #[test]
        fn reading_in_pieces_is_reading_from_the_top(
            lines in proptest::collection::vec(feed_line(), 0..40),
            crlf in proptest::bool::ANY,
            piece_bytes in 1usize..300,
        ) {
            let defs = defs();
            let text = lines.join(if crlf { "\r\n" } else { "\n" });
            let whole = read_in_pieces(&text, usize::MAX, &defs);
            proptest::prop_assert_eq!(read_in_pieces(&text, piece_bytes, &defs), whole);
        }
    }

    #[test]
    fn a_record_over_several_lines_across_a_cut_is_read_once() {
        let defs = defs();
        let text = "{\"id\": \"u-1\", \"kind\": \"person\",\n\"attributes\":\n{\"status\": \"active\"}\n}\n{\"id\": \"u-2\", \"kind\": \"person\", \"attributes\": {\"status\": \"active\"}}\n";
        for piece_bytes in 1..text.len() {
            let feed = read_in_pieces(text, piece_bytes, &defs);
            assert_eq!(ids(&feed), ["u-1", "u-2"], "pieces of {piece_bytes} bytes");
            assert_eq!(feed.lines, [1, 5]);
            assert!(feed.invalid.is_empty());
        }
    }
}

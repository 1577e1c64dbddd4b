//! Live state: the grants the target systems actually hold, read from an
//! export, each kept with the line it came from.
//!
//! This module owns reading live state (the contract is in [`crate::io`]).
//! Unlike an identity feed, a live state that cannot be read completely is
//! refused as a whole ([`InputError`] naming the file and line): a plan
//! computed against half a live state would grant what is already held and
//! miss what must be revoked, and a malformed line read as something else
//! could drop or merge grants. It never decides whether a grant is justified.
//!
//! # Formats
//!
//! | format | detected by | grants |
//! |---|---|---|
//! | JSON Lines | `.jsonl`, `.ndjson`; content starting with `{` | exactly one `{"identity": "u-1", "entitlement": "github:org-member"}` object per line; an optional `last_used` (below); other keys (`granted_at`, `source`, ...) are ignored; blank lines are skipped |
//! | CSV | `.csv`; any other content | `identity,entitlement`; the header is optional (a first row naming both columns, in any case and order, is the header, and then extra columns are ignored, except an optional `last_used` column); cells are read strictly (RFC 4180), quoted cells are fine |
//! | SCIM 2.0 groups | a JSON object whose `schemas` hold `urn:ietf:params:scim:api:messages:2.0:ListResponse` | each Group resource's `displayName` is the entitlement `APP:displayName` (verbatim, with `APP` from `--app`); each of its `members[].value` is an identity holding it |
//!
//! Each of these is an error naming its line: a line that is not one JSON
//! object, a key written twice in it, a CSV quoting fault (a quote never
//! closed would otherwise swallow every row after it), a CSV record spanning
//! several lines, a row with the wrong number of cells, a last CSV line
//! without a line break (it may have been cut short), an identity or
//! entitlement that is empty, has surrounding whitespace or holds an
//! invisible or control character (ids are never trimmed: see
//! [`crate::state`]).
//!
//! SCIM group members are SCIM user ids (`members[].value`, RFC 7643 §4.2);
//! the identity feed names users by `externalId` when they have one (see
//! [`crate::io::identities`]), so both exports must agree on ids for the plan
//! to match them. A member whose `type` is `Group` (a nested group) is an
//! error: its members cannot be known from the export. SCIM attribute names
//! are case-insensitive, and a group export is read only when it proves it
//! is complete (see `io/scim.rs`).
//!
//! The same grant listed twice is kept once, at its first occurrence (with
//! the latest `last_used` of its occurrences).
//!
//! `last_used` says when the grant was last exercised: an RFC 3339 instant
//! or a date (its midnight UTC), or `never` for a credential the target
//! system says was never used; absent, `null` or an empty CSV cell means
//! not known (and never makes a grant dormant). Anything else is an error
//! naming the line. `plan --dormant-after` reads it.
//!
//! # Memory
//!
//! A [`LiveFile`] names its file once and keeps each distinct identity and
//! entitlement string once; a grant is two string numbers and a line (12
//! bytes). Reading a live file takes about 2–3× its size at the peak (the
//! text itself, the grants, and the set that finds repeated grants).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use rayon::prelude::*;
use serde_json::Value;

use super::csv::{lines_phrase, CsvReader};
use super::intern::{Interner, Sym};
use super::json::{array_spans, json_syntax, object_spans, parse_record, skip_ws, Keys, Span};
use super::scim::{list_response, lists_schema, member};
use super::text::{check_line_lengths, decode_utf8, line_number, read_bounded, sha256_hex, syntax, LineCounter, ReadBudget};
use super::InputError;
use crate::state::{check_id, shown};
use crate::time::Instant;

pub use super::scim::SCIM_GROUP;

/// When a live grant was last used, as its export says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LastUsed {
    /// Never used (the export says `never`).
    Never,
    /// Last used at this instant.
    At(Instant),
}

impl LastUsed {
    /// Reads a `last_used` value: `never`, a date or an RFC 3339 instant.
    pub fn parse(text: &str) -> Result<LastUsed, String> {
        if text.trim() == "never" {
            return Ok(LastUsed::Never);
        }
        Instant::parse(text)
            .map(LastUsed::At)
            .map_err(|e| format!("`last_used` is not `never`, a date or an RFC 3339 instant: {e}"))
    }
}

impl std::fmt::Display for LastUsed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LastUsed::Never => f.write_str("never"),
            LastUsed::At(t) => write!(f, "{t}"),
        }
    }
}

/// One grant held in a target system, borrowed from its [`LiveFile`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LiveGrant<'a> {
    identity: &'a str,
    entitlement: &'a str,
    line: u32,
    last_used: Option<LastUsed>,
}

impl<'a> LiveGrant<'a> {
    /// The identity holding it.
    pub fn identity(&self) -> &'a str {
        self.identity
    }

    /// The full entitlement id (`github:org-member`).
    pub fn entitlement(&self) -> &'a str {
        self.entitlement
    }

    /// The 1-based line where it is written in its file.
    pub fn line(&self) -> u32 {
        self.line
    }

    /// When it was last used, when the export says.
    pub fn last_used(&self) -> Option<LastUsed> {
        self.last_used
    }
}

/// A grant as stored: interned strings and a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GrantRow {
    pub(crate) identity: Sym,
    pub(crate) entitlement: Sym,
    pub(crate) line: u32,
}

/// The format of a live state export.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LiveFormat {
    /// One `{"identity": ..., "entitlement": ...}` object per line.
    JsonLines,
    /// `identity,entitlement`, with an optional header.
    Csv,
    /// A SCIM 2.0 Group ListResponse of application `app`.
    ScimGroups {
        /// The application the groups belong to (entitlements are `app:displayName`).
        app: String,
    },
}

impl LiveFormat {
    /// The format a file name's extension implies, if any (`.jsonl`, `.ndjson`, `.csv`).
    ///
    /// A `.json` file implies nothing: it is a SCIM group export or JSON
    /// Lines, decided by its content.
    pub fn from_extension(file: &str) -> Option<LiveFormat> {
        let ext = Path::new(file).extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "jsonl" | "ndjson" => Some(LiveFormat::JsonLines),
            "csv" => Some(LiveFormat::Csv),
            _ => None,
        }
    }
}

/// A live state export, read completely: its grants in input order, each once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveFile {
    /// The file, as the user named it (`<stdin>` for standard input).
    pub file: String,
    /// The SHA-256 of the raw bytes, in lowercase hex.
    pub sha256: String,
    strings: Interner,
    rows: Vec<GrantRow>,
    /// `last_used` of the rows that have one, by row index (sorted): most exports have none.
    last_used: Vec<(u32, LastUsed)>,
}

impl LiveFile {
    /// The grants, in input order, each once.
    pub fn grants(&self) -> impl ExactSizeIterator<Item = LiveGrant<'_>> + Clone + '_ {
        self.rows.iter().enumerate().map(|(i, row)| LiveGrant {
            identity: self.strings.resolve(row.identity),
            entitlement: self.strings.resolve(row.entitlement),
            line: row.line,
            last_used: self.last_used_of(i),
        })
    }

    /// `last_used` of the row at `index`, when it has one.
    pub(crate) fn last_used_of(&self, index: usize) -> Option<LastUsed> {
        let i = self.last_used.binary_search_by_key(&(index as u32), |(r, _)| *r).ok()?;
        Some(self.last_used[i].1)
    }

    /// The rows that say when they were last used: (row index, `last_used`), by row index.
    pub(crate) fn last_used_rows(&self) -> &[(u32, LastUsed)] {
        &self.last_used
    }

    /// Does any grant say when it was last used?
    pub fn has_last_used(&self) -> bool {
        !self.last_used.is_empty()
    }

    /// How many grants it holds.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Its distinct strings and its rows as stored, for indexes built in
    /// this crate without resolving a string per grant.
    pub(crate) fn interned(&self) -> (&Interner, &[GrantRow]) {
        (&self.strings, &self.rows)
    }

    /// Does it hold no grant?
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// Builds a [`LiveFile`] grant by grant, for callers that have live state
/// without a file to read (a generator, a service, a connector): the same
/// validation and the same compact form as the readers.
#[derive(Debug)]
pub struct LiveFileBuilder {
    file: String,
    strings: Interner,
    rows: Vec<GrantRow>,
    /// Each grant's row index.
    seen: HashMap<(Sym, Sym), u32, foldhash::fast::RandomState>,
    last_used: BTreeMap<u32, LastUsed>,
}

impl LiveFileBuilder {
    /// An empty live state named `file` in messages and output.
    pub fn new(file: impl Into<String>) -> LiveFileBuilder {
        LiveFileBuilder {
            file: file.into(),
            strings: Interner::default(),
            rows: Vec::new(),
            seen: HashMap::default(),
            last_used: BTreeMap::new(),
        }
    }

    /// Room for about `grants` grants, allocated once.
    pub fn reserve(&mut self, grants: usize) {
        self.rows.reserve(grants);
        self.seen.reserve(grants);
    }

    /// Adds a grant written at `line`; a grant already added is kept once.
    /// The error is one sentence: an id that is empty, has surrounding
    /// whitespace or holds an invisible or control character.
    pub fn add(&mut self, identity: &str, entitlement: &str, line: u32) -> Result<(), String> {
        self.add_used(identity, entitlement, line, None)
    }

    /// [`LiveFileBuilder::add`], with when the grant was last used; a grant
    /// added twice keeps the latest `last_used` (`never` is the earliest).
    pub fn add_used(&mut self, identity: &str, entitlement: &str, line: u32, last_used: Option<LastUsed>) -> Result<(), String> {
        check_id("`identity`", identity)?;
        check_id("`entitlement`", entitlement)?;
        let too_many = || "more distinct identities and entitlements than entitle can hold in one live file".to_string();
        let identity = self.strings.intern(identity).ok_or_else(too_many)?;
        let entitlement = self.strings.intern(entitlement).ok_or_else(too_many)?;
        let next = self.rows.len() as u32;
        let row = *self.seen.entry((identity, entitlement)).or_insert(next);
        if row == next {
            self.rows.push(GrantRow {
                identity,
                entitlement,
                line,
            });
        }
        if let Some(used) = last_used {
            let slot = self.last_used.entry(row).or_insert(used);
            *slot = (*slot).max(used);
        }
        Ok(())
    }

    /// The live state, with the SHA-256 of what it was read from (or any fingerprint the caller keeps).
    pub fn finish(mut self, sha256: impl Into<String>) -> LiveFile {
        self.rows.shrink_to_fit();
        LiveFile {
            file: self.file,
            sha256: sha256.into(),
            strings: self.strings,
            rows: self.rows,
            last_used: self.last_used.into_iter().collect(),
        }
    }
}

/// Reads a live state export from `path` (`-` for standard input).
///
/// `format` overrides detection; `app` names the application of a SCIM group
/// export when the format is detected (it is required then, and otherwise
/// unused). The file may be up to [`super::MAX_INPUT_BYTES`]; to bound several
/// inputs of one command together, use [`read_live_within`].
pub fn read_live(path: &Path, format: Option<LiveFormat>, app: Option<&str>) -> Result<LiveFile, InputError> {
    read_live_within(path, format, app, &ReadBudget::per_run())
}

/// [`read_live`], charging the bytes read to `budget` (the run's inputs together).
pub fn read_live_within(path: &Path, format: Option<LiveFormat>, app: Option<&str>, budget: &ReadBudget) -> Result<LiveFile, InputError> {
    let (file, bytes) = read_bounded(path, budget)?;
    parse_live(&file, &bytes, format, app)
}

/// Reads a live state export held in `bytes`; `file` names it in grants and
/// messages and drives detection by extension.
pub fn parse_live(file: &str, bytes: &[u8], format: Option<LiveFormat>, app: Option<&str>) -> Result<LiveFile, InputError> {
    let sha256 = sha256_hex(bytes);
    let text = decode_utf8(file, bytes)?;
    let mut grants = Grants {
        file,
        builder: LiveFileBuilder::new(file),
    };
    // One grant per line at most: reserving once avoids doubling the list while it grows.
    grants
        .builder
        .reserve(text.bytes().filter(|b| *b == b'\n').count().saturating_add(1));
    let mut lines = LineCounter::new(text);
    let start = skip_ws(text, 0);
    match format.or_else(|| LiveFormat::from_extension(file)) {
        Some(LiveFormat::Csv) => read_csv(text, &mut grants)?,
        Some(LiveFormat::ScimGroups { app }) => match list_response(file, text, start, &mut lines, true)? {
            Some(groups) => read_scim_groups(file, text, &groups, &app, &mut lines, &mut grants)?,
            None => {
                return Err(InputError::NotScimListResponse {
                    file: file.to_string(),
                    line: lines.line_at(start),
                    detail: "it has no `schemas`".into(),
                })
            }
        },
        Some(LiveFormat::JsonLines) => read_objects(file, text, start, app, &mut lines, &mut grants)?,
        None => match text.as_bytes().get(start) {
            None => {}
            Some(b'{') => read_objects(file, text, start, app, &mut lines, &mut grants)?,
            Some(b'[') => {
                return Err(syntax(
                    file,
                    &mut lines,
                    start,
                    "a JSON array is not a live state (write one grant per line as JSON Lines, or export SCIM groups)".into(),
                ))
            }
            Some(_) => read_csv(text, &mut grants)?,
        },
    }
    Ok(grants.builder.finish(sha256))
}

/// Collects grants, each once, and words errors.
struct Grants<'a> {
    file: &'a str,
    builder: LiveFileBuilder,
}

impl Grants<'_> {
    fn add(&mut self, identity: &str, entitlement: &str, line: u32) -> Result<(), InputError> {
        self.builder.add(identity, entitlement, line).map_err(|e| self.error(line, e))
    }

    fn add_used(&mut self, identity: &str, entitlement: &str, line: u32, last_used: Option<LastUsed>) -> Result<(), InputError> {
        self.builder
            .add_used(identity, entitlement, line, last_used)
            .map_err(|e| self.error(line, e))
    }

    fn error(&self, line: u32, message: impl Into<String>) -> InputError {
        InputError::LiveRecord {
            file: self.file.to_string(),
            line,
            message: message.into(),
        }
    }
}

/// JSON Lines, or a SCIM group export (an object with `schemas`).
fn read_objects(
    file: &str,
    text: &str,
    start: usize,
    app: Option<&str>,
    lines: &mut LineCounter<'_>,
    grants: &mut Grants<'_>,
) -> Result<(), InputError> {
    if let Some(groups) = list_response(file, text, start, lines, false)? {
        let app = app
            .filter(|a| !a.trim().is_empty())
            .ok_or_else(|| InputError::ScimGroupsNeedApp { file: file.to_string() })?;
        return read_scim_groups(file, text, &groups, app, lines, grants);
    }
    check_line_lengths(file, text)?;
    // Lines are read on every core, a window of chunks at a time (so what is
    // held between reading and adding stays small), and added in order: the
    // first error by line is the one reported, as if read one by one.
    let chunks = line_chunks(text, CHUNK_BYTES);
    let window = rayon::current_num_threads().max(1) * 2;
    for group in chunks.chunks(window) {
        let read: Vec<(Vec<LineGrant<'_>>, Option<InputError>)> = group
            .par_iter()
            .map(|&(first_line, chunk)| read_lines(grants.file, chunk, first_line))
            .collect();
        for (items, error) in read {
            for (identity, entitlement, last_used, line) in items {
                grants.add_used(&identity, &entitlement, line, last_used)?;
            }
            if let Some(error) = error {
                return Err(error);
            }
        }
    }
    Ok(())
}

/// Bytes of JSON Lines read by one task.
const CHUNK_BYTES: usize = 1 << 20;

/// A grant as read: identity and entitlement, borrowed from the text when written plainly, and `last_used`.
type ReadGrant<'t> = (Cow<'t, str>, Cow<'t, str>, Option<LastUsed>);

/// A grant read from a line: identity, entitlement, `last_used`, line number.
type LineGrant<'t> = (Cow<'t, str>, Cow<'t, str>, Option<LastUsed>, u32);

/// `text` cut after line breaks into pieces of about `size` bytes, each
/// with the number of lines before it.
fn line_chunks(text: &str, size: usize) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let (mut start, mut lines_before) = (0, 0);
    while start < text.len() {
        let mut end = (start + size).min(text.len());
        end = match text.as_bytes()[end..].iter().position(|b| *b == b'\n') {
            Some(p) => end + p + 1,
            None => text.len(),
        };
        out.push((lines_before, &text[start..end]));
        lines_before += text.as_bytes()[start..end].iter().filter(|b| **b == b'\n').count();
        start = end;
    }
    out
}

/// The grants of a piece of JSON Lines whose first line is `first_line + 1`,
/// up to the first bad line, and that line's error.
fn read_lines<'t>(file: &str, chunk: &'t str, first_line: usize) -> (Vec<LineGrant<'t>>, Option<InputError>) {
    let mut out = Vec::new();
    let lines = chunk.strip_suffix('\n').unwrap_or(chunk).split('\n');
    for (index, physical) in lines.enumerate() {
        let line = line_number(first_line + index).saturating_add(1);
        match read_line(physical) {
            Ok(Some((identity, entitlement, last_used))) => out.push((identity, entitlement, last_used, line)),
            Ok(None) => {}
            Err(message) => {
                let error = InputError::LiveRecord {
                    file: file.to_string(),
                    line,
                    message,
                };
                return (out, Some(error));
            }
        }
    }
    (out, None)
}

/// One line of JSON Lines: nothing when blank, else its grant or what is wrong.
fn read_line(physical: &str) -> Result<Option<ReadGrant<'_>>, String> {
    if physical.trim().is_empty() {
        return Ok(None);
    }
    if let Some((identity, entitlement, last_used)) = plain_grant(physical) {
        let last_used = last_used.map(LastUsed::parse).transpose()?;
        return Ok(Some((Cow::Borrowed(identity), Cow::Borrowed(entitlement), last_used)));
    }
    strict_line(physical).map(Some)
}

/// One non-blank line of JSON Lines through the strict JSON reader.
fn strict_line(physical: &str) -> Result<ReadGrant<'_>, String> {
    // Exactly one object per line: a record is never read across lines.
    let (value, repeated, end) = parse_record(physical, 0, Keys::Exact).map_err(|e| format!("grant is not valid JSON ({})", e.message))?;
    if skip_ws(physical, end) < physical.len() {
        return Err("the line holds more than one JSON value (write one grant per line)".into());
    }
    if let Some(first) = repeated.first() {
        return Err(first.sentence("grant"));
    }
    let Value::Object(mut obj) = value else {
        return Err("grant is not a JSON object".into());
    };
    let mut field = |key: &str| match obj.remove(key) {
        Some(Value::String(s)) => Ok(Cow::Owned(s)),
        Some(_) => Err(format!("`{key}` is not a string")),
        None => Err(format!("grant has no `{key}`")),
    };
    let identity = field("identity")?;
    let entitlement = field("entitlement")?;
    let last_used = match obj.remove("last_used") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(LastUsed::parse(&s)?),
        Some(_) => return Err("`last_used` is not a string (write `never`, a date or an RFC 3339 instant)".into()),
    };
    Ok((identity, entitlement, last_used))
}

/// The grant of a line written exactly `{"identity": "…", "entitlement": "…"}`,
/// optionally with `"last_used": "…"` (members in any order, JSON whitespace
/// anywhere between tokens), whose strings hold no escape and no control
/// character — what exports write — read without allocating: identity,
/// entitlement and the `last_used` text. Anything else is `None` and goes
/// through the strict parser, which gives the same grant for every line this
/// accepts.
fn plain_grant(line: &str) -> Option<(&str, &str, Option<&str>)> {
    let b = line.as_bytes();
    let ws = |mut i: usize| {
        while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\r' | b'\n') {
            i += 1;
        }
        i
    };
    let string = |i: usize| -> Option<(&str, usize)> {
        if b.get(i) != Some(&b'"') {
            return None;
        }
        let len = b[i + 1..].iter().position(|c| *c == b'"' || *c == b'\\' || *c < 0x20)?;
        (b[i + 1 + len] == b'"').then(|| (&line[i + 1..i + 1 + len], i + len + 2))
    };
    let mut i = ws(0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    let (mut identity, mut entitlement, mut last_used) = (None, None, None);
    for member in 1..=3 {
        let (key, next) = string(ws(i + 1))?;
        i = ws(next);
        if b.get(i) != Some(&b':') {
            return None;
        }
        let (value, next) = string(ws(i + 1))?;
        let slot = match key {
            "identity" => &mut identity,
            "entitlement" => &mut entitlement,
            "last_used" => &mut last_used,
            _ => return None,
        };
        if slot.replace(value).is_some() {
            return None;
        }
        i = ws(next);
        match b.get(i) {
            Some(b',') if member < 3 => {}
            Some(b'}') => break,
            _ => return None,
        }
    }
    if b.get(i) != Some(&b'}') {
        return None;
    }
    (ws(i + 1) == b.len()).then_some(())?;
    Some((identity?, entitlement?, last_used))
}

fn read_csv(text: &str, grants: &mut Grants<'_>) -> Result<(), InputError> {
    let mut columns: Option<(usize, usize, usize)> = None;
    let mut last_used_column: Option<usize> = None;
    for (index, row) in CsvReader::new(text).enumerate() {
        let line = row.first_line;
        if let Some(fault) = &row.fault {
            return Err(grants.error(line, fault.clone()));
        }
        if row.is_multiline() {
            return Err(grants.error(
                line,
                format!(
                    "the record spans {} (a quoted cell holds a line break)",
                    lines_phrase(row.first_line, row.last_line)
                ),
            ));
        }
        if index == 0 {
            let find = |name: &str| row.cells.iter().position(|cell| cell.trim().eq_ignore_ascii_case(name));
            if let (Some(identity), Some(entitlement)) = (find("identity"), find("entitlement")) {
                columns = Some((identity, entitlement, row.cells.len()));
                last_used_column = find("last_used");
                continue;
            }
        }
        if !row.terminated {
            return Err(grants.error(
                line,
                "the last line does not end with a line break, so the grant may have been cut short (end the file with a line break)",
            ));
        }
        let (identity, entitlement) = match columns {
            Some((i, e, n)) if row.cells.len() == n => (&row.cells[i], &row.cells[e]),
            Some((_, _, n)) => {
                return Err(grants.error(line, format!("expected {n} fields as in the header, found {}", row.cells.len())));
            }
            None if row.cells.len() == 2 => (&row.cells[0], &row.cells[1]),
            None => return Err(grants.error(line, format!("expected 2 fields `identity,entitlement`, found {}", row.cells.len()))),
        };
        let last_used = match last_used_column.map(|i| row.cells[i].trim()) {
            None | Some("") => None,
            Some(text) => Some(LastUsed::parse(text).map_err(|e| grants.error(line, e))?),
        };
        grants.add_used(identity, entitlement, line, last_used)?;
    }
    Ok(())
}

fn read_scim_groups(
    file: &str,
    text: &str,
    groups: &[Span],
    app: &str,
    lines: &mut LineCounter<'_>,
    grants: &mut Grants<'_>,
) -> Result<(), InputError> {
    for group in groups {
        let group_line = lines.line_at(group.start);
        if text.as_bytes().get(group.start) != Some(&b'{') {
            return Err(grants.error(group_line, "resource is not a JSON object"));
        }
        let (value, repeated, _) = parse_record(text, group.start, Keys::CaseInsensitive).map_err(|e| json_syntax(file, lines, e))?;
        if let Some(first) = repeated.first() {
            let mut sentence = first.sentence("group");
            if first.kind == super::json::KeyFaultKind::Repeated {
                sentence.push_str(" (SCIM attribute names ignore letter case)");
            }
            return Err(grants.error(group_line, sentence));
        }
        let Some(obj) = value.as_object() else {
            return Err(grants.error(group_line, "resource is not a JSON object"));
        };
        if let Some(schemas) = member(obj, "schemas") {
            if !lists_schema(Some(schemas), SCIM_GROUP) {
                return Err(grants.error(
                    group_line,
                    format!("resource is not a SCIM Group (its `schemas` do not include `{SCIM_GROUP}`)"),
                ));
            }
        }
        let name = match member(obj, "displayName") {
            Some(Value::String(name)) => {
                check_id("group `displayName`", name).map_err(|e| grants.error(group_line, e))?;
                name.as_str()
            }
            Some(_) => return Err(grants.error(group_line, "group `displayName` is not a name")),
            None => return Err(grants.error(group_line, "group has no `displayName`")),
        };
        let members = match member(obj, "members") {
            None | Some(Value::Null) => continue,
            Some(Value::Array(members)) => members,
            Some(_) => return Err(grants.error(group_line, format!("`members` of group `{}` is not a list", shown(name)))),
        };
        // The members' lines, from their place in the text.
        let (entries, _) = object_spans(text, group.start).map_err(|e| json_syntax(file, lines, e))?;
        let spans = match entries.iter().find(|(k, _)| k.eq_ignore_ascii_case("members")) {
            Some((_, span)) => array_spans(text, span.start).map_err(|e| json_syntax(file, lines, e))?.0,
            None => Vec::new(),
        };
        let entitlement = format!("{app}:{name}");
        for (i, member_value) in members.iter().enumerate() {
            let line = spans.get(i).map_or(group_line, |s| lines.line_at(s.start));
            let Some(member_obj) = member_value.as_object() else {
                return Err(grants.error(line, format!("member of group `{}` is not a JSON object", shown(name))));
            };
            if member(member_obj, "type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.eq_ignore_ascii_case("group"))
            {
                return Err(grants.error(
                    line,
                    format!(
                        "member of group `{}` is itself a group; nested groups are not supported (flatten the export)",
                        shown(name)
                    ),
                ));
            }
            match member(member_obj, "value") {
                Some(Value::String(id)) => {
                    check_id("member `value`", id).map_err(|e| grants.error(line, format!("group `{}`: {e}", shown(name))))?;
                    grants.add(id, &entitlement, line)?;
                }
                Some(_) => return Err(grants.error(line, format!("member `value` of group `{}` is not an identity id", shown(name)))),
                None => return Err(grants.error(line, format!("member of group `{}` has no `value`", shown(name)))),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::identities::SCIM_LIST_RESPONSE;

    fn parse(file: &str, text: &str, app: Option<&str>) -> LiveFile {
        parse_live(file, text.as_bytes(), None, app).unwrap()
    }

    fn parse_err(file: &str, text: &str, app: Option<&str>) -> String {
        parse_live(file, text.as_bytes(), None, app).unwrap_err().to_string()
    }

    /// Pieces of JSON Lines, plain and tricky, for lines built at random.
    fn piece() -> impl proptest::strategy::Strategy<Value = &'static str> {
        proptest::sample::select(vec![
            "{",
            "}",
            ",",
            ":",
            " ",
            "\t",
            "\r",
            "\"identity\"",
            "\"entitlement\"",
            "\"Identity\"",
            "\"source\"",
            "\"u-1\"",
            "\"okta:sso\"",
            "\"a\\\"b\"",
            "\"\\u0075-1\"",
            "\"\u{1}x\"",
            "\"é:ü\"",
            "\" u-2\"",
            "\"\"",
            "1",
            "null",
            "[\"u-1\"]",
            "\"",
        ])
    }

    proptest::proptest! {
        /// Whatever the allocation-free reading accepts, the strict reader reads the same way.
        #[test]
        fn the_plain_reading_agrees_with_the_strict_one(
            pieces in proptest::collection::vec(piece(), 0..14),
            key_first in proptest::bool::ANY,
            identity in "[ -~]{0,6}",
            entitlement in "[ -~é]{0,6}",
            used in proptest::sample::select(vec!["2026-01-02", "2026-01-02T03:04:05Z", "never", "soon", "", "2026-13-01"]),
            used_at in 0usize..4,
        ) {
            let random = pieces.concat();
            let (k1, k2) = if key_first { ("identity", "entitlement") } else { ("entitlement", "identity") };
            let (v1, v2) = if key_first { (&identity, &entitlement) } else { (&entitlement, &identity) };
            let shaped = format!("{{ \"{k1}\" :\"{v1}\",\"{k2}\": \"{v2}\"}}");
            // The same with `last_used` before, between or after them (or not at all).
            let mut members = vec![format!("\"{k1}\" :\"{v1}\""), format!("\"{k2}\": \"{v2}\"")];
            if used_at < 3 {
                members.insert(used_at, format!("\"last_used\":\"{used}\""));
            }
            let with_use = format!("{{{}}}", members.join(" , "));
            for line in [random, shaped, with_use] {
                if let Some((i, e, u)) = plain_grant(&line) {
                    let strict = strict_line(&line);
                    let plain = u.map(LastUsed::parse).transpose().map(|u| (Cow::Owned(i.to_string()), Cow::Owned(e.to_string()), u));
                    proptest::prop_assert_eq!(strict, plain, "line {:?}", line);
                }
            }
        }
    }

    #[test]
    fn grants_read_in_chunks_keep_their_lines_and_the_first_error() {
        let mut text = String::new();
        for i in 0..5000 {
            text.push_str(&format!("{{\"identity\": \"u-{i}\", \"entitlement\": \"okta:sso\"}}\n"));
            if i % 7 == 0 {
                text.push('\n');
            }
        }
        // Small chunks, so the lines cross many chunk borders.
        let chunks = line_chunks(&text, 100);
        assert!(chunks.len() > 100);
        let read: Vec<(String, u32)> = chunks
            .iter()
            .flat_map(|&(first, chunk)| read_lines("live.jsonl", chunk, first).0)
            .map(|(i, _, _, line)| (i.into_owned(), line))
            .collect();
        let expected: Vec<(String, u32)> = text
            .split('\n')
            .enumerate()
            .filter(|(_, l)| !l.is_empty())
            .map(|(n, l)| (plain_grant(l).unwrap().0.to_string(), n as u32 + 1))
            .collect();
        assert_eq!(read, expected);

        let broken = text.replacen("\"u-4000\"", "\"u-4000", 1);
        let line = broken.split('\n').position(|l| l.contains("u-4000")).unwrap() + 1;
        assert!(parse_err("live.jsonl", &broken, None).contains(&format!("live.jsonl:{line}")));
    }

    fn pairs(live: &LiveFile) -> Vec<(&str, &str, u32)> {
        live.grants().map(|g| (g.identity(), g.entitlement(), g.line())).collect()
    }

    #[test]
    fn detects_by_extension() {
        assert_eq!(LiveFormat::from_extension("live.jsonl"), Some(LiveFormat::JsonLines));
        assert_eq!(LiveFormat::from_extension("live.NDJSON"), Some(LiveFormat::JsonLines));
        assert_eq!(LiveFormat::from_extension("live.csv"), Some(LiveFormat::Csv));
        assert_eq!(LiveFormat::from_extension("groups.json"), None);
    }

    #[test]
    fn reads_json_lines_ignoring_extra_keys_and_duplicates() {
        let text =
            "{\"identity\": \"u-1\", \"entitlement\": \"github:org-member\", \"granted_at\": \"2024-01-01\", \"source\": \"scim\"}\n\n\
                    {\"identity\": \"u-2\", \"entitlement\": \"okta:sso\"}\n\
                    {\"identity\": \"u-1\", \"entitlement\": \"github:org-member\"}\n";
        for file in ["live.jsonl", "-", "live.json"] {
            let live = parse(file, text, None);
            assert_eq!(pairs(&live), [("u-1", "github:org-member", 1), ("u-2", "okta:sso", 3)], "{file}");
            assert_eq!(live.file, file);
            assert_eq!(live.sha256, sha256_hex(text.as_bytes()));
        }
    }

    #[test]
    fn a_malformed_json_line_refuses_the_whole_file() {
        let ok = "{\"identity\": \"u-1\", \"entitlement\": \"a:b\"}\n";
        assert_eq!(
            parse_err("live.jsonl", &format!("{ok}{{\"identity\": \"u-2\", \"entitle"), None),
            "live.jsonl:2: grant is not valid JSON (EOF while parsing a string)"
        );
        assert_eq!(
            parse_err("live.jsonl", &format!("{ok}\n{{\"identity\": \"u-2\"}}"), None),
            "live.jsonl:3: grant has no `entitlement`"
        );
        assert_eq!(
            parse_err("live.jsonl", "{\"identity\": 7, \"entitlement\": \"a:b\"}", None),
            "live.jsonl:1: `identity` is not a string"
        );
        assert_eq!(
            parse_err("live.jsonl", "{\"identity\": \" \", \"entitlement\": \"a:b\"}", None),
            "live.jsonl:1: `identity` is empty"
        );
        assert_eq!(parse_err("live.jsonl", "[1]", None), "live.jsonl:1: grant is not a JSON object");
        assert_eq!(
            parse_err("-", "[{\"identity\": \"u-1\"}]", None),
            "-:1:1: a JSON array is not a live state (write one grant per line as JSON Lines, or export SCIM groups)"
        );
    }

    #[test]
    fn reads_csv_with_and_without_a_header() {
        let with = "Identity,ENTITLEMENT\nu-1,github:org-member\n\"u-2\",\"slack:office, London\"\nu-1,github:org-member\n";
        assert_eq!(
            pairs(&parse("live.csv", with, None)),
            [("u-1", "github:org-member", 2), ("u-2", "slack:office, London", 3)]
        );
        let without = "u-1,github:org-member\n\"u-2\" ,  \"okta:sso\"\n";
        assert_eq!(
            pairs(&parse("live.csv", without, None)),
            [("u-1", "github:org-member", 1), ("u-2", "okta:sso", 2)]
        );
        assert_eq!(
            pairs(&parse("-", without, None)),
            [("u-1", "github:org-member", 1), ("u-2", "okta:sso", 2)]
        );
        // Ids are never trimmed: a cell with spaces around an id is an error, not another id.
        assert_eq!(
            parse_err("live.csv", "u-1,github:org-member\n u-2 , okta:sso \n", None),
            "live.csv:2: `identity` ` u-2 ` has leading or trailing whitespace (ids are never trimmed: remove it)"
        );
        let reordered = "granted_at,entitlement,identity\n2024-01-01,okta:sso,u-1\n";
        assert_eq!(pairs(&parse("live.csv", reordered, None)), [("u-1", "okta:sso", 2)]);
    }

    #[test]
    fn a_malformed_csv_row_refuses_the_whole_file() {
        assert_eq!(
            parse_err("live.csv", "u-1,okta:sso\nu-2\n", None),
            "live.csv:2: expected 2 fields `identity,entitlement`, found 1"
        );
        assert_eq!(
            parse_err("live.csv", "identity,entitlement\nu-1,\n", None),
            "live.csv:2: `entitlement` is empty"
        );
        assert_eq!(
            parse_err("live.csv", "identity,entitlement\n,okta:sso\n", None),
            "live.csv:2: `identity` is empty"
        );
    }

    fn groups(resources: &str) -> String {
        let total = serde_json::from_str::<Vec<Value>>(&format!("[{resources}]")).map_or(0, |r| r.len());
        format!("{{\"schemas\": [\"{SCIM_LIST_RESPONSE}\"], \"totalResults\": {total},\n \"Resources\": [\n{resources}\n]}}\n")
    }

    #[test]
    fn reads_scim_groups_with_member_lines() {
        let text = groups(&format!(
            r#"{{"schemas": ["{SCIM_GROUP}"], "id": "g1", "displayName": "org-member",
  "members": [
    {{"value": "u-1", "display": "Babs"}},
    {{"value": "u-2", "type": "User"}}
  ]}},
{{"id": "g2", "displayName": "org-owner", "members": [{{"value": "u-1"}}, {{"value": "u-1"}}]}},
{{"id": "g3", "displayName": "empty"}}"#
        ));
        let expected = [
            ("u-1", "github:org-member", 5),
            ("u-2", "github:org-member", 6),
            ("u-1", "github:org-owner", 8),
        ];
        assert_eq!(pairs(&parse("groups.json", &text, Some("github"))), expected);
        assert_eq!(pairs(&parse("-", &text, Some("github"))), expected);
        let forced = parse_live("x", text.as_bytes(), Some(LiveFormat::ScimGroups { app: "github".into() }), None).unwrap();
        assert_eq!(pairs(&forced), expected);
    }

    #[test]
    fn scim_group_problems_are_located_errors() {
        assert_eq!(
            parse_err("groups.json", &groups(""), None),
            "groups.json: a SCIM group export needs `--app APP`"
        );
        assert_eq!(
            parse_err("groups.json", &groups(r#"{"id": "g1"}"#), Some("gh")),
            "groups.json:3: group has no `displayName`"
        );
        assert_eq!(
            parse_err(
                "groups.json",
                &groups(r#"{"displayName": "a", "members": [{"value": "g9", "type": "Group"}]}"#),
                Some("gh")
            ),
            "groups.json:3: member of group `a` is itself a group; nested groups are not supported (flatten the export)"
        );
        assert_eq!(
            parse_err(
                "groups.json",
                &groups("{\"displayName\": \"a\",\n \"members\": [{\"display\": \"x\"}]}"),
                Some("gh")
            ),
            "groups.json:4: member of group `a` has no `value`"
        );
        let users = groups(r#"{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "u-1"}"#);
        assert_eq!(
            parse_err("groups.json", &users, Some("gh")),
            "groups.json:3: resource is not a SCIM Group (its `schemas` do not include `urn:ietf:params:scim:schemas:core:2.0:Group`)"
        );
        let page = format!(r#"{{"schemas": ["{SCIM_LIST_RESPONSE}"], "totalResults": 3, "Resources": []}}"#);
        assert_eq!(
            parse_err("groups.json", &page, Some("gh")),
            "groups.json:1: the SCIM ListResponse holds 0 of its 3 resources (export every page into one document)"
        );
        let err = parse_live(
            "x.json",
            b"{\"id\": \"u-1\"}",
            Some(LiveFormat::ScimGroups { app: "gh".into() }),
            None,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "x.json:1: the document is not a SCIM 2.0 ListResponse (it has no `schemas`)"
        );
    }

    #[test]
    fn a_truncated_scim_group_export_is_refused() {
        let text = groups(r#"{"displayName": "a", "members": [{"value": "u-1"}, {"value": "u-2"}]}"#);
        let cut = &text[..text.find("\"u-2\"").unwrap()];
        let err = parse_live("-", cut.as_bytes(), None, Some("gh")).unwrap_err();
        assert!(matches!(err, InputError::Syntax { line: 3, .. }), "{err}");
    }

    #[test]
    fn non_utf8_and_empty_inputs() {
        let err = parse_live("live.csv", b"u-1,a:b\nu-\xc3(,a:b\n", None, None).unwrap_err();
        assert_eq!(err.to_string(), "live.csv:2: the input is not valid UTF-8 (save it as UTF-8)");
        for file in ["-", "live.jsonl", "live.csv"] {
            assert!(parse(file, "", None).is_empty(), "{file}");
        }
    }

    #[test]
    fn reads_the_example_live_state() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/live.jsonl");
        let live = read_live(&path, None, None).unwrap();
        assert!(!live.is_empty());
        assert!(live.grants().all(|g| g.line() >= 1 && !g.identity().is_empty()));
    }

    #[test]
    fn reads_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("live.csv");
        std::fs::write(&path, "identity,entitlement\nu-1,okta:sso\n").unwrap();
        let live = read_live(&path, None, None).unwrap();
        assert_eq!(live.file, path.display().to_string());
        assert_eq!(pairs(&live), [("u-1", "okta:sso", 2)]);
        assert!(matches!(
            read_live(&dir.path().join("nope.csv"), None, None),
            Err(InputError::Io { .. })
        ));
    }

    #[test]
    fn last_used_is_read_from_json_lines_and_csv() {
        let f = parse(
            "l.jsonl",
            "{\"identity\": \"u-1\", \"entitlement\": \"a:b\", \"last_used\": \"2026-01-02\"}\n{\"identity\": \"u-2\", \"entitlement\": \"a:b\", \"last_used\": \"never\"}\n{\"identity\": \"u-3\", \"entitlement\": \"a:b\", \"last_used\": null}\n{\"identity\": \"u-4\", \"entitlement\": \"a:b\"}\n",
            None,
        );
        let used: Vec<Option<LastUsed>> = f.grants().map(|g| g.last_used()).collect();
        let jan2 = Instant::parse("2026-01-02").unwrap();
        assert_eq!(used, [Some(LastUsed::At(jan2)), Some(LastUsed::Never), None, None]);
        let csv = parse(
            "l.csv",
            "identity,entitlement,last_used\nu-1,a:b,2026-01-02T00:00:00Z\nu-2,a:b,never\nu-3,a:b,\n",
            None,
        );
        let used: Vec<Option<LastUsed>> = csv.grants().map(|g| g.last_used()).collect();
        assert_eq!(used, [Some(LastUsed::At(jan2)), Some(LastUsed::Never), None]);
    }

    #[test]
    fn a_repeated_grant_keeps_its_latest_use() {
        let f = parse(
            "l.csv",
            "identity,entitlement,last_used\nu-1,a:b,2026-01-02\nu-1,a:b,2026-03-01\nu-1,a:b,never\n",
            None,
        );
        assert_eq!(f.len(), 1);
        assert_eq!(
            f.grants().next().unwrap().last_used(),
            Some(LastUsed::At(Instant::parse("2026-03-01").unwrap()))
        );
    }

    #[test]
    fn a_bad_last_used_names_its_line() {
        assert_eq!(
            parse_err("l.jsonl", "{\"identity\": \"u-1\", \"entitlement\": \"a:b\"}\n{\"identity\": \"u-1\", \"entitlement\": \"a:c\", \"last_used\": \"last week\"}\n", None),
            "l.jsonl:2: `last_used` is not `never`, a date or an RFC 3339 instant: `last week` is not a date (YYYY-MM-DD) or an RFC 3339 instant (YYYY-MM-DDThh:mm:ssZ)"
        );
        assert_eq!(
            parse_err(
                "l.jsonl",
                "{\"identity\": \"u-1\", \"entitlement\": \"a:c\", \"last_used\": 3}\n",
                None
            ),
            "l.jsonl:1: `last_used` is not a string (write `never`, a date or an RFC 3339 instant)"
        );
        assert!(parse_err("l.csv", "identity,entitlement,last_used\nu-1,a:b,2026-13-01\n", None).starts_with("l.csv:2: `last_used`"));
    }
}

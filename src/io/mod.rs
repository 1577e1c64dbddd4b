//! Readers and writers of the formats entitle speaks at its edges.
//!
//! # The reader contract
//!
//! The identity feed ([`identities`]) and live state ([`live`]) readers turn
//! files into domain types and keep one promise (spec §8): **a broken input
//! never makes a present person look absent, and never half-uses a record**.
//! In detail:
//!
//! 1. **Bounded.** Each input is read whole, at most [`MAX_INPUT_BYTES`];
//!    all inputs of one command together at most [`MAX_RUN_INPUT_BYTES`]
//!    (through one [`ReadBudget`]); JSON Lines lines at most
//!    [`MAX_LINE_BYTES`]; JSON nesting at most serde_json's 128 levels.
//!    Memory for reading is proportional to the input (about 3× for live
//!    state and identity feeds). Passing a cap is an [`InputError`] naming it.
//! 2. **Whole or not at all, for documents.** A file that cannot be read
//!    through (not UTF-8, a JSON document or SCIM ListResponse with a syntax
//!    error, a CSV header that cannot be used, a SCIM export that does not
//!    prove it is complete) is an [`InputError`] with its file and line.
//! 3. **Record by record, for identity feeds.** A record that cannot be used
//!    is an [`identities::InvalidRecord`] at its line; it produces no change.
//!    Every record is validated by [`crate::state::IdentityState::from_json`],
//!    whatever its format, so the same record means the same in JSON, JSON
//!    Lines, CSV and SCIM (ids never trimmed; attribute text trimmed).
//! 4. **Uncertainty is said, never guessed away.** Where the reader cannot be
//!    certain which ids a stretch of the feed holds — a record whose id cannot
//!    be read, a JSON Lines record that is not valid JSON (a cut record glued
//!    to the next hides the second one), a CSV row with too many or too few
//!    cells (a comma too many shifts the columns), a CSV quote that never
//!    closes or a record spanning several lines (a stray quote swallows the
//!    rows after it), a key written twice — the feed lists an
//!    [`identities::UncertainStretch`] with its lines and reason. A record
//!    whose id is only a guess says so ([`identities::InvalidRecord::id_uncertain`]).
//!    While a feed has uncertain stretches, nobody is treated as absent from
//!    it: `plan` makes no `orphaned-account` revocation and holds back
//!    identities whose owner is not found, with the stretch in the reason.
//! 5. **Live state is all or nothing.** A live export with any malformed
//!    grant is an [`InputError`] naming the line: a grant silently dropped
//!    would never be revoked, two grants merged would hide one.
//! 6. **Keys once, and whole.** A JSON object with a key written twice, or a
//!    key holding a control or invisible character, at any depth, is invalid
//!    (serde_json would silently keep the last; SCIM would skip a damaged
//!    `externalId`); SCIM keys compare case-insensitively (RFC 7643 §2.1).
//! 7. **No panic, no hang.** Every input, however mangled, ends in a value
//!    or a located error (`tests/no_panic.rs`, `tests/feed_properties.rs`).
//!
//! The cases are `tests/cases/feeds/` and `tests/cases/live/` (one file per
//! case, run by `tests/feed_cases.rs`).

pub mod feed_kind;
pub mod git;
pub mod identities;
pub mod junit;
pub mod live;
pub mod sarif;

pub(crate) mod csv;
pub(crate) mod intern;
mod json;
mod scim;
mod text;

pub use scim::{SCIM_ENTERPRISE_USER, SCIM_ENTITLE_USER, SCIM_GROUP, SCIM_LIST_RESPONSE, SCIM_USER};
pub use text::{read_bounded, ReadBudget, MAX_INPUT_BYTES, MAX_LINE_BYTES, MAX_RUN_INPUT_BYTES};

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
    /// The inputs of one run together are larger than its [`ReadBudget`].
    #[error("{file}: the inputs of this run are larger than the limit of {limit} bytes in total (the identity feed and every live file together)")]
    RunTooLarge {
        /// The file whose reading passed the limit.
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
    /// A SCIM ListResponse that does not prove it holds the whole export.
    #[error("{file}:{line}: the SCIM ListResponse cannot be shown complete: {detail} (export every page into one document whose `totalResults` is the number of resources it holds)")]
    ScimNotComplete {
        /// The file.
        file: String,
        /// The line of the member at fault (or where the document starts).
        line: u32,
        /// What is wrong, such as "`totalResults` is `\"200\"`, not a whole number".
        detail: String,
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
            | InputError::RunTooLarge { file, .. }
            | InputError::LineTooLong { file, .. }
            | InputError::Syntax { file, .. }
            | InputError::CsvNoHeader { file }
            | InputError::CsvMissingColumn { file, .. }
            | InputError::CsvUnknownColumn { file, .. }
            | InputError::CsvDuplicateColumn { file, .. }
            | InputError::NotScimListResponse { file, .. }
            | InputError::ScimIncomplete { file, .. }
            | InputError::ScimNotComplete { file, .. }
            | InputError::ScimGroupsNeedApp { file }
            | InputError::LiveRecord { file, .. } => file,
        }
    }

    /// The 1-based line the error is about, when it is about one.
    pub fn line(&self) -> Option<u32> {
        match self {
            InputError::Io { .. } | InputError::TooLarge { .. } | InputError::RunTooLarge { .. } | InputError::ScimGroupsNeedApp { .. } => {
                None
            }
            InputError::CsvNoHeader { .. } => Some(1),
            InputError::NotUtf8 { line, .. }
            | InputError::LineTooLong { line, .. }
            | InputError::Syntax { line, .. }
            | InputError::CsvMissingColumn { line, .. }
            | InputError::CsvUnknownColumn { line, .. }
            | InputError::CsvDuplicateColumn { line, .. }
            | InputError::NotScimListResponse { line, .. }
            | InputError::ScimIncomplete { line, .. }
            | InputError::ScimNotComplete { line, .. }
            | InputError::LiveRecord { line, .. } => Some(*line),
        }
    }
}

//! Inputs read whole and within bounds: bytes from a file or standard input
//! under a per-file and a per-run cap, decoded as UTF-8, with lines counted.
//!
//! This module owns the caps. It never interprets what it reads.

use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

use super::InputError;

/// The largest single input entitle reads (1 GiB); larger inputs are an [`InputError::TooLarge`].
pub const MAX_INPUT_BYTES: u64 = 1 << 30;

/// The most bytes one command reads across all its inputs (2 GiB): the
/// identity feed and every live file together. Reading is proportional to
/// the input (about 3× for live state and identity feeds), so this bounds a
/// command's memory for reading at a few GiB. Passing it is an
/// [`InputError::RunTooLarge`].
pub const MAX_RUN_INPUT_BYTES: u64 = 2 << 30;

/// The longest line a JSON Lines input may have (16 MiB).
pub const MAX_LINE_BYTES: usize = 16 << 20;

/// What one run (one command) may still read: shared by every input it
/// reads, so that several files together stay under [`MAX_RUN_INPUT_BYTES`]
/// (or the limit given to [`ReadBudget::new`]). It can be shared between
/// threads.
#[derive(Debug)]
pub struct ReadBudget {
    limit: u64,
    used: AtomicU64,
}

impl ReadBudget {
    /// A budget of `limit` bytes in total.
    pub fn new(limit: u64) -> ReadBudget {
        ReadBudget {
            limit,
            used: AtomicU64::new(0),
        }
    }

    /// The budget of one command: [`MAX_RUN_INPUT_BYTES`].
    pub fn per_run() -> ReadBudget {
        ReadBudget::new(MAX_RUN_INPUT_BYTES)
    }

    /// The limit in bytes.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// The bytes read so far.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    fn remaining(&self) -> u64 {
        self.limit.saturating_sub(self.used())
    }

    fn charge(&self, bytes: u64) {
        self.used.fetch_add(bytes, Ordering::Relaxed);
    }
}

impl Default for ReadBudget {
    fn default() -> Self {
        ReadBudget::per_run()
    }
}

/// Reads `path` (`-` for standard input) into memory, refusing more than
/// [`MAX_INPUT_BYTES`] for the file and more than what `budget` has left.
/// Returns the name to use in messages and the bytes.
pub fn read_bounded(path: &Path, budget: &ReadBudget) -> Result<(String, Vec<u8>), InputError> {
    if path == Path::new("-") {
        let file = "<stdin>".to_string();
        let bytes = read_limited(&file, std::io::stdin().lock(), 0, budget)?;
        return Ok((file, bytes));
    }
    let file = path.display().to_string();
    let io = |source| InputError::Io {
        file: file.clone(),
        source,
    };
    let handle = std::fs::File::open(path).map_err(io)?;
    let metadata = handle.metadata().map_err(io)?;
    let size = if metadata.is_file() { metadata.len() } else { 0 };
    check_size(&file, size, MAX_INPUT_BYTES, budget)?;
    let bytes = read_limited(&file, handle, size, budget)?;
    Ok((file, bytes))
}

/// The error for `size` bytes when the file may have `file_limit`, if any.
fn check_size(file: &str, size: u64, file_limit: u64, budget: &ReadBudget) -> Result<(), InputError> {
    if size > file_limit {
        return Err(InputError::TooLarge {
            file: file.to_string(),
            limit: file_limit,
        });
    }
    if size > budget.remaining() {
        return Err(InputError::RunTooLarge {
            file: file.to_string(),
            limit: budget.limit(),
        });
    }
    Ok(())
}

/// Reads all of `reader`, at most the per-file cap and the budget's rest;
/// `size_hint` (the file's size, or 0) sizes the buffer once.
fn read_limited(file: &str, reader: impl Read, size_hint: u64, budget: &ReadBudget) -> Result<Vec<u8>, InputError> {
    read_limited_with(file, reader, size_hint, MAX_INPUT_BYTES, budget)
}

fn read_limited_with(file: &str, reader: impl Read, size_hint: u64, file_limit: u64, budget: &ReadBudget) -> Result<Vec<u8>, InputError> {
    let limit = file_limit.min(budget.remaining());
    // One allocation of the right size for a regular file (a growing buffer would double it).
    let capacity = usize::try_from(size_hint.min(limit).saturating_add(1)).unwrap_or(0);
    let mut bytes = Vec::with_capacity(capacity);
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|source| InputError::Io {
            file: file.to_string(),
            source,
        })?;
    check_size(file, bytes.len() as u64, file_limit, budget)?;
    budget.charge(bytes.len() as u64);
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
    pub(super) text: &'a str,
    offset: usize,
    line: u32,
}

impl<'a> LineCounter<'a> {
    /// A counter at the start of `text`.
    pub(super) fn new(text: &'a str) -> Self {
        LineCounter { text, offset: 0, line: 1 }
    }

    /// A counter at byte `offset` of `text`, which is on line `line`.
    pub(super) fn starting_at(text: &'a str, offset: usize, line: u32) -> Self {
        LineCounter {
            text,
            offset: offset.min(text.len()),
            line,
        }
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

/// A syntax error at byte `offset`.
pub(super) fn syntax(file: &str, lines: &mut LineCounter<'_>, offset: usize, message: String) -> InputError {
    InputError::Syntax {
        file: file.to_string(),
        line: lines.line_at(offset),
        column: lines.column_at(offset),
        message,
    }
}

/// `n` as a line number (saturating).
pub(super) fn line_number(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_bounded_per_file_and_per_run() {
        let budget = ReadBudget::new(100);
        let err = read_limited_with("big", &b"0123456789"[..], 0, 9, &budget).unwrap_err();
        assert_eq!(err.to_string(), "big: the input is larger than the limit of 9 bytes");
        assert_eq!(read_limited_with("ok", &b"0123456789"[..], 10, 10, &budget).unwrap().len(), 10);
        assert_eq!(budget.used(), 10);
        let budget = ReadBudget::new(15);
        assert!(read_limited_with("a", &b"0123456789"[..], 0, 100, &budget).is_ok());
        let err = read_limited_with("b", &b"0123456789"[..], 0, 100, &budget).unwrap_err();
        assert_eq!(
            err.to_string(),
            "b: the inputs of this run are larger than the limit of 15 bytes in total (the identity feed and every live file together)"
        );
        let err = check_line_lengths_with("x.jsonl", "{}\n0123456789\n", 9).unwrap_err();
        assert_eq!(err.to_string(), "x.jsonl:2: the line is longer than the limit of 9 bytes");
    }

    #[test]
    fn files_are_charged_to_the_run_budget() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.csv");
        std::fs::write(&path, "0123456789").unwrap();
        let budget = ReadBudget::new(25);
        assert_eq!(read_bounded(&path, &budget).unwrap().1.len(), 10);
        assert_eq!(read_bounded(&path, &budget).unwrap().1.len(), 10);
        let err = read_bounded(&path, &budget).unwrap_err();
        assert!(matches!(err, InputError::RunTooLarge { limit: 25, .. }), "{err}");
        assert_eq!(budget.used(), 20);
    }
}

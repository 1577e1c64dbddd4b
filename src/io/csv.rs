//! CSV records read strictly (RFC 4180), with the physical lines each spans
//! and every quoting fault named, so a reader can tell when it cannot be
//! sure where records begin and end.
//!
//! A lenient CSV reader turns a cell that opens a quote and never closes it
//! into one huge cell holding every row after it, and keeps a quote in the
//! middle of a cell as text. Here:
//!
//! - a cell is quoted when its first non-blank character is `"`; inside, `""`
//!   is a quote; spaces and tabs around a quoted cell are syntax, not content;
//! - a quote that is never closed, text after a closing quote, and a quote
//!   inside an unquoted cell are **faults**, reported with their line;
//! - a record ends at a line break (`\n` or `\r\n`) outside quotes, so a
//!   record spanning several lines holds a quoted line break;
//! - blank lines (only spaces and tabs) are skipped;
//! - after a faulty record that spans several lines, the reader can resume at
//!   the line after its first ([`CsvReader::resume_after_first_line`]): rows a
//!   stray quote swallowed are read again.
//!
//! Cells are returned exactly as written (no trimming): what a cell means is
//! the caller's business. It never allocates per cell unless a cell holds `""`.

use std::borrow::Cow;

/// One CSV record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct CsvRecord<'a> {
    /// The line where it starts.
    pub(super) first_line: u32,
    /// The line where it ends (after `first_line` when a quoted cell holds a line break).
    pub(super) last_line: u32,
    /// The cells, unquoted, untrimmed.
    pub(super) cells: Vec<Cow<'a, str>>,
    /// The first quoting fault, one sentence.
    pub(super) fault: Option<String>,
    /// The record's last line ended with a line break (false for a last line cut short).
    pub(super) terminated: bool,
    /// The byte offset of the line after `first_line`.
    after_first_line: usize,
}

impl CsvRecord<'_> {
    /// Does it span several physical lines?
    pub(super) fn is_multiline(&self) -> bool {
        self.last_line > self.first_line
    }
}

/// Reads records one by one.
pub(super) struct CsvReader<'a> {
    text: &'a str,
    pos: usize,
    line: u32,
}

impl<'a> CsvReader<'a> {
    /// A reader at the start of `text`.
    pub(super) fn new(text: &'a str) -> Self {
        CsvReader { text, pos: 0, line: 1 }
    }

    /// Continue at the line after `record`'s first line (see the module documentation).
    pub(super) fn resume_after_first_line(&mut self, record: &CsvRecord<'_>) {
        self.pos = record.after_first_line;
        self.line = record.first_line.saturating_add(1);
    }

    /// Skips blank lines; false at the end of the text.
    fn skip_blank_lines(&mut self) -> bool {
        let bytes = self.text.as_bytes();
        loop {
            let mut i = self.pos;
            while i < bytes.len() && matches!(bytes[i], b' ' | b'\t') {
                i += 1;
            }
            if i < bytes.len() && bytes[i] == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
                i += 1;
            }
            match bytes.get(i) {
                None => {
                    self.pos = bytes.len();
                    return false;
                }
                Some(b'\n') => {
                    self.pos = i + 1;
                    self.line = self.line.saturating_add(1);
                }
                Some(_) => return true,
            }
        }
    }
}

impl<'a> Iterator for CsvReader<'a> {
    type Item = CsvRecord<'a>;

    fn next(&mut self) -> Option<CsvRecord<'a>> {
        if !self.skip_blank_lines() {
            return None;
        }
        let text = self.text;
        let bytes = text.as_bytes();
        let first_line = self.line;
        let after_first_line = text[self.pos..].find('\n').map_or(text.len(), |i| self.pos + i + 1);
        let mut cells = Vec::new();
        let mut fault: Option<String> = None;
        let mut pos = self.pos;
        let mut line = self.line;
        let mut terminated = false;
        loop {
            // One cell starting at `pos`.
            let mut lead = pos;
            while lead < bytes.len() && matches!(bytes[lead], b' ' | b'\t') {
                lead += 1;
            }
            let mut end_of_cell;
            if bytes.get(lead) == Some(&b'"') {
                let open_line = line;
                let mut i = lead + 1;
                let mut doubled = false;
                let mut closed = None;
                while i < bytes.len() {
                    match bytes[i] {
                        b'"' if bytes.get(i + 1) == Some(&b'"') => {
                            doubled = true;
                            i += 2;
                        }
                        b'"' => {
                            closed = Some(i);
                            break;
                        }
                        b'\n' => {
                            line = line.saturating_add(1);
                            i += 1;
                        }
                        _ => i += 1,
                    }
                }
                let Some(close) = closed else {
                    note(&mut fault, format!("a quoted cell opened at line {open_line} is never closed"));
                    // The record ends with the text, not on the empty line after a final line break.
                    if text.ends_with('\n') && line > open_line {
                        line -= 1;
                    }
                    let content = &text[lead + 1..];
                    cells.push(unescape(content, doubled));
                    pos = bytes.len();
                    break;
                };
                let content = &text[lead + 1..close];
                let mut cell = unescape(content, doubled);
                end_of_cell = close + 1;
                while end_of_cell < bytes.len() && matches!(bytes[end_of_cell], b' ' | b'\t') {
                    end_of_cell += 1;
                }
                let stop = delimiter_at(bytes, end_of_cell);
                if stop.is_none() {
                    note(
                        &mut fault,
                        format!(
                            "text follows the closing quote of a cell at line {line} (quote the whole cell, and double a quote inside it)"
                        ),
                    );
                    let rest_end = unquoted_end(bytes, end_of_cell);
                    cell = Cow::Owned(format!("{cell}{}", &text[end_of_cell..rest_end]));
                    end_of_cell = rest_end;
                }
                cells.push(cell);
            } else {
                end_of_cell = unquoted_end(bytes, pos);
                let raw = &text[pos..end_of_cell];
                let raw = raw
                    .strip_suffix('\r')
                    .filter(|_| bytes.get(end_of_cell) == Some(&b'\n'))
                    .unwrap_or(raw);
                if raw.contains('"') {
                    note(
                        &mut fault,
                        format!("a quote inside an unquoted cell at line {line} (quote the whole cell, and double a quote inside it)"),
                    );
                }
                cells.push(Cow::Borrowed(raw));
            }
            match delimiter_at(bytes, end_of_cell) {
                Some(Delimiter::Comma) => pos = end_of_cell + 1,
                Some(Delimiter::LineBreak(len)) => {
                    pos = end_of_cell + len;
                    terminated = true;
                    break;
                }
                Some(Delimiter::End) | None => {
                    pos = bytes.len();
                    break;
                }
            }
        }
        let record = CsvRecord {
            first_line,
            last_line: line,
            cells,
            fault,
            terminated,
            after_first_line,
        };
        self.pos = pos;
        self.line = line.saturating_add(u32::from(terminated));
        Some(record)
    }
}

enum Delimiter {
    Comma,
    /// A line break of this many bytes (`\n` or `\r\n`).
    LineBreak(usize),
    End,
}

/// Keeps the first fault of a record.
fn note(fault: &mut Option<String>, sentence: String) {
    if fault.is_none() {
        *fault = Some(sentence);
    }
}

fn delimiter_at(bytes: &[u8], i: usize) -> Option<Delimiter> {
    match bytes.get(i) {
        None => Some(Delimiter::End),
        Some(b',') => Some(Delimiter::Comma),
        Some(b'\n') => Some(Delimiter::LineBreak(1)),
        Some(b'\r') if bytes.get(i + 1) == Some(&b'\n') => Some(Delimiter::LineBreak(2)),
        Some(_) => None,
    }
}

/// Where an unquoted cell starting at `i` ends: at a comma, a line break or the end
/// (a `\r` before `\n` belongs to the line break and is stripped by the caller).
fn unquoted_end(bytes: &[u8], i: usize) -> usize {
    let mut i = i;
    while i < bytes.len() && !matches!(bytes[i], b',' | b'\n') {
        i += 1;
    }
    i
}

fn unescape(content: &str, doubled: bool) -> Cow<'_, str> {
    if doubled {
        Cow::Owned(content.replace("\"\"", "\""))
    } else {
        Cow::Borrowed(content)
    }
}

/// The lines `first`–`last` as prose: "line 4" or "lines 4–6".
pub(super) fn lines_phrase(first: u32, last: u32) -> String {
    if last > first {
        format!("lines {first}–{last}")
    } else {
        format!("line {first}")
    }
}

/// A row: its first line and its cells.
pub(crate) type CsvRow = (u32, Vec<String>);

/// Every row of a strict RFC 4180 text as (first line, cells), blank lines
/// skipped; the first malformed row is an error with its line (for readers
/// outside `io`, such as review decisions).
pub(crate) fn rows(text: &str) -> Result<Vec<CsvRow>, (u32, String)> {
    let mut out = Vec::new();
    for row in CsvReader::new(text) {
        if let Some(fault) = row.fault {
            return Err((row.first_line, fault));
        }
        out.push((row.first_line, row.cells.into_iter().map(|c| c.into_owned()).collect()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// First line, last line, cells, fault, terminated.
    type Read = (u32, u32, Vec<String>, Option<String>, bool);

    fn read(text: &str) -> Vec<Read> {
        CsvReader::new(text)
            .map(|r| {
                (
                    r.first_line,
                    r.last_line,
                    r.cells.iter().map(|c| c.to_string()).collect(),
                    r.fault,
                    r.terminated,
                )
            })
            .collect()
    }

    fn cells(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn plain_quoted_and_blank() {
        let text = "a,b\n\n  \r\n\"x, y\" , \"say \"\"hi\"\"\"\r\n u-1 ,,\nlast,row";
        assert_eq!(
            read(text),
            [
                (1, 1, cells(&["a", "b"]), None, true),
                (4, 4, cells(&["x, y", "say \"hi\""]), None, true),
                (5, 5, cells(&[" u-1 ", "", ""]), None, true),
                (6, 6, cells(&["last", "row"]), None, false),
            ]
        );
    }

    #[test]
    fn a_quoted_line_break_makes_a_multiline_record() {
        let text = "u-1,\"Research\nand Development\"\nu-2,x\n";
        let records = read(text);
        assert_eq!(records[0], (1, 2, cells(&["u-1", "Research\nand Development"]), None, true));
        assert_eq!(records[1], (3, 3, cells(&["u-2", "x"]), None, true));
    }

    #[test]
    fn quoting_faults_are_named_with_their_line() {
        let records = read("u-1,act\"ive\nu-2,\"a\"b,c\n");
        assert_eq!(
            records[0].3.as_deref(),
            Some("a quote inside an unquoted cell at line 1 (quote the whole cell, and double a quote inside it)")
        );
        assert_eq!(records[1].2, cells(&["u-2", "ab", "c"]));
        assert_eq!(
            records[1].3.as_deref(),
            Some("text follows the closing quote of a cell at line 2 (quote the whole cell, and double a quote inside it)")
        );
    }

    #[test]
    fn an_unclosed_quote_is_a_fault_and_reading_can_resume_after_its_first_line() {
        let text = "id,kind\nu-1,\"person\nu-2,person\nu-3,person\n";
        let mut reader = CsvReader::new(text);
        assert_eq!(reader.next().unwrap().cells, ["id", "kind"]);
        let broken = reader.next().unwrap();
        assert_eq!((broken.first_line, broken.last_line), (2, 4));
        assert_eq!(broken.fault.as_deref(), Some("a quoted cell opened at line 2 is never closed"));
        reader.resume_after_first_line(&broken);
        let rest: Vec<(u32, Vec<Cow<'_, str>>)> = reader.map(|r| (r.first_line, r.cells)).collect();
        assert_eq!(
            rest,
            [(3, vec!["u-2".into(), "person".into()]), (4, vec!["u-3".into(), "person".into()])]
        );
    }
}

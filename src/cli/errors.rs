//! How the command line tells a person or a program that something went
//! wrong: `error: <message>` (and `help: ...`) for a person, one JSON object
//! `{"error": {"code", "message", "file", "line"}}` per error for a program
//! (`--format json`, on every command).
//!
//! Errors always go to standard error: standard output carries results only,
//! so `entitle plan --format json > plan.json` never mixes an error into the
//! plan. The format is chosen once per run, before the arguments are parsed
//! (a usage error is JSON when `--format json` is on the command line) and
//! settled once the project file is read; it never changes what a command computes.

use std::sync::atomic::{AtomicBool, Ordering};

use entitle::term::one_line;

/// How errors are written: for a person, or as JSON.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ErrorFormat {
    /// `error: <message>` and `  help: <help>` lines.
    #[default]
    Human,
    /// One JSON object per error, one per line.
    Json,
}

static JSON: AtomicBool = AtomicBool::new(false);

/// Chooses the format of every error of this run.
pub fn set_format(format: ErrorFormat) {
    JSON.store(format == ErrorFormat::Json, Ordering::Relaxed);
}

/// The format errors are written in.
pub fn format() -> ErrorFormat {
    if JSON.load(Ordering::Relaxed) {
        ErrorFormat::Json
    } else {
        ErrorFormat::Human
    }
}

/// `--format json` (or `--format=json`) somewhere on the command line, before
/// a `--` that ends the options: errors are JSON even when the arguments do
/// not parse.
pub fn json_requested(args: &[std::ffi::OsString]) -> bool {
    let mut args = args.iter().map(|a| a.to_str().unwrap_or_default());
    while let Some(arg) = args.next() {
        match arg {
            "--" => return false,
            "--format" if args.next() == Some("json") => return true,
            "--format=json" => return true,
            _ => {}
        }
    }
    false
}

/// One error: a stable code, one sentence, where (when known), and advice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CliError {
    /// A stable, kebab-case code: `usage`, `input`, `definitions`, `wrong-feed-kind`, ...
    pub code: String,
    /// One sentence, lowercase, no trailing period.
    pub message: String,
    /// The file it is about.
    pub file: Option<String>,
    /// The line in `file` (1-based).
    pub line: Option<u32>,
    /// Advice, when there is some.
    pub help: Option<String>,
}

impl CliError {
    /// An error with a code and a message, about no file in particular.
    pub fn new(code: &str, message: impl std::fmt::Display) -> CliError {
        CliError {
            code: code.to_string(),
            message: message.to_string(),
            file: None,
            line: None,
            help: None,
        }
    }

    /// The same error, about `file` (and `line`, when known).
    pub fn at(mut self, file: impl Into<String>, line: Option<u32>) -> CliError {
        self.file = Some(file.into());
        self.line = line.filter(|l| *l > 0);
        self
    }

    /// The same error, with advice.
    pub fn with_help(mut self, help: impl Into<String>) -> CliError {
        self.help = Some(help.into());
        self
    }

    /// An error whose message starts with `file:` or `file:line:` (the readers'
    /// style), split into its location and its sentence.
    pub fn located(code: &str, file: &str, message: &str) -> CliError {
        let Some(rest) = message.strip_prefix(file).and_then(|r| r.strip_prefix(':')) else {
            return CliError::new(code, message);
        };
        let (line, sentence) = match rest.split_once(':') {
            Some((n, s)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => (n.parse().ok(), s),
            _ => (None, rest),
        };
        CliError::new(code, sentence.trim_start()).at(file, line)
    }

    /// An error whose message may start with a file name and line (`feed.jsonl:3: ...`,
    /// `feed.jsonl: ...`), split when the prefix is a plain path (no white space).
    pub fn guess_located(code: &str, message: &str) -> CliError {
        match message.split_once(": ") {
            Some((prefix, _)) if !prefix.is_empty() && !prefix.contains(char::is_whitespace) => {
                let file = match prefix.rsplit_once(':') {
                    Some((file, line)) if !line.is_empty() && line.bytes().all(|b| b.is_ascii_digit()) => file,
                    _ => prefix,
                };
                CliError::located(code, file, message)
            }
            _ => CliError::new(code, message),
        }
    }

    /// The JSON object written for it.
    pub fn to_json(&self) -> serde_json::Value {
        let mut error = serde_json::json!({
            "code": self.code,
            "message": self.message,
            "file": self.file,
            "line": self.line,
        });
        if let Some(help) = &self.help {
            error["help"] = help.clone().into();
        }
        serde_json::json!({ "error": error })
    }

    /// The text written for a person (terminal-safe: it quotes values from the input).
    pub fn to_human(&self) -> String {
        let location = match (&self.file, self.line) {
            (Some(file), Some(line)) => format!("{file}:{line}: "),
            (Some(file), None) if !self.message.contains(file.as_str()) => format!("{file}: "),
            _ => String::new(),
        };
        let mut text = format!("error: {}", one_line(&format!("{location}{}", self.message)));
        if let Some(help) = &self.help {
            text.push_str(&format!("\n  help: {}", one_line(help)));
        }
        text
    }
}

/// Writes `error` on standard error, in the run's format.
pub fn report(error: &CliError) {
    match format() {
        ErrorFormat::Human => eprintln!("{}", error.to_human()),
        ErrorFormat::Json => eprintln!("{}", error.to_json()),
    }
}

/// A parse error of the command line: clap's own text for a person, its first
/// line as a `usage` error in JSON.
pub fn report_usage(e: &clap::Error) {
    match format() {
        ErrorFormat::Human => {
            let _ = e.print();
        }
        ErrorFormat::Json => {
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or_default();
            let message = first.strip_prefix("error: ").unwrap_or(first);
            let mut error = CliError::new("usage", message);
            if let Some(tip) = text.lines().find_map(|l| l.trim().strip_prefix("tip: ")) {
                error = error.with_help(tip);
            }
            report(&error);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_a_readers_location() {
        let e = CliError::located("input", "feed.jsonl", "feed.jsonl:3: expected `,` or `}`");
        assert_eq!(e.file.as_deref(), Some("feed.jsonl"));
        assert_eq!(e.line, Some(3));
        assert_eq!(e.message, "expected `,` or `}`");
        let e = CliError::located("input", "a:b.csv", "a:b.csv: the file has no header");
        assert_eq!(
            (e.file.as_deref(), e.line, e.message.as_str()),
            (Some("a:b.csv"), None, "the file has no header")
        );
        let e = CliError::guess_located("input", "a.jsonl:7: bad record: `x`");
        assert_eq!(
            (e.file.as_deref(), e.line, e.message.as_str()),
            (Some("a.jsonl"), Some(7), "bad record: `x`")
        );
        let e = CliError::guess_located("input", "a.jsonl: cannot read the file: gone");
        assert_eq!(
            (e.file.as_deref(), e.line, e.message.as_str()),
            (Some("a.jsonl"), None, "cannot read the file: gone")
        );
        let e = CliError::guess_located("usage", "nothing to compare: give `--base`");
        assert_eq!((e.file, e.message.as_str()), (None, "nothing to compare: give `--base`"));
        let e = CliError::located("input", "x", "something else");
        assert_eq!((e.file, e.message.as_str()), (None, "something else"));
    }

    #[test]
    fn json_shape() {
        let e = CliError::new("usage", "unknown `--x`").at("f", Some(0));
        assert_eq!(
            e.to_json(),
            serde_json::json!({"error": {"code": "usage", "message": "unknown `--x`", "file": "f", "line": null}})
        );
    }

    #[test]
    fn finds_json_on_the_command_line() {
        let args = |s: &str| s.split(' ').map(std::ffi::OsString::from).collect::<Vec<_>>();
        assert!(json_requested(&args("entitle plan --format json --bogus")));
        assert!(json_requested(&args("entitle check --format=json")));
        assert!(!json_requested(&args("entitle check --format sarif")));
        assert!(!json_requested(&args("entitle test -- --format json")));
    }
}

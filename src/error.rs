//! The library's one-sentence error for a single value that cannot be read:
//! an instant, a duration, an id, an identity record, a grant.
//!
//! It owns nothing else: the errors of whole inputs are [`crate::io::InputError`],
//! of definitions [`crate::project::LoadFailure`], of evaluation
//! [`crate::eval::EvalError`]. It never carries a value unescaped (messages
//! quote user text through [`crate::state::shown`]).

use std::fmt;

/// A value that cannot be read, and why: one sentence, lowercase, user values
/// in backticks, no trailing period (`` `2026-13-01` is not an RFC 3339 instant ``).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidValue {
    message: String,
}

impl InvalidValue {
    /// The error with `message` (one sentence).
    pub fn new(message: impl Into<String>) -> InvalidValue {
        InvalidValue { message: message.into() }
    }

    /// The sentence.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for InvalidValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for InvalidValue {}

impl From<String> for InvalidValue {
    fn from(message: String) -> InvalidValue {
        InvalidValue { message }
    }
}

impl From<&str> for InvalidValue {
    fn from(message: &str) -> InvalidValue {
        InvalidValue::new(message)
    }
}

/// The sentence, for code that collects messages as text.
impl From<InvalidValue> for String {
    fn from(e: InvalidValue) -> String {
        e.message
    }
}

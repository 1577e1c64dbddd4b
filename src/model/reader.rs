//! Typed access to [`Node`]s that reports, instead of failing, when a value
//! has the wrong shape: the loader keeps going and collects every diagnostic.

use crate::diag::{did_you_mean, Code, Diagnostic, Location};
use crate::model::yaml::{Node, Value};

/// Reads nodes of one file, collecting diagnostics.
pub struct Reader<'d> {
    /// The file being read, as named to the user.
    pub file: String,
    /// Where diagnostics go.
    pub diagnostics: &'d mut Vec<Diagnostic>,
}

impl<'d> Reader<'d> {
    /// The location of `node` in this file.
    pub fn loc(&self, node: &Node) -> Location {
        Location::new(self.file.clone(), node.pos.line, node.pos.column)
    }

    /// Reports a diagnostic at `node`.
    pub fn report(&mut self, code: Code, node: &Node, message: impl Into<String>) {
        self.report_help(code, node, message, None);
    }

    /// Reports a diagnostic at `node` with advice.
    pub fn report_help(&mut self, code: Code, node: &Node, message: impl Into<String>, help: Option<String>) {
        let d = Diagnostic::new(code, self.loc(node), message).with_help_opt(help);
        self.diagnostics.push(d);
    }

    /// The entries of a map whose keys must be among `allowed`; unknown and
    /// repeated keys are reported and skipped. `what` names the map ("role").
    pub fn map<'n>(&mut self, node: &'n Node, allowed: &[&str], what: &str) -> Option<Vec<(&'n str, &'n Node, &'n Node)>> {
        let Value::Map(entries) = &node.value else {
            self.report(
                Code::WrongType,
                node,
                format!("expected {what} as a map, found {}", node.type_name()),
            );
            return None;
        };
        let mut out: Vec<(&str, &Node, &Node)> = Vec::new();
        for (key, value) in entries {
            let Value::Scalar { text, .. } = &key.value else {
                self.report(Code::WrongType, key, format!("expected a key in {what}, found {}", key.type_name()));
                continue;
            };
            if !allowed.is_empty() && !allowed.contains(&text.as_str()) {
                let help = did_you_mean(text, allowed.iter().copied())
                    .unwrap_or_else(|| format!("the keys of {what} are {}", quote_list(allowed)));
                self.report_help(Code::UnknownKey, key, format!("unknown key `{text}` in {what}"), Some(help));
                continue;
            }
            if out.iter().any(|(k, _, _)| *k == text) {
                self.report(Code::DuplicateId, key, format!("key `{text}` appears twice in {what}"));
                continue;
            }
            out.push((text.as_str(), key, value));
        }
        Some(out)
    }

    /// A string scalar (numbers and booleans are taken as written).
    pub fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match &node.value {
            Value::Scalar { text, .. } if !node.is_null() => Some(text.clone()),
            _ => {
                self.report(
                    Code::WrongType,
                    node,
                    format!("expected {what} as a string, found {}", node.type_name()),
                );
                None
            }
        }
    }

    /// An identifier: a non-empty string of letters, digits and `-_.@/+`.
    pub fn id(&mut self, node: &Node, what: &str) -> Option<String> {
        let text = self.string(node, what)?;
        if valid_id(&text) {
            Some(text)
        } else {
            self.report_help(
                Code::InvalidValue,
                node,
                format!("`{}` is not a valid {what}", text.escape_debug()),
                Some("ids use letters, digits and `-_.@/+` only".into()),
            );
            None
        }
    }

    /// A boolean scalar.
    pub fn bool(&mut self, node: &Node, what: &str) -> Option<bool> {
        match &node.value {
            Value::Scalar { text, plain: true } if text == "true" => Some(true),
            Value::Scalar { text, plain: true } if text == "false" => Some(false),
            _ => {
                self.report(
                    Code::WrongType,
                    node,
                    format!("expected {what} as `true` or `false`, found {}", node.type_name()),
                );
                None
            }
        }
    }

    /// An integer scalar.
    pub fn int(&mut self, node: &Node, what: &str) -> Option<i64> {
        match &node.value {
            Value::Scalar { text, plain: true } => match text.parse::<i64>() {
                Ok(n) => Some(n),
                Err(_) => {
                    self.report(Code::WrongType, node, format!("expected {what} as a whole number, found `{text}`"));
                    None
                }
            },
            _ => {
                self.report(
                    Code::WrongType,
                    node,
                    format!("expected {what} as a whole number, found {}", node.type_name()),
                );
                None
            }
        }
    }

    /// A list; a single scalar is not accepted in its place.
    pub fn seq<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n [Node]> {
        match &node.value {
            Value::Seq(items) => Some(items),
            _ if node.is_null() => Some(&[]),
            _ => {
                self.report(
                    Code::WrongType,
                    node,
                    format!("expected {what} as a list, found {}", node.type_name()),
                );
                None
            }
        }
    }

    /// A list of ids, each with its node.
    pub fn id_list<'n>(&mut self, node: &'n Node, what: &str) -> Vec<(String, &'n Node)> {
        let Some(items) = self.seq(node, &format!("{what}s")) else {
            return Vec::new();
        };
        let mut out: Vec<(String, &Node)> = Vec::new();
        for item in items {
            let Some(id) = self.id(item, what) else { continue };
            if out.iter().any(|(seen, _)| *seen == id) {
                self.report(Code::DuplicateId, item, format!("{what} `{id}` is listed twice"));
                continue;
            }
            out.push((id, item));
        }
        out
    }
}

/// Is `text` a valid id?
pub fn valid_id(text: &str) -> bool {
    !text.is_empty() && text.len() <= 256 && text.chars().all(|c| c.is_ascii_alphanumeric() || "-_.@/+".contains(c))
}

/// `a`, `b`, `c` in backticks.
pub fn quote_list(items: &[&str]) -> String {
    items.iter().map(|i| format!("`{i}`")).collect::<Vec<_>>().join(", ")
}

//! A bounded YAML reader that keeps where every value came from.
//!
//! `serde_yaml` forgets positions, and every diagnostic must name a line and
//! column, so definitions are read from yaml-rust2's marked events into a
//! small [`Node`] tree. This module owns the input bounds (file size, nesting
//! depth, alias expansion); it never interprets what the nodes mean.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use crate::diag::{Code, Diagnostic, Location};

/// Largest definitions file read, in bytes.
pub const MAX_FILE_BYTES: usize = 8 * 1024 * 1024;
/// Deepest nesting of maps and lists.
pub const MAX_DEPTH: usize = 64;
/// Most nodes one file may expand to, aliases included (stops alias bombs).
pub const MAX_NODES: usize = 1_000_000;

/// Where a node starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
}

/// A YAML value with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// What the value is.
    pub value: Value,
    /// Where it starts.
    pub pos: Pos,
}

/// The shapes a YAML value takes.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A scalar as written; `plain` is false for quoted and block scalars,
    /// which are always strings.
    Scalar {
        /// The text.
        text: String,
        /// Unquoted (so `true` or `3` may be a boolean or a number).
        plain: bool,
    },
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in source order.
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// Is this a plain `null`, `~` or empty scalar?
    pub fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar { text, plain: true } if text.is_empty() || text == "~" || text == "null" || text == "Null" || text == "NULL")
    }

    /// The YAML type name, for "expected X, found Y" messages.
    pub fn type_name(&self) -> &'static str {
        match &self.value {
            Value::Seq(_) => "a list",
            Value::Map(_) => "a map",
            Value::Scalar { .. } if self.is_null() => "nothing",
            Value::Scalar { text, plain: true } if text.parse::<i64>().is_ok() => "a number",
            Value::Scalar { text, plain: true } if matches!(text.as_str(), "true" | "false") => "a boolean",
            Value::Scalar { .. } => "a string",
        }
    }
}

struct Builder {
    stack: Vec<(Node, Option<Node>, usize)>,
    anchors: HashMap<usize, Node>,
    root: Option<Node>,
    nodes: usize,
    error: Option<(Code, Pos, String)>,
    documents: usize,
    /// The end of the text: no position may lie beyond it (see [`end_of`]).
    end: Pos,
}

fn pos_of(mark: &Marker) -> Pos {
    Pos {
        line: mark.line() as u32,
        column: mark.col() as u32 + 1,
    }
}

fn count_nodes(node: &Node) -> usize {
    match &node.value {
        Value::Scalar { .. } => 1,
        Value::Seq(items) => 1 + items.iter().map(count_nodes).sum::<usize>(),
        Value::Map(entries) => 1 + entries.iter().map(|(k, v)| count_nodes(k) + count_nodes(v)).sum::<usize>(),
    }
}

impl Builder {
    fn fail(&mut self, code: Code, pos: Pos, message: String) {
        if self.error.is_none() {
            self.error = Some((code, pos, message));
        }
    }

    fn insert(&mut self, node: Node, anchor: usize) {
        if self.error.is_some() {
            return;
        }
        if anchor > 0 {
            // The kept copy costs memory too: it counts against the bound, so nested
            // anchors cannot multiply a small file into gigabytes.
            self.nodes += count_nodes(&node);
            if self.nodes > MAX_NODES {
                self.fail(
                    Code::InputTooLarge,
                    node.pos,
                    format!("anchors and aliases expand to more than {MAX_NODES} values"),
                );
                return;
            }
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some((parent, pending_key, _)) => match &mut parent.value {
                Value::Seq(items) => items.push(node),
                Value::Map(entries) => match pending_key.take() {
                    None => *pending_key = Some(node),
                    Some(key) => entries.push((key, node)),
                },
                Value::Scalar { .. } => {}
            },
        }
    }

    fn open(&mut self, value: Value, pos: Pos, anchor: usize) {
        if self.stack.len() >= MAX_DEPTH {
            self.fail(Code::InputTooLarge, pos, format!("nesting deeper than {MAX_DEPTH} levels"));
            return;
        }
        self.stack.push((Node { value, pos }, None, anchor));
    }

    fn close(&mut self) {
        if let Some((mut node, _, anchor)) = self.stack.pop() {
            // A block map's start marker sits after its first key; the key is where it starts.
            if let Value::Map(entries) = &node.value {
                if let Some((key, _)) = entries.first() {
                    if (key.pos.line, key.pos.column) < (node.pos.line, node.pos.column) {
                        node.pos = key.pos;
                    }
                }
            }
            self.insert(node, anchor);
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, event: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        let pos = within(pos_of(&mark), self.end);
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            self.fail(Code::InputTooLarge, pos, format!("more than {MAX_NODES} values"));
            return;
        }
        match event {
            Event::DocumentStart => {
                self.documents += 1;
                if self.documents > 1 {
                    self.fail(Code::YamlSyntax, pos, "more than one YAML document in a file".into());
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                let plain = style == TScalarStyle::Plain && !is_str_tag(&tag);
                self.insert(
                    Node {
                        value: Value::Scalar { text, plain },
                        pos,
                    },
                    anchor,
                );
            }
            Event::SequenceStart(anchor, _) => self.open(Value::Seq(Vec::new()), pos, anchor),
            Event::MappingStart(anchor, _) => self.open(Value::Map(Vec::new()), pos, anchor),
            Event::SequenceEnd | Event::MappingEnd => self.close(),
            Event::Alias(id) => match self.anchors.get(&id).cloned() {
                None => self.fail(Code::YamlSyntax, pos, "alias to an unknown anchor".into()),
                Some(mut node) => {
                    self.nodes += count_nodes(&node);
                    if self.nodes > MAX_NODES {
                        self.fail(Code::InputTooLarge, pos, format!("aliases expand to more than {MAX_NODES} values"));
                        return;
                    }
                    node.pos = pos;
                    self.insert(node, 0);
                }
            },
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
        }
    }
}

fn is_str_tag(tag: &Option<Tag>) -> bool {
    tag.as_ref().is_some_and(|t| t.suffix == "str")
}

/// Parses one YAML document. An empty document is `Ok(None)`.
pub fn parse(file: &str, text: &str) -> Result<Option<Node>, Diagnostic> {
    // A byte-order mark is not content (files read from disk have it removed already).
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.len() > MAX_FILE_BYTES {
        return Err(Diagnostic::new(
            Code::InputTooLarge,
            Location::new(file, 1, 1),
            format!("file is {} bytes, more than the {MAX_FILE_BYTES} bytes allowed", text.len()),
        )
        .with_help("split the definitions across several files"));
    }
    let mut builder = Builder {
        stack: Vec::new(),
        anchors: HashMap::new(),
        root: None,
        nodes: 0,
        error: None,
        documents: 0,
        end: end_of(text),
    };
    let mut parser = Parser::new_from_str(text);
    let result = parser.load(&mut builder, true);
    if let Err(e) = result {
        let pos = within(pos_of(e.marker()), builder.end);
        return Err(Diagnostic::new(
            Code::YamlSyntax,
            Location::new(file, pos.line, pos.column),
            format!("invalid YAML: {}", e.info()),
        ));
    }
    if let Some((code, pos, message)) = builder.error {
        return Err(Diagnostic::new(code, Location::new(file, pos.line, pos.column), message));
    }

    Ok(builder.root)
}

/// The end of `text`: its last line, and the column after its last character.
fn end_of(text: &str) -> Pos {
    let last = text.rsplit('\n').next().unwrap_or_default();
    Pos {
        line: u32::try_from(text.bytes().filter(|b| *b == b'\n').count() + 1).unwrap_or(u32::MAX),
        column: u32::try_from(last.chars().count() + 1).unwrap_or(u32::MAX),
    }
}

/// `pos`, or `end` when `pos` lies past it: the parser puts the end of a text
/// that does not end with a line break on the line after its last, and a
/// diagnostic must point at a line the file has.
fn within(pos: Pos, end: Pos) -> Pos {
    if pos.line > end.line {
        end
    } else {
        pos
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_positions() {
        let node = parse("f.yaml", "roles:\n  - id: a\n    when: {x: 1}\n").unwrap().unwrap();
        let Value::Map(entries) = &node.value else { panic!("not a map") };
        assert_eq!(entries[0].0.pos, Pos { line: 1, column: 1 });
        let Value::Seq(items) = &entries[0].1.value else {
            panic!("not a seq")
        };
        let Value::Map(role) = &items[0].value else { panic!("not a map") };
        assert_eq!(role[1].0.pos, Pos { line: 3, column: 5 });
    }

    #[test]
    fn quoted_scalars_are_not_plain() {
        let node = parse("f.yaml", "a: 'true'\nb: true\n").unwrap().unwrap();
        let Value::Map(entries) = &node.value else { panic!() };
        assert_eq!(
            entries[0].1.value,
            Value::Scalar {
                text: "true".into(),
                plain: false
            }
        );
        assert_eq!(
            entries[1].1.value,
            Value::Scalar {
                text: "true".into(),
                plain: true
            }
        );
    }

    #[test]
    fn alias_bomb_is_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n",
                p = i - 1
            ));
        }
        let err = parse("bomb.yaml", &text).unwrap_err();
        assert_eq!(err.code, Code::InputTooLarge);
        assert!(err.message.contains("expand to more than"), "{}", err.message);
    }

    #[test]
    fn nested_anchors_count_their_copies() {
        // 60 nested anchored lists around 20,000 scalars: each anchor would keep a full copy.
        let mut text = String::new();
        for i in 0..60 {
            text.push_str(&format!("- &a{i}\n{}", "  ".repeat(i + 1)));
        }
        text.push_str(&format!("[{}]\n", vec!["x"; 20_000].join(", ")));
        let err = parse("anchors.yaml", &text).unwrap_err();
        assert_eq!(err.code, Code::InputTooLarge, "{}", err.message);
    }

    #[test]
    fn deep_nesting_is_refused() {
        let text = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let err = parse("deep.yaml", &text).unwrap_err();
        assert_eq!(err.code, Code::InputTooLarge);
    }

    #[test]
    fn syntax_error_is_located() {
        let err = parse("bad.yaml", "a: [1, 2\nb: 3\n").unwrap_err();
        assert_eq!(err.code, Code::YamlSyntax);
        assert_eq!(err.location.file, "bad.yaml");
    }

    #[test]
    fn positions_past_the_end_of_a_text_without_a_final_line_break_are_on_its_last_line() {
        // The parser puts the end of such a text on the line after its last.
        let node = parse("f.yaml", "roles:\n  -").unwrap().unwrap();
        let Value::Map(entries) = &node.value else { panic!("not a map") };
        let Value::Seq(items) = &entries[0].1.value else {
            panic!("not a seq")
        };
        assert!(items[0].is_null());
        assert_eq!(items[0].pos, Pos { line: 2, column: 4 });

        let err = parse("f.yaml", "a: [1,\n  2").unwrap_err();
        assert_eq!(err.code, Code::YamlSyntax);
        assert_eq!((err.location.line, err.location.column), (2, 4));
    }
}

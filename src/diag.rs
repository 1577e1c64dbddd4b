//! Diagnostics: the one shape every finding takes, from a YAML syntax error
//! to a lint, with a stable code and a source location.
//!
//! This module owns the catalogue of codes ([`Code`]) and how a diagnostic
//! reads to a person. It never decides *what* is wrong: the loader, graph
//! and lints do, and report here.

use std::fmt;

use crate::term::one_line;

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The definitions cannot be compiled or would compile to the wrong thing.
    Error,
    /// The definitions compile, but something is very likely a mistake.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

macro_rules! codes {
    ($( $(#[doc = $doc:literal])* $name:ident = $code:literal, $sev:ident, $title:literal; )*) => {
        /// Stable diagnostic codes. A code is never reused for another meaning.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code {
            $( $(#[doc = $doc])* $name, )*
        }

        impl Code {
            /// Every code, in catalogue order.
            pub const ALL: &'static [Code] = &[$(Code::$name,)*];

            /// The stable code, such as `E005`.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$name => $code,)* }
            }

            /// The severity diagnostics with this code carry.
            pub fn severity(self) -> Severity {
                match self { $(Code::$name => Severity::$sev,)* }
            }

            /// A short title, used as the SARIF rule name.
            pub fn title(self) -> &'static str {
                match self { $(Code::$name => $title,)* }
            }

            /// The paragraph documenting the code (what it catches, why it matters).
            pub fn doc(self) -> &'static str {
                match self { $(Code::$name => concat!($($doc, "\n",)*),)* }
            }
        }
    };
}

codes! {
    /// The file is not well-formed YAML (or not UTF-8): nothing in it can be read.
    YamlSyntax = "E001", Error, "yaml-syntax";
    /// A key the format does not define. Unknown keys are never ignored: a
    /// misspelt `when` would otherwise silently grant to everyone.
    UnknownKey = "E002", Error, "unknown-key";
    /// A value of the wrong type (a list where a map belongs, a word where a number belongs).
    WrongType = "E003", Error, "wrong-type";
    /// Two definitions of the same kind share an id; which one wins would be an accident.
    DuplicateId = "E004", Error, "duplicate-id";
    /// A grant, package entry or SoD side names a package or entitlement that does not exist.
    UnknownGrant = "E005", Error, "unknown-grant";
    /// `extends` or an invariant names a role that does not exist.
    UnknownRole = "E006", Error, "unknown-role";
    /// A condition names an attribute the identity schema does not declare.
    UnknownAttribute = "E007", Error, "unknown-attribute";
    /// A condition compares an enum attribute with a value it can never take.
    UnknownEnumValue = "E008", Error, "unknown-enum-value";
    /// A kind that the identity schema does not declare.
    UnknownKind = "E009", Error, "unknown-kind";
    /// A `matches` glob uses a wildcard other than `*` (`?`, `[...]`), which would be taken literally.
    InvalidGlob = "E010", Error, "invalid-glob";
    /// A `cedar:` escape hatch is not a single Cedar expression.
    CedarSyntax = "E011", Error, "cedar-syntax";
    /// A `cedar:` escape hatch or guardrail does not type-check against the generated schema.
    CedarType = "E012", Error, "cedar-type";
    /// Packages nest in a cycle, or roles extend in a cycle.
    Cycle = "E013", Error, "cycle";
    /// No file (or more than one) declares the `identity:` schema.
    IdentitySchema = "E014", Error, "identity-schema";
    /// A value is malformed: a date, a duration, an id, an attribute name.
    InvalidValue = "E015", Error, "invalid-value";
    /// A hand-written guardrail in `policies/` does not parse.
    PolicySyntax = "E016", Error, "policy-syntax";
    /// A required key is missing.
    MissingKey = "E017", Error, "missing-key";
    /// An operator that does not apply to the attribute's type (`gt` on a string, `contains` on a scalar).
    OperatorType = "E018", Error, "operator-type";
    /// An input exceeds the bounds that keep entitle from hanging or exhausting memory.
    InputTooLarge = "E019", Error, "input-too-large";
    /// A file or directory cannot be read.
    Io = "E020", Error, "io";
    /// A role condition or escape hatch refers to something only a guardrail may (such as `resource`).
    ConditionScope = "E021", Error, "condition-scope";
    /// A hand-written permit whose scope does not bind `principal` to a role or an
    /// identity: it grants to every identity its condition lets through, agents
    /// included. `@unbounded_permit("why")` opts out explicitly.
    UnboundedPermit = "E022", Error, "unbounded-permit";
    /// An invariant that some identity state breaks (`entitle prove`): the
    /// solver found a well-formed identity, at some instant, that matches the
    /// invariant's `for` and holds what it must not; the counterexample shows it.
    InvariantViolated = "E023", Error, "invariant-violated";
    /// A separation-of-duties rule some identity state violates (`entitle prove`):
    /// the roles let one identity hold entitlements from two sides at once.
    SodReachable = "E024", Error, "sod-reachable";
    /// An exception names an entitlement or package the catalog does not have:
    /// it would allow nothing, while the approval on record says it allows something.
    UnknownExceptionTarget = "E025", Error, "exception-unknown-target";
    /// A privileged entitlement is granted by a birthright (non-assignable) role:
    /// everyone matching the rule holds it permanently, without approval or expiry.
    PrivilegedBirthright = "W001", Warning, "privileged-birthright";
    /// A catalog entitlement that no role or package can ever grant: dead catalog
    /// entries hide drift, since every live holder of it is unjustified.
    UngrantableEntitlement = "W002", Warning, "ungrantable-entitlement";
    /// A package or role nothing references or grants: dead definitions rot and confuse reviewers.
    Unreferenced = "W003", Warning, "unreferenced";
    /// A role whose `when` can never hold (for example `department: A` and
    /// `department: B` together): it grants nothing, which is rarely what the author meant.
    Contradiction = "W004", Warning, "contradictory-condition";
    /// An assignable role without `max_duration`: assignments to it may never expire,
    /// the most common audit finding for privileged access.
    UnboundedAssignment = "W005", Warning, "unbounded-assignment";
    /// Two roles with identical conditions and grants: one of them is redundant and
    /// they will drift apart over time.
    DuplicateRole = "W006", Warning, "duplicate-role";
    /// A hand-written policy without an `@id` annotation: plans and explanations
    /// would name it by position, which changes whenever the file is edited.
    PolicyWithoutId = "W007", Warning, "policy-without-id";
    /// A hand-written guardrail that can never apply under the generated schema
    /// (for example it tests `principal has` an undeclared attribute): it
    /// protects nothing while looking as if it did.
    ImpossibleGuardrail = "W008", Warning, "impossible-guardrail";
    /// A proof the solver could not decide (time limit, or a construct outside the
    /// proof's model): the property is neither proved nor refuted, so `prove` fails.
    ProofUnknown = "W009", Warning, "proof-unknown";
    /// A role no well-formed identity state can ever hold (`prove`, `check --deep`):
    /// its condition contradicts the identity schema or itself, so it grants nothing.
    DeadRole = "W010", Warning, "dead-role";
    /// A role whose every grant another role also grants, to every identity that
    /// holds it (`prove`, `check --deep`): it adds nothing and will drift.
    ShadowedRole = "W011", Warning, "shadowed-role";
    /// A hand-written forbid that matches no well-formed identity state and catalog
    /// entitlement (`prove`, `check --deep`): it protects nothing while looking as if it did.
    IdleGuardrail = "W012", Warning, "idle-guardrail";
    /// An exception that runs longer than `governance.exception_max_duration`
    /// (90 days by default), counted from its `approved_on` (or from the
    /// instant of the run when it has none): exceptions that outlive their
    /// need are a top audit finding, so long ones are renewed, not written once.
    LongException = "W013", Warning, "exception-too-long";
    /// An exception names an identity the identity feed does not hold
    /// (`plan`): the person left or the id is misspelt, and the exception
    /// either outlived its subject or protects nobody.
    ExceptionUnknownIdentity = "W014", Warning, "exception-unknown-identity";
    /// A test of a suite names an identity its suite's identities do not hold
    /// (or sets an owner's attribute on an identity without a known owner):
    /// the test could only ever fail, or test somebody else.
    UnknownIdentity = "T001", Error, "unknown-identity";
    /// A suite names a role, entitlement, package, guardrail, SoD rule or
    /// attribute the definitions do not have: a typo would make an
    /// expectation pass (nothing ever holds an entitlement that does not exist).
    UnknownReference = "T002", Error, "unknown-reference";
    /// An identity record of a suite — inline, in its identities file, or
    /// after a test's `set` — fails the identity schema.
    InvalidIdentity = "T003", Error, "invalid-identity";
    /// Keys of a test that cannot go together: `identity` with `given`, `set`
    /// or `gained`/`lost` without `given`.
    ConflictingKeys = "T004", Error, "conflicting-keys";
    /// Expectations no desired state can meet together, such as an
    /// entitlement both included and excluded: the test can never pass.
    ContradictoryExpectation = "T005", Error, "contradictory-expectation";
    /// A test without expectations, or a suite without tests: it would pass
    /// whatever the definitions say.
    AssertsNothing = "T006", Error, "asserts-nothing";
}

impl Code {
    /// The codes only the solver finds (`entitle prove`, `entitle check --deep`):
    /// their cases live in `tests/cases/prove/`, not with the plain `check` cases.
    pub const FROM_SOLVER: &'static [Code] = &[
        Code::InvariantViolated,
        Code::SodReachable,
        Code::ProofUnknown,
        Code::DeadRole,
        Code::ShadowedRole,
        Code::IdleGuardrail,
    ];

    /// Codes only test suites (`entitle test`) give, never definitions;
    /// `tests/test_cases.rs` has a case for each.
    pub fn is_suite_only(self) -> bool {
        self.as_str().starts_with('T')
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A place in a source file: 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Location {
    /// The file, as the user named it (relative to the working directory when it was given relative).
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
}

impl Location {
    /// A location in `file` at `line`:`column`.
    pub fn new(file: impl Into<String>, line: u32, column: u32) -> Self {
        Location {
            file: file.into(),
            line,
            column,
        }
    }

    /// `file:line`, the form policies carry in `@source`.
    pub fn file_line(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (0, _) => write!(f, "{}", self.file),
            (line, 0) => write!(f, "{}:{line}", self.file),
            (line, column) => write!(f, "{}:{line}:{column}", self.file),
        }
    }
}

/// One finding about the definitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The stable code.
    pub code: Code,
    /// Error or warning (from the code).
    pub severity: Severity,
    /// One sentence, lowercase, no trailing period, user values in backticks.
    pub message: String,
    /// Advice: a "did you mean", or how to fix it.
    pub help: Option<String>,
    /// Where.
    pub location: Location,
}

impl Diagnostic {
    /// A diagnostic with the code's severity.
    pub fn new(code: Code, location: Location, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            severity: code.severity(),
            message: message.into(),
            help: None,
            location,
        }
    }

    /// Adds advice.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds advice when there is some.
    pub fn with_help_opt(mut self, help: Option<String>) -> Self {
        self.help = help;
        self
    }

    /// Renders the diagnostic as a person reads it, with the source line and a caret
    /// under the column when `source` has the file's text.
    pub fn render(&self, source: Option<&str>) -> String {
        self.render_with_line(source.and_then(|text| text.lines().nth((self.location.line as usize).saturating_sub(1))))
    }

    /// Renders the diagnostic with `line`, the text of its line when known (a
    /// caller rendering thousands of diagnostics looks lines up in an index
    /// instead of scanning the file for each).
    pub fn render_with_line(&self, line: Option<&str>) -> String {
        // Messages quote user text: made visible, never interpreted by the terminal.
        let mut out = format!(
            "{}[{}]: {}\n  --> {}\n",
            self.severity,
            self.code,
            one_line(&self.message),
            one_line(&self.location.to_string())
        );
        if let Some(line) = line {
            let number = self.location.line.to_string();
            let pad = " ".repeat(number.len());
            let caret_at = (self.location.column as usize).saturating_sub(1);
            // Underline the token: up to a space, a separator, or a key's `:`.
            let rest: Vec<char> = line.chars().skip(caret_at).collect();
            let underline_len = rest
                .iter()
                .enumerate()
                .take_while(|(i, c)| {
                    let key_colon = **c == ':' && rest.get(i + 1).is_none_or(|n| n.is_whitespace());
                    !c.is_whitespace() && !matches!(c, ',' | ']' | '}') && !key_colon
                })
                .count()
                .max(1);
            // The line as shown (unsafe characters made visible, tabs kept), and a
            // prefix of the same width under it.
            let (mut shown, mut prefix) = (String::new(), String::new());
            for (i, c) in line.chars().enumerate() {
                let before = shown.len();
                match c {
                    '\t' => shown.push('\t'),
                    c => shown.push_str(&one_line(c.encode_utf8(&mut [0; 4]))),
                }
                if i < caret_at {
                    prefix.extend(shown[before..].chars().map(|p| if p == '\t' { '\t' } else { ' ' }));
                }
            }
            out.push_str(&format!(
                "{pad} |\n{number} | {shown}\n{pad} | {prefix}{}\n",
                "^".repeat(underline_len)
            ));
        }
        if let Some(help) = &self.help {
            out.push_str(&format!("  = help: {}\n", one_line(help)));
        }
        out
    }
}

/// Suggests the candidate closest to `word`, when one is close enough to be a likely typo.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let mut best: Option<(f64, &str)> = None;
    for candidate in candidates {
        let score = strsim::jaro_winkler(&word.to_lowercase(), &candidate.to_lowercase());
        let distance = strsim::levenshtein(word, candidate);
        let plausible = score > 0.8 || distance <= 2 || (distance <= word.len() / 3);
        if plausible && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, candidate));
        }
    }
    best.map(|(_, c)| format!("did you mean `{c}`?"))
}

/// Sorts diagnostics by file, line, column, then code, so output is deterministic.
pub fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by(|a, b| (&a.location, a.code, &a.message).cmp(&(&b.location, b.code, &b.message)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_documented() {
        let mut seen = std::collections::BTreeSet::new();
        for code in Code::ALL {
            assert!(seen.insert(code.as_str()), "duplicate code {code}");
            assert!(!code.doc().trim().is_empty(), "{code} has no doc");
        }
    }

    #[test]
    fn suggests_near_names_only() {
        assert_eq!(
            did_you_mean("departmnt", ["department", "location"]).as_deref(),
            Some("did you mean `department`?")
        );
        assert_eq!(did_you_mean("zzz", ["department", "location"]), None);
    }

    #[test]
    fn renders_caret_under_column() {
        let d = Diagnostic::new(Code::UnknownKey, Location::new("r.yaml", 2, 3), "unknown key `whne`").with_help("did you mean `when`?");
        let text = d.render(Some("roles:\n  whne: x\n"));
        assert!(text.contains("error[E002]: unknown key `whne`"), "{text}");
        assert!(text.contains("2 |   whne: x\n  |   ^^^^\n"), "{text}");
        assert!(text.contains("= help: did you mean `when`?"), "{text}");
    }
}

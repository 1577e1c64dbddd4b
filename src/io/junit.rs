//! Test results as JUnit XML: the report GitHub Actions reporters, GitLab
//! (`artifacts:reports:junit`) and Jenkins ingest.
//!
//! One `<testsuite>` per suite file (its `file` attribute names it, a
//! property gives its instant), one `<testcase>` per test, and for a failed
//! test one `<failure>` whose text is every failed expectation with its
//! location, the difference and the explanations, as `entitle test` prints
//! them. Suites that cannot be read give one testcase per diagnostic, each an
//! `<error>` ([`diagnostics_to_junit`]). The document is valid against the JUnit schema Jenkins publishes
//! (`tests/schemas/junit-10.xsd`; `tests/test_reports.rs` holds it) and
//! deterministic: no timings, no timestamps, no host names. Characters XML
//! cannot carry (most C0 controls) are written as visible `\u{..}` escapes.

use std::fmt::Write as _;

use crate::diag::Diagnostic;
use crate::testing::run::{RunReport, TestResult};

/// The run as a JUnit XML document.
pub fn to_junit(report: &RunReport) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"entitle test\" tests=\"{}\" failures=\"{}\" errors=\"0\">",
        report.tests().count(),
        report.failed()
    );
    for suite in &report.suites {
        let failures = suite.tests.iter().filter(|t| !t.passed()).count();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\" file=\"{}\">",
            attr(&suite.name),
            suite.tests.len(),
            attr(&suite.file)
        );
        let _ = writeln!(
            out,
            "    <properties>\n      <property name=\"as_of\" value=\"{}\"/>\n    </properties>",
            suite.as_of
        );
        for test in &suite.tests {
            testcase(&mut out, &suite.name, test);
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// Suites that could not be read, as a JUnit document: one testcase per
/// diagnostic, each an `<error>` with its code, location and message, so a CI
/// test report shows why no test ran instead of an empty file.
pub fn diagnostics_to_junit(diagnostics: &[Diagnostic]) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let n = diagnostics.len();
    let _ = writeln!(
        out,
        "<testsuites name=\"entitle test\" tests=\"{n}\" failures=\"0\" errors=\"{n}\">"
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"test suites\" tests=\"{n}\" failures=\"0\" errors=\"{n}\" skipped=\"0\">"
    );
    for d in diagnostics {
        let mut body = format!("{}: {}[{}]: {}", d.location, d.severity, d.code, d.message);
        if let Some(help) = &d.help {
            let _ = write!(body, "\nhelp: {help}");
        }
        let _ = writeln!(
            out,
            "    <testcase name=\"{}\" classname=\"test suites\">\n      <error message=\"{}\" type=\"{}\">{}</error>\n    </testcase>",
            attr(&d.location.to_string()),
            attr(&d.message),
            d.code,
            text(&body)
        );
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

fn testcase(out: &mut String, suite: &str, test: &TestResult) {
    let name = if test.name == test.identity {
        test.name.clone()
    } else {
        format!("{} ({})", test.name, test.identity)
    };
    let _ = write!(out, "    <testcase name=\"{}\" classname=\"{}\"", attr(&name), attr(suite));
    let Some(first) = test.failures.first() else {
        out.push_str("/>\n");
        return;
    };
    let mut message = format!("{}: {}", first.expectation, first.message);
    if test.failures.len() > 1 {
        let more = test.failures.len() - 1;
        let _ = write!(message, " (and {more} more failed expectation{})", if more == 1 { "" } else { "s" });
    }
    let mut body = format!("{}: {} at {}\n", test.location.file_line(), test.identity, test.as_of);
    for f in &test.failures {
        let _ = writeln!(body, "{} ({}): {}", f.expectation, f.location.file_line(), f.message);
        for d in &f.details {
            let _ = writeln!(body, "  {} `{}`:", d.status, d.id);
            for line in d.explanation.lines() {
                let _ = writeln!(body, "    {line}");
            }
        }
    }
    let _ = writeln!(
        out,
        ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>",
        attr(&message),
        first.expectation,
        text(&body)
    );
}

/// Can XML 1.0 carry `c` at all (escaped or not)?
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

fn escape(s: &str, in_attribute: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if in_attribute => out.push_str("&quot;"),
            '\n' if in_attribute => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' if in_attribute => out.push_str("&#9;"),
            c if xml_char(c) => out.push(c),
            c => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
        }
    }
    out
}

fn attr(s: &str) -> String {
    escape(s, true)
}

fn text(s: &str) -> String {
    escape(s, false)
}

#[cfg(test)]
mod tests {
    use super::{attr, text};

    #[test]
    fn escapes_markup_and_characters_xml_cannot_carry() {
        assert_eq!(attr("a\"b<c>&d\ne"), "a&quot;b&lt;c&gt;&amp;d&#10;e");
        assert_eq!(text("x\u{1b}[31my\u{0}"), "x\\u{1b}[31my\\u{0}");
        assert_eq!(text("line\nnext"), "line\nnext");
        assert_eq!(text("\u{FFFE}"), "\\u{fffe}");
    }
}

//! SCIM 2.0 ListResponse documents (RFC 7644 §3.4.2), shared by the user
//! (identity) and group (live state) readers: read only when provably
//! complete, with attribute names compared case-insensitively.
//!
//! A ListResponse may be one page of a paged export. Reading one page as
//! the whole export would make everyone on the other pages look absent, so
//! a document is read only when it proves it holds everything:
//!
//! - `totalResults` is present, a JSON whole number (not a string, not a
//!   fraction, not negative, within 64 bits), and equal to the number of
//!   `Resources` it holds;
//! - `startIndex`, when present, is 1 (the first page);
//! - `itemsPerPage`, when present, is at least `totalResults`.
//!
//! Anything else is an [`InputError::ScimIncomplete`] or
//! [`InputError::ScimNotComplete`] at the offending member's line. Attribute
//! names are case-insensitive (RFC 7643 §2.1: `totalresults`, `RESOURCES`),
//! and so are schema URNs, here and in resources; a key written twice under
//! any letter case is an error, since either could be the truth.

use serde_json::{Map, Value};

use super::json::{array_spans, json_syntax, object_spans, parse_value_at, trailing_text, Span};
use super::text::{syntax, LineCounter};
use super::InputError;

/// The `schemas` value that marks a SCIM 2.0 ListResponse.
pub const SCIM_LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// The SCIM 2.0 core User schema.
pub const SCIM_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

/// The SCIM 2.0 core Group schema.
pub const SCIM_GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

/// The SCIM 2.0 enterprise User extension.
pub const SCIM_ENTERPRISE_USER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// entitle's own SCIM User extension: `kind`, `owner`, `attributes`, `assignments`.
pub const SCIM_ENTITLE_USER: &str = "urn:entitle:params:scim:schemas:extension:identity:1.0:User";

/// The member `key` of a SCIM object, whatever its letter case.
///
/// Callers check resources for keys repeated under another case first, so at
/// most one member matches.
pub(super) fn member<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    object
        .get(key)
        .or_else(|| object.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v))
}

/// Does a `schemas` value list `urn` (compared case-insensitively)?
pub(super) fn lists_schema(schemas: Option<&Value>, urn: &str) -> bool {
    schemas
        .and_then(Value::as_array)
        .is_some_and(|s| s.iter().any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(urn))))
}

/// Whether the JSON object at `start` has a `schemas` key in any case (the mark of a SCIM document).
pub(super) fn has_schemas_key(text: &str, start: usize) -> bool {
    object_spans(text, start).is_ok_and(|(entries, _)| entries.iter().any(|(k, _)| k.eq_ignore_ascii_case("schemas")))
}

/// The SCIM ListResponse at `start`, as the spans of its `Resources`.
///
/// `Ok(None)` when the input is not a JSON object with `schemas` (so not SCIM)
/// and `required` is false; with `required`, that is an error too. A
/// ListResponse that is not provably complete is an error (see the module
/// documentation).
pub(super) fn list_response(
    file: &str,
    text: &str,
    start: usize,
    lines: &mut LineCounter<'_>,
    required: bool,
) -> Result<Option<Vec<Span>>, InputError> {
    if text.as_bytes().get(start) != Some(&b'{') {
        return if required {
            Err(not_scim(file, lines, start, "it is not a JSON object"))
        } else {
            Ok(None)
        };
    }
    let (entries, end) = match object_spans(text, start) {
        Ok(walked) => walked,
        // A broken (often truncated) SCIM export must not be read as JSON Lines:
        // the mark of a ListResponse before the error says what it was meant to be.
        Err(e) if required || mentions_list_response(&text[start..e.offset.clamp(start, text.len())]) => {
            return Err(json_syntax(file, lines, e));
        }
        Err(_) => return Ok(None),
    };
    let entry = |key: &str| entries.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, span)| *span);
    let Some(schemas) = entry("schemas") else {
        return if required {
            Err(not_scim(file, lines, start, "it has no `schemas`"))
        } else {
            Ok(None)
        };
    };
    for (i, (key, span)) in entries.iter().enumerate() {
        if entries[..i].iter().any(|(k, _)| k.eq_ignore_ascii_case(key)) {
            return Err(syntax(
                file,
                lines,
                span.start,
                format!(
                    "key `{}` appears twice in the SCIM document (SCIM attribute names ignore letter case)",
                    crate::state::shown(key)
                ),
            ));
        }
    }
    let schemas: Value = serde_json::from_str(&text[schemas.start..schemas.end]).unwrap_or(Value::Null);
    if !lists_schema(Some(&schemas), SCIM_LIST_RESPONSE) {
        let shown = crate::state::shown(&schemas.to_string());
        return Err(not_scim(file, lines, start, &format!("its `schemas` are `{shown}`")));
    }
    trailing_text(file, text, end, lines, "the SCIM document")?;
    let resources = match entry("Resources") {
        None => Vec::new(),
        Some(span) if text.as_bytes().get(span.start) == Some(&b'[') => {
            array_spans(text, span.start).map_err(|e| json_syntax(file, lines, e))?.0
        }
        Some(span) if &text[span.start..span.end] == "null" => Vec::new(),
        Some(span) => {
            return Err(syntax(file, lines, span.start, "`Resources` is not a list".into()));
        }
    };
    let present = resources.len() as u64;
    let incomplete = |lines: &mut LineCounter<'_>, at: usize, detail: String| InputError::ScimNotComplete {
        file: file.to_string(),
        line: lines.line_at(at),
        detail,
    };
    let Some(total_span) = entry("totalResults") else {
        return Err(incomplete(lines, start, "it has no `totalResults`".into()));
    };
    let total = whole_number(text, total_span, "totalResults").map_err(|d| incomplete(lines, total_span.start, d))?;
    if total > present {
        return Err(InputError::ScimIncomplete {
            file: file.to_string(),
            line: lines.line_at(start),
            present,
            total,
        });
    }
    if total < present {
        return Err(incomplete(
            lines,
            total_span.start,
            format!("`totalResults` is {total}, but it holds {present} resources"),
        ));
    }
    if let Some(span) = entry("startIndex") {
        let first = whole_number(text, span, "startIndex").map_err(|d| incomplete(lines, span.start, d))?;
        if first != 1 {
            return Err(incomplete(
                lines,
                span.start,
                format!("`startIndex` is {first}, so it is not the first page"),
            ));
        }
    }
    if let Some(span) = entry("itemsPerPage") {
        let per_page = whole_number(text, span, "itemsPerPage").map_err(|d| incomplete(lines, span.start, d))?;
        if per_page < total {
            return Err(incomplete(
                lines,
                span.start,
                format!("`itemsPerPage` is {per_page}, fewer than its `totalResults` {total}"),
            ));
        }
    }
    Ok(Some(resources))
}

/// The whole number written at `span`, or why it is not one.
fn whole_number(text: &str, span: Span, name: &str) -> Result<u64, String> {
    let written = &text[span.start..span.end];
    let digits = written.strip_prefix('-').unwrap_or(written);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        let shown = crate::state::shown(written);
        return Err(format!("`{name}` is `{shown}`, not a whole number"));
    }
    if written.starts_with('-') {
        return Err(format!("`{name}` is negative ({written})"));
    }
    // Parsed as JSON, so leading zeros and the like are refused as serde_json refuses them.
    match parse_value_at::<u64>(text, span.start) {
        Ok((n, end)) if end == span.end => Ok(n),
        Ok(_) => Err(format!("`{name}` is `{}`, not a whole number", crate::state::shown(written))),
        Err(_) if digits.len() > 19 => Err(format!("`{name}` is too large ({} digits)", digits.len())),
        Err(e) => Err(format!(
            "`{name}` is `{}`, not a whole number ({})",
            crate::state::shown(written),
            e.message
        )),
    }
}

/// Does `text` name the ListResponse schema (in any case)?
fn mentions_list_response(text: &str) -> bool {
    let needle = SCIM_LIST_RESPONSE.as_bytes();
    text.as_bytes().windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle))
}

fn not_scim(file: &str, lines: &mut LineCounter<'_>, start: usize, detail: &str) -> InputError {
    InputError::NotScimListResponse {
        file: file.to_string(),
        line: lines.line_at(start),
        detail: detail.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<usize, String> {
        let mut lines = LineCounter::new(text);
        match list_response("u.json", text, 0, &mut lines, true) {
            Ok(Some(spans)) => Ok(spans.len()),
            Ok(None) => Err("not SCIM".into()),
            Err(e) => Err(e.to_string()),
        }
    }

    fn doc(members: &str) -> String {
        format!("{{\"schemas\": [\"{SCIM_LIST_RESPONSE}\"],\n {members}}}")
    }

    #[test]
    fn a_complete_document_is_read_under_any_letter_case() {
        assert_eq!(read(&doc(r#""totalResults": 2, "Resources": [{}, {}]"#)), Ok(2));
        assert_eq!(
            read(&doc(
                r#""TOTALRESULTS": 2, "resources": [{}, {}], "startindex": 1, "ItemsPerPage": 2"#
            )),
            Ok(2)
        );
        assert_eq!(read(&doc(r#""totalResults": 0"#)), Ok(0));
        assert_eq!(read(&doc(r#""totalResults": 0, "Resources": null"#)), Ok(0));
        let upper = format!("{{\"SCHEMAS\": [\"{}\"], \"totalResults\": 0}}", SCIM_LIST_RESPONSE.to_uppercase());
        assert_eq!(read(&upper), Ok(0));
    }

    #[test]
    fn a_document_that_does_not_prove_it_is_complete_is_refused() {
        let end = "(export every page into one document whose `totalResults` is the number of resources it holds)";
        for (members, line, detail) in [
            (r#""Resources": [{}]"#, 1, "it has no `totalResults`".to_string()),
            (
                r#""totalResults": "1", "Resources": [{}]"#,
                2,
                "`totalResults` is `\"1\"`, not a whole number".into(),
            ),
            (
                r#""totalResults": 1.0, "Resources": [{}]"#,
                2,
                "`totalResults` is `1.0`, not a whole number".into(),
            ),
            (
                r#""totalResults": 1e0, "Resources": [{}]"#,
                2,
                "`totalResults` is `1e0`, not a whole number".into(),
            ),
            (
                r#""totalResults": -1, "Resources": [{}]"#,
                2,
                "`totalResults` is negative (-1)".into(),
            ),
            (
                r#""totalResults": null, "Resources": []"#,
                2,
                "`totalResults` is `null`, not a whole number".into(),
            ),
            (
                r#""totalResults": 99999999999999999999999, "Resources": [{}]"#,
                2,
                "`totalResults` is too large (23 digits)".into(),
            ),
            (
                r#""totalResults": 1, "Resources": [{}, {}]"#,
                2,
                "`totalResults` is 1, but it holds 2 resources".into(),
            ),
            (
                r#""totalResults": 1, "Resources": [{}], "startIndex": 2"#,
                2,
                "`startIndex` is 2, so it is not the first page".into(),
            ),
            (
                r#""totalResults": 2, "Resources": [{}, {}], "itemsPerPage": 1"#,
                2,
                "`itemsPerPage` is 1, fewer than its `totalResults` 2".into(),
            ),
        ] {
            assert_eq!(
                read(&doc(members)),
                Err(format!(
                    "u.json:{line}: the SCIM ListResponse cannot be shown complete: {detail} {end}"
                )),
                "{members}"
            );
        }
        assert_eq!(
            read(&doc(r#""totalResults": 200, "itemsPerPage": 1, "Resources": [{}]"#)),
            Err("u.json:1: the SCIM ListResponse holds 1 of its 200 resources (export every page into one document)".into())
        );
        assert_eq!(
            read(&doc(r#""totalResults": 1, "Resources": [{}], "totalresults": 500"#)),
            Err("u.json:2:56: key `totalresults` appears twice in the SCIM document (SCIM attribute names ignore letter case)".into())
        );
    }
}

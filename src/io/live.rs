//! Live state: the grants the target systems actually hold, read from an
//! export, each kept with the file and line it came from.
//!
//! This module owns reading live state. Unlike an identity feed, a live state
//! that cannot be read completely is refused as a whole ([`InputError`]
//! naming the file and line): a plan computed against half a live state would
//! grant what is already held and miss what must be revoked. It never decides
//! whether a grant is justified.
//!
//! # Formats
//!
//! | format | detected by | grants |
//! |---|---|---|
//! | JSON Lines | `.jsonl`, `.ndjson`; content starting with `{` | `{"identity": "u-1", "entitlement": "github:org-member"}` per line; other keys (`granted_at`, `source`, ...) are ignored; blank lines are skipped |
//! | CSV | `.csv`; any other content | `identity,entitlement`; the header is optional (a first row naming both columns, in any case and order, is the header, and then extra columns are ignored); quoted fields are fine |
//! | SCIM 2.0 groups | a JSON object whose `schemas` hold `urn:ietf:params:scim:api:messages:2.0:ListResponse` | each Group resource's `displayName` is the entitlement `APP:displayName` (verbatim, with `APP` from `--app`); each of its `members[].value` is an identity holding it |
//!
//! SCIM group members are SCIM user ids (`members[].value`, RFC 7643 §4.2);
//! the identity feed names users by `externalId` when they have one (see
//! [`crate::io::identities`]), so both exports must agree on ids for the plan
//! to match them. A member whose `type` is `Group` (a nested group) is an
//! error: its members cannot be known from the export. A ListResponse whose
//! `totalResults` exceeds the resources it holds is one page of a paged export
//! and is refused.
//!
//! The same grant listed twice is kept once, at its first occurrence.

use std::collections::HashSet;
use std::path::Path;

use serde_json::Value;

use super::identities::{
    array_spans, check_line_lengths, csv_error, decode_utf8, json_stream, json_syntax, object_spans, parse_value_at, read_bounded,
    scim_document, sha256_hex, skip_ws, syntax, InputError, LineCounter, Span,
};

/// The SCIM 2.0 core Group schema.
pub const SCIM_GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

/// One grant held in a target system.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LiveGrant {
    /// The identity holding it.
    pub identity: String,
    /// The full entitlement id (`github:org-member`).
    pub entitlement: String,
    /// The file it was read from.
    pub file: String,
    /// The 1-based line where it is written.
    pub line: u32,
}

/// The format of a live state export.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LiveFormat {
    /// One `{"identity": ..., "entitlement": ...}` object per line.
    JsonLines,
    /// `identity,entitlement`, with an optional header.
    Csv,
    /// A SCIM 2.0 Group ListResponse of application `app`.
    ScimGroups {
        /// The application the groups belong to (entitlements are `app:displayName`).
        app: String,
    },
}

impl LiveFormat {
    /// The format a file name's extension implies, if any (`.jsonl`, `.ndjson`, `.csv`).
    ///
    /// A `.json` file implies nothing: it is a SCIM group export or JSON
    /// Lines, decided by its content.
    pub fn from_extension(file: &str) -> Option<LiveFormat> {
        let ext = Path::new(file).extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "jsonl" | "ndjson" => Some(LiveFormat::JsonLines),
            "csv" => Some(LiveFormat::Csv),
            _ => None,
        }
    }
}

/// A live state export, read completely.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveFile {
    /// The file, as the user named it (`<stdin>` for standard input).
    pub file: String,
    /// The SHA-256 of the raw bytes, in lowercase hex.
    pub sha256: String,
    /// The grants, in input order, each once.
    pub grants: Vec<LiveGrant>,
}

/// Reads a live state export from `path` (`-` for standard input).
///
/// `format` overrides detection; `app` names the application of a SCIM group
/// export when the format is detected (it is required then, and otherwise unused).
pub fn read_live(path: &Path, format: Option<LiveFormat>, app: Option<&str>) -> Result<LiveFile, InputError> {
    let (file, bytes) = read_bounded(path)?;
    parse_live(&file, &bytes, format, app)
}

/// Reads a live state export held in `bytes`; `file` names it in grants and
/// messages and drives detection by extension.
pub fn parse_live(file: &str, bytes: &[u8], format: Option<LiveFormat>, app: Option<&str>) -> Result<LiveFile, InputError> {
    let sha256 = sha256_hex(bytes);
    let text = decode_utf8(file, bytes)?;
    let mut grants = Grants {
        file,
        seen: HashSet::new(),
        grants: Vec::new(),
    };
    let mut lines = LineCounter::new(text);
    let start = skip_ws(text, 0);
    match format.or_else(|| LiveFormat::from_extension(file)) {
        Some(LiveFormat::Csv) => read_csv(file, text, &mut grants)?,
        Some(LiveFormat::ScimGroups { app }) => match scim_document(file, text, start, &mut lines, true)? {
            Some(groups) => read_scim_groups(file, text, &groups, &app, &mut lines, &mut grants)?,
            None => {
                return Err(InputError::NotScimListResponse {
                    file: file.to_string(),
                    line: lines.line_at(start),
                    detail: "it has no `schemas`".into(),
                })
            }
        },
        Some(LiveFormat::JsonLines) => read_objects(file, text, start, app, &mut lines, &mut grants)?,
        None => match text.as_bytes().get(start) {
            None => {}
            Some(b'{') => read_objects(file, text, start, app, &mut lines, &mut grants)?,
            Some(b'[') => {
                return Err(syntax(
                    file,
                    &mut lines,
                    start,
                    "a JSON array is not a live state (write one grant per line as JSON Lines, or export SCIM groups)".into(),
                ))
            }
            Some(_) => read_csv(file, text, &mut grants)?,
        },
    }
    Ok(LiveFile {
        file: file.to_string(),
        sha256,
        grants: grants.grants,
    })
}

/// Collects grants, each once.
struct Grants<'a> {
    file: &'a str,
    seen: HashSet<(String, String)>,
    grants: Vec<LiveGrant>,
}

impl Grants<'_> {
    fn add(&mut self, identity: &str, entitlement: String, line: u32) {
        if self.seen.insert((identity.to_string(), entitlement.clone())) {
            self.grants.push(LiveGrant {
                identity: identity.to_string(),
                entitlement,
                file: self.file.to_string(),
                line,
            });
        }
    }

    fn error(&self, line: u32, message: impl Into<String>) -> InputError {
        InputError::LiveRecord {
            file: self.file.to_string(),
            line,
            message: message.into(),
        }
    }
}

/// JSON Lines, or a SCIM group export (an object with `schemas`).
fn read_objects(
    file: &str,
    text: &str,
    start: usize,
    app: Option<&str>,
    lines: &mut LineCounter<'_>,
    grants: &mut Grants<'_>,
) -> Result<(), InputError> {
    if let Some(groups) = scim_document(file, text, start, lines, false)? {
        let app = app
            .filter(|a| !a.trim().is_empty())
            .ok_or_else(|| InputError::ScimGroupsNeedApp { file: file.to_string() })?;
        return read_scim_groups(file, text, &groups, app, lines, grants);
    }
    check_line_lengths(file, text)?;
    json_stream(text, start, lines, |line, _, value| {
        let value = value.map_err(|e| grants.error(line, format!("grant is not valid JSON ({})", e.message)))?;
        let obj = value.as_object().ok_or_else(|| grants.error(line, "grant is not a JSON object"))?;
        let field = |key: &str| match obj.get(key) {
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
            Some(Value::String(_)) => Err(grants.error(line, format!("`{key}` is empty"))),
            Some(_) => Err(grants.error(line, format!("`{key}` is not a string"))),
            None => Err(grants.error(line, format!("grant has no `{key}`"))),
        };
        let identity = field("identity")?;
        let entitlement = field("entitlement")?;
        grants.add(&identity, entitlement, line);
        Ok(())
    })
}

fn read_csv(file: &str, text: &str, grants: &mut Grants<'_>) -> Result<(), InputError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut columns: Option<(usize, usize)> = None;
    for (index, row) in reader.records().enumerate() {
        let row = row.map_err(|e| csv_error(file, &e))?;
        let line = row.position().map_or(1, |p| u32::try_from(p.line()).unwrap_or(u32::MAX));
        if index == 0 {
            let find = |name: &str| row.iter().position(|cell| cell.eq_ignore_ascii_case(name));
            if let (Some(identity), Some(entitlement)) = (find("identity"), find("entitlement")) {
                columns = Some((identity, entitlement));
                continue;
            }
        }
        let (identity, entitlement) = match columns {
            Some((i, e)) => (row.get(i), row.get(e)),
            None if row.len() == 2 => (row.get(0), row.get(1)),
            None => return Err(grants.error(line, format!("expected 2 fields `identity,entitlement`, found {}", row.len()))),
        };
        let identity = identity
            .filter(|s| !s.is_empty())
            .ok_or_else(|| grants.error(line, "`identity` is empty"))?;
        let entitlement = entitlement
            .filter(|s| !s.is_empty())
            .ok_or_else(|| grants.error(line, "`entitlement` is empty"))?;
        grants.add(identity, entitlement.to_string(), line);
    }
    Ok(())
}

fn read_scim_groups(
    file: &str,
    text: &str,
    groups: &[Span],
    app: &str,
    lines: &mut LineCounter<'_>,
    grants: &mut Grants<'_>,
) -> Result<(), InputError> {
    for group in groups {
        let group_line = lines.line_at(group.start);
        if text.as_bytes().get(group.start) != Some(&b'{') {
            return Err(grants.error(group_line, "resource is not a JSON object"));
        }
        let (entries, _) = object_spans(text, group.start).map_err(|e| json_syntax(file, lines, e))?;
        let entry = |key: &str| entries.iter().find(|(k, _)| k == key).map(|(_, span)| *span);
        let value_of = |span: Span| serde_json::from_str::<Value>(&text[span.start..span.end]).unwrap_or(Value::Null);
        if let Some(schemas) = entry("schemas").map(value_of) {
            if !schemas.as_array().is_some_and(|s| s.iter().any(|s| s.as_str() == Some(SCIM_GROUP))) {
                return Err(grants.error(
                    group_line,
                    format!("resource is not a SCIM Group (its `schemas` do not include `{SCIM_GROUP}`)"),
                ));
            }
        }
        let name = match entry("displayName").map(value_of) {
            Some(Value::String(name)) if !name.trim().is_empty() => name,
            Some(_) => return Err(grants.error(group_line, "group `displayName` is not a name")),
            None => return Err(grants.error(group_line, "group has no `displayName`")),
        };
        let Some(members) = entry("members") else { continue };
        let members = match text.as_bytes().get(members.start) {
            Some(b'[') => array_spans(text, members.start).map_err(|e| json_syntax(file, lines, e))?.0,
            _ if value_of(members).is_null() => continue,
            _ => return Err(grants.error(lines.line_at(members.start), format!("`members` of group `{name}` is not a list"))),
        };
        let entitlement = format!("{app}:{name}");
        for member in members {
            let line = lines.line_at(member.start);
            let (member, _) = parse_value_at::<Value>(text, member.start).map_err(|e| json_syntax(file, lines, e))?;
            if member
                .get("type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.eq_ignore_ascii_case("group"))
            {
                return Err(grants.error(
                    line,
                    format!("member of group `{name}` is itself a group; nested groups are not supported (flatten the export)"),
                ));
            }
            match member.get("value") {
                Some(Value::String(id)) if !id.trim().is_empty() => grants.add(id, entitlement.clone(), line),
                Some(_) => return Err(grants.error(line, format!("member `value` of group `{name}` is not an identity id"))),
                None => return Err(grants.error(line, format!("member of group `{name}` has no `value`"))),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::identities::SCIM_LIST_RESPONSE;

    fn parse(file: &str, text: &str, app: Option<&str>) -> LiveFile {
        parse_live(file, text.as_bytes(), None, app).unwrap()
    }

    fn parse_err(file: &str, text: &str, app: Option<&str>) -> String {
        parse_live(file, text.as_bytes(), None, app).unwrap_err().to_string()
    }

    fn pairs(live: &LiveFile) -> Vec<(&str, &str, u32)> {
        live.grants
            .iter()
            .map(|g| (g.identity.as_str(), g.entitlement.as_str(), g.line))
            .collect()
    }

    #[test]
    fn detects_by_extension() {
        assert_eq!(LiveFormat::from_extension("live.jsonl"), Some(LiveFormat::JsonLines));
        assert_eq!(LiveFormat::from_extension("live.NDJSON"), Some(LiveFormat::JsonLines));
        assert_eq!(LiveFormat::from_extension("live.csv"), Some(LiveFormat::Csv));
        assert_eq!(LiveFormat::from_extension("groups.json"), None);
    }

    #[test]
    fn reads_json_lines_ignoring_extra_keys_and_duplicates() {
        let text =
            "{\"identity\": \"u-1\", \"entitlement\": \"github:org-member\", \"granted_at\": \"2024-01-01\", \"source\": \"scim\"}\n\n\
                    {\"identity\": \"u-2\", \"entitlement\": \"okta:sso\"}\n\
                    {\"identity\": \"u-1\", \"entitlement\": \"github:org-member\"}\n";
        for file in ["live.jsonl", "-", "live.json"] {
            let live = parse(file, text, None);
            assert_eq!(pairs(&live), [("u-1", "github:org-member", 1), ("u-2", "okta:sso", 3)], "{file}");
            assert_eq!(live.grants[0].file, file);
            assert_eq!(live.sha256, sha256_hex(text.as_bytes()));
        }
    }

    #[test]
    fn a_malformed_json_line_refuses_the_whole_file() {
        let ok = "{\"identity\": \"u-1\", \"entitlement\": \"a:b\"}\n";
        assert_eq!(
            parse_err("live.jsonl", &format!("{ok}{{\"identity\": \"u-2\", \"entitle"), None),
            "live.jsonl:2: grant is not valid JSON (EOF while parsing a string)"
        );
        assert_eq!(
            parse_err("live.jsonl", &format!("{ok}\n{{\"identity\": \"u-2\"}}"), None),
            "live.jsonl:3: grant has no `entitlement`"
        );
        assert_eq!(
            parse_err("live.jsonl", "{\"identity\": 7, \"entitlement\": \"a:b\"}", None),
            "live.jsonl:1: `identity` is not a string"
        );
        assert_eq!(
            parse_err("live.jsonl", "{\"identity\": \" \", \"entitlement\": \"a:b\"}", None),
            "live.jsonl:1: `identity` is empty"
        );
        assert_eq!(parse_err("live.jsonl", "[1]", None), "live.jsonl:1: grant is not a JSON object");
        assert_eq!(
            parse_err("-", "[{\"identity\": \"u-1\"}]", None),
            "-:1:1: a JSON array is not a live state (write one grant per line as JSON Lines, or export SCIM groups)"
        );
    }

    #[test]
    fn reads_csv_with_and_without_a_header() {
        let with = "Identity,ENTITLEMENT\nu-1,github:org-member\n\"u-2\",\"slack:office, London\"\nu-1,github:org-member\n";
        assert_eq!(
            pairs(&parse("live.csv", with, None)),
            [("u-1", "github:org-member", 2), ("u-2", "slack:office, London", 3)]
        );
        let without = "u-1,github:org-member\n u-2 , okta:sso \n";
        assert_eq!(
            pairs(&parse("live.csv", without, None)),
            [("u-1", "github:org-member", 1), ("u-2", "okta:sso", 2)]
        );
        assert_eq!(
            pairs(&parse("-", without, None)),
            [("u-1", "github:org-member", 1), ("u-2", "okta:sso", 2)]
        );
        let reordered = "granted_at,entitlement,identity\n2024-01-01,okta:sso,u-1\n";
        assert_eq!(pairs(&parse("live.csv", reordered, None)), [("u-1", "okta:sso", 2)]);
    }

    #[test]
    fn a_malformed_csv_row_refuses_the_whole_file() {
        assert_eq!(
            parse_err("live.csv", "u-1,okta:sso\nu-2\n", None),
            "live.csv:2: expected 2 fields `identity,entitlement`, found 1"
        );
        assert_eq!(
            parse_err("live.csv", "identity,entitlement\nu-1,\n", None),
            "live.csv:2: `entitlement` is empty"
        );
        assert_eq!(
            parse_err("live.csv", "identity,entitlement\n,okta:sso\n", None),
            "live.csv:2: `identity` is empty"
        );
    }

    fn groups(resources: &str) -> String {
        format!("{{\"schemas\": [\"{SCIM_LIST_RESPONSE}\"],\n \"Resources\": [\n{resources}\n]}}\n")
    }

    #[test]
    fn reads_scim_groups_with_member_lines() {
        let text = groups(&format!(
            r#"{{"schemas": ["{SCIM_GROUP}"], "id": "g1", "displayName": "org-member",
  "members": [
    {{"value": "u-1", "display": "Babs"}},
    {{"value": "u-2", "type": "User"}}
  ]}},
{{"id": "g2", "displayName": "org-owner", "members": [{{"value": "u-1"}}, {{"value": "u-1"}}]}},
{{"id": "g3", "displayName": "empty"}}"#
        ));
        let expected = [
            ("u-1", "github:org-member", 5),
            ("u-2", "github:org-member", 6),
            ("u-1", "github:org-owner", 8),
        ];
        assert_eq!(pairs(&parse("groups.json", &text, Some("github"))), expected);
        assert_eq!(pairs(&parse("-", &text, Some("github"))), expected);
        let forced = parse_live("x", text.as_bytes(), Some(LiveFormat::ScimGroups { app: "github".into() }), None).unwrap();
        assert_eq!(pairs(&forced), expected);
    }

    #[test]
    fn scim_group_problems_are_located_errors() {
        assert_eq!(
            parse_err("groups.json", &groups(""), None),
            "groups.json: a SCIM group export needs `--app APP`"
        );
        assert_eq!(
            parse_err("groups.json", &groups(r#"{"id": "g1"}"#), Some("gh")),
            "groups.json:3: group has no `displayName`"
        );
        assert_eq!(
            parse_err(
                "groups.json",
                &groups(r#"{"displayName": "a", "members": [{"value": "g9", "type": "Group"}]}"#),
                Some("gh")
            ),
            "groups.json:3: member of group `a` is itself a group; nested groups are not supported (flatten the export)"
        );
        assert_eq!(
            parse_err(
                "groups.json",
                &groups("{\"displayName\": \"a\",\n \"members\": [{\"display\": \"x\"}]}"),
                Some("gh")
            ),
            "groups.json:4: member of group `a` has no `value`"
        );
        let users = groups(r#"{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "u-1"}"#);
        assert_eq!(
            parse_err("groups.json", &users, Some("gh")),
            "groups.json:3: resource is not a SCIM Group (its `schemas` do not include `urn:ietf:params:scim:schemas:core:2.0:Group`)"
        );
        let page = format!(r#"{{"schemas": ["{SCIM_LIST_RESPONSE}"], "totalResults": 3, "Resources": []}}"#);
        assert_eq!(
            parse_err("groups.json", &page, Some("gh")),
            "groups.json:1: the SCIM ListResponse holds 0 of its 3 resources (export every page into one document)"
        );
        let err = parse_live(
            "x.json",
            b"{\"id\": \"u-1\"}",
            Some(LiveFormat::ScimGroups { app: "gh".into() }),
            None,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "x.json:1: the document is not a SCIM 2.0 ListResponse (it has no `schemas`)"
        );
    }

    #[test]
    fn a_truncated_scim_group_export_is_refused() {
        let text = groups(r#"{"displayName": "a", "members": [{"value": "u-1"}, {"value": "u-2"}]}"#);
        let cut = &text[..text.find("\"u-2\"").unwrap()];
        let err = parse_live("-", cut.as_bytes(), None, Some("gh")).unwrap_err();
        assert!(matches!(err, InputError::Syntax { line: 3, .. }), "{err}");
    }

    #[test]
    fn non_utf8_and_empty_inputs() {
        let err = parse_live("live.csv", b"u-1,a:b\nu-\xc3(,a:b\n", None, None).unwrap_err();
        assert_eq!(err.to_string(), "live.csv:2: the input is not valid UTF-8 (save it as UTF-8)");
        for file in ["-", "live.jsonl", "live.csv"] {
            assert!(parse(file, "", None).grants.is_empty(), "{file}");
        }
    }

    #[test]
    fn reads_the_example_live_state() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/live.jsonl");
        let live = read_live(&path, None, None).unwrap();
        assert!(!live.grants.is_empty());
        assert!(live.grants.iter().all(|g| g.line >= 1 && !g.identity.is_empty()));
    }

    #[test]
    fn reads_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("live.csv");
        std::fs::write(&path, "identity,entitlement\nu-1,okta:sso\n").unwrap();
        let live = read_live(&path, None, None).unwrap();
        assert_eq!(live.grants[0].file, path.display().to_string());
        assert_eq!(pairs(&live), [("u-1", "okta:sso", 2)]);
        assert!(matches!(
            read_live(&dir.path().join("nope.csv"), None, None),
            Err(InputError::Io { .. })
        ));
    }
}

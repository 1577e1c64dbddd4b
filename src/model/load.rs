//! Loads definitions from YAML sources into [`Definitions`], collecting every
//! diagnostic of the run rather than stopping at the first.
//!
//! Invariant: this module reads only the sources it is given (or the files
//! under the directory it is given) and never writes anything.

use std::collections::BTreeMap;
use std::path::Path;

use crate::diag::{did_you_mean, Code, Diagnostic, Location};
use crate::model::condition::read_condition;
use crate::model::reader::{quote_list, valid_id, Reader};
use crate::model::types::*;
use crate::model::yaml::{self, Node};
use crate::time::Duration;

/// One source file: its name as shown to users, and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// The path as the user would type it (`roles/roles.yaml`).
    pub name: String,
    /// The file's text.
    pub text: String,
}

/// Most files read from one directory tree.
pub const MAX_FILES: usize = 10_000;

/// Most bytes read from one directory tree, all files together (64 MiB): the
/// per-file bound alone would let ten thousand files add up to gigabytes.
pub const MAX_TREE_BYTES: u64 = 64 << 20;

/// Reads every file with one of `extensions` under `dir`, recursively, sorted by path.
/// Unreadable files become diagnostics; a missing directory is one diagnostic.
pub fn read_tree(dir: &Path, extensions: &[&str], diagnostics: &mut Vec<Diagnostic>) -> Vec<SourceFile> {
    let mut paths = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    if !dir.is_dir() {
        diagnostics.push(
            Diagnostic::new(
                Code::Io,
                Location::new(dir.display().to_string(), 0, 0),
                format!("directory `{}` does not exist", dir.display()),
            )
            .with_help("pass the definitions directory with `--roles DIR`"),
        );
        return Vec::new();
    }
    while let Some(d) = stack.pop() {
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) => {
                diagnostics.push(Diagnostic::new(
                    Code::Io,
                    Location::new(d.display().to_string(), 0, 0),
                    format!("cannot read directory: {e}"),
                ));
                continue;
            }
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(ft) = entry.file_type() else { continue };
            if ft.is_dir() {
                stack.push(path);
            } else if path.extension().and_then(|e| e.to_str()).is_some_and(|e| extensions.contains(&e)) {
                paths.push(path);
            }
        }
        if paths.len() > MAX_FILES {
            diagnostics.push(Diagnostic::new(
                Code::InputTooLarge,
                Location::new(dir.display().to_string(), 0, 0),
                format!("more than {MAX_FILES} files under the directory"),
            ));
            return Vec::new();
        }
    }
    paths.sort();
    let total: u64 = paths.iter().filter_map(|p| std::fs::metadata(p).ok()).map(|m| m.len()).sum();
    if total > MAX_TREE_BYTES {
        diagnostics.push(
            Diagnostic::new(
                Code::InputTooLarge,
                Location::new(dir.display().to_string(), 0, 0),
                format!("the files under the directory hold {total} bytes, more than the {MAX_TREE_BYTES} allowed in all"),
            )
            .with_help("point the command at the definitions directory only"),
        );
        return Vec::new();
    }
    paths.into_iter().filter_map(|p| read_file(&p, diagnostics)).collect()
}

/// Reads one text file (bounded by [`yaml::MAX_FILE_BYTES`], UTF-8, a
/// byte-order mark dropped), named as `path` is written; a problem is a diagnostic.
pub fn read_file(path: &Path, diagnostics: &mut Vec<Diagnostic>) -> Option<SourceFile> {
    let name = path.display().to_string();
    let loc = Location::new(name.clone(), 1, 1);
    match std::fs::metadata(path) {
        Ok(m) if m.len() as usize > yaml::MAX_FILE_BYTES => {
            diagnostics.push(Diagnostic::new(
                Code::InputTooLarge,
                loc,
                format!("file is {} bytes, more than the {} allowed", m.len(), yaml::MAX_FILE_BYTES),
            ));
            return None;
        }
        _ => {}
    }
    match std::fs::read(path) {
        Err(e) => {
            diagnostics.push(Diagnostic::new(Code::Io, loc, format!("cannot read file: {e}")));
            None
        }
        Ok(bytes) => match String::from_utf8(bytes) {
            // Editors on Windows start files with a byte-order mark; it is not content.
            Ok(text) => Some(SourceFile {
                name,
                text: match text.strip_prefix('\u{feff}') {
                    Some(rest) => rest.to_string(),
                    None => text,
                },
            }),
            Err(e) => {
                let upto = &e.as_bytes()[..e.utf8_error().valid_up_to()];
                let line = upto.iter().filter(|b| **b == b'\n').count() as u32 + 1;
                diagnostics.push(Diagnostic::new(
                    Code::YamlSyntax,
                    Location::new(name, line, 1),
                    "file is not valid UTF-8",
                ));
                None
            }
        },
    }
}

/// The keys a definitions file may hold at its top level.
const TOP_KEYS: &[&str] = &[
    "version",
    "identity",
    "applications",
    "packages",
    "roles",
    "separation_of_duties",
    "invariants",
    "exceptions",
    "governance",
];

/// Loads definitions from sources. The definitions are complete only when no
/// diagnostic is an error; with errors they hold what could be read.
pub fn load(sources: &[SourceFile]) -> (Definitions, Vec<Diagnostic>) {
    let mut diagnostics = Vec::new();
    let mut docs: Vec<(&SourceFile, Node)> = Vec::new();
    for source in sources {
        match yaml::parse(&source.name, &source.text) {
            Ok(Some(node)) => docs.push((source, node)),
            Ok(None) => {}
            Err(d) => diagnostics.push(d),
        }
    }

    // Pass 1: top-level shape, and the identity schema every condition needs.
    let mut sections: Vec<(&SourceFile, &str, &Node, &Node)> = Vec::new();
    for (source, node) in &docs {
        let mut r = Reader {
            file: source.name.clone(),
            diagnostics: &mut diagnostics,
        };
        let Some(entries) = r.map(node, TOP_KEYS, "a definitions file") else {
            continue;
        };
        for (key, key_node, value) in entries {
            if key == "version" {
                if r.int(value, "`version`").is_some_and(|v| v != 1) {
                    r.report(
                        Code::InvalidValue,
                        value,
                        "unsupported definitions version; this entitle reads `version: 1`",
                    );
                }
                continue;
            }
            sections.push((source, key, key_node, value));
        }
    }
    let identity_decls: Vec<_> = sections.iter().filter(|s| s.1 == "identity").collect();
    let unreadable = !diagnostics.is_empty();
    let identity = match identity_decls.as_slice() {
        // A file that did not parse may be the one declaring it: say nothing more.
        [] if unreadable => IdentitySchema::empty(Location::default()),
        [] => {
            let file = sources.first().map(|s| s.name.clone()).unwrap_or_else(|| "roles".into());
            diagnostics.push(
                Diagnostic::new(
                    Code::IdentitySchema,
                    Location::new(file, 1, 1),
                    "no file declares the `identity:` schema",
                )
                .with_help("add an `identity:` key with `kinds` and `attributes` to one file under roles/"),
            );
            IdentitySchema::empty(Location::default())
        }
        [(source, _, key_node, value), rest @ ..] => {
            let r = Reader {
                file: source.name.clone(),
                diagnostics: &mut diagnostics,
            };
            for (other, _, other_key, _) in rest {
                let first = r.loc(key_node);
                let mut rr = Reader {
                    file: other.name.clone(),
                    diagnostics: r.diagnostics,
                };
                rr.report_help(
                    Code::IdentitySchema,
                    other_key,
                    "the `identity:` schema is declared twice",
                    Some(format!("it is first declared at {first}")),
                );
            }
            let mut r = Reader {
                file: source.name.clone(),
                diagnostics: &mut diagnostics,
            };
            read_identity(&mut r, key_node, value)
        }
    };

    let mut defs = Definitions {
        identity,
        applications: BTreeMap::new(),
        entitlements: BTreeMap::new(),
        packages: BTreeMap::new(),
        roles: BTreeMap::new(),
        sod: BTreeMap::new(),
        invariants: BTreeMap::new(),
        exceptions: BTreeMap::new(),
        governance: Governance::default(),
    };
    // Pass 2: everything else, in file order.
    let mut refs = Vec::new();
    for (source, key, key_node, value) in &sections {
        let mut r = Reader {
            file: source.name.clone(),
            diagnostics: &mut diagnostics,
        };
        match *key {
            "applications" => each(&mut r, value, "applications", |r, n| read_application(r, n, &mut defs)),
            "packages" => each(&mut r, value, "packages", |r, n| read_package(r, n, &mut defs, &mut refs)),
            "roles" => each(&mut r, value, "roles", |r, n| read_role(r, n, &mut defs, &mut refs)),
            "separation_of_duties" => each(&mut r, value, "separation_of_duties", |r, n| read_sod(r, n, &mut defs, &mut refs)),
            "invariants" => each(&mut r, value, "invariants", |r, n| read_invariant(r, n, &mut defs, &mut refs)),
            "exceptions" => each(&mut r, value, "exceptions", |r, n| read_exception(r, n, &mut defs, &mut refs)),
            "governance" => read_governance(&mut r, key_node, value, &mut defs),
            _ => {}
        }
    }
    // Pass 3: every reference points at something that exists.
    for reference in refs {
        check_reference(&defs, reference, &mut diagnostics);
    }
    (defs, diagnostics)
}

fn each(r: &mut Reader<'_>, node: &Node, what: &str, mut f: impl FnMut(&mut Reader<'_>, &Node)) {
    if let Some(items) = r.seq(node, &format!("`{what}`")) {
        for item in items {
            f(r, item);
        }
    }
}

/// A reference to check once everything is loaded.
struct Reference {
    kind: RefKind,
    id: String,
    location: Location,
}

enum RefKind {
    Grant,
    Role,
    Package,
    /// What an exception allows: an entitlement, or a package.
    ExceptionGrant,
}

fn check_reference(defs: &Definitions, reference: Reference, diagnostics: &mut Vec<Diagnostic>) {
    let Reference { kind, id, location } = reference;
    // Candidates for "did you mean" are gathered only for a reference that misses:
    // at 40,000 entitlements, collecting them for every reference dominated `check`.
    let (exists, code, what): (bool, Code, &str) = match kind {
        RefKind::Role => (defs.roles.contains_key(&id), Code::UnknownRole, "role"),
        RefKind::Grant if id.contains(':') => (defs.entitlements.contains_key(&id), Code::UnknownGrant, "entitlement"),
        RefKind::ExceptionGrant if id.contains(':') => (defs.entitlements.contains_key(&id), Code::UnknownExceptionTarget, "entitlement"),
        RefKind::ExceptionGrant => (defs.packages.contains_key(&id), Code::UnknownExceptionTarget, "package"),
        // A grant without `:` names a package, exactly like a nested package reference.
        RefKind::Package | RefKind::Grant => (defs.packages.contains_key(&id), Code::UnknownGrant, "package"),
    };
    if exists {
        return;
    }
    let suggestion = match kind {
        RefKind::Role => did_you_mean(&id, defs.roles.keys().map(String::as_str)),
        RefKind::Grant | RefKind::ExceptionGrant if id.contains(':') => did_you_mean(&id, defs.entitlements.keys().map(String::as_str)),
        RefKind::Package | RefKind::Grant | RefKind::ExceptionGrant => did_you_mean(&id, defs.packages.keys().map(String::as_str)),
    };
    let help = suggestion.or_else(|| {
        (what == "package" && matches!(kind, RefKind::Grant | RefKind::ExceptionGrant))
            .then(|| "entitlements are named `application:entitlement`; other names are packages".to_string())
    });
    diagnostics.push(Diagnostic::new(code, location, format!("unknown {what} `{id}`")).with_help_opt(help));
}

fn read_identity(r: &mut Reader<'_>, key_node: &Node, node: &Node) -> IdentitySchema {
    let mut schema = IdentitySchema::empty(r.loc(key_node));
    let Some(entries) = r.map(node, &["kinds", "attributes"], "`identity`") else {
        return schema;
    };
    for (key, _, value) in &entries {
        if *key == "kinds" {
            let kinds: Vec<String> = r.id_list(value, "kind").into_iter().map(|(k, _)| k).collect();
            if kinds.is_empty() {
                r.report(Code::IdentitySchema, value, "the identity schema declares no kinds");
            } else {
                schema.kinds = kinds;
            }
        }
    }
    for (key, _, value) in entries {
        if key != "attributes" {
            continue;
        }
        let Some(attrs) = r.map(value, &[], "`attributes`") else { continue };
        for (name, name_node, def) in attrs {
            if let Some(attr) = read_attribute(r, &schema.kinds, name, name_node, def) {
                schema.attributes.insert(name.to_string(), attr);
            }
        }
    }
    schema
}

/// Names an attribute may not take: entitle's own (`kind`, `owner`) and Cedar's keywords.
pub const RESERVED_ATTRIBUTES: &[&str] = &[
    "kind",
    "owner",
    "id",
    "true",
    "false",
    "if",
    "then",
    "else",
    "in",
    "is",
    "like",
    "has",
    "principal",
    "action",
    "resource",
    "context",
    "all",
    "any",
    "not",
    "cedar",
];

fn read_attribute(r: &mut Reader<'_>, kinds: &[String], name: &str, name_node: &Node, def: &Node) -> Option<AttributeDef> {
    let identifier = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !identifier || RESERVED_ATTRIBUTES.contains(&name) || name.starts_with("__") {
        r.report_help(
            Code::InvalidValue,
            name_node,
            format!("`{}` cannot name an attribute", name.escape_debug()),
            Some(format!(
                "attribute names are letters, digits and `_`, and not one of {}",
                quote_list(RESERVED_ATTRIBUTES)
            )),
        );
        return None;
    }
    let entries = r.map(
        def,
        &["type", "values", "required", "kinds", "description"],
        &format!("attribute `{name}`"),
    )?;
    let mut ty_name = None;
    let mut values = None;
    let mut required = false;
    let mut attr_kinds = None;
    for (key, _, value) in &entries {
        match *key {
            "type" => ty_name = r.string(value, "a type").map(|t| (t, *value)),
            "values" => {
                values = Some((
                    r.id_list(value, "enum value").into_iter().map(|(v, _)| v).collect::<Vec<_>>(),
                    *value,
                ))
            }
            "required" => required = r.bool(value, "`required`").unwrap_or(false),
            "kinds" => attr_kinds = Some(kinds_list(r, value, kinds)),
            _ => {}
        }
    }
    let Some((ty_name, ty_node)) = ty_name else {
        r.report(Code::MissingKey, def, format!("attribute `{name}` has no `type`"));
        return None;
    };
    let ty = match ty_name.as_str() {
        "string" => AttrType::String,
        "int" => AttrType::Int,
        "bool" => AttrType::Bool,
        "date" => AttrType::Date,
        "set" => AttrType::Set,
        "enum" => match values.take() {
            Some((v, _)) if !v.is_empty() => AttrType::Enum(v),
            _ => {
                r.report(Code::MissingKey, def, format!("enum attribute `{name}` has no `values`"));
                return None;
            }
        },
        other => {
            const TYPES: &[&str] = &["string", "enum", "int", "bool", "date", "set"];
            let help = did_you_mean(other, TYPES.iter().copied()).or_else(|| Some(format!("types are {}", quote_list(TYPES))));
            r.report_help(Code::InvalidValue, ty_node, format!("unknown attribute type `{other}`"), help);
            return None;
        }
    };
    if let Some((_, node)) = values {
        r.report(
            Code::UnknownKey,
            node,
            format!("`values` belongs to enum attributes, and `{name}` is a {}", ty.name()),
        );
    }
    Some(AttributeDef {
        name: name.to_string(),
        ty,
        required,
        kinds: attr_kinds,
        source: r.loc(name_node),
    })
}

fn insert<T>(
    r: &mut Reader<'_>,
    map: &mut BTreeMap<String, T>,
    id: String,
    node: &Node,
    what: &str,
    value: T,
    source_of: impl Fn(&T) -> &Location,
) {
    if let Some(existing) = map.get(&id) {
        let first = source_of(existing).to_string();
        r.report_help(
            Code::DuplicateId,
            node,
            format!("{what} `{id}` is defined twice"),
            Some(format!("it is first defined at {first}")),
        );
        return;
    }
    map.insert(id, value);
}

fn required_id(r: &mut Reader<'_>, entries: &[(&str, &Node, &Node)], node: &Node, what: &str) -> Option<(String, Node)> {
    match entries.iter().find(|(k, _, _)| *k == "id") {
        None => {
            r.report(Code::MissingKey, node, format!("{what} has no `id`"));
            None
        }
        Some((_, _, value)) => r.id(value, &format!("{what} id")).map(|id| (id, (*value).clone())),
    }
}

fn optional_string(r: &mut Reader<'_>, entries: &[(&str, &Node, &Node)], key: &str) -> Option<String> {
    entries
        .iter()
        .find(|(k, _, _)| *k == key)
        .and_then(|(_, _, v)| r.string(v, &format!("`{key}`")))
}

fn read_application(r: &mut Reader<'_>, node: &Node, defs: &mut Definitions) {
    let Some(entries) = r.map(node, &["id", "name", "owner", "description", "entitlements"], "an application") else {
        return;
    };
    let Some((app_id, id_node)) = required_id(r, &entries, node, "application") else {
        return;
    };
    let app = Application {
        id: app_id.clone(),
        name: optional_string(r, &entries, "name"),
        owner: entries
            .iter()
            .find(|(k, _, _)| *k == "owner")
            .and_then(|(_, _, v)| r.id(v, "owner id")),
        source: r.loc(node),
    };
    insert(r, &mut defs.applications, app_id.clone(), &id_node, "application", app, |a| {
        &a.source
    });
    let Some((_, _, list)) = entries.iter().find(|(k, _, _)| *k == "entitlements") else {
        return;
    };
    each(r, list, "entitlements", |r, n| {
        let Some(e) = r.map(n, &["id", "name", "description", "privileged"], "an entitlement") else {
            return;
        };
        let Some((slug, slug_node)) = required_id(r, &e, n, "entitlement") else {
            return;
        };
        let privileged = e
            .iter()
            .find(|(k, _, _)| *k == "privileged")
            .and_then(|(_, _, v)| r.bool(v, "`privileged`"))
            .unwrap_or(false);
        let full = format!("{app_id}:{slug}");
        let ent = Entitlement {
            id: full.clone(),
            application: app_id.clone(),
            name: optional_string(r, &e, "name"),
            privileged,
            source: r.loc(n),
        };
        insert(r, &mut defs.entitlements, full, &slug_node, "entitlement", ent, |e| &e.source);
    });
}

fn grant_list(r: &mut Reader<'_>, node: &Node, what: &str, refs: &mut Vec<Reference>) -> Vec<GrantRef> {
    let Some(items) = r.seq(node, what) else { return Vec::new() };
    let mut out = Vec::new();
    for item in items {
        let Some(text) = r.string(item, "a package or entitlement id") else {
            continue;
        };
        let (valid, grant) = match text.split_once(':') {
            Some((app, slug)) => (valid_id(app) && valid_id(slug), GrantRef::Entitlement(text.clone())),
            None => (valid_id(&text), GrantRef::Package(text.clone())),
        };
        if !valid {
            r.report_help(
                Code::InvalidValue,
                item,
                format!("`{}` is not a package id or an `application:entitlement` id", text.escape_debug()),
                None,
            );
            continue;
        }
        refs.push(Reference {
            kind: RefKind::Grant,
            id: text,
            location: r.loc(item),
        });
        out.push(grant);
    }
    out
}

fn read_package(r: &mut Reader<'_>, node: &Node, defs: &mut Definitions, refs: &mut Vec<Reference>) {
    let Some(entries) = r.map(node, &["id", "name", "description", "entitlements", "packages"], "a package") else {
        return;
    };
    let Some((id, id_node)) = required_id(r, &entries, node, "package") else {
        return;
    };
    let mut package = Package {
        id: id.clone(),
        name: optional_string(r, &entries, "name"),
        entitlements: Vec::new(),
        packages: Vec::new(),
        source: r.loc(node),
    };
    for (key, _, value) in &entries {
        match *key {
            "entitlements" => {
                for g in grant_list(r, value, "`entitlements`", refs) {
                    match g {
                        GrantRef::Entitlement(e) => package.entitlements.push(e),
                        GrantRef::Package(p) => {
                            refs.pop();
                            r.report_help(
                                Code::UnknownGrant,
                                value,
                                format!("`{p}` in `entitlements` is not an `application:entitlement` id"),
                                Some("nest packages under `packages:`".into()),
                            );
                        }
                    }
                }
            }
            "packages" => {
                for (p, pn) in r.id_list(value, "package id") {
                    refs.push(Reference {
                        kind: RefKind::Package,
                        id: p.clone(),
                        location: r.loc(pn),
                    });
                    package.packages.push(p);
                }
            }
            _ => {}
        }
    }
    insert(r, &mut defs.packages, id, &id_node, "package", package, |p| &p.source);
}

/// A list of declared kinds; unknown and repeated ones are reported and left out.
fn kinds_list(r: &mut Reader<'_>, node: &Node, kinds: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for (k, n) in r.id_list(node, "kind") {
        if kinds.contains(&k) {
            out.push(k);
        } else {
            let help = did_you_mean(&k, kinds.iter().map(String::as_str));
            r.report_help(Code::UnknownKind, n, format!("unknown identity kind `{k}`"), help);
        }
    }
    out
}

fn read_role(r: &mut Reader<'_>, node: &Node, defs: &mut Definitions, refs: &mut Vec<Reference>) {
    const KEYS: &[&str] = &[
        "id",
        "name",
        "description",
        "kinds",
        "extends",
        "assignable",
        "when",
        "max_duration",
        "grants",
    ];
    let Some(entries) = r.map(node, KEYS, "a role") else { return };
    let Some((id, id_node)) = required_id(r, &entries, node, "role") else {
        return;
    };
    let mut role = Role {
        id: id.clone(),
        name: optional_string(r, &entries, "name"),
        description: optional_string(r, &entries, "description"),
        kinds: vec!["person".to_string()],
        extends: Vec::new(),
        assignable: false,
        when: Condition::always(),
        max_duration: None,
        grants: Vec::new(),
        source: r.loc(node),
    };
    let mut ok = true;
    let mut kind_errors = false;
    for (key, _, value) in &entries {
        match *key {
            "kinds" => {
                let before = r.diagnostics.len();
                role.kinds = kinds_list(r, value, &defs.identity.kinds);
                kind_errors = r.diagnostics.len() > before;
            }
            "extends" => {
                for (parent, pn) in r.id_list(value, "role id") {
                    refs.push(Reference {
                        kind: RefKind::Role,
                        id: parent.clone(),
                        location: r.loc(pn),
                    });
                    role.extends.push(parent);
                }
            }
            "assignable" => role.assignable = r.bool(value, "`assignable`").unwrap_or(false),
            "when" => match read_condition(r, &defs.identity, value) {
                Some(c) => role.when = c,
                None => ok = false,
            },
            "max_duration" => {
                if let Some(text) = r.string(value, "a duration") {
                    match Duration::parse(&text) {
                        Ok(d) => role.max_duration = Some(d),
                        Err(e) => r.report(Code::InvalidValue, value, e),
                    }
                }
            }
            "grants" => role.grants = grant_list(r, value, "`grants`", refs),
            _ => {}
        }
    }
    if role.kinds.is_empty() && ok && !kind_errors {
        r.report(Code::InvalidValue, node, format!("role `{id}` applies to no kind"));
    }
    if role.max_duration.is_some() && !role.assignable {
        if let Some((_, n, _)) = entries.iter().find(|(k, _, _)| *k == "max_duration") {
            r.report_help(
                Code::InvalidValue,
                n,
                format!("role `{id}` has `max_duration` but is not assignable"),
                Some("add `assignable: true`, or remove `max_duration`".into()),
            );
        }
    }
    // A role with a faulty condition is still defined: references to it must
    // resolve, or one fault would cascade into "unknown role" everywhere.
    insert(r, &mut defs.roles, id, &id_node, "role", role, |r| &r.source);
}

fn read_sod(r: &mut Reader<'_>, node: &Node, defs: &mut Definitions, refs: &mut Vec<Reference>) {
    let Some(entries) = r.map(node, &["id", "description", "sides", "severity"], "a separation-of-duties rule") else {
        return;
    };
    let Some((id, id_node)) = required_id(r, &entries, node, "separation-of-duties rule") else {
        return;
    };
    let mut rule = SodRule {
        id: id.clone(),
        description: optional_string(r, &entries, "description"),
        sides: Vec::new(),
        severity: SodSeverity::Medium,
        source: r.loc(node),
    };
    for (key, _, value) in &entries {
        match *key {
            "sides" => {
                if let Some(sides) = r.seq(value, "`sides`") {
                    for side in sides {
                        rule.sides.push(grant_list(r, side, "a side", refs));
                    }
                    if sides.len() < 2 {
                        r.report(Code::InvalidValue, value, format!("rule `{id}` needs at least two sides"));
                    }
                }
            }
            "severity" => match r.string(value, "a severity").as_deref() {
                Some("low") => rule.severity = SodSeverity::Low,
                Some("medium") => rule.severity = SodSeverity::Medium,
                Some("high") => rule.severity = SodSeverity::High,
                Some(other) => {
                    let help =
                        did_you_mean(other, ["low", "medium", "high"]).or_else(|| Some("severity is `low`, `medium` or `high`".into()));
                    r.report_help(Code::InvalidValue, value, format!("unknown severity `{other}`"), help);
                }
                None => {}
            },
            _ => {}
        }
    }
    if !entries.iter().any(|(k, _, _)| *k == "sides") {
        r.report(Code::MissingKey, node, format!("rule `{id}` has no `sides`"));
    }
    insert(r, &mut defs.sod, id, &id_node, "separation-of-duties rule", rule, |r| &r.source);
}

fn read_invariant(r: &mut Reader<'_>, node: &Node, defs: &mut Definitions, refs: &mut Vec<Reference>) {
    let Some(entries) = r.map(node, &["id", "description", "for", "holds", "never", "only"], "an invariant") else {
        return;
    };
    let Some((id, id_node)) = required_id(r, &entries, node, "invariant") else {
        return;
    };
    let mut subject = Condition::always();
    let mut rule = None;
    for (key, key_node, value) in &entries {
        let read = match *key {
            "for" => {
                if let Some(c) = read_condition(r, &defs.identity, value) {
                    subject = c;
                }
                continue;
            }
            "holds" => match r.string(value, "`holds`").as_deref() {
                Some("nothing") => Some(InvariantRule::HoldsNothing),
                Some(other) => {
                    r.report_help(
                        Code::InvalidValue,
                        value,
                        format!("unknown `holds` value `{other}`"),
                        Some("write `holds: nothing`, or use `never:` or `only:` with entitlements".into()),
                    );
                    None
                }
                None => None,
            },
            // `never: [ids]` is short for `never: { entitlements: [ids] }`.
            "never" if matches!(value.value, yaml::Value::Seq(_)) => Some(InvariantRule::Never(EntitlementFilter {
                entitlements: grant_list(r, value, "`never`", refs),
                ..EntitlementFilter::default()
            })),
            "never" => {
                let Some(filter) = r.map(value, &["privileged", "application", "entitlements"], "`never`") else {
                    continue;
                };
                let mut f = EntitlementFilter::default();
                for (fk, _, fv) in filter {
                    match fk {
                        "privileged" => f.privileged = r.bool(fv, "`privileged`"),
                        "application" => f.application = r.id(fv, "application id"),
                        _ => f.entitlements = grant_list(r, fv, "`entitlements`", refs),
                    }
                }
                Some(InvariantRule::Never(f))
            }
            "only" => Some(InvariantRule::Only(grant_list(r, value, "`only`", refs))),
            _ => continue,
        };
        if rule.is_some() {
            r.report(
                Code::InvalidValue,
                key_node,
                format!("invariant `{id}` has more than one of `holds`, `never` and `only`"),
            );
        }
        if read.is_some() {
            rule = read;
        }
    }
    let Some(rule) = rule else {
        r.report(
            Code::MissingKey,
            node,
            format!("invariant `{id}` has none of `holds: nothing`, `never:` and `only:`"),
        );
        return;
    };
    insert(
        r,
        &mut defs.invariants,
        id.clone(),
        &id_node,
        "invariant",
        Invariant {
            id,
            subject,
            rule,
            source: r.loc(node),
        },
        |i| &i.source,
    );
}

/// The keys an exception must have (`approved_on` is optional).
const EXCEPTION_KEYS: &[&str] = &[
    "id",
    "identity",
    "entitlement",
    "package",
    "reason",
    "approved_by",
    "ticket",
    "expires",
];

fn read_exception(r: &mut Reader<'_>, node: &Node, defs: &mut Definitions, refs: &mut Vec<Reference>) {
    let mut allowed = EXCEPTION_KEYS.to_vec();
    allowed.push("approved_on");
    let Some(entries) = r.map(node, &allowed, "an exception") else {
        return;
    };
    let Some((id, id_node)) = required_id(r, &entries, node, "exception") else {
        return;
    };
    let value = |key: &str| entries.iter().find(|(k, _, _)| *k == key).map(|(_, _, v)| *v);
    let mut ok = true;
    // Every required key but `id` (read above) and the entitlement-or-package pair (below).
    for key in ["identity", "reason", "approved_by", "ticket", "expires"] {
        if value(key).is_none() {
            r.report(Code::MissingKey, node, format!("exception `{id}` has no `{key}`"));
            ok = false;
        }
    }
    let text = |r: &mut Reader<'_>, key: &str| -> Option<String> {
        let node = value(key)?;
        let text = r.string(node, &format!("`{key}`"))?;
        if text.trim().is_empty() {
            r.report(Code::InvalidValue, node, format!("`{key}` of exception `{id}` is empty"));
            return None;
        }
        Some(text)
    };
    let identity = value("identity").and_then(|n| {
        let text = r.string(n, "an identity id")?;
        match crate::state::check_id("`identity`", &text) {
            Ok(()) => Some(text),
            Err(e) => {
                r.report(Code::InvalidValue, n, e);
                None
            }
        }
    });
    let reason = text(r, "reason");
    let approved_by = text(r, "approved_by");
    let ticket = text(r, "ticket");
    let instant = |r: &mut Reader<'_>, key: &str| -> Option<crate::time::Instant> {
        let node = value(key)?;
        let text = r.string(node, "a date or an RFC 3339 instant")?;
        match crate::time::Instant::parse(&text) {
            Ok(t) => Some(t),
            Err(e) => {
                r.report(Code::InvalidValue, node, format!("`{key}` of exception `{id}`: {e}"));
                None
            }
        }
    };
    let expires = instant(r, "expires");
    let approved_on = instant(r, "approved_on");
    if let (Some(approved), Some(expires)) = (approved_on, expires) {
        if expires <= approved {
            if let Some(n) = value("expires") {
                r.report(
                    Code::InvalidValue,
                    n,
                    format!("exception `{id}` expires at or before it was approved (`approved_on`)"),
                );
            }
            ok = false;
        }
    }
    let grants = match (value("entitlement"), value("package")) {
        (Some(_), Some(p)) => {
            r.report_help(
                Code::InvalidValue,
                p,
                format!("exception `{id}` has both `entitlement` and `package`"),
                Some("an exception allows one entitlement or one package; write two exceptions for two".into()),
            );
            None
        }
        (None, None) => {
            r.report_help(
                Code::MissingKey,
                node,
                format!("exception `{id}` has no `entitlement` (or `package`)"),
                Some("name what it allows: `entitlement: app:slug` or `package: id`".into()),
            );
            None
        }
        (Some(n), None) => r.string(n, "an entitlement id").and_then(|e| match e.split_once(':') {
            Some((app, slug)) if valid_id(app) && valid_id(slug) => {
                refs.push(Reference {
                    kind: RefKind::ExceptionGrant,
                    id: e.clone(),
                    location: r.loc(n),
                });
                Some(GrantRef::Entitlement(e))
            }
            _ => {
                r.report_help(
                    Code::InvalidValue,
                    n,
                    format!("`{}` is not an `application:entitlement` id", e.escape_debug()),
                    Some("for a package, write `package:` instead of `entitlement:`".into()),
                );
                None
            }
        }),
        (None, Some(n)) => r.id(n, "package id").map(|p| {
            refs.push(Reference {
                kind: RefKind::ExceptionGrant,
                id: p.clone(),
                location: r.loc(n),
            });
            GrantRef::Package(p)
        }),
    };
    let (Some(identity), Some(grants), Some(reason), Some(approved_by), Some(ticket), Some(expires), true) =
        (identity, grants, reason, approved_by, ticket, expires, ok)
    else {
        return;
    };
    let exception = Exception {
        id: id.clone(),
        identity,
        grants,
        reason,
        approved_by,
        ticket,
        approved_on,
        expires,
        source: r.loc(node),
    };
    insert(r, &mut defs.exceptions, id, &id_node, "exception", exception, |e| &e.source);
}

fn read_governance(r: &mut Reader<'_>, key_node: &Node, node: &Node, defs: &mut Definitions) {
    if let Some(first) = &defs.governance.source {
        let first = first.to_string();
        r.report_help(
            Code::DuplicateId,
            key_node,
            "`governance:` is declared twice",
            Some(format!("it is first declared at {first}")),
        );
        return;
    }
    defs.governance.source = Some(r.loc(key_node));
    let Some(entries) = r.map(node, &["exception_max_duration"], "`governance`") else {
        return;
    };
    for (key, _, value) in entries {
        if key == "exception_max_duration" {
            if let Some(text) = r.string(value, "a duration") {
                match Duration::parse(&text) {
                    Ok(d) if d.0 > 0 => defs.governance.exception_max_duration = d,
                    Ok(_) => r.report(Code::InvalidValue, value, "`exception_max_duration` must be longer than zero"),
                    Err(e) => r.report(Code::InvalidValue, value, e),
                }
            }
        }
    }
}

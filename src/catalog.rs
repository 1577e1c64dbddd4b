//! The catalog of dense ids: every name the definitions declare —
//! entitlements, applications, packages, roles, identity attributes and their
//! enum values, identity kinds, hand-written guardrails — interned once at
//! load into small integers, with the closures the evaluator needs (role
//! grants, role hierarchy, package membership) in numbered form, and every
//! justification a role or a permit can give prepared once in a shared table.
//!
//! Ids are assigned in sorted string order, so a sorted list of ids renders
//! as a sorted list of strings: evaluation works on integers and output stays
//! deterministic for free. Strings are produced only when rendering.
//!
//! The catalog owns names and numbered closures; it must never decide who
//! holds what (that is `eval/`), and it is immutable once built.

use std::collections::{BTreeMap, HashMap};
use std::marker::PhantomData;

use crate::compile::{role_policy_id, Compiled, PolicyOrigin};
use crate::eval::{ExceptionJustification, Justification};
use crate::graph::RoleGraph;
use crate::model::{AttrType, Definitions};
use crate::time::Duration;

/// A dense id: a newtype over `u32`, an index into its catalog table.
pub trait DenseId: Copy + Ord {
    /// The id at position `index`.
    fn from_index(index: usize) -> Self;
    /// The position of the id in its table.
    fn index(self) -> usize;
}

macro_rules! dense_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub u32);

        impl DenseId for $name {
            fn from_index(index: usize) -> Self {
                $name(index as u32)
            }
            fn index(self) -> usize {
                self.0 as usize
            }
        }
    };
}

dense_id!(
    /// A catalog entitlement (`github:org-member`).
    EntitlementId
);
dense_id!(
    /// An application (`github`).
    ApplicationId
);
dense_id!(
    /// A package.
    PackageId
);
dense_id!(
    /// A role.
    RoleId
);
dense_id!(
    /// A declared identity attribute.
    AttributeId
);
dense_id!(
    /// One value of an enum attribute (its position among the attribute's values, sorted).
    ValueId
);
dense_id!(
    /// An identity kind (`person`, `service_account`, ...).
    KindId
);
dense_id!(
    /// A hand-written guardrail policy (by its `@id`).
    GuardrailId
);
dense_id!(
    /// A prepared justification in the catalog's shared table.
    JustificationId
);
dense_id!(
    /// An approved exception (by its id).
    ExceptionId
);

/// Names interned in sorted order: id ↔ name in O(1).
#[derive(Debug, Clone)]
pub struct Names<I> {
    names: Vec<Box<str>>,
    ids: HashMap<Box<str>, u32>,
    _id: PhantomData<I>,
}

impl<I: DenseId> Names<I> {
    /// Interns `names` (sorted and deduplicated here).
    fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> Names<I> {
        let mut names: Vec<Box<str>> = names.into_iter().map(Box::from).collect();
        names.sort_unstable();
        names.dedup();
        let ids = names.iter().enumerate().map(|(i, n)| (n.clone(), i as u32)).collect();
        Names {
            names,
            ids,
            _id: PhantomData,
        }
    }

    /// The id of `name`, if the catalog has it.
    pub fn id(&self, name: &str) -> Option<I> {
        self.ids.get(name).map(|i| I::from_index(*i as usize))
    }

    /// The name of `id`.
    pub fn name(&self, id: I) -> &str {
        &self.names[id.index()]
    }

    /// How many names there are.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Are there none?
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Every id with its name, in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (I, &str)> + '_ {
        self.names.iter().enumerate().map(|(i, n)| (I::from_index(i), &**n))
    }
}

/// What the catalog knows of an entitlement.
#[derive(Debug, Clone)]
pub struct EntitlementInfo {
    /// Its application.
    pub application: ApplicationId,
    /// `privileged: true`.
    pub privileged: bool,
    /// The packages that contain it, transitively, sorted.
    pub packages: Box<[PackageId]>,
}

/// What the catalog knows of a role.
#[derive(Debug, Clone)]
pub struct RoleInfo {
    /// Held only through an assignment.
    pub assignable: bool,
    /// The longest assignment allowed.
    pub max_duration: Option<Duration>,
    /// The kinds it applies to, sorted.
    pub kinds: Box<[KindId]>,
    /// The roles it extends, transitively (itself excluded), sorted.
    pub ancestors: Box<[RoleId]>,
    /// The roles an assignment to which makes one a member of it (itself and
    /// every role extending it, transitively: Cedar `in`), sorted.
    pub members: Box<[RoleId]>,
    /// Its compiled policy's id (`role:<id>`).
    pub policy: Box<str>,
    /// Its YAML `file:line`.
    pub source: Box<str>,
}

/// One entitlement a role grants, with every way it does (a range of the shared justification table).
#[derive(Debug, Clone, Copy)]
pub struct RoleGrant {
    /// The entitlement.
    pub entitlement: EntitlementId,
    start: u32,
    end: u32,
}

/// What the catalog knows of a hand-written guardrail.
#[derive(Debug, Clone)]
pub struct GuardrailInfo {
    /// A forbid (otherwise a permit).
    pub forbid: bool,
    /// Its Cedar `file:line`.
    pub source: Box<str>,
    /// For a permit, the justification it gives.
    pub justification: Option<JustificationId>,
}

/// A justification in numbered form: the role (or, for a hand-written
/// permit, the guardrail), the roles it is inherited through and the package
/// path. Its derived order is the order of the rendered [`Justification`]s:
/// ids follow string order, and a role's policy and source follow its id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct JustificationRow {
    role: Option<RoleId>,
    inherited: Box<[RoleId]>,
    via: Box<[PackageId]>,
    /// Without a role, the policy id (a guardrail's or an exception's), so
    /// rows of both sort as their rendered justifications do; empty for a role.
    policy: Box<str>,
    guardrail: Option<GuardrailId>,
    exception: Option<ExceptionId>,
}

/// What the catalog knows of an approved exception.
#[derive(Debug, Clone)]
pub struct ExceptionInfo {
    /// The identity it applies to.
    pub identity: Box<str>,
    /// The entitlements it allows (its entitlement, or its package's), sorted.
    pub entitlements: Box<[EntitlementId]>,
    /// The first instant it no longer applies.
    pub expires: crate::time::Instant,
    /// The justification it gives.
    pub justification: JustificationId,
    /// The ticket recording its approval.
    pub ticket: Box<str>,
    /// Who approved it.
    pub approved_by: Box<str>,
    /// Its YAML `file:line`.
    pub source: Box<str>,
}

/// An identity attribute's declared type, with its enum values interned.
#[derive(Debug, Clone)]
pub struct AttributeInfo {
    /// The declared type.
    pub ty: AttrType,
    /// For an enum, its values (sorted ids).
    pub values: Option<Names<ValueId>>,
}

/// Every name of a project as a dense id, and the numbered closures.
#[derive(Debug, Clone)]
pub struct Catalog {
    /// Catalog entitlements.
    pub entitlements: Names<EntitlementId>,
    entitlement_info: Vec<EntitlementInfo>,
    /// Applications.
    pub applications: Names<ApplicationId>,
    /// Packages.
    pub packages: Names<PackageId>,
    package_ancestors: Vec<Box<[PackageId]>>,
    /// Roles.
    pub roles: Names<RoleId>,
    role_info: Vec<RoleInfo>,
    role_grants: Vec<Box<[RoleGrant]>>,
    grant_refs: Vec<JustificationId>,
    justifications: Vec<JustificationRow>,
    /// Declared identity attributes.
    pub attributes: Names<AttributeId>,
    attribute_info: Vec<AttributeInfo>,
    /// Identity kinds.
    pub kinds: Names<KindId>,
    /// Hand-written guardrails, by `@id`.
    pub guardrails: Names<GuardrailId>,
    guardrail_info: Vec<GuardrailInfo>,
    /// Approved exceptions, by id.
    pub exceptions: Names<ExceptionId>,
    exception_info: Vec<ExceptionInfo>,
    exceptions_by_identity: HashMap<Box<str>, Box<[ExceptionId]>>,
}

impl Catalog {
    /// Interns a compiled project's names and numbers its closures.
    pub fn new(defs: &Definitions, graph: &RoleGraph, compiled: &Compiled) -> Catalog {
        let entitlements: Names<EntitlementId> = Names::new(defs.entitlements.keys().map(String::as_str));
        let applications: Names<ApplicationId> = Names::new(
            defs.applications
                .keys()
                .chain(defs.entitlements.values().map(|e| &e.application))
                .map(String::as_str),
        );
        let packages: Names<PackageId> = Names::new(defs.packages.keys().map(String::as_str));
        let roles: Names<RoleId> = Names::new(defs.roles.keys().map(String::as_str));
        let attributes: Names<AttributeId> = Names::new(defs.identity.attributes.keys().map(String::as_str));
        let kinds: Names<KindId> = Names::new(defs.identity.kinds.iter().map(String::as_str));
        let guardrail_policies: BTreeMap<&str, _> = compiled
            .info
            .values()
            .filter(|i| i.origin == PolicyOrigin::Guardrail)
            .map(|i| (i.id.as_str(), i))
            .collect();
        let guardrails: Names<GuardrailId> = Names::new(guardrail_policies.keys().copied());

        let package_ids = |names: &mut dyn Iterator<Item = &String>| -> Box<[PackageId]> {
            let mut ids: Vec<PackageId> = names.filter_map(|p| packages.id(p)).collect();
            sorted_ids(&mut ids);
            ids.into()
        };
        let role_ids = |names: &mut dyn Iterator<Item = &String>| -> Box<[RoleId]> {
            let mut ids: Vec<RoleId> = names.filter_map(|r| roles.id(r)).collect();
            sorted_ids(&mut ids);
            ids.into()
        };

        let entitlement_info = entitlements
            .iter()
            .map(|(_, id)| {
                let e = defs.entitlements.get(id);
                EntitlementInfo {
                    application: e.and_then(|e| applications.id(&e.application)).unwrap_or(ApplicationId(u32::MAX)),
                    privileged: e.is_some_and(|e| e.privileged),
                    packages: package_ids(&mut graph.entitlement_packages.get(id).into_iter().flatten()),
                }
            })
            .collect();

        // Packages that contain each package, transitively (Cedar `in` over nesting).
        let mut package_ancestors: Vec<Vec<PackageId>> = vec![Vec::new(); packages.len()];
        for (parent, p) in &defs.packages {
            let Some(parent) = packages.id(parent) else { continue };
            for nested in &p.packages {
                if let Some(child) = packages.id(nested) {
                    package_ancestors[child.index()].push(parent);
                }
            }
        }
        let package_ancestors = transitive(package_ancestors);

        let role_info: Vec<RoleInfo> = roles
            .iter()
            .map(|(_, id)| {
                let role = defs.roles.get(id);
                let mut role_kinds: Vec<KindId> = role.into_iter().flat_map(|r| &r.kinds).filter_map(|k| kinds.id(k)).collect();
                sorted_ids(&mut role_kinds);
                RoleInfo {
                    assignable: role.is_some_and(|r| r.assignable),
                    max_duration: role.and_then(|r| r.max_duration),
                    kinds: role_kinds.into(),
                    ancestors: role_ids(&mut graph.role_ancestors.get(id).into_iter().flatten()),
                    members: role_ids(&mut graph.role_members.get(id).into_iter().flatten()),
                    policy: role_policy_id(id).into(),
                    source: role.map(|r| r.source.file_line()).unwrap_or_default().into(),
                }
            })
            .collect();

        // Every justification once: a role's (inherited, via) paths, and each permit guardrail.
        let row_of = |role: RoleId, path: &crate::graph::GrantPath| JustificationRow {
            role: Some(role),
            // A chain, nearest first: order kept.
            inherited: path.inherited.iter().filter_map(|r| roles.id(r)).collect(),
            via: path.via.iter().filter_map(|p| packages.id(p)).collect(),
            policy: Box::from(""),
            guardrail: None,
            exception: None,
        };
        let mut rows: Vec<JustificationRow> = Vec::new();
        for (role, name) in roles.iter() {
            for paths in graph.role_grants.get(name).into_iter().flat_map(|g| g.values()) {
                rows.extend(paths.iter().map(|p| row_of(role, p)));
            }
        }
        for (guardrail, name) in guardrails.iter() {
            if guardrail_policies.get(name).is_some_and(|i| !i.forbid) {
                rows.push(JustificationRow {
                    role: None,
                    inherited: Box::new([]),
                    via: Box::new([]),
                    policy: Box::from(name),
                    guardrail: Some(guardrail),
                    exception: None,
                });
            }
        }
        let exceptions: Names<ExceptionId> = Names::new(defs.exceptions.keys().map(String::as_str));
        let exception_row = |e: ExceptionId| JustificationRow {
            role: None,
            inherited: Box::new([]),
            via: Box::new([]),
            policy: crate::compile::exception_policy_id(exceptions.name(e)).into(),
            guardrail: None,
            exception: Some(e),
        };
        rows.extend(exceptions.iter().map(|(e, _)| exception_row(e)));
        rows.sort_unstable();
        rows.dedup();
        let row_id = |row: &JustificationRow| rows.binary_search(row).ok().map(JustificationId::from_index);

        let mut grant_refs = Vec::new();
        let role_grants = roles
            .iter()
            .map(|(role, name)| {
                graph
                    .role_grants
                    .get(name)
                    .into_iter()
                    .flatten()
                    .filter_map(|(e, paths)| {
                        let entitlement = entitlements.id(e)?;
                        let start = grant_refs.len() as u32;
                        let mut refs: Vec<JustificationId> = paths.iter().filter_map(|p| row_id(&row_of(role, p))).collect();
                        sorted_ids(&mut refs);
                        grant_refs.extend(refs);
                        Some(RoleGrant {
                            entitlement,
                            start,
                            end: grant_refs.len() as u32,
                        })
                    })
                    .collect()
            })
            .collect();

        let attribute_info = attributes
            .iter()
            .map(|(_, name)| {
                let ty = defs.identity.attributes.get(name).map(|a| a.ty.clone()).unwrap_or(AttrType::String);
                let values = match &ty {
                    AttrType::Enum(values) => Some(Names::new(values.iter().map(String::as_str))),
                    _ => None,
                };
                AttributeInfo { ty, values }
            })
            .collect();

        let guardrail_info = guardrails
            .iter()
            .map(|(g, name)| {
                let info = guardrail_policies.get(name);
                let forbid = info.is_none_or(|i| i.forbid);
                GuardrailInfo {
                    forbid,
                    source: info.map(|i| i.source.file_line()).unwrap_or_default().into(),
                    justification: if forbid {
                        None
                    } else {
                        row_id(&JustificationRow {
                            role: None,
                            inherited: Box::new([]),
                            via: Box::new([]),
                            policy: Box::from(name),
                            guardrail: Some(g),
                            exception: None,
                        })
                    },
                }
            })
            .collect();

        let mut exceptions_by_identity: HashMap<Box<str>, Vec<ExceptionId>> = HashMap::new();
        let exception_info = exceptions
            .iter()
            .map(|(e, name)| {
                let def = defs.exceptions.get(name);
                let mut reach: Vec<EntitlementId> = match def.map(|d| &d.grants) {
                    Some(crate::model::GrantRef::Entitlement(id)) => entitlements.id(id).into_iter().collect(),
                    Some(crate::model::GrantRef::Package(p)) => graph
                        .package_entitlements
                        .get(p)
                        .into_iter()
                        .flatten()
                        .filter_map(|id| entitlements.id(id))
                        .collect(),
                    None => Vec::new(),
                };
                sorted_ids(&mut reach);
                let identity: Box<str> = def.map(|d| d.identity.as_str()).unwrap_or_default().into();
                exceptions_by_identity.entry(identity.clone()).or_default().push(e);
                ExceptionInfo {
                    identity,
                    entitlements: reach.into(),
                    expires: def.map_or(crate::time::Instant::MIN, |d| d.expires),
                    justification: row_id(&exception_row(e)).unwrap_or(JustificationId(u32::MAX)),
                    ticket: def.map(|d| d.ticket.as_str()).unwrap_or_default().into(),
                    approved_by: def.map(|d| d.approved_by.as_str()).unwrap_or_default().into(),
                    source: def.map(|d| d.source.file_line()).unwrap_or_default().into(),
                }
            })
            .collect();
        let exceptions_by_identity = exceptions_by_identity.into_iter().map(|(k, v)| (k, v.into())).collect();

        Catalog {
            entitlements,
            entitlement_info,
            applications,
            packages,
            package_ancestors,
            roles,
            role_info,
            role_grants,
            grant_refs,
            justifications: rows,
            attributes,
            attribute_info,
            kinds,
            guardrails,
            guardrail_info,
            exceptions,
            exception_info,
            exceptions_by_identity,
        }
    }

    /// An exception's identity, reach, expiry and justification.
    pub fn exception(&self, id: ExceptionId) -> &ExceptionInfo {
        &self.exception_info[id.index()]
    }

    /// The exceptions naming `identity` (sorted; empty when none does).
    pub fn exceptions_of(&self, identity: &str) -> &[ExceptionId] {
        // Most projects have none: no string is hashed per evaluation then.
        if self.exceptions_by_identity.is_empty() {
            return &[];
        }
        self.exceptions_by_identity.get(identity).map_or(&[], |e| e)
    }

    /// The exception of a prepared justification that an exception gives.
    pub fn justification_exception(&self, id: JustificationId) -> Option<ExceptionId> {
        self.justifications[id.index()].exception
    }

    /// An entitlement's application, `privileged` flag and packages.
    pub fn entitlement(&self, id: EntitlementId) -> &EntitlementInfo {
        &self.entitlement_info[id.index()]
    }

    /// The packages that contain a package, transitively (sorted).
    pub fn package_ancestors(&self, id: PackageId) -> &[PackageId] {
        &self.package_ancestors[id.index()]
    }

    /// A role's flags, hierarchy, policy id and source.
    pub fn role(&self, id: RoleId) -> &RoleInfo {
        &self.role_info[id.index()]
    }

    /// Every entitlement a role grants (its own and inherited), sorted by entitlement.
    pub fn role_grants(&self, id: RoleId) -> &[RoleGrant] {
        &self.role_grants[id.index()]
    }

    /// The justifications of one grant of a role, sorted.
    pub fn grant_justifications(&self, grant: &RoleGrant) -> &[JustificationId] {
        &self.grant_refs[grant.start as usize..grant.end as usize]
    }

    /// The justifications a role gives for an entitlement (empty when it does not grant it).
    pub fn role_justifications(&self, role: RoleId, entitlement: EntitlementId) -> &[JustificationId] {
        let grants = self.role_grants(role);
        match grants.binary_search_by_key(&entitlement, |g| g.entitlement) {
            Ok(i) => self.grant_justifications(&grants[i]),
            Err(_) => &[],
        }
    }

    /// An identity attribute's type and interned enum values.
    pub fn attribute(&self, id: AttributeId) -> &AttributeInfo {
        &self.attribute_info[id.index()]
    }

    /// A guardrail's effect, source and (for a permit) justification.
    pub fn guardrail(&self, id: GuardrailId) -> &GuardrailInfo {
        &self.guardrail_info[id.index()]
    }

    /// The package path of a prepared justification, outermost first (empty
    /// for a direct grant and for a hand-written permit).
    pub fn justification_packages(&self, id: JustificationId) -> &[PackageId] {
        &self.justifications[id.index()].via
    }

    /// The guardrail of a prepared justification that a hand-written permit gives.
    pub fn justification_guardrail(&self, id: JustificationId) -> Option<GuardrailId> {
        self.justifications[id.index()].guardrail
    }

    /// How many prepared justifications there are.
    pub fn justification_count(&self) -> usize {
        self.justifications.len()
    }

    /// A prepared justification, rendered with readable ids.
    pub fn justification(&self, id: JustificationId) -> Justification {
        let row = &self.justifications[id.index()];
        match (row.role, row.guardrail) {
            (Some(role), _) => {
                let info = self.role(role);
                Justification {
                    role: Some(self.roles.name(role).to_string()),
                    inherited: row.inherited.iter().map(|r| self.roles.name(*r).to_string()).collect(),
                    via: row.via.iter().map(|p| self.packages.name(*p).to_string()).collect(),
                    policy: info.policy.to_string(),
                    source: info.source.to_string(),
                    exception: None,
                }
            }
            (None, guardrail) => match row.exception {
                Some(e) => {
                    let info = self.exception(e);
                    Justification {
                        role: None,
                        inherited: Vec::new(),
                        via: Vec::new(),
                        policy: row.policy.to_string(),
                        source: info.source.to_string(),
                        exception: Some(ExceptionJustification {
                            id: self.exceptions.name(e).to_string(),
                            ticket: info.ticket.to_string(),
                            approved_by: info.approved_by.to_string(),
                            expires: info.expires.to_rfc3339(),
                        }),
                    }
                }
                None => Justification {
                    role: None,
                    inherited: Vec::new(),
                    via: Vec::new(),
                    policy: guardrail.map(|g| self.guardrails.name(g).to_string()).unwrap_or_default(),
                    source: guardrail.map(|g| self.guardrail(g).source.to_string()).unwrap_or_default(),
                    exception: None,
                },
            },
        }
    }
}

fn sorted_ids<I: Ord>(ids: &mut Vec<I>) {
    ids.sort_unstable();
    ids.dedup();
}

/// Transitive closure of parent lists (over an acyclic relation), each sorted.
fn transitive<I: DenseId>(parents: Vec<Vec<I>>) -> Vec<Box<[I]>> {
    let n = parents.len();
    let mut closed: Vec<Option<Box<[I]>>> = vec![None; n];
    for start in 0..n {
        // Iterative post-order: a node is closed after all its parents are.
        let mut stack = vec![(start, false)];
        while let Some((node, expanded)) = stack.pop() {
            if closed[node].is_some() {
                continue;
            }
            if !expanded {
                stack.push((node, true));
                stack.extend(
                    parents[node]
                        .iter()
                        .filter(|p| closed[p.index()].is_none())
                        .map(|p| (p.index(), false)),
                );
                continue;
            }
            let mut all: Vec<I> = Vec::new();
            for p in &parents[node] {
                all.push(*p);
                all.extend(closed[p.index()].iter().flat_map(|c| c.iter().copied()));
            }
            all.sort_unstable();
            all.dedup();
            closed[node] = Some(all.into());
        }
    }
    closed.into_iter().map(Option::unwrap_or_default).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SourceFile;
    use crate::project::{Project, Sources};

    fn project(roles: &str, policies: &str) -> Project {
        let sources = Sources {
            roles: vec![SourceFile {
                name: "r.yaml".into(),
                text: roles.into(),
            }],
            policies: vec![SourceFile {
                name: "p.cedar".into(),
                text: policies.into(),
            }],
        };
        Project::from_sources(&sources).unwrap_or_else(|f| panic!("{:?}", f.diagnostics))
    }

    const ROLES: &str = "identity:\n  attributes:\n    status: { type: enum, values: [terminated, active] }\n    dept: { type: string }\napplications:\n  - id: b\n    entitlements: [{ id: y }, { id: x, privileged: true }]\n  - id: a\n    entitlements: [{ id: z }]\npackages:\n  - id: outer\n    packages: [inner]\n  - id: inner\n    entitlements: [b:x, a:z]\nroles:\n  - id: zeta\n    grants: [outer, b:y]\n  - id: alpha\n    extends: [zeta]\n    grants: [inner]\n";

    #[test]
    fn ids_follow_string_order() {
        let p = project(ROLES, "");
        let c = p.catalog();
        let names: Vec<&str> = c.entitlements.iter().map(|(_, n)| n).collect();
        assert_eq!(names, ["a:z", "b:x", "b:y"]);
        assert_eq!(c.roles.id("alpha"), Some(RoleId(0)));
        assert_eq!(c.roles.name(RoleId(1)), "zeta");
        let status = c.attributes.id("status").unwrap();
        let values = c.attribute(status).values.as_ref().unwrap();
        assert_eq!(values.id("active"), Some(ValueId(0)));
        assert_eq!(
            c.kinds.iter().map(|(_, k)| k).collect::<Vec<_>>(),
            ["agent", "person", "service_account"]
        );
    }

    #[test]
    fn closures_are_numbered() {
        let p = project(ROLES, "");
        let c = p.catalog();
        let x = c.entitlements.id("b:x").unwrap();
        let info = c.entitlement(x);
        assert!(info.privileged);
        assert_eq!(c.applications.name(info.application), "b");
        let packages: Vec<&str> = info.packages.iter().map(|p| c.packages.name(*p)).collect();
        assert_eq!(packages, ["inner", "outer"]);
        let inner = c.packages.id("inner").unwrap();
        assert_eq!(c.package_ancestors(inner), [c.packages.id("outer").unwrap()]);
        let alpha = c.roles.id("alpha").unwrap();
        let zeta = c.roles.id("zeta").unwrap();
        assert_eq!(&*c.role(alpha).ancestors, [zeta]);
        assert_eq!(&*c.role(zeta).members, [alpha, zeta]);
    }

    #[test]
    fn justifications_render_in_the_order_of_their_ids() {
        let p = project(
            ROLES,
            "@id(\"p\")\n@unbounded_permit(\"test\")\npermit (principal, action, resource in Application::\"a\");\n@id(\"f\")\nforbid (principal, action, resource) when { resource.privileged };\n",
        );
        let c = p.catalog();
        let rendered: Vec<Justification> = (0..c.justification_count())
            .map(|i| c.justification(JustificationId(i as u32)))
            .collect();
        let mut sorted = rendered.clone();
        sorted.sort();
        assert_eq!(rendered, sorted);
        // alpha reaches b:x directly (via inner) and through zeta (via outer → inner).
        // (`inherited` is a chain and keeps its order: see the example's three-level chain in tests/.)
        let alpha = c.roles.id("alpha").unwrap();
        let x = c.entitlements.id("b:x").unwrap();
        let why: Vec<Justification> = c.role_justifications(alpha, x).iter().map(|j| c.justification(*j)).collect();
        let expected: Vec<Justification> = p.graph.role_grants["alpha"]["b:x"]
            .iter()
            .map(|path| Justification {
                role: Some("alpha".into()),
                inherited: path.inherited.clone(),
                via: path.via.clone(),
                policy: "role:alpha".into(),
                source: "r.yaml:18".into(),
                exception: None,
            })
            .collect();
        assert_eq!(why.len(), 2);
        let mut expected = expected;
        expected.sort();
        assert_eq!(why, expected);
        let permit = c.guardrails.id("p").unwrap();
        assert!(!c.guardrail(permit).forbid);
        let j = c.justification(c.guardrail(permit).justification.unwrap());
        assert_eq!((j.role, j.policy.as_str()), (None, "p"));
        assert!(c.guardrail(c.guardrails.id("f").unwrap()).justification.is_none());
    }
}

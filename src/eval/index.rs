//! The role index: which roles can possibly apply to an identity.
//!
//! Roles are indexed per identity kind, so a role whose `kinds` (or a
//! top-level `kind:` conjunct) exclude the identity's kind is never looked
//! at. Within a kind, each role is placed by its most selective **required
//! conjunct** — an entry of `when` that must hold for the role to hold
//! (top-level, or inside nested `all`s): `attr: v`, `{ in: [...] }`,
//! `{ contains: v }`, a `matches` glob's literal prefix (or the glob itself
//! when it has no `*`), on the identity or on its owner. Selectivity is the
//! estimated share of identities whose value matches: one in the number of
//! values an enum declares, or in the number of distinct values the roles
//! mention for a free-text attribute. Roles with no such conjunct are checked
//! for every identity of their kinds.
//!
//! Assignable roles are not in the index at all: they are found from the
//! identity's valid assignments through the role hierarchy (the roles an
//! assignment makes it a member of).
//!
//! Skipping is exact: a skipped role's required conjunct is false (so its
//! condition is false, or an error when an escape hatch errs before it), or
//! its kind excludes the identity, or it has no valid assignment — in every
//! case the role is not held.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::catalog::{AttributeId, Catalog, DenseId, KindId, RoleId, ValueId};
use crate::model::{AttrTest, AttrType, Condition, Literal, Subject};
use crate::project::Project;

use super::condition::glob_matches;
use super::facts::{Fact, Facts};

/// What one required conjunct asks: the subject's attribute must take one of these.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    /// A free-text value, or a member of a set.
    Text(Box<str>),
    /// A free-text value starting with this (a glob's literal prefix).
    Prefix(Box<str>),
    /// An enum value.
    Enum(ValueId),
}

/// A required conjunct: any of `keys` on (subject, attribute).
#[derive(Debug, Clone)]
struct Conjunct {
    subject: Subject,
    attr: AttributeId,
    keys: Vec<Key>,
}

/// Roles bucketed by one (subject, attribute)'s values.
#[derive(Debug, Clone, Default)]
struct Buckets {
    exact: HashMap<Box<str>, Vec<RoleId>>,
    /// By prefix length in bytes, then prefix.
    prefixes: BTreeMap<usize, HashMap<Box<str>, Vec<RoleId>>>,
    by_enum: Vec<Vec<RoleId>>,
}

/// The index of the roles that can apply to identities of one kind.
#[derive(Debug, Clone, Default)]
struct KindIndex {
    /// Roles of this kind the index cannot place: always candidates.
    always: Vec<RoleId>,
    /// By (subject, attribute).
    buckets: Vec<(Subject, AttributeId, Buckets)>,
}

/// Which roles can apply to an identity.
#[derive(Debug, Clone, Default)]
pub struct RoleIndex {
    by_kind: Vec<KindIndex>,
    /// Assignable roles (found from assignments, never from the index).
    assignable: Vec<bool>,
    /// Where each role is placed, by role id: the same test [`RoleIndex::candidates`]
    /// makes, asked of one role ([`RoleIndex::may_apply`]).
    placement: Vec<Placement>,
}

/// Where the index put one role: the kinds it is listed under and the conjunct it is bucketed by.
#[derive(Debug, Clone, Default)]
struct Placement {
    /// The kinds whose index lists it (narrowed by required `kind:` entries), sorted.
    kinds: Vec<KindId>,
    /// The required conjunct it is bucketed by; `None`: always a candidate.
    conjunct: Option<Conjunct>,
}

impl RoleIndex {
    /// Builds the index over a project's roles.
    pub fn new(project: &Project) -> RoleIndex {
        let catalog = project.catalog();
        let mut by_kind = vec![KindIndex::default(); catalog.kinds.len()];
        let mut assignable = vec![false; catalog.roles.len()];
        let mut placement = vec![Placement::default(); catalog.roles.len()];
        let domain = Domains::new(project);
        for (role, name) in catalog.roles.iter() {
            let Some(def) = project.defs.roles.get(name) else { continue };
            let info = catalog.role(role);
            if info.assignable {
                assignable[role.index()] = true;
                continue;
            }
            let mut conjuncts = Vec::new();
            let mut kinds: BTreeSet<KindId> = info.kinds.iter().copied().collect();
            required(&def.when, catalog, &mut conjuncts, &mut kinds);
            // The most selective conjunct (first written among equals).
            let best = conjuncts
                .into_iter()
                .map(|c| (domain.share(&c), c))
                .fold(None::<(f64, Conjunct)>, |best, (share, c)| match best {
                    Some((b, _)) if b <= share => best,
                    _ => Some((share, c)),
                });
            for kind in &kinds {
                let index = &mut by_kind[kind.index()];
                match &best {
                    None => index.always.push(role),
                    Some((_, c)) => index.place(c, role, catalog),
                }
            }
            placement[role.index()] = Placement {
                kinds: kinds.into_iter().collect(),
                conjunct: best.map(|(_, c)| c),
            };
        }
        RoleIndex {
            by_kind,
            assignable,
            placement,
        }
    }

    /// Is `role` among [`RoleIndex::candidates`] for the identity of `facts`?
    /// The same answer, for one role, without listing the others: what-if
    /// asks it of the roles a policy change touches, to find who could be affected.
    pub fn may_apply(&self, catalog: &Catalog, facts: &Facts<'_>, role: RoleId) -> bool {
        let identity = &facts.identity;
        let Some(kind) = identity.kind else { return false };
        if self.assignable.get(role.index()).copied().unwrap_or(false) {
            return catalog.role(role).kinds.binary_search(&kind).is_ok() && identity.is_member(catalog, facts.at, role);
        }
        let Some(placement) = self.placement.get(role.index()) else {
            return false;
        };
        if placement.kinds.binary_search(&kind).is_err() {
            return false;
        }
        let Some(conjunct) = &placement.conjunct else { return true };
        let who = match conjunct.subject {
            Subject::Identity => Some(identity),
            Subject::Owner => facts.owner.as_ref(),
        };
        who.is_some_and(|who| conjunct.admits(who.get(conjunct.attr)))
    }

    /// The roles that may apply to the identity of `facts`, ascending. Every
    /// role it leaves out is certainly not held.
    pub fn candidates(&self, catalog: &Catalog, facts: &Facts<'_>, out: &mut Vec<RoleId>) {
        out.clear();
        let identity = &facts.identity;
        let Some(index) = identity.kind.and_then(|k| self.by_kind.get(k.index())) else {
            return;
        };
        out.extend_from_slice(&index.always);
        for (subject, attr, buckets) in &index.buckets {
            let who = match subject {
                Subject::Identity => Some(identity),
                Subject::Owner => facts.owner.as_ref(),
            };
            if let Some(who) = who {
                buckets.lookup(who.get(*attr), out);
            }
        }
        // Assignable roles: those a valid assignment makes the identity a member of.
        let kind = identity.kind;
        out.extend(
            identity
                .memberships(catalog, facts.at)
                .iter()
                .copied()
                .filter(|r| self.assignable.get(r.index()).copied().unwrap_or(false))
                .filter(|r| kind.is_some_and(|k| catalog.role(*r).kinds.binary_search(&k).is_ok())),
        );
        out.sort_unstable();
        out.dedup();
    }
}

impl Conjunct {
    /// Does a value satisfy one of the keys, as [`Buckets::lookup`] finds it?
    fn admits(&self, fact: Fact<'_>) -> bool {
        self.keys.iter().any(|key| match (key, fact) {
            (Key::Text(v), Fact::Str(s)) => **v == *s,
            (Key::Text(v), Fact::Set(items)) => items.iter().any(|i| **i == **v),
            (Key::Prefix(p), Fact::Str(s)) => s.get(..p.len()) == Some(&**p),
            (Key::Enum(v), Fact::Enum(e)) => *v == e,
            _ => false,
        })
    }
}

impl KindIndex {
    fn place(&mut self, c: &Conjunct, role: RoleId, catalog: &Catalog) {
        let position = match self.buckets.iter().position(|(s, a, _)| *s == c.subject && *a == c.attr) {
            Some(p) => p,
            None => {
                let values = catalog.attribute(c.attr).values.as_ref().map_or(0, |v| v.len());
                self.buckets.push((
                    c.subject,
                    c.attr,
                    Buckets {
                        by_enum: vec![Vec::new(); values],
                        ..Buckets::default()
                    },
                ));
                self.buckets.len() - 1
            }
        };
        let buckets = &mut self.buckets[position].2;
        for key in &c.keys {
            let slot = match key {
                Key::Text(v) => buckets.exact.entry(v.clone()).or_default(),
                Key::Prefix(p) => buckets.prefixes.entry(p.len()).or_default().entry(p.clone()).or_default(),
                Key::Enum(v) => match buckets.by_enum.get_mut(v.index()) {
                    Some(slot) => slot,
                    None => continue,
                },
            };
            if slot.last() != Some(&role) {
                slot.push(role);
            }
        }
    }
}

impl Buckets {
    fn lookup(&self, fact: Fact<'_>, out: &mut Vec<RoleId>) {
        match fact {
            Fact::Str(s) => {
                out.extend(self.exact.get(s).into_iter().flatten());
                for (len, by_prefix) in &self.prefixes {
                    if let Some(prefix) = s.get(..*len) {
                        out.extend(by_prefix.get(prefix).into_iter().flatten());
                    }
                }
            }
            Fact::Enum(v) => out.extend(self.by_enum.get(v.index()).into_iter().flatten()),
            Fact::Set(items) => {
                for item in items {
                    out.extend(self.exact.get(&**item).into_iter().flatten());
                }
            }
            Fact::Absent | Fact::Int(_) | Fact::Bool(_) | Fact::Date(_) => {}
        }
    }
}

/// Collects the required conjuncts of `c` that the index can use, and narrows
/// `kinds` by required `kind:` entries.
fn required(c: &Condition, catalog: &Catalog, out: &mut Vec<Conjunct>, kinds: &mut BTreeSet<KindId>) {
    match c {
        Condition::All(items) => items.iter().for_each(|i| required(i, catalog, out, kinds)),
        Condition::Kind {
            subject: Subject::Identity,
            kinds: allowed,
            ..
        } => {
            let allowed: BTreeSet<KindId> = allowed.iter().filter_map(|k| catalog.kinds.id(k)).collect();
            kinds.retain(|k| allowed.contains(k));
        }
        Condition::Attr {
            subject, attr, ty, test, ..
        } => {
            let Some(id) = catalog.attributes.id(attr) else { return };
            let values = catalog.attribute(id).values.as_ref();
            fn text(l: &Literal) -> Option<&str> {
                match l {
                    Literal::Str(s) => Some(s.as_str()),
                    _ => None,
                }
            }
            let keys: Option<Vec<Key>> = match (ty, test) {
                (AttrType::String | AttrType::Set, AttrTest::Eq(l)) => Some(text(l).map(|s| Key::Text(s.into())).into_iter().collect()),
                (AttrType::Set, AttrTest::Contains(l)) => Some(text(l).map(|s| Key::Text(s.into())).into_iter().collect()),
                (AttrType::String | AttrType::Set, AttrTest::In(ls)) => {
                    Some(ls.iter().filter_map(text).map(|s| Key::Text(s.into())).collect())
                }
                (AttrType::String, AttrTest::Matches(glob)) => match glob.find('*') {
                    None => Some(vec![Key::Text(glob.as_str().into())]),
                    Some(0) => None,
                    Some(star) => Some(vec![Key::Prefix(glob[..star].into())]),
                },
                (AttrType::Enum(_), AttrTest::Eq(l)) => Some(text(l).and_then(|s| values?.id(s)).map(Key::Enum).into_iter().collect()),
                (AttrType::Enum(_), AttrTest::In(ls)) => {
                    Some(ls.iter().filter_map(text).filter_map(|s| values?.id(s)).map(Key::Enum).collect())
                }
                (AttrType::Enum(_), AttrTest::Matches(glob)) => Some(
                    values
                        .into_iter()
                        .flat_map(|v| v.iter())
                        .filter(|(_, v)| glob_matches(glob, v))
                        .map(|(id, _)| Key::Enum(id))
                        .collect(),
                ),
                _ => None,
            };
            if let Some(mut keys) = keys {
                keys.sort();
                keys.dedup();
                out.push(Conjunct {
                    subject: *subject,
                    attr: id,
                    keys,
                });
            }
        }
        _ => {}
    }
}

/// How many values each attribute can take, as far as the definitions tell.
struct Domains {
    /// For free-text attributes: the distinct values the roles mention, sorted.
    mentioned: HashMap<AttributeId, Vec<Box<str>>>,
    enum_sizes: HashMap<AttributeId, usize>,
}

impl Domains {
    fn new(project: &Project) -> Domains {
        let catalog = project.catalog();
        let mut mentioned: HashMap<AttributeId, BTreeSet<Box<str>>> = HashMap::new();
        fn walk(c: &Condition, catalog: &Catalog, out: &mut HashMap<AttributeId, BTreeSet<Box<str>>>) {
            match c {
                Condition::All(items) | Condition::Any(items) => items.iter().for_each(|i| walk(i, catalog, out)),
                Condition::Not(inner) => walk(inner, catalog, out),
                Condition::Attr { attr, test, .. } => {
                    let Some(id) = catalog.attributes.id(attr) else { return };
                    let literals: Vec<&Literal> = match test {
                        AttrTest::Eq(l) | AttrTest::Not(l) | AttrTest::Contains(l) => vec![l],
                        AttrTest::In(ls) | AttrTest::NotIn(ls) => ls.iter().collect(),
                        _ => Vec::new(),
                    };
                    let slot = out.entry(id).or_default();
                    slot.extend(literals.into_iter().filter_map(|l| match l {
                        Literal::Str(s) => Some(Box::from(s.as_str())),
                        _ => None,
                    }));
                }
                _ => {}
            }
        }
        for role in project.defs.roles.values() {
            walk(&role.when, catalog, &mut mentioned);
        }
        let enum_sizes = catalog
            .attributes
            .iter()
            .filter_map(|(id, _)| catalog.attribute(id).values.as_ref().map(|v| (id, v.len())))
            .collect();
        Domains {
            mentioned: mentioned.into_iter().map(|(k, v)| (k, v.into_iter().collect())).collect(),
            enum_sizes,
        }
    }

    /// The estimated share of identities satisfying a conjunct.
    fn share(&self, c: &Conjunct) -> f64 {
        let mentioned = self.mentioned.get(&c.attr).map_or(&[][..], |v| v.as_slice());
        // One more than the values mentioned: identities have values no role names.
        let text_domain = (mentioned.len() + 1) as f64;
        let enum_domain = self.enum_sizes.get(&c.attr).copied().unwrap_or(1).max(1) as f64;
        let share: f64 = c
            .keys
            .iter()
            .map(|k| match k {
                Key::Text(_) => 1.0 / text_domain,
                Key::Prefix(p) => mentioned.iter().filter(|v| v.starts_with(&**p)).count().max(1) as f64 / text_domain,
                Key::Enum(_) => 1.0 / enum_domain,
            })
            .sum();
        share.min(1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SourceFile;
    use crate::project::Sources;
    use crate::state::{AttrValue, IdentityState};

    fn project(roles: &str) -> Project {
        let base = "identity:\n  attributes:\n    status: { type: enum, values: [active, leave, terminated] }\n    dept: { type: string }\n    job: { type: string }\n    tags: { type: set }\napplications:\n  - id: app\n    entitlements: [{ id: read }]\n";
        let sources = Sources {
            roles: vec![SourceFile {
                name: "r.yaml".into(),
                text: format!("{base}{roles}"),
            }],
            policies: vec![],
        };
        Project::from_sources(&sources).unwrap_or_else(|f| panic!("{:?}", f.diagnostics))
    }

    fn candidates(p: &Project, kind: &str, attrs: &[(&str, AttrValue)]) -> Vec<String> {
        let index = RoleIndex::new(p);
        let identity = IdentityState {
            id: "u".into(),
            kind: kind.into(),
            owner: None,
            attributes: attrs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
            assignments: Vec::new(),
        };
        let facts = Facts::new(p.catalog(), &identity, None, crate::time::Instant(0));
        let mut out = Vec::new();
        index.candidates(p.catalog(), &facts, &mut out);
        out.into_iter().map(|r| p.catalog().roles.name(r).to_string()).collect()
    }

    #[test]
    fn each_role_is_placed_by_its_most_selective_conjunct() {
        let p = project(
            "roles:\n  - id: fin\n    when: { status: active, dept: Fin, job: { in: [F1, F2] } }\n    grants: [app:read]\n  - id: ops\n    when: { status: active, dept: Ops }\n    grants: [app:read]\n  - id: fam\n    when: { status: active, job: { matches: \"F*\" } }\n    grants: [app:read]\n  - id: all\n    when: { status: { in: [active, leave] } }\n    grants: [app:read]\n  - id: any\n    when: { any: [{ dept: Fin }, { dept: Ops }] }\n    grants: [app:read]\n  - id: vip\n    when: { tags: vip }\n    grants: [app:read]\n  - id: bots\n    kinds: [service_account]\n    grants: [app:read]\n  - id: mention\n    when: { dept: { not_in: [A, B, C, D, E] }, job: { not_in: [X1, X2, X3, X4, X5, X6, X7, X8, X9] } }\n    grants: [app:read]\n",
        );
        let s = |v: &str| AttrValue::Str(v.into());
        // Seven departments are mentioned (one in 8), eleven jobs (one in 12), three statuses:
        // `fin` and `ops` go by dept, `fam` by the job prefix `F` (2 in 12), `all` by status;
        // `any` and `mention` require nothing the index can use.
        assert_eq!(
            candidates(&p, "person", &[("status", s("active")), ("dept", s("Fin")), ("job", s("F1"))]),
            ["all", "any", "fam", "fin", "mention"]
        );
        assert_eq!(
            candidates(&p, "person", &[("status", s("leave")), ("job", s("X9"))]),
            ["all", "any", "mention"]
        );
        let tags = AttrValue::set(["vip", "x"]);
        assert_eq!(
            candidates(&p, "person", &[("dept", s("Ops")), ("tags", tags)]),
            ["any", "mention", "ops", "vip"]
        );
        // Kinds: person roles are never looked at for a service account, and the other way round.
        assert_eq!(candidates(&p, "service_account", &[("status", s("active"))]), ["bots"]);
    }

    #[test]
    fn may_apply_answers_what_candidates_lists() {
        let p = project(
            "roles:\n  - id: fin\n    when: { status: active, dept: Fin }\n    grants: [app:read]\n  - id: fam\n    when: { job: { matches: \"F*\" } }\n    grants: [app:read]\n  - id: vip\n    when: { tags: { contains: vip } }\n    grants: [app:read]\n  - id: all\n    grants: [app:read]\n  - id: owned\n    kinds: [service_account]\n    when: { owner.dept: Fin }\n    grants: [app:read]\n  - id: oncall\n    assignable: true\n    grants: [app:read]\n  - id: senior-oncall\n    assignable: true\n    extends: [oncall]\n    grants: [app:read]\n",
        );
        let index = RoleIndex::new(&p);
        let c = p.catalog();
        let s = |v: &str| AttrValue::Str(v.into());
        let owner = IdentityState {
            id: "o".into(),
            kind: "person".into(),
            owner: None,
            attributes: [("dept".to_string(), s("Fin"))].into_iter().collect(),
            assignments: Vec::new(),
        };
        let assignment = crate::state::Assignment {
            role: "senior-oncall".into(),
            starts: crate::time::Instant(0),
            expires: None,
            approved_by: None,
            ticket: None,
        };
        let people: Vec<IdentityState> = [
            (
                "person",
                vec![("status", s("active")), ("dept", s("Fin")), ("job", s("F2"))],
                vec![],
            ),
            (
                "person",
                vec![("status", s("leave")), ("job", s("X")), ("tags", AttrValue::set(["vip"]))],
                vec![assignment],
            ),
            ("service_account", vec![], vec![]),
        ]
        .into_iter()
        .map(|(kind, attrs, assignments)| IdentityState {
            id: "u".into(),
            kind: kind.into(),
            owner: (kind == "service_account").then(|| "o".to_string()),
            attributes: attrs.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            assignments,
        })
        .collect();
        let mut seen = std::collections::BTreeSet::new();
        for identity in &people {
            for with_owner in [false, true] {
                let facts = Facts::new(c, identity, with_owner.then_some(&owner), crate::time::Instant(1));
                let mut listed = Vec::new();
                index.candidates(c, &facts, &mut listed);
                for (role, name) in c.roles.iter() {
                    assert_eq!(
                        index.may_apply(c, &facts, role),
                        listed.contains(&role),
                        "role `{name}` for {identity:?} (owner known: {with_owner})"
                    );
                }
                seen.extend(listed);
            }
        }
        // Every way of being a candidate was met: by a conjunct, a prefix, a set, the owner, an assignment, always.
        assert_eq!(seen.len(), c.roles.len(), "{:?}", seen);
    }
}

//! Spec §8: no panic on any input. Random and mangled inputs go through the
//! definitions loader, the identity reader and the live-state reader; each
//! must come back with a result or located errors, never a panic.

use entitle::io::identities::parse_identities;
use entitle::io::live::parse_live;
use entitle::model::SourceFile;
use entitle::project::{Project, Sources};
use proptest::prelude::*;

const ROLES: &str = include_str!("../roles/roles-engineering.yaml");
const IDENTITY: &str = include_str!("../roles/identity.yaml");
const APPS: &str = include_str!("../roles/applications.yaml");
const PACKAGES: &str = include_str!("../roles/packages.yaml");
const FEED: &str = include_str!("../fixtures/identities.jsonl");
const LIVE: &str = include_str!("../fixtures/live.jsonl");

/// `text` with the bytes in `cut` removed and `insert` put in at `at`.
fn mangle(text: &str, at: usize, cut: usize, insert: &str) -> String {
    let bytes = text.as_bytes();
    let at = at % (bytes.len() + 1);
    let end = (at + cut).min(bytes.len());
    let mut out = bytes[..at].to_vec();
    out.extend_from_slice(insert.as_bytes());
    out.extend_from_slice(&bytes[end..]);
    String::from_utf8_lossy(&out).into_owned()
}

/// Loads, and checks that a failure is reported as located, worded diagnostics.
fn load(sources: &Sources) -> Result<(), TestCaseError> {
    if let Err(failure) = Project::from_sources(sources) {
        prop_assert!(!failure.diagnostics.is_empty(), "a failed load must say why");
        for d in &failure.diagnostics {
            prop_assert!(!d.message.is_empty() && !d.location.file.is_empty(), "{d:?}");
        }
    }
    Ok(())
}

fn sources(roles: String) -> Sources {
    Sources {
        roles: vec![
            SourceFile {
                name: "roles/identity.yaml".into(),
                text: IDENTITY.into(),
            },
            SourceFile {
                name: "roles/applications.yaml".into(),
                text: APPS.into(),
            },
            SourceFile {
                name: "roles/packages.yaml".into(),
                text: PACKAGES.into(),
            },
            SourceFile {
                name: "roles/roles.yaml".into(),
                text: roles,
            },
        ],
        policies: vec![],
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mangled_definitions_never_panic(at in any::<usize>(), cut in 0usize..40, insert in "[ -~\n\t:{}\\[\\]&*!|>'\"#-]{0,20}") {
        load(&sources(mangle(ROLES, at, cut, &insert)))?;
    }

    #[test]
    fn random_yaml_never_panics(text in "[ -~\n\t]{0,300}") {
        load(&sources(text))?;
    }

    #[test]
    fn mangled_feeds_never_panic(at in any::<usize>(), cut in 0usize..40, insert in "[ -~\n]{0,20}") {
        let project = Project::from_sources(&sources(ROLES.into())).map_err(|f| TestCaseError::fail(format!("{:?}", f.diagnostics)))?;
        let feed = mangle(FEED, at, cut, &insert);
        for name in ["feed.jsonl", "feed.json", "feed.csv", "feed"] {
            let _ = parse_identities(name, feed.as_bytes(), None, &project.defs);
        }
        let live = mangle(LIVE, at, cut, &insert);
        for name in ["live.jsonl", "live.csv", "live"] {
            let _ = parse_live(name, live.as_bytes(), None, Some("app"));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let project = Project::from_sources(&sources(ROLES.into())).map_err(|f| TestCaseError::fail(format!("{:?}", f.diagnostics)))?;
        let _ = parse_identities("x.jsonl", &bytes, None, &project.defs);
        let _ = parse_identities("x.csv", &bytes, None, &project.defs);
        let _ = parse_identities("x.json", &bytes, Some(entitle::io::identities::IdentityFormat::Scim), &project.defs);
        let _ = parse_live("x.jsonl", &bytes, None, None);
        let _ = parse_live("x.csv", &bytes, None, None);
        let _ = parse_live("x.json", &bytes, Some(entitle::io::live::LiveFormat::ScimGroups { app: "app".into() }), None);
        load(&sources(String::from_utf8_lossy(&bytes).into_owned()))?;
    }
}

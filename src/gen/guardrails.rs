//! `policies/guardrails.cedar`: the five guardrails of the bundled example,
//! then generated ones of both classes the engine must handle.
//!
//! - **Native**: they read only what the condition language can express —
//!   principal and owner attributes, `context.now`, `resource.privileged`,
//!   `resource in Application::"x"`, `resource in Package::"p"`.
//! - **Cedar-only**: the condition language cannot express them; they need
//!   Cedar's semantics — a set method (`principal.tags.containsAll([...])`),
//!   date arithmetic (`principal.start_date.offset(...)`), and a literal read
//!   of a static entity (`Entitlement::"okta:super-admin".privileged`). The
//!   engine still evaluates every one of them natively (`eval/native.rs`).
//!
//! The literal read is generated only with
//! [`GenOptions::literal_entity_guardrail`](super::GenOptions): before
//! guardrails were native it sent the engine to the full static entity store
//! for every identity; the flag keeps such a read in the engine-equals-oracle
//! test of a generated organisation.
//!
//! Every generated guardrail forbids something for someone in the generated
//! population (the tests check it), so none is dead weight.
//!
//! Must never: name an entity the catalog does not have.

use super::catalog::Catalog;

/// One guardrail of the generated organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Guardrail {
    /// The `@id`.
    pub id: &'static str,
    /// Generated (not one of the example's five).
    pub generated: bool,
    /// Expressible in the condition language (the class `docs/gen.md` lists;
    /// the engine evaluates guardrails of both classes natively).
    pub native: bool,
}

/// The guardrails of `policies/guardrails.cedar`, in file order.
pub const GUARDRAILS: &[Guardrail] = &[
    Guardrail {
        id: "leavers-hold-nothing",
        generated: false,
        native: true,
    },
    Guardrail {
        id: "contractors-never-privileged",
        generated: false,
        native: true,
    },
    Guardrail {
        id: "orphaned-nhis-hold-nothing",
        generated: false,
        native: true,
    },
    Guardrail {
        id: "inactive-never-privileged",
        generated: false,
        native: true,
    },
    Guardrail {
        id: "past-end-date-hold-nothing",
        generated: false,
        native: true,
    },
    Guardrail {
        id: "no-production-cloud-unless-active",
        generated: true,
        native: true,
    },
    Guardrail {
        id: "interns-no-erp",
        generated: true,
        native: true,
    },
    Guardrail {
        id: "agents-never-privileged",
        generated: true,
        native: true,
    },
    Guardrail {
        id: "restricted-data-needs-clearance",
        generated: true,
        native: true,
    },
    Guardrail {
        id: "export-controlled-locations",
        generated: true,
        native: true,
    },
    Guardrail {
        id: "production-workloads-need-an-employee-owner",
        generated: true,
        native: true,
    },
    Guardrail {
        id: "production-admin-needs-on-call-training",
        generated: true,
        native: false,
    },
    Guardrail {
        id: "vault-after-probation",
        generated: true,
        native: false,
    },
];

/// The guardrail that reads a static entity by literal (see the module documentation).
pub const LITERAL_ENTITY_GUARDRAIL: Guardrail = Guardrail {
    id: "identity-admin-break-glass",
    generated: true,
    native: false,
};

/// The guardrails written for `options`, in file order.
pub fn guardrails(options: &super::GenOptions) -> Vec<Guardrail> {
    let mut out = GUARDRAILS.to_vec();
    if options.literal_entity_guardrail {
        out.push(LITERAL_ENTITY_GUARDRAIL);
    }
    out
}

/// The guardrail file.
pub(crate) fn cedar(options: &super::GenOptions, catalog: &Catalog) -> String {
    let export_locations: Vec<String> = catalog
        .locations
        .iter()
        .filter(|l| matches!(l.name, "Remote-APAC" | "Sao Paulo" | "Bangalore" | "Tel Aviv"))
        .map(|l| format!("{:?}", l.name))
        .collect();
    let export_locations = if export_locations.is_empty() {
        "\"Remote-APAC\"".to_string()
    } else {
        export_locations.join(", ")
    };
    let mut text = format!(
        r#"// Guardrails of the generated organisation (entitle gen): forbid policies
// merged with the policies compiled from roles/. A forbid always wins.
//
// The first five are the bundled example's. The generated ones come in two
// classes: the first six read only what the condition language can express
// (principal and owner attributes, context.now, resource.privileged,
// membership of an application or a package); the others need Cedar itself
// (a set method, date arithmetic, and with --literal-entity-guardrail a
// literal read of a static entity).

// A terminated identity holds nothing: a leaver is cut off the day HR says so.
@id("leavers-hold-nothing")
forbid (principal, action == Action::"hold", resource)
when {{ principal.status == "terminated" }};

// Contractors never hold privileged access, even through an approved assignment.
@id("contractors-never-privileged")
forbid (principal, action == Action::"hold", resource)
when {{
  principal has worker_type &&
  principal.worker_type == "contractor" &&
  resource.privileged
}};

// A service account or agent holds nothing unless it has an owner who is
// still active: the leaver's API key must die with the leaver.
@id("orphaned-nhis-hold-nothing")
forbid (principal, action == Action::"hold", resource)
when {{
  principal.kind != "person" &&
  (if principal has owner then principal.owner.status != "active" else true)
}};

// Privileged access is for people at work.
@id("inactive-never-privileged")
forbid (principal, action == Action::"hold", resource)
when {{ principal.status != "active" && resource.privileged }};

// Past the end date means out, even if HR has not flipped the status yet.
@id("past-end-date-hold-nothing")
forbid (principal, action == Action::"hold", resource)
when {{ principal has end_date && principal.end_date < context.now }};

// --- Generated: expressible in the condition language ------------------------

// Nothing in the production cloud account unless active (leave, pre-hire,
// retired workloads).
@id("no-production-cloud-unless-active")
forbid (principal, action == Action::"hold", resource in Application::"aws-prod")
when {{ principal.status != "active" }};

// Interns never touch the ERP, whatever their department's tools say.
@id("interns-no-erp")
forbid (principal, action == Action::"hold", resource in Application::"netsuite")
when {{ principal has worker_type && principal.worker_type == "intern" }};

// AI agents never hold privileged access.
@id("agents-never-privileged")
forbid (principal, action == Action::"hold", resource)
when {{ principal.kind == "agent" && resource.privileged }};

// Restricted (PII) data needs clearance 3.
@id("restricted-data-needs-clearance")
forbid (principal, action == Action::"hold", resource in Package::"restricted-data")
when {{ if principal has clearance then principal.clearance < 3 else true }};

// Export control: the secrets vault is not reachable from some locations.
@id("export-controlled-locations")
forbid (principal, action == Action::"hold", resource in Application::"vault")
when {{ principal has location && [{export_locations}].contains(principal.location) }};

// A contractor may not be accountable for production workloads: those they
// own hold nothing.
@id("production-workloads-need-an-employee-owner")
forbid (principal, action == Action::"hold", resource)
when {{
  principal.kind != "person" &&
  principal has environment && principal.environment == "prod" &&
  principal has owner && principal.owner has worker_type &&
  principal.owner.worker_type == "contractor"
}};

// --- Generated: Cedar only ----------------------------------------------------

// Production administration is for people on the on-call rota who have
// taken the production-access training.
@id("production-admin-needs-on-call-training")
forbid (principal, action == Action::"hold", resource in Application::"aws-prod")
when {{
  principal.kind == "person" &&
  resource.privileged &&
  !(principal has tags && principal.tags.containsAll(["on-call", "prod-trained"]))
}};

// No secrets vault in the first 30 days.
@id("vault-after-probation")
forbid (principal, action == Action::"hold", resource in Application::"vault")
when {{
  principal.kind == "person" &&
  principal has start_date &&
  context.now < principal.start_date.offset(duration("30d"))
}};

"#
    );
    if options.literal_entity_guardrail {
        text.push_str(LITERAL_TEXT);
    }
    text
}

const LITERAL_TEXT: &str = r#"
// Privileged identity-provider access needs the break-glass flag, for as
// long as the super-admin entitlement is marked privileged in the catalog.
@id("identity-admin-break-glass")
forbid (principal, action == Action::"hold", resource in Application::"okta")
when {
  Entitlement::"okta:super-admin".privileged &&
  resource.privileged &&
  !(principal has tags && principal.tags.contains("break-glass"))
};
"#;

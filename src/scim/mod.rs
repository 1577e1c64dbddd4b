//! The SCIM 2.0 connector (RFC 7643/7644): reads an application's live
//! state from a service provider's `/Users` and `/Groups`
//! ([`read::read_snapshot`], behind `plan --live-scim`) and carries out a
//! plan's changes as group PatchOps ([`apply::apply`], behind `apply`).
//!
//! It owns the HTTP conversation with the service provider and nothing of
//! the plan's semantics: what to grant and revoke comes from a plan the
//! engine computed. It must never send a change it was not given, never
//! create or delete users or groups, and never read a listing as complete
//! unless it reached `totalResults`. See docs/scim.md.

pub mod apply;
pub mod client;
pub mod read;

pub use apply::{apply, ApplyOptions, ApplyReport, ChangeStatus, PlanDocument};
pub use client::{RetryPolicy, ScimClient};
pub use read::{read_snapshot, ScimSnapshot};

/// What can go wrong talking to a SCIM service provider, or with the plan given to it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScimError {
    /// The URL (or application) cannot be used.
    #[error("{0}")]
    Url(String),
    /// The service provider could not be reached, or the connection broke.
    #[error("`{method} {url}` failed: {message}")]
    Transport {
        /// The method.
        method: String,
        /// The URL.
        url: String,
        /// What broke.
        message: String,
    },
    /// The service provider answered with an error status.
    #[error("`{request}` failed with {detail}")]
    Status {
        /// The request.
        request: String,
        /// The status and SCIM `detail`.
        detail: String,
    },
    /// The service provider answered something that is not SCIM as entitle reads it.
    #[error("{0}")]
    Protocol(String),
    /// The plan file cannot be used.
    #[error("{0}")]
    Plan(String),
    /// The plan may not be applied (refused, stale, or not made from this service provider).
    #[error("{0}")]
    Refused(String),
}

/// The lowercase hex SHA-256 of `bytes`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes).iter().fold(String::with_capacity(64), |mut hex, b| {
        use std::fmt::Write as _;
        let _ = write!(hex, "{b:02x}");
        hex
    })
}

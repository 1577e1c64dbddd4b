//! Why an identity holds an entitlement, or why not.

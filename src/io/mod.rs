//! Readers and writers of the formats entitle speaks at its edges.

pub mod identities;
pub mod live;
pub mod sarif;

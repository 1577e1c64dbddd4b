//! Readers and writers of the formats entitle speaks at its edges.

pub mod sarif;

//! YAML definitions → typed [`Definitions`] with source locations.
//!
//! The model does no I/O beyond reading the sources it is given, and knows
//! nothing of Cedar.

pub mod condition;
pub mod load;
pub(crate) mod reader;
pub mod types;
pub(crate) mod yaml;

pub use load::{load, read_file, read_tree, SourceFile};
pub use types::*;

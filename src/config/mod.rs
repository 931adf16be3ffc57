//! Typed configuration: the embedded default YAML, overlaid by a file,
//! then `REFEED_*` environment variables, then flags; validated once.

mod validate;

pub use validate::*;

//! Vietnamese-aware text folding (the `cchc-text` crate, which the command-line tool
//! uses without the rest of the platform).

pub use cchc_text::*;

//! The pieces of the `cchc` command worth reaching from elsewhere (tests, fuzzing).

pub mod sheet;

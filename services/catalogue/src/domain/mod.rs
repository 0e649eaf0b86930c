//! The catalogue's rules, as types that cannot hold invalid values: a request is read
//! once into one of them (every problem found is returned, each naming its field), and
//! the store only ever sees what was read.

mod legal_document;
mod posting;
mod procedure;

pub use legal_document::{DOCUMENT_TYPES, LegalDocumentSearch, NewLegalDocument};
pub use posting::{NewPosting, PostingFilter};
pub use procedure::{
    CHANNELS, ChangeType, Draft, DraftEdit, Imported, LEVELS, NewProcedure, Parts, ProcedureCode,
    ProcedureSearch, Publication, changes, imported, missing_parts, status_when_current,
    version_status,
};

pub use cchc_platform::page::Offsets;
use cchc_platform::validation::{Errors, Rule};

/// `Ok(value)` when `errors` holds nothing, else the errors: the end of every `parse`.
fn checked<T>(errors: Errors, value: impl FnOnce() -> Option<T>) -> Result<T, Errors> {
    if !errors.is_empty() {
        return Err(errors);
    }
    value().ok_or(errors)
}

/// Notes under `field` when `value` is blank.
fn required(errors: &mut Errors, field: &str, value: &str) {
    errors.check(!value.trim().is_empty(), field, Rule::Required);
}

/// Notes under `field` when `value` is longer than `max` characters.
fn at_most(errors: &mut Errors, field: &str, value: &str, max: usize) {
    errors.check(value.chars().count() <= max, field, Rule::TooLong { max });
}

/// The word of `list` that `value` is.
fn word(list: &[&'static str], value: &str) -> Option<&'static str> {
    list.iter().copied().find(|w| *w == value)
}

fn must_be_one_of(list: &[&str]) -> Rule {
    Rule::OneOf {
        values: list.join(", "),
    }
}

/// A filter by a word of `list`: `None` when `value` is empty (not filtered); any
/// other value is noted under `field`.
fn one_of(
    errors: &mut Errors,
    field: &str,
    list: &[&'static str],
    value: &str,
) -> Option<&'static str> {
    if value.is_empty() {
        return None;
    }
    let found = word(list, value);
    errors.check(found.is_some(), field, must_be_one_of(list));
    found
}

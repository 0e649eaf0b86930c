//! The catalogue's rules, as types that cannot hold invalid values: a request is read
//! once into one of them (every problem found is returned, each naming its field), and
//! the store only ever sees what was read.

mod legal_document;
mod posting;
mod procedure;

pub use legal_document::{DOCUMENT_TYPES, LegalDocumentSearch, NewLegalDocument};
pub use posting::{NewPosting, PostingFilter};
pub use procedure::{
    CHANNELS, ChangeType, Draft, DraftEdit, Imported, LEVELS, NewProcedure, ProcedureCode,
    ProcedureSearch, Publication, missing_parts, status_when_current, version_status,
};

use cchc_platform::page;
use cchc_platform::validation::Errors;

/// `Ok(value)` when `errors` holds nothing, else the errors: the end of every `parse`.
fn checked<T>(errors: Errors, value: impl FnOnce() -> Option<T>) -> Result<T, Errors> {
    if !errors.is_empty() {
        return Err(errors);
    }
    value().ok_or(errors)
}

/// Notes under `field` when `value` is blank.
fn required(errors: &mut Errors, field: &str, value: &str, message: &str) {
    errors.check(!value.trim().is_empty(), field, message);
}

/// Notes under `field` when `value` is longer than `max` characters.
fn at_most(errors: &mut Errors, field: &str, value: &str, max: usize) {
    errors.check(
        value.chars().count() <= max,
        field,
        format!("must be at most {max} characters"),
    );
}

/// The word of `list` that `value` is.
fn word(list: &[&'static str], value: &str) -> Option<&'static str> {
    list.iter().copied().find(|w| *w == value)
}

fn must_be_one_of(list: &[&str]) -> String {
    format!("must be one of {}", list.join(", "))
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

/// Where a page of a search starts. A search ranks its hits, so its pages are counted
/// by offset (the token is the offset of the next page); the limit follows the one
/// rule of [`cchc_platform::page`], and one hit more than a page is fetched to know
/// whether another page follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offsets {
    limit: u32,
    offset: i64,
}

impl Offsets {
    /// Reads `limit` (0: the default) and `page_token` (empty: the first page), noting
    /// what is wrong in `errors` under those field names.
    pub fn read(limit: u32, page_token: &str, errors: &mut Errors) -> Self {
        let limit = page::limit(Some(limit)).unwrap_or_else(|message| {
            errors.add("limit", message);
            page::DEFAULT_LIMIT
        });
        let offset = if page_token.is_empty() {
            Some(0)
        } else {
            page_token.parse::<i64>().ok().filter(|o| *o >= 0)
        };
        errors.check(offset.is_some(), "page_token", page::TOKEN_MESSAGE);
        Self {
            limit,
            offset: offset.unwrap_or(0),
        }
    }

    /// The rows to fetch: one more than a page.
    pub fn fetch(&self) -> i64 {
        i64::from(self.limit) + 1
    }

    pub fn offset(&self) -> i64 {
        self.offset
    }

    /// Cuts `rows` (fetched with [`Offsets::fetch`]) to the page and gives the token of
    /// the next page, empty when this is the last.
    pub fn page<T>(&self, mut rows: Vec<T>) -> (Vec<T>, String) {
        let limit = self.limit as usize;
        if rows.len() <= limit {
            return (rows, String::new());
        }
        rows.truncate(limit);
        let next = self.offset.saturating_add(i64::from(self.limit));
        (rows, next.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_take_the_one_limit_rule_and_end_on_a_full_page() {
        let mut e = Errors::new();
        let p = Offsets::read(2, "4", &mut e);
        assert!(e.is_empty());
        assert_eq!((p.fetch(), p.offset()), (3, 4));
        assert_eq!(p.page(vec![1, 2]), (vec![1, 2], String::new()));
        assert_eq!(p.page(vec![1, 2, 3]), (vec![1, 2], "6".to_owned()));
        let mut e = Errors::new();
        Offsets::read(501, "-1", &mut e);
        let fields: Vec<_> = e
            .into_vec()
            .into_iter()
            .map(|f| (f.field, f.message))
            .collect();
        assert_eq!(
            fields,
            [
                ("limit".to_owned(), page::LIMIT_MESSAGE.to_owned()),
                ("page_token".to_owned(), page::TOKEN_MESSAGE.to_owned())
            ]
        );
    }
}

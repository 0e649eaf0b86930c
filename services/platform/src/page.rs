//! Paging, one rule for every list: `limit` is 1 to [`MAX_LIMIT`] (absent or 0:
//! [`DEFAULT_LIMIT`]), anything else is refused with the same message everywhere; the
//! page token is an opaque keyset [`Cursor`] (the last row's time and id) that owns its
//! own time format; a list fetches one row more than it shows, and only then is there a
//! next page, so a page that is exactly full never leads to an empty one.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::validation::{Errors, Rule};

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 500;

/// Why a `limit` is refused, the same in the gateway and every service.
pub const LIMIT_RULE: Rule = Rule::Between {
    min: 1,
    max: MAX_LIMIT as i64,
    of: "",
};

/// The page size asked for: `None` or 0 is the default; over the maximum is an error.
pub fn limit(requested: Option<u32>) -> Result<u32, Rule> {
    match requested {
        None | Some(0) => Ok(DEFAULT_LIMIT),
        Some(n) if n <= MAX_LIMIT => Ok(n),
        Some(_) => Err(LIMIT_RULE),
    }
}

/// `limit` of a list request (0: the default), noting a refused one in `errors`.
fn read_limit(limit: u32, errors: &mut Errors) -> u32 {
    self::limit(Some(limit)).unwrap_or_else(|rule| {
        errors.add("limit", rule);
        DEFAULT_LIMIT
    })
}

/// Where a page starts: after the row with this time and id (rows are ordered by
/// time, then id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub at: DateTime<Utc>,
    pub id: Uuid,
}

impl Cursor {
    /// The opaque token: the time to the microsecond (as PostgreSQL keeps it, so the
    /// row it names compares equal), then the id.
    pub fn token(&self) -> String {
        format!(
            "{}_{}",
            self.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            self.id
        )
    }

    /// Reads a [`Cursor::token`]; `None` when no list issued it.
    pub fn parse(token: &str) -> Option<Self> {
        let (at, id) = token.split_once('_')?;
        Some(Self {
            at: DateTime::parse_from_rfc3339(at).ok()?.to_utc(),
            id: id.parse().ok()?,
        })
    }
}

/// A list request's paging, read once: the rows to show and where to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    pub limit: u32,
    pub after: Option<Cursor>,
}

impl Paging {
    /// Reads `limit` (0: the default) and `page_token` (empty: the first page), noting
    /// what is wrong in `errors` under those field names.
    pub fn read(limit: u32, page_token: &str, errors: &mut Errors) -> Self {
        let limit = read_limit(limit, errors);
        let after = if page_token.is_empty() {
            None
        } else {
            let after = Cursor::parse(page_token);
            errors.check(after.is_some(), "page_token", Rule::PageToken);
            after
        };
        Self { limit, after }
    }

    /// The rows to fetch: one more than a page, to know whether another follows.
    pub fn fetch(&self) -> i64 {
        i64::from(self.limit) + 1
    }

    /// The cursor's time and id, for binding as two nullable parameters.
    pub fn after_parts(&self) -> (Option<DateTime<Utc>>, Option<Uuid>) {
        (self.after.map(|c| c.at), self.after.map(|c| c.id))
    }

    /// Cuts `rows` (fetched with [`Paging::fetch`]) to the page and gives the token of
    /// the next page, empty when this is the last.
    pub fn page<T>(&self, mut rows: Vec<T>, cursor: impl Fn(&T) -> Cursor) -> (Vec<T>, String) {
        let limit = self.limit as usize;
        if rows.len() <= limit {
            return (rows, String::new());
        }
        rows.truncate(limit);
        let next = rows.last().map(|r| cursor(r).token()).unwrap_or_default();
        (rows, next)
    }
}

/// Where a page of a search starts. A search ranks its hits, so its pages are counted
/// by offset (the token is the offset of the next page); the limit follows the one
/// rule of this module, and one hit more than a page is fetched to know
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
        let limit = read_limit(limit, errors);
        let offset = if page_token.is_empty() {
            Some(0)
        } else {
            page_token.parse::<i64>().ok().filter(|o| *o >= 0)
        };
        errors.check(offset.is_some(), "page_token", Rule::PageToken);
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
    fn one_limit_rule() {
        assert_eq!(limit(None), Ok(50));
        assert_eq!(limit(Some(0)), Ok(50));
        assert_eq!(limit(Some(500)), Ok(500));
        assert_eq!(limit(Some(501)), Err(LIMIT_RULE));
        let mut e = Errors::new();
        let p = Paging::read(9000, "", &mut e);
        assert_eq!(p.limit, DEFAULT_LIMIT);
        assert_eq!(e.into_vec()[0].field, "limit");
    }

    #[test]
    fn tokens_round_trip_to_the_microsecond_and_strangers_are_refused() {
        let at = DateTime::parse_from_rfc3339("2020-06-15T08:30:01.123456+07:00")
            .unwrap()
            .to_utc();
        let c = Cursor {
            at,
            id: Uuid::now_v7(),
        };
        assert_eq!(Cursor::parse(&c.token()), Some(c));
        let mut e = Errors::new();
        assert_eq!(Paging::read(10, &c.token(), &mut e).after, Some(c));
        assert!(e.is_empty());
        let mut e = Errors::new();
        Paging::read(10, "not-a-token", &mut e);
        assert_eq!(e.into_vec()[0].field, "page_token");
    }

    #[test]
    fn a_next_page_only_when_there_is_one() {
        let p = Paging {
            limit: 2,
            after: None,
        };
        let at = DateTime::parse_from_rfc3339("2020-06-15T08:30:01.5Z")
            .unwrap()
            .to_utc();
        let row = |n: u128| Cursor {
            at,
            id: Uuid::from_u128(n),
        };
        let (rows, next) = p.page(vec![row(1), row(2)], |c| *c);
        assert_eq!(
            (rows.len(), next.as_str()),
            (2, ""),
            "exactly full: the last page"
        );
        let (rows, next) = p.page(vec![row(1), row(2), row(3)], |c| *c);
        assert_eq!(rows.len(), 2);
        assert_eq!(Cursor::parse(&next), Some(row(2)));
    }

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
            .map(|f| (f.field, f.code))
            .collect();
        assert_eq!(
            fields,
            [
                ("limit".to_owned(), "between".to_owned()),
                ("page_token".to_owned(), "page_token".to_owned())
            ]
        );
    }
}

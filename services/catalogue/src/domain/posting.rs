//! Postings (niêm yết): a unit's confirmation that it has posted the current version of
//! a procedure where the public sees it.

use cchc_platform::page::Paging;
use cchc_platform::validation::{Errors, Rule, is_http_url, parse_date};
use cchc_platform::{Caller, Role};
use cchc_proto::catalogue::v1::{ConfirmPostingRequest, ListPostingsRequest};
use uuid::Uuid;

use super::{ProcedureCode, at_most, checked, required};

/// A checked confirmation; the unit is the caller's.
#[derive(Debug)]
pub struct NewPosting {
    pub code: ProcedureCode,
    pub version: u32,
    pub location: String,
    /// Today or earlier.
    pub posted_on: chrono::NaiveDate,
    pub evidence_url: String,
}

impl NewPosting {
    /// Reads a confirmation made on `today` (Vietnam's date).
    pub fn parse(r: ConfirmPostingRequest, today: chrono::NaiveDate) -> Result<Self, Errors> {
        let mut errors = Errors::new();
        let code = ProcedureCode::in_code_field(&mut errors, &r.code);
        errors.check(r.version > 0, "version", Rule::Required);
        required(&mut errors, "location", &r.location);
        at_most(&mut errors, "location", &r.location, 500);
        errors.single_line("location", &r.location);
        let posted_on = parse_date(&mut errors, "posted_on", &r.posted_on);
        if let Some(d) = posted_on {
            errors.check(d <= today, "posted_on", Rule::NotFuture);
        }
        errors.check(
            r.evidence_url.is_empty() || is_http_url(&r.evidence_url),
            "evidence_url",
            Rule::Url,
        );
        checked(errors, || {
            Some(Self {
                code: code?,
                version: r.version,
                location: r.location.trim().to_owned(),
                posted_on: posted_on?,
                evidence_url: r.evidence_url,
            })
        })
    }
}

/// Which postings to list, newest confirmation first.
#[derive(Debug)]
pub struct PostingFilter {
    /// A unit's caller sees only its own; others the unit they name, or all.
    pub unit_id: Option<Uuid>,
    pub code: Option<String>,
    pub stale: Option<bool>,
    /// Every confirmation, not only each unit's latest of each procedure.
    pub history: bool,
    pub page: Paging,
}

impl PostingFilter {
    pub fn parse(caller: &Caller, r: ListPostingsRequest) -> Result<Self, Errors> {
        let mut errors = Errors::new();
        let unit_id = if caller.role == Role::Unit {
            Some(caller.unit_id)
        } else if r.unit_id.is_empty() {
            None
        } else {
            r.unit_id
                .parse()
                .map_err(|_| errors.add("unit_id", Rule::Id { of: "unit" }))
                .ok()
        };
        errors.single_line("code", &r.code);
        let stale = match r.stale.as_str() {
            "" => None,
            "true" => Some(true),
            "false" => Some(false),
            _ => {
                errors.add("stale", Rule::Boolean);
                None
            }
        };
        let page = Paging::read(r.limit, &r.page_token, &mut errors);
        checked(errors, || {
            Some(Self {
                unit_id,
                code: (!r.code.is_empty()).then_some(r.code),
                stale,
                history: r.history,
                page,
            })
        })
    }
}

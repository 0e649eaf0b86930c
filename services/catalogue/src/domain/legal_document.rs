//! Legal documents (văn bản quy phạm pháp luật): what a record of one must hold, and
//! how they are searched.

use cchc_platform::validation::{Errors, Rule, parse_date};
use cchc_platform::vocabulary::legal_status;
use cchc_proto::catalogue::v1::{CreateLegalDocumentRequest, SearchLegalDocumentsRequest};
use uuid::Uuid;

use super::{Offsets, ProcedureCode, at_most, checked, must_be_one_of, one_of, required, word};

pub const DOCUMENT_TYPES: &[&str] = &[
    "law",
    "decree",
    "circular",
    "decision",
    "resolution",
    "directive",
    "other",
];

/// A checked legal document, with what it amends or repeals and the procedures it
/// bases.
#[derive(Debug)]
pub struct NewLegalDocument {
    pub number_symbol: String,
    pub doc_type: &'static str,
    pub summary: String,
    pub issuer: String,
    pub signed_date: chrono::NaiveDate,
    pub effective_date: chrono::NaiveDate,
    pub amends: Vec<Uuid>,
    pub repeals: Vec<Uuid>,
    pub procedure_codes: Vec<ProcedureCode>,
}

/// The ids listed under `field`, each noted when it is not one.
fn ids(errors: &mut Errors, field: &str, v: &[String]) -> Vec<Uuid> {
    v.iter()
        .enumerate()
        .filter_map(|(i, s)| {
            let id = s.parse().ok();
            errors.check(
                id.is_some(),
                &format!("{field}[{i}]"),
                Rule::Id {
                    of: "legal_document",
                },
            );
            id
        })
        .collect()
}

impl NewLegalDocument {
    pub fn parse(r: &CreateLegalDocumentRequest) -> Result<Self, Errors> {
        let mut errors = Errors::new();
        let number_symbol = r.number_symbol.trim();
        required(&mut errors, "number_symbol", number_symbol);
        at_most(&mut errors, "number_symbol", number_symbol, 100);
        let doc_type = word(DOCUMENT_TYPES, &r.r#type);
        errors.check(doc_type.is_some(), "type", must_be_one_of(DOCUMENT_TYPES));
        required(&mut errors, "summary", &r.summary);
        at_most(&mut errors, "summary", &r.summary, 2000);
        required(&mut errors, "issuer", &r.issuer);
        errors.single_line("number_symbol", &r.number_symbol);
        errors.multi_line("summary", &r.summary);
        errors.single_line("issuer", &r.issuer);
        let signed = parse_date(&mut errors, "signed_date", &r.signed_date);
        let effective = parse_date(&mut errors, "effective_date", &r.effective_date);
        let amends = ids(&mut errors, "amends", &r.amends);
        let repeals = ids(&mut errors, "repeals", &r.repeals);
        let procedure_codes: Vec<ProcedureCode> = r
            .procedure_codes
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                ProcedureCode::read(&mut errors, &format!("procedure_codes[{i}]"), c)
            })
            .collect();
        checked(errors, || {
            Some(Self {
                number_symbol: number_symbol.to_owned(),
                doc_type: doc_type?,
                summary: r.summary.trim().to_owned(),
                issuer: r.issuer.trim().to_owned(),
                signed_date: signed?,
                effective_date: effective?,
                amends,
                repeals,
                procedure_codes,
            })
        })
    }
}

/// A search of legal documents: words of `q` (diacritics and case ignored) and
/// filters, each `None` when not asked for.
#[derive(Debug)]
pub struct LegalDocumentSearch {
    pub q: String,
    pub status: Option<&'static str>,
    pub doc_type: Option<&'static str>,
    pub page: Offsets,
}

impl LegalDocumentSearch {
    pub fn parse(r: SearchLegalDocumentsRequest) -> Result<Self, Errors> {
        let mut errors = Errors::new();
        let status = one_of(&mut errors, "status", legal_status::ALL, &r.status);
        let doc_type = one_of(&mut errors, "type", DOCUMENT_TYPES, &r.r#type);
        let page = Offsets::read(r.limit, &r.page_token, &mut errors);
        checked(errors, || {
            Some(Self {
                q: r.q,
                status,
                doc_type,
                page,
            })
        })
    }
}

//! Rules of the catalogue: what a procedure code looks like, what a complete record is
//! (Decree 63/2010 Art. 8), and which changes a version may announce.

use cchc_platform::validation::{Errors, Lines, MAX_VND, parse_date};
use cchc_proto::catalogue::v1::{ProcedureContent, PublishProcedureRequest};

pub const LEVELS: &[&str] = &["province", "district", "commune"];
pub const CHANNELS: &[&str] = &["in_person", "online", "post"];
pub const CHANGE_TYPES: &[&str] = &["new", "amended", "replaced", "abolished"];

/// A national procedure code, e.g. `1.012753.H19` or `2.002481.000.00.00.H19`.
pub fn valid_code(code: &str) -> bool {
    let parts: Vec<&str> = code.split('.').collect();
    (3..=40).contains(&code.len())
        && parts.len() >= 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric()))
        && parts[0].chars().all(|c| c.is_ascii_digit())
}

/// Refuses control characters in every free text of a record (the level and channels
/// are checked against their lists): names and list entries are one line; steps,
/// requirements, the result and notes may run over several.
fn check_characters(errors: &mut Errors, c: &ProcedureContent) {
    errors.single_line("content.name", &c.name);
    errors.single_line("content.field", &c.field);
    errors.single_line("content.implementing_agency", &c.implementing_agency);
    errors.multi_line("content.result", &c.result);
    let lists: [(&str, &[String], Lines); 6] = [
        ("applicants", &c.applicants, Lines::One),
        ("steps", &c.steps, Lines::Many),
        ("requirements", &c.requirements, Lines::Many),
        ("forms", &c.forms, Lines::One),
        ("legal_basis", &c.legal_basis, Lines::One),
        ("keywords", &c.keywords, Lines::One),
    ];
    for (name, values, lines) in lists {
        for (i, v) in values.iter().enumerate() {
            errors.characters(&format!("content.{name}[{i}]"), v, lines);
        }
    }
    for (i, d) in c.dossier.iter().enumerate() {
        errors.single_line(&format!("content.dossier[{i}].name"), &d.name);
        errors.single_line(
            &format!("content.dossier[{i}].form_template"),
            &d.form_template,
        );
    }
    for (i, f) in c.fees.iter().enumerate() {
        errors.multi_line(&format!("content.fees[{i}].note"), &f.note);
    }
}

/// Problems that make a draft unsaveable (shape, not completeness).
pub fn check_draft(errors: &mut Errors, c: &ProcedureContent) {
    check_characters(errors, c);
    errors.check(
        c.name.chars().count() <= 1000,
        "content.name",
        "must be at most 1000 characters",
    );
    if !c.level.is_empty() && !LEVELS.contains(&c.level.as_str()) {
        errors.add(
            "content.level",
            format!("must be one of {}", LEVELS.join(", ")),
        );
    }
    for (i, ch) in c.submission_channels.iter().enumerate() {
        if !CHANNELS.contains(&ch.as_str()) {
            errors.add(
                format!("content.submission_channels[{i}]"),
                format!("must be one of {}", CHANNELS.join(", ")),
            );
        }
    }
    for (i, f) in c.fees.iter().enumerate() {
        errors.check(
            f.amount_vnd >= 0,
            &format!("content.fees[{i}].amount_vnd"),
            "must not be negative",
        );
        errors.check(
            f.amount_vnd <= MAX_VND,
            &format!("content.fees[{i}].amount_vnd"),
            format!("must be at most {MAX_VND} VND"),
        );
        if !CHANNELS.contains(&f.channel.as_str()) {
            errors.add(
                format!("content.fees[{i}].channel"),
                format!("must be one of {}", CHANNELS.join(", ")),
            );
        }
    }
    for (i, d) in c.dossier.iter().enumerate() {
        errors.check(
            !d.name.trim().is_empty(),
            &format!("content.dossier[{i}].name"),
            "is required",
        );
    }
    errors.check(
        c.processing_days <= 365,
        "content.processing_days",
        "must be at most 365 working days",
    );
}

/// Every part Decree 63/2010 Art. 8 requires before a procedure may be published.
pub fn missing_parts(errors: &mut Errors, c: &ProcedureContent) {
    let blank = |s: &str| s.trim().is_empty();
    errors.check(!blank(&c.name), "content.name", "the name is required");
    errors.check(!blank(&c.level), "content.level", "the level is required");
    errors.check(
        !blank(&c.field),
        "content.field",
        "the field (lĩnh vực) is required",
    );
    errors.check(
        !blank(&c.implementing_agency),
        "content.implementing_agency",
        "the implementing agency is required",
    );
    errors.check(
        !c.applicants.is_empty(),
        "content.applicants",
        "who may apply is required",
    );
    errors.check(
        !c.steps.is_empty(),
        "content.steps",
        "the steps are required",
    );
    errors.check(
        !c.submission_channels.is_empty(),
        "content.submission_channels",
        "at least one way to submit is required",
    );
    errors.check(
        !c.dossier.is_empty(),
        "content.dossier",
        "the dossier components are required",
    );
    errors.check(
        c.processing_days > 0,
        "content.processing_days",
        "the processing time in working days is required",
    );
    errors.check(
        !blank(&c.result),
        "content.result",
        "the result is required",
    );
    errors.check(
        !c.legal_basis.is_empty(),
        "content.legal_basis",
        "the legal basis is required",
    );
}

/// A checked publication request.
pub struct Publication {
    pub decision_number: String,
    pub decision_date: chrono::NaiveDate,
    pub decision_signer: String,
    pub change_type: String,
    pub change_note: String,
    pub effective_date: chrono::NaiveDate,
}

pub fn check_publication(
    errors: &mut Errors,
    r: &PublishProcedureRequest,
    abolish: bool,
) -> Option<Publication> {
    let d = r.decision.clone().unwrap_or_default();
    errors.check(
        !d.number.trim().is_empty(),
        "decision.number",
        "the announcing decision's number is required",
    );
    errors.check(
        !d.signer.trim().is_empty(),
        "decision.signer",
        "the decision's signer is required",
    );
    errors.single_line("decision.number", &d.number);
    errors.single_line("decision.signer", &d.signer);
    errors.multi_line("change_note", &r.change_note);
    let decision_date = parse_date(errors, "decision.date", &d.date);
    let effective_date = parse_date(errors, "effective_date", &r.effective_date);
    let change_type = if abolish {
        "abolished".to_owned()
    } else if r.change_type.is_empty() {
        "new".to_owned()
    } else {
        r.change_type.clone()
    };
    if !abolish && !["new", "amended", "replaced"].contains(&change_type.as_str()) {
        errors.add(
            "change_type",
            "must be new, amended or replaced (abolish has its own request)",
        );
    }
    if let (Some(dd), Some(ed)) = (decision_date, effective_date) {
        errors.check(
            ed >= dd,
            "effective_date",
            "cannot be before the decision's date",
        );
    }
    Some(Publication {
        decision_number: d.number.trim().to_owned(),
        decision_date: decision_date?,
        decision_signer: d.signer.trim().to_owned(),
        change_type,
        change_note: r.change_note.clone(),
        effective_date: effective_date?,
    })
}

pub const DOCUMENT_TYPES: &[&str] = &[
    "law",
    "decree",
    "circular",
    "decision",
    "resolution",
    "directive",
    "other",
];

/// A checked legal document.
pub struct NewLegalDocument {
    pub number_symbol: String,
    pub doc_type: String,
    pub summary: String,
    pub issuer: String,
    pub signed_date: chrono::NaiveDate,
    pub effective_date: chrono::NaiveDate,
    pub amends: Vec<uuid::Uuid>,
    pub repeals: Vec<uuid::Uuid>,
    pub procedure_codes: Vec<String>,
}

pub fn check_legal_document(
    errors: &mut Errors,
    r: &cchc_proto::catalogue::v1::CreateLegalDocumentRequest,
) -> Option<NewLegalDocument> {
    let number_symbol = r.number_symbol.trim();
    errors.check(
        !number_symbol.is_empty(),
        "number_symbol",
        "the number and symbol are required",
    );
    errors.check(
        number_symbol.chars().count() <= 100,
        "number_symbol",
        "must be at most 100 characters",
    );
    errors.check(
        DOCUMENT_TYPES.contains(&r.r#type.as_str()),
        "type",
        format!("must be one of {}", DOCUMENT_TYPES.join(", ")),
    );
    errors.check(
        !r.summary.trim().is_empty(),
        "summary",
        "the summary (trích yếu) is required",
    );
    errors.check(
        r.summary.chars().count() <= 2000,
        "summary",
        "must be at most 2000 characters",
    );
    errors.check(
        !r.issuer.trim().is_empty(),
        "issuer",
        "the issuer is required",
    );
    errors.single_line("number_symbol", &r.number_symbol);
    errors.multi_line("summary", &r.summary);
    errors.single_line("issuer", &r.issuer);
    let signed = parse_date(errors, "signed_date", &r.signed_date);
    let effective = parse_date(errors, "effective_date", &r.effective_date);
    let ids = |errors: &mut Errors, field: &str, v: &[String]| -> Vec<uuid::Uuid> {
        v.iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let id = s.parse().ok();
                errors.check(
                    id.is_some(),
                    &format!("{field}[{i}]"),
                    "must be the id of a recorded legal document",
                );
                id
            })
            .collect()
    };
    let amends = ids(errors, "amends", &r.amends);
    let repeals = ids(errors, "repeals", &r.repeals);
    for (i, c) in r.procedure_codes.iter().enumerate() {
        errors.check(
            valid_code(c),
            &format!("procedure_codes[{i}]"),
            "must be a procedure code",
        );
    }
    Some(NewLegalDocument {
        number_symbol: number_symbol.to_owned(),
        doc_type: r.r#type.clone(),
        summary: r.summary.trim().to_owned(),
        issuer: r.issuer.trim().to_owned(),
        signed_date: signed?,
        effective_date: effective?,
        amends,
        repeals,
        procedure_codes: r.procedure_codes.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        assert!(valid_code("1.012753.H19"));
        assert!(valid_code("2.002481.000.00.00.H19"));
        assert!(!valid_code("abc"));
        assert!(!valid_code("1..H19"));
        assert!(!valid_code("X.012753.H19"));
        assert!(!valid_code("1.01 2753.H19"));
    }

    #[test]
    fn empty_record_lists_every_missing_part() {
        let mut e = Errors::new();
        missing_parts(&mut e, &ProcedureContent::default());
        let s = e.finish(tonic::Code::FailedPrecondition, "x").unwrap_err();
        let fields: Vec<String> = cchc_platform::validation::field_errors(&s)
            .into_iter()
            .map(|f| f.field)
            .collect();
        assert_eq!(fields.len(), 11);
        assert!(fields.contains(&"content.legal_basis".to_owned()));
    }
}

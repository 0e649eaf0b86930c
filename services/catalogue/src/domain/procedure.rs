//! Procedures (thủ tục hành chính): what a code looks like, what a draft may hold, what
//! a complete record is (Decree 63/2010 Art. 8), and which changes a version announces.

use cchc_platform::validation::{Errors, Lines, MAX_VND, Rule, parse_date};
use cchc_platform::vocabulary::{change_type, procedure_status};
use cchc_proto::catalogue::v1::{
    ContentChange, CreateProcedureRequest, ImportRow, ProcedureContent, PublishProcedureRequest,
    SearchProceduresRequest, UpdateDraftRequest,
};

use super::{Offsets, at_most, checked, must_be_one_of, one_of, required};

pub const LEVELS: &[&str] = &["province", "district", "commune"];
pub const CHANNELS: &[&str] = &["in_person", "online", "post"];

/// Where a version stands beside the procedure's current one (the current version
/// has the procedure's status, [`procedure_status`]).
pub mod version_status {
    /// Published with a later effective date: current once that date comes.
    pub const SCHEDULED: &str = "scheduled";
    /// Was current, and a later version took its place.
    pub const SUPERSEDED: &str = "superseded";
}

/// A national procedure code, e.g. `1.012753.H19` or `2.002481.000.00.00.H19`.
fn valid_code(code: &str) -> bool {
    let parts: Vec<&str> = code.split('.').collect();
    (3..=40).contains(&code.len())
        && parts.len() >= 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric()))
        && parts[0].chars().all(|c| c.is_ascii_digit())
}

/// A national procedure code (mã thủ tục).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcedureCode(String);

impl ProcedureCode {
    /// Reads `code`, noting under `field` when it is not a procedure code.
    pub fn read(errors: &mut Errors, field: &str, code: &str) -> Option<Self> {
        let valid = valid_code(code);
        errors.check(valid, field, Rule::ProcedureCode);
        valid.then(|| Self(code.to_owned()))
    }

    /// Reads the `code` field of a request.
    pub(super) fn in_code_field(errors: &mut Errors, code: &str) -> Option<Self> {
        Self::read(errors, "code", code)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The content of a draft that may be saved: right in shape, though perhaps not yet
/// complete ([`missing_parts`] says what publishing still needs).
#[derive(Debug, Clone, PartialEq)]
pub struct Draft(ProcedureContent);

impl Draft {
    pub fn content(&self) -> &ProcedureContent {
        &self.0
    }
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
fn check_draft(errors: &mut Errors, c: &ProcedureContent) {
    check_characters(errors, c);
    at_most(errors, "content.name", &c.name, 1000);
    if !c.level.is_empty() && !LEVELS.contains(&c.level.as_str()) {
        errors.add("content.level", must_be_one_of(LEVELS));
    }
    for (i, ch) in c.submission_channels.iter().enumerate() {
        if !CHANNELS.contains(&ch.as_str()) {
            errors.add(
                format!("content.submission_channels[{i}]"),
                must_be_one_of(CHANNELS),
            );
        }
    }
    for (i, f) in c.fees.iter().enumerate() {
        errors.check(
            f.amount_vnd >= 0,
            &format!("content.fees[{i}].amount_vnd"),
            Rule::NotNegative,
        );
        errors.check(
            f.amount_vnd <= MAX_VND,
            &format!("content.fees[{i}].amount_vnd"),
            Rule::AtMost {
                max: MAX_VND,
                of: "VND",
            },
        );
        if !CHANNELS.contains(&f.channel.as_str()) {
            errors.add(
                format!("content.fees[{i}].channel"),
                must_be_one_of(CHANNELS),
            );
        }
    }
    for (i, d) in c.dossier.iter().enumerate() {
        required(errors, &format!("content.dossier[{i}].name"), &d.name);
    }
    if let Some(days) = c.processing_days {
        check_days(errors, "content.processing_days", days);
    }
}

/// A time limit in working days: 0 (the same day) up to a year, in steps no finer than
/// a thousandth of a day, so every whole working hour can be written ("0,5 ngày làm
/// việc", "0,125" for one hour). JSON cannot carry NaN or an
/// infinity, but gRPC can, so they are refused too.
fn check_days(errors: &mut Errors, field: &str, days: f64) {
    if !days.is_finite() {
        errors.add(
            field,
            Rule::Malformed {
                detail: "not a number".into(),
            },
        );
    } else if days < 0.0 {
        errors.add(field, Rule::NotNegative);
    } else if days > 365.0 {
        errors.add(
            field,
            Rule::AtMost {
                max: 365,
                of: "working days",
            },
        );
    } else if ((days * 1000.0).round() - days * 1000.0).abs() > 1e-6 {
        errors.add(field, Rule::Decimals { max: 3 });
    }
}

/// Every part Decree 63/2010 Art. 8 requires before a procedure may be published.
pub fn missing_parts(errors: &mut Errors, c: &ProcedureContent) {
    let given = |s: &str| !s.trim().is_empty();
    let parts = [
        (given(&c.name), "content.name"),
        (given(&c.level), "content.level"),
        (given(&c.field), "content.field"),
        (given(&c.implementing_agency), "content.implementing_agency"),
        (!c.applicants.is_empty(), "content.applicants"),
        (!c.steps.is_empty(), "content.steps"),
        (
            !c.submission_channels.is_empty(),
            "content.submission_channels",
        ),
        (!c.dossier.is_empty(), "content.dossier"),
        (c.processing_days.is_some(), "content.processing_days"),
        (given(&c.result), "content.result"),
        (!c.legal_basis.is_empty(), "content.legal_basis"),
    ];
    for (present, field) in parts {
        errors.check(present, field, Rule::Required);
    }
}

/// A new procedure: its code and first draft.
#[derive(Debug)]
pub struct NewProcedure {
    pub code: ProcedureCode,
    pub draft: Draft,
}

impl NewProcedure {
    pub fn parse(r: CreateProcedureRequest) -> Result<Self, Errors> {
        let mut errors = Errors::new();
        let code = ProcedureCode::in_code_field(&mut errors, &r.code);
        let content = r.content.unwrap_or_default();
        check_draft(&mut errors, &content);
        checked(errors, || {
            Some(Self {
                code: code?,
                draft: Draft(content),
            })
        })
    }

    /// A row of an imported file, which must name the procedure as well.
    /// A row of an import, with the parts of the content its file has.
    pub fn parse_import(row: &ImportRow) -> Result<(Self, Parts), Errors> {
        let mut errors = Errors::new();
        let code = ProcedureCode::in_code_field(&mut errors, &row.code);
        let content = row.content.clone().unwrap_or_default();
        required(&mut errors, "content.name", &content.name);
        check_draft(&mut errors, &content);
        let parts = Parts::parse(&mut errors, &row.columns);
        checked(errors, || {
            Some((
                Self {
                    code: code?,
                    draft: Draft(content),
                },
                parts,
            ))
        })
    }
}

/// The parts of a procedure's content an import row gives; the others are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parts {
    /// The row is the whole content.
    All,
    /// The named parts, as ProcedureContent's JSON names them.
    Only(Vec<String>),
}

impl Parts {
    fn parse(errors: &mut Errors, columns: &[String]) -> Self {
        if columns.is_empty() {
            return Parts::All;
        }
        let names = content_parts();
        for (i, c) in columns.iter().enumerate() {
            if !names.iter().any(|n| n == c) {
                errors.add(
                    format!("columns[{i}]"),
                    Rule::OneOf {
                        values: names.join(", "),
                    },
                );
            }
        }
        Parts::Only(columns.to_vec())
    }

    fn has(&self, part: &str) -> bool {
        match self {
            Parts::All => true,
            Parts::Only(names) => names.iter().any(|n| n == part),
        }
    }
}

fn as_json(c: &ProcedureContent) -> serde_json::Map<String, serde_json::Value> {
    match serde_json::to_value(c) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => unreachable!("a procedure's content is a JSON object"),
    }
}

/// The names of the parts of a procedure's content.
fn content_parts() -> Vec<String> {
    as_json(&ProcedureContent::default())
        .keys()
        .cloned()
        .collect()
}

/// What an import makes of a draft: the parts the file has, from the row, the others as
/// they were. A file names a dossier component or a fee only in words, so one it names
/// as the draft has it (the same component name; the same way and amount) keeps the
/// details the file cannot carry (copies, form, note).
pub fn imported(
    existing: Option<&ProcedureContent>,
    row: &ProcedureContent,
    parts: &Parts,
) -> ProcedureContent {
    let mut row = row.clone();
    if let Some(old) = existing {
        for d in &mut row.dossier {
            if let Some(kept) = old.dossier.iter().find(|o| o.name == d.name) {
                *d = kept.clone();
            }
        }
        for f in &mut row.fees {
            if let Some(kept) = old
                .fees
                .iter()
                .find(|o| o.channel == f.channel && o.amount_vnd == f.amount_vnd)
            {
                *f = kept.clone();
            }
        }
    }
    let Some(old) = existing.filter(|_| *parts != Parts::All) else {
        return row;
    };
    let mut merged = as_json(old);
    for (part, value) in as_json(&row) {
        if parts.has(&part) {
            merged.insert(part, value);
        }
    }
    serde_json::from_value(serde_json::Value::Object(merged)).expect("merged content reads back")
}

/// The parts that differ between `before` (none for a new procedure) and `after`.
pub fn changes(before: Option<&ProcedureContent>, after: &ProcedureContent) -> Vec<ContentChange> {
    let old = before.map(as_json).unwrap_or_default();
    as_json(after)
        .into_iter()
        .filter_map(|(field, new)| {
            let was = old.get(&field).cloned().unwrap_or(serde_json::Value::Null);
            let empty = |v: &serde_json::Value| {
                v.is_null() || v == "" || v.as_array().is_some_and(Vec::is_empty)
            };
            if was == new || (before.is_none() && empty(&new)) {
                return None;
            }
            Some(ContentChange {
                field,
                before: was.to_string(),
                after: new.to_string(),
            })
        })
        .collect()
}

/// A save of a draft, naming the revision the edit started from.
#[derive(Debug)]
pub struct DraftEdit {
    /// Any code: one the catalogue does not hold is simply not found.
    pub code: String,
    pub revision: u32,
    pub draft: Draft,
}

impl DraftEdit {
    pub fn parse(r: UpdateDraftRequest) -> Result<Self, Errors> {
        let mut errors = Errors::new();
        errors.single_line("code", &r.code);
        errors.check(r.revision > 0, "revision", Rule::Revision);
        let content = r.content.unwrap_or_default();
        check_draft(&mut errors, &content);
        checked(errors, || {
            Some(Self {
                code: r.code,
                revision: r.revision,
                draft: Draft(content),
            })
        })
    }
}

/// What a new version does ([`change_type`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeType {
    New,
    Amended,
    Replaced,
    Abolished,
}

impl ChangeType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => change_type::NEW,
            Self::Amended => change_type::AMENDED,
            Self::Replaced => change_type::REPLACED,
            Self::Abolished => change_type::ABOLISHED,
        }
    }
}

/// The status a procedure takes when a version of `change_type` becomes current.
pub fn status_when_current(change_type: &str) -> &'static str {
    if change_type == change_type::ABOLISHED {
        procedure_status::ABOLISHED
    } else {
        procedure_status::PUBLISHED
    }
}

/// A checked publication (or abolition) of a procedure's next version.
#[derive(Debug)]
pub struct Publication {
    pub code: ProcedureCode,
    pub decision_number: String,
    pub decision_date: chrono::NaiveDate,
    pub decision_signer: String,
    pub change_type: ChangeType,
    pub change_note: String,
    pub effective_date: chrono::NaiveDate,
}

impl Publication {
    /// Reads a publication; `abolished` as the change type abolishes the current
    /// version, an empty one publishes a new procedure.
    pub fn parse(r: &PublishProcedureRequest) -> Result<Self, Errors> {
        let mut errors = Errors::new();
        let code = ProcedureCode::in_code_field(&mut errors, &r.code);
        let d = r.decision.clone().unwrap_or_default();
        required(&mut errors, "decision.number", &d.number);
        required(&mut errors, "decision.signer", &d.signer);
        errors.single_line("decision.number", &d.number);
        errors.single_line("decision.signer", &d.signer);
        errors.multi_line("change_note", &r.change_note);
        let decision_date = parse_date(&mut errors, "decision.date", &d.date);
        let effective_date = parse_date(&mut errors, "effective_date", &r.effective_date);
        let change_type = match r.change_type.as_str() {
            change_type::ABOLISHED => Some(ChangeType::Abolished),
            "" | change_type::NEW => Some(ChangeType::New),
            change_type::AMENDED => Some(ChangeType::Amended),
            change_type::REPLACED => Some(ChangeType::Replaced),
            _ => {
                errors.add(
                    "change_type",
                    Rule::OneOf {
                        values: "new, amended, replaced".into(),
                    },
                );
                None
            }
        };
        if let (Some(dd), Some(ed)) = (decision_date, effective_date) {
            errors.check(ed >= dd, "effective_date", Rule::BeforeDecision);
        }
        checked(errors, || {
            Some(Self {
                code: code?,
                decision_number: d.number.trim().to_owned(),
                decision_date: decision_date?,
                decision_signer: d.signer.trim().to_owned(),
                change_type: change_type?,
                change_note: r.change_note.clone(),
                effective_date: effective_date?,
            })
        })
    }

    pub fn abolishes(&self) -> bool {
        self.change_type == ChangeType::Abolished
    }
}

/// A search of the public catalogue: words of `q` (diacritics and case ignored) and
/// filters, each `None` when not asked for.
#[derive(Debug)]
pub struct ProcedureSearch {
    pub q: String,
    pub status: Option<&'static str>,
    pub level: Option<&'static str>,
    pub field: Option<String>,
    pub agency: Option<String>,
    pub page: Offsets,
}

impl ProcedureSearch {
    pub fn parse(r: SearchProceduresRequest) -> Result<Self, Errors> {
        let mut errors = Errors::new();
        at_most(&mut errors, "q", &r.q, 200);
        let level = one_of(&mut errors, "level", LEVELS, &r.level);
        let status = one_of(&mut errors, "status", procedure_status::PUBLIC, &r.status);
        let page = Offsets::read(r.limit, &r.page_token, &mut errors);
        let some = |s: String| (!s.is_empty()).then_some(s);
        checked(errors, || {
            Some(Self {
                q: r.q,
                status,
                level,
                field: some(r.field),
                agency: some(r.agency),
                page,
            })
        })
    }
}

/// What importing a row did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Imported {
    Created,
    Updated,
    /// The draft was already the same: importing a file twice changes nothing.
    Unchanged,
    /// The row had errors and was not imported.
    Rejected,
}

impl Imported {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Updated => "updated",
            Self::Unchanged => "unchanged",
            Self::Rejected => "rejected",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_import_changes_only_the_parts_its_file_has() {
        use cchc_proto::catalogue::v1::{DossierComponent, Fee};
        let old = ProcedureContent {
            name: "Cấp bản sao văn bằng".into(),
            keywords: vec!["bằng".into()],
            processing_days: Some(5.0),
            dossier: vec![DossierComponent {
                name: "Đơn đề nghị".into(),
                originals: 1,
                copies: 2,
                required: true,
                form_template: "Mẫu 01".into(),
            }],
            fees: vec![Fee {
                channel: "online".into(),
                amount_vnd: 20_000,
                note: String::new(),
            }],
            ..Default::default()
        };
        let row = ProcedureContent {
            name: "Cấp bản sao văn bằng, chứng chỉ".into(),
            processing_days: Some(0.5),
            dossier: vec![DossierComponent {
                name: "Đơn đề nghị".into(),
                originals: 1,
                ..Default::default()
            }],
            fees: vec![Fee {
                channel: "online".into(),
                amount_vnd: 20_000,
                note: "Trực tuyến: 20.000 đồng".into(),
            }],
            ..Default::default()
        };
        let parts = Parts::Only(
            ["name", "processing_days", "dossier", "fees"]
                .map(String::from)
                .to_vec(),
        );
        let new = imported(Some(&old), &row, &parts);
        assert_eq!(new.keywords, ["bằng"], "a part the file lacks is kept");
        assert_eq!(new.name, row.name);
        assert_eq!(new.dossier, old.dossier, "the component keeps its copies");
        assert_eq!(new.fees, old.fees, "the fee keeps its (empty) note");
        let mut changed: Vec<(String, String, String)> = changes(Some(&old), &new)
            .into_iter()
            .map(|c| (c.field, c.before, c.after))
            .collect();
        changed.sort();
        assert_eq!(
            changed,
            [
                (
                    "name".to_owned(),
                    "\"Cấp bản sao văn bằng\"".to_owned(),
                    "\"Cấp bản sao văn bằng, chứng chỉ\"".to_owned()
                ),
                (
                    "processing_days".to_owned(),
                    "5".to_owned(),
                    "0.5".to_owned()
                ),
            ]
        );
        // The whole content replaces the draft when the row does not say its parts.
        assert!(imported(Some(&old), &row, &Parts::All).keywords.is_empty());
        // A new procedure's changes are the parts it has.
        let mut fresh: Vec<String> = changes(None, &row).into_iter().map(|c| c.field).collect();
        fresh.sort();
        assert_eq!(fresh, ["dossier", "fees", "name", "processing_days"]);
    }

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
        let fields: Vec<String> = e.into_vec().into_iter().map(|f| f.field).collect();
        assert_eq!(fields.len(), 11);
        assert!(fields.contains(&"content.legal_basis".to_owned()));
    }

    #[test]
    fn a_publication_names_its_change_and_abolishing_is_one() {
        let mut r = PublishProcedureRequest {
            code: "1.012753.H19".into(),
            decision: Some(cchc_proto::catalogue::v1::Decision {
                number: "100/QĐ-UBND".into(),
                date: "2020-01-02".into(),
                signer: "Chủ tịch".into(),
            }),
            effective_date: "2020-02-01".into(),
            ..Default::default()
        };
        assert_eq!(Publication::parse(&r).unwrap().change_type, ChangeType::New);
        r.change_type = change_type::ABOLISHED.into();
        assert!(Publication::parse(&r).unwrap().abolishes());
        r.change_type = "renamed".into();
        let e = Publication::parse(&r).unwrap_err().into_vec();
        assert_eq!(e[0].field, "change_type");
        assert_eq!(e[0].code, "one_of");
        assert_eq!(e[0].params["values"], "new, amended, replaced");
    }
}

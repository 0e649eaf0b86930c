//! Reports (báo cáo): a [`Snapshot`] computed from the read models for a plan and a
//! period ([`compute`]), its narrative in Vietnamese ([`narrative`]) and the documents
//! rendered from it ([`export`]). Everything in a snapshot is sorted and carries no
//! wall-clock time, so the same read models give the same bytes.

pub mod compute;
pub mod export;
pub mod narrative;

use serde::{Deserialize, Serialize};

/// The snapshot's format name, written into the JSON export.
pub const FORMAT: &str = "cchc.report.v1";

/// What the figures are called when one does not fit, in the office's words.
pub mod figure {
    pub const ACTIVITIES: &str = "số hoạt động tuyên truyền";
    pub const HEAD_COUNT: &str = "số lượt người tham dự";
    pub const CORRECTIONS: &str = "số hoạt động được điều chỉnh";
    pub const POSTINGS: &str = "số lượt niêm yết thủ tục hành chính";
    pub const ONE_STOP: &str = "số liệu tiếp nhận, giải quyết hồ sơ một cửa";
    pub const SATISFACTION: &str = "số phiếu khảo sát sự hài lòng";
    pub const BUDGET_PLANNED: &str = "tổng kinh phí dự kiến";
    pub const BUDGET_SPENT: &str = "tổng kinh phí đã chi";
}

/// A figure whose sum does not fit the 64-bit integer a report carries (the read
/// models hold whatever the events carried). The report cannot be right, so its job
/// fails with this as its reason, shown to the office as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overflow {
    /// What the figure is called (one of [`figure`]).
    pub figure: &'static str,
    /// The unit whose figures were being added, when known.
    pub unit: Option<String>,
}

impl std::fmt::Display for Overflow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Không lập được báo cáo: {} vượt quá giới hạn tính toán ({})",
            self.figure,
            crate::domain::number_vi(i64::MAX)
        )?;
        if let Some(unit) = &self.unit {
            write!(f, " khi cộng số liệu của đơn vị «{unit}»")?;
        }
        write!(
            f,
            ". Đề nghị kiểm tra lại số liệu các đơn vị đã gửi. \
             (The report cannot be computed: a total does not fit a 64-bit integer.)"
        )
    }
}

impl std::error::Error for Overflow {}

impl Overflow {
    /// The same overflow, naming the unit whose figures were being added.
    pub fn at(self, unit: &str) -> Self {
        Self {
            unit: Some(unit.to_owned()),
            ..self
        }
    }
}

/// `a + b`, or the [`Overflow`] of `figure`.
pub fn plus(a: i64, b: i64, figure: &'static str) -> Result<i64, Overflow> {
    a.checked_add(b).ok_or(Overflow { figure, unit: None })
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub format: String,
    pub document: DocumentInfo,
    pub plan: PlanInfo,
    pub period: PeriodInfo,
    /// The newest event time the figures reflect (RFC 3339, UTC).
    pub as_of: String,
    /// The narrative summary, one paragraph per entry.
    pub narrative: Vec<String>,
    pub overall: Overall,
    pub targets: Vec<TargetResult>,
    pub units: Vec<UnitRow>,
    pub catalogue: Catalogue,
    pub one_stop: OneStopTotals,
    pub satisfaction: SatisfactionTotals,
    pub budget: BudgetTotals,
    /// The plan's "Nơi nhận", as written.
    pub recipients: Vec<String>,
}

/// What the document's header and signature say.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocumentInfo {
    pub governing_body: String,
    pub issuing_body: String,
    pub number_symbol: String,
    pub place: String,
    /// YYYY-MM-DD
    pub date: String,
    /// "Hải Phòng, ngày 30 tháng 6 năm 2020"
    pub place_and_date: String,
    pub title: String,
    pub signer_title: String,
    pub signer_name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanInfo {
    pub id: String,
    pub revision: u32,
    pub number_symbol: String,
    pub year: i32,
    pub title: String,
    pub issued_on: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeriodInfo {
    pub key: String,
    pub title: String,
    pub start: String,
    pub end: String,
    pub due_date: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KindFigure {
    pub kind: String,
    pub label: String,
    pub count: i64,
    pub head_count: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitRef {
    pub unit_id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Overall {
    pub units_covered: i64,
    /// Units that submitted the period (signed off their figures), not reopened since.
    pub units_reported: i64,
    /// Of those, units that submitted after the due date.
    #[serde(default)]
    pub units_late: i64,
    pub units_silent: i64,
    pub units_below_target: i64,
    pub activities_total: i64,
    pub head_count_total: i64,
    /// Current records that corrected an earlier one.
    pub corrections: i64,
    pub by_kind: Vec<KindFigure>,
    pub silent_units: Vec<UnitRef>,
    pub below_target_units: Vec<UnitRef>,
}

/// How the covered units did against one of the plan's targets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetResult {
    pub kind: String,
    pub label: String,
    pub min_per_unit: i64,
    pub per: String,
    /// The minimum scaled to this period; for a target over a longer span than the
    /// period (yearly, in a half-year report), the whole minimum of that span.
    pub required: i64,
    pub units_meeting: i64,
    pub units_below: i64,
    /// The target runs over a longer span than the period: a unit short of it is on
    /// its way ([`TargetResult::units_in_progress`]), not below it.
    #[serde(default)]
    pub progress: bool,
    #[serde(default)]
    pub units_in_progress: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KindCount {
    pub kind: String,
    pub count: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitRow {
    pub unit_id: String,
    /// The name the unit carried at the end of the period.
    pub name: String,
    pub kind: String,
    /// Submitted the period (see [`Overall::units_reported`]).
    pub reported: bool,
    /// When it submitted, RFC 3339; empty when it did not.
    #[serde(default)]
    pub submitted_at: String,
    #[serde(default)]
    pub submitted_late: bool,
    pub activities_total: i64,
    pub head_count: i64,
    /// Every kind, in the order of [`cchc_platform::vocabulary::activity_kind::ALL`].
    pub activities: Vec<KindCount>,
    /// Kinds whose target the unit missed.
    pub below_target: Vec<String>,
    pub postings_current: i64,
    pub postings_stale: i64,
    pub one_stop: Option<OneStopFigures>,
    pub satisfaction: Option<SatisfactionFigures>,
    pub budget: Option<BudgetFigures>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OneStopFigures {
    /// The submissions the figures come from (the period itself, or its parts).
    pub periods: Vec<String>,
    pub received_online: i64,
    pub received_in_person_or_post: i64,
    pub received_carried_over: i64,
    pub received_total: i64,
    pub resolved_early: i64,
    pub resolved_on_time: i64,
    pub resolved_late: i64,
    pub resolved_total: i64,
    pub pending_within_time: i64,
    pub pending_overdue: i64,
    pub pending_total: i64,
    pub returned_withdrawn: i64,
    /// Resolved early or on time, of all resolved, in percent.
    pub on_time_rate: Option<f64>,
}

impl OneStopFigures {
    pub fn add(&mut self, o: &OneStopFigures) -> Result<(), Overflow> {
        const F: &str = figure::ONE_STOP;
        self.received_online = plus(self.received_online, o.received_online, F)?;
        self.received_in_person_or_post = plus(
            self.received_in_person_or_post,
            o.received_in_person_or_post,
            F,
        )?;
        self.received_carried_over = plus(self.received_carried_over, o.received_carried_over, F)?;
        self.resolved_early = plus(self.resolved_early, o.resolved_early, F)?;
        self.resolved_on_time = plus(self.resolved_on_time, o.resolved_on_time, F)?;
        self.resolved_late = plus(self.resolved_late, o.resolved_late, F)?;
        self.pending_within_time = plus(self.pending_within_time, o.pending_within_time, F)?;
        self.pending_overdue = plus(self.pending_overdue, o.pending_overdue, F)?;
        self.returned_withdrawn = plus(self.returned_withdrawn, o.returned_withdrawn, F)?;
        self.derive()
    }

    /// Fills the totals and the rate from the counters. Early plus on time is summed
    /// first, so the documents may add those two again without overflowing.
    pub fn derive(&mut self) -> Result<(), Overflow> {
        const F: &str = figure::ONE_STOP;
        self.received_total = plus(
            plus(self.received_online, self.received_in_person_or_post, F)?,
            self.received_carried_over,
            F,
        )?;
        let in_time = plus(self.resolved_early, self.resolved_on_time, F)?;
        self.resolved_total = plus(in_time, self.resolved_late, F)?;
        self.pending_total = plus(self.pending_within_time, self.pending_overdue, F)?;
        self.on_time_rate = crate::domain::rate(in_time, self.resolved_total);
        Ok(())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OneStopTotals {
    pub units_submitted: i64,
    pub figures: OneStopFigures,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SatisfactionFigures {
    pub periods: Vec<String>,
    pub responses: i64,
    pub very_satisfied: i64,
    pub satisfied: i64,
    pub dissatisfied: i64,
    /// Very satisfied or satisfied, of all answers, in percent.
    pub rate: Option<f64>,
}

impl SatisfactionFigures {
    pub fn derive(&mut self) -> Result<(), Overflow> {
        self.rate = satisfaction_rate(self.very_satisfied, self.satisfied, self.dissatisfied)?;
        Ok(())
    }
}

/// Very satisfied or satisfied, of all answers, in percent.
pub fn satisfaction_rate(
    very: i64,
    satisfied: i64,
    dissatisfied: i64,
) -> Result<Option<f64>, Overflow> {
    let content = plus(very, satisfied, figure::SATISFACTION)?;
    Ok(crate::domain::rate(
        content,
        plus(content, dissatisfied, figure::SATISFACTION)?,
    ))
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CriterionFigure {
    pub name: String,
    pub very_satisfied: i64,
    pub satisfied: i64,
    pub dissatisfied: i64,
    pub rate: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SatisfactionTotals {
    pub units_submitted: i64,
    pub figures: SatisfactionFigures,
    pub criteria: Vec<CriterionFigure>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BudgetFigures {
    pub planned_vnd: i64,
    pub spent_vnd: i64,
    /// Spent of planned, in percent.
    pub execution_rate: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BudgetTotals {
    pub year: i32,
    pub units_submitted: i64,
    pub figures: BudgetFigures,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcedureChange {
    pub code: String,
    pub version: i32,
    pub name: String,
    pub field: String,
    /// new, amended, replaced, abolished
    pub change_type: String,
    pub effective_date: String,
    pub decision_number: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LegalDocument {
    pub number_symbol: String,
    pub doc_type: String,
    pub summary: String,
    pub issuer: String,
    pub status: String,
    pub effective_date: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StalePosting {
    pub unit_id: String,
    pub unit_name: String,
    pub code: String,
    pub procedure_name: String,
    pub posted_version: i32,
    pub current_version: i32,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Catalogue {
    pub procedures_new: i64,
    pub procedures_amended: i64,
    pub procedures_replaced: i64,
    pub procedures_abolished: i64,
    /// Every version that took effect in the period.
    pub changes: Vec<ProcedureChange>,
    /// Procedures in force at the end of the period.
    pub procedures_in_force: i64,
    /// Legal documents that took effect in the period.
    pub legal_documents: Vec<LegalDocument>,
    /// Units' postings at the end of the period: of the version then in force, or older.
    pub postings_current: i64,
    pub postings_stale: i64,
    pub units_with_stale: i64,
    pub stale_postings: Vec<StalePosting>,
}

impl Snapshot {
    /// The figures a reader looks at first.
    pub fn headline(&self) -> cchc_proto::reporting::v1::ReportHeadline {
        cchc_proto::reporting::v1::ReportHeadline {
            units_covered: self.overall.units_covered,
            units_reported: self.overall.units_reported,
            units_below_target: self.overall.units_below_target,
            activities_total: self.overall.activities_total,
            postings_stale: self.catalogue.postings_stale,
            one_stop_received: self.one_stop.figures.received_total,
            one_stop_resolved: self.one_stop.figures.resolved_total,
            on_time_rate: self.one_stop.figures.on_time_rate,
            satisfaction_rate: self.satisfaction.figures.rate,
            budget_planned_vnd: self.budget.figures.planned_vnd,
            budget_spent_vnd: self.budget.figures.spent_vnd,
        }
    }
}

//! Events in: units become recipients, procedure changes and reports become messages,
//! account links become an e-mail to their person, and plans, reports made and
//! postings are kept for the reminders. Each handler runs inside the consumer's
//! transaction, so what it writes and the "processed" record commit together.

use std::sync::Arc;

use cchc_platform::consumer::{HandleError, Handler};
use cchc_platform::events::{Event, occurred_at, payload};
use cchc_platform::time::in_vietnam;
use cchc_platform::{Actor, CallerKey};
use cchc_proto::events::v1::{
    AccountLinkIssued, ActivityRecorded, Envelope, OneStopResultSubmitted, PlanSaved,
    PostingConfirmed, PostingStale, ProcedurePublished, ReportGenerated, UnitClosed, UnitCreated,
    UnitMerged, UnitRenamed,
};
use chrono::NaiveDate;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::config::Settings;
use crate::domain::account::{self, Decision};
use crate::domain::notice::{Affected, Notice};
use crate::domain::template::Values;
use crate::domain::{Kind, change_words, vietnamese_date};
use crate::store::reminders::{self, Plan, PlanPeriod, StalePosting};
use crate::store::{self, accounts, fanout::fan_out, recipients};

pub struct Notifier {
    settings: Arc<Settings>,
    /// Opens the account links the gateway seals, to check them on arrival.
    key: CallerKey,
}

impl Notifier {
    pub fn new(settings: Arc<Settings>, key: CallerKey) -> Self {
        Self { settings, key }
    }

    /// One e-mail to the person an account link is for, unless the link already
    /// expired; a link that does not open is refused for good (dead-lettered).
    async fn account_link(
        &self,
        tx: &mut PgConnection,
        env: &Envelope,
        event_id: Uuid,
        l: &AccountLinkIssued,
    ) -> Result<(), HandleError> {
        let now = chrono::Utc::now();
        match account::decide(l, &self.key, occurred_at(env), now).map_err(permanent)? {
            Decision::Expired { link_id } => {
                tracing::info!(link = %link_id, "account link already expired; no e-mail sent");
            }
            Decision::Send(m) => {
                let max_attempts = self.settings.delivery.max_attempts;
                accounts::queue_account_email(
                    tx,
                    event_id,
                    AccountLinkIssued::TYPE,
                    &m,
                    max_attempts,
                )
                .await?;
            }
        }
        Ok(())
    }
}

fn permanent(e: impl Into<anyhow::Error>) -> HandleError {
    HandleError::Permanent(e.into())
}

/// The database may answer later; anything else the store refuses, it always will.
impl From<store::Error> for HandleError {
    fn from(e: store::Error) -> Self {
        match e {
            store::Error::Db(e) => e.into(),
            other => permanent(other),
        }
    }
}

fn id(field: &str, s: &str) -> Result<Uuid, HandleError> {
    s.parse()
        .map_err(|e| permanent(anyhow::anyhow!("{field} {s:?} is not an id: {e}")))
}

fn date(field: &str, s: &str) -> Result<NaiveDate, HandleError> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|e| permanent(anyhow::anyhow!("{field} {s:?} is not a date: {e}")))
}

/// The day an event happened, in Vietnam.
fn local_day(env: &Envelope) -> NaiveDate {
    in_vietnam(occurred_at(env)).date_naive()
}

/// Ids that parse; a malformed one names no one and is skipped.
fn uuids(ids: &[String]) -> Vec<Uuid> {
    ids.iter().filter_map(|s| s.parse().ok()).collect()
}

/// The notice for a procedure change: every unit must post (or take down) it.
pub fn procedure_notice(event_id: Uuid, p: &ProcedurePublished) -> Notice {
    let values = Values::from([
        ("code", p.code.clone()),
        ("name", p.name.clone()),
        ("field", p.field.clone()),
        ("level", p.level.clone()),
        ("agency", p.agency.clone()),
        ("change_type", p.change_type.clone()),
        ("change", change_words(&p.change_type).to_owned()),
        ("decision_number", p.decision_number.clone()),
        ("effective_date", vietnamese_date(&p.effective_date)),
        ("version", p.version.to_string()),
    ]);
    Notice {
        kind: Kind::ProcedureChanged,
        cause_id: event_id,
        event_type: ProcedurePublished::TYPE.to_owned(),
        values,
        field: Some(p.field.clone()),
        plan_id: None,
        affected: Affected::AllUnits,
    }
}

/// The notice that a report is ready, with absolute links to its exports.
pub fn report_notice(event_id: Uuid, r: &ReportGenerated, public_url: &str) -> Notice {
    let links: Vec<String> = r
        .export_paths
        .iter()
        .map(|p| format!("- {public_url}{p}"))
        .collect();
    let values = Values::from([
        ("plan_number", r.plan_number_symbol.clone()),
        ("period", r.period.clone()),
        ("title", r.title.clone()),
        ("report_id", r.report_id.clone()),
        ("as_of", r.as_of.clone()),
        ("export_links", links.join("\n")),
    ]);
    Notice {
        kind: Kind::ReportGenerated,
        cause_id: event_id,
        event_type: ReportGenerated::TYPE.to_owned(),
        values,
        field: None,
        plan_id: r.plan_id.parse().ok(),
        affected: Affected::Recipients(uuids(&r.recipient_ids)),
    }
}

impl Handler for Notifier {
    async fn handle(&self, tx: &mut PgConnection, env: &Envelope) -> Result<(), HandleError> {
        let event_id: Uuid = env.id.parse().map_err(permanent)?;
        let max_attempts = self.settings.delivery.max_attempts;
        // What the service keeps from the unit events is its own doing, not the work
        // of whoever made the event: the system's.
        let system = &Actor::System;
        if let Some(u) = payload::<UnitCreated>(env) {
            let u = u.map_err(permanent)?;
            let unit_id = id("unit_id", &u.unit_id)?;
            recipients::upsert_unit(tx, system, unit_id, &u.name, &u.kind).await?;
        } else if let Some(m) = payload::<UnitMerged>(env) {
            let m = m.map_err(permanent)?;
            recipients::deactivate_unit(tx, system, id("unit_id", &m.unit_id)?).await?;
        } else if let Some(c) = payload::<UnitClosed>(env) {
            let c = c.map_err(permanent)?;
            recipients::deactivate_unit(tx, system, id("unit_id", &c.unit_id)?).await?;
        } else if let Some(l) = payload::<AccountLinkIssued>(env) {
            let l = l.map_err(permanent)?;
            self.account_link(tx, env, event_id, &l).await?;
        } else if let Some(r) = payload::<UnitRenamed>(env) {
            let r = r.map_err(permanent)?;
            let unit_id = id("unit_id", &r.unit_id)?;
            recipients::rename_unit(tx, system, unit_id, &r.new_name).await?;
        } else if let Some(p) = payload::<ProcedurePublished>(env) {
            let p = p.map_err(permanent)?;
            fan_out(tx, &procedure_notice(event_id, &p), max_attempts).await?;
        } else if let Some(r) = payload::<ReportGenerated>(env) {
            let r = r.map_err(permanent)?;
            let notice = report_notice(event_id, &r, &self.settings.public_url);
            fan_out(tx, &notice, max_attempts).await?;
        } else if let Some(s) = payload::<PostingStale>(env) {
            let s = s.map_err(permanent)?;
            let stale = StalePosting {
                unit_id: id("unit_id", &s.unit_id)?,
                code: s.code,
                procedure_name: s.procedure_name,
                posted_version: s.posted_version as i32,
                current_version: s.current_version as i32,
                stale_on: local_day(env),
            };
            reminders::posting_stale(tx, &stale).await?;
        } else if let Some(c) = payload::<PostingConfirmed>(env) {
            let c = c.map_err(permanent)?;
            let unit_id = id("unit_id", &c.unit_id)?;
            reminders::posting_confirmed(tx, unit_id, &c.code, c.version as i32).await?;
        } else if let Some(p) = payload::<PlanSaved>(env) {
            reminders::save_plan(tx, &plan(&p.map_err(permanent)?)?).await?;
        } else if let Some(a) = payload::<ActivityRecorded>(env) {
            let a = a.map_err(permanent)?;
            reminders::activity_recorded(
                tx,
                id("activity_id", &a.activity_id)?,
                id("unit_id", &a.unit_id)?,
                date("date", &a.date)?,
                a.supersedes.parse().ok(),
            )
            .await?;
        } else if let Some(o) = payload::<OneStopResultSubmitted>(env) {
            let o = o.map_err(permanent)?;
            reminders::one_stop_submitted(
                tx,
                id("unit_id", &o.unit_id)?,
                &o.period,
                date("period_start", &o.period_start)?,
                date("period_end", &o.period_end)?,
            )
            .await?;
        }
        Ok(())
    }
}

/// A plan as the reminders keep it; a period without a title is called by its key.
fn plan(p: &PlanSaved) -> Result<Plan, HandleError> {
    let mut periods = Vec::new();
    for period in &p.periods {
        periods.push(PlanPeriod {
            key: period.key.clone(),
            title: if period.title.is_empty() {
                period.key.clone()
            } else {
                period.title.clone()
            },
            start: date("start", &period.start)?,
            end: date("end", &period.end)?,
            due: date("due_date", &period.due_date)?,
        });
    }
    Ok(Plan {
        plan_id: id("plan_id", &p.plan_id)?,
        number_symbol: p.number_symbol.clone(),
        year: p.year,
        title: p.title.clone(),
        revision: p.revision as i32,
        unit_ids: uuids(&p.unit_ids),
        recipient_ids: uuids(&p.recipient_ids),
        periods,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::template::{Template, defaults};
    use cchc_platform::vocabulary::change_type;

    #[test]
    fn procedure_message_is_vietnamese_with_local_date() {
        let notice = procedure_notice(
            Uuid::nil(),
            &ProcedurePublished {
                code: "1.012753.H19".into(),
                version: 2,
                name: "Cấp bản sao văn bằng".into(),
                change_type: change_type::AMENDED.into(),
                decision_number: "12/QĐ-UBND".into(),
                effective_date: "2020-03-05".into(),
                ..Default::default()
            },
        );
        let (_, subject, text) = defaults()
            .into_iter()
            .find(|(k, _, _)| *k == Kind::ProcedureChanged)
            .unwrap();
        let t = Template {
            key: "procedure_changed".into(),
            language: "vi".into(),
            version: 1,
            subject: subject.into(),
            text: text.into(),
            html: String::new(),
        };
        let r = t.render(&notice.values);
        assert_eq!(
            r.subject,
            "Thủ tục hành chính sửa đổi, bổ sung: Cấp bản sao văn bằng"
        );
        assert!(
            r.text.contains("05/03/2020") && r.text.contains("phiên bản 2"),
            "{}",
            r.text
        );
    }

    #[test]
    fn report_links_are_absolute() {
        let n = report_notice(
            Uuid::nil(),
            &ReportGenerated {
                export_paths: vec!["/v1/reports/r1/export?format=docx".into()],
                recipient_ids: vec!["not-a-uuid".into(), Uuid::nil().to_string()],
                ..Default::default()
            },
            "https://cchc.example.vn",
        );
        assert_eq!(
            n.values["export_links"],
            "- https://cchc.example.vn/v1/reports/r1/export?format=docx"
        );
        assert!(matches!(n.affected, Affected::Recipients(ref v) if v.len() == 1));
    }
}

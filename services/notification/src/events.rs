//! Events in: units become recipients, procedure changes and reports become messages,
//! account links become an e-mail to their person, and plans, period submissions and
//! postings are kept for the reminders; a reopened submission is told to its unit.
//! Each handler runs inside the consumer's transaction, so what it writes and the
//! "processed" record commit together.

use std::sync::Arc;

use cchc_platform::consumer::{HandleError, Handler, Run, runs};
use cchc_platform::events::{Event, occurred_at, payload};
use cchc_platform::time::in_vietnam;
use cchc_platform::{Actor, CallerKey};
use cchc_proto::events::v1::{
    AccountLinkIssued, ActivityRecorded, Envelope, OneStopResultSubmitted, PeriodReopened,
    PeriodSubmitted, PlanSaved, PostingConfirmed, PostingStale, ProcedurePublished,
    ReportGenerated, UnitClosed, UnitCreated, UnitMerged, UnitRenamed,
};
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::config::Settings;
use crate::domain::account::{self, Decision};
use crate::domain::notice::{Affected, Notice};
use crate::domain::template::Values;
use crate::domain::{Kind, change_words, vietnamese_date};
use crate::scheduler::period_values;
use crate::store::reminders::{self, Period, Plan, PlanPeriod, StalePosting, Submission};
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

fn instant(field: &str, s: &str) -> Result<DateTime<Utc>, HandleError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.to_utc())
        .map_err(|e| {
            permanent(anyhow::anyhow!(
                "{field} {s:?} is not an RFC 3339 time: {e}"
            ))
        })
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

/// What a submission event says of whom, ordered by the event's time and id.
fn submission(
    env: &Envelope,
    event_id: Uuid,
    plan_id: &str,
    period: &str,
    unit_id: &str,
) -> Result<Submission, HandleError> {
    Ok(Submission {
        plan_id: id("plan_id", plan_id)?,
        period_key: period.to_owned(),
        unit_id: id("unit_id", unit_id)?,
        event_id,
        event_at: occurred_at(env),
    })
}

/// The notice to a unit that the office reopened its submission of a period, with
/// what the plan's stored period says of it. A period the service does not know (its
/// plan not received) is called by its key, the plan by its id.
pub fn reopened_notice(
    event_id: Uuid,
    s: &Submission,
    period: Option<&Period>,
    reason: &str,
) -> Notice {
    let mut values = match period {
        Some(p) => period_values(p),
        None => Values::from([
            ("plan_number", s.plan_id.to_string()),
            ("period", s.period_key.clone()),
            ("period_title", s.period_key.clone()),
        ]),
    };
    values.insert("reason", reason.to_owned());
    Notice {
        kind: Kind::ReportReopened,
        cause_id: event_id,
        event_type: PeriodReopened::TYPE.to_owned(),
        values,
        field: None,
        plan_id: Some(s.plan_id),
        affected: Affected::Units(vec![s.unit_id]),
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
        } else if let Some(p) = payload::<PeriodSubmitted>(env) {
            let p = p.map_err(permanent)?;
            let s = submission(env, event_id, &p.plan_id, &p.period, &p.unit_id)?;
            let at = instant("submitted_at", &p.submitted_at)?;
            reminders::period_submitted(tx, &s, p.late, at).await?;
        } else if let Some(r) = payload::<PeriodReopened>(env) {
            let r = r.map_err(permanent)?;
            let s = submission(env, event_id, &r.plan_id, &r.period, &r.unit_id)?;
            // A reopening older than what is kept (the unit submitted again since) is
            // past: neither the state nor the unit hears of it.
            if reminders::period_reopened(tx, &s, &r.reason).await? {
                let period = reminders::period(tx, s.plan_id, &s.period_key).await?;
                if period.is_none() {
                    tracing::warn!(plan = %s.plan_id, period = %s.period_key,
                        "a submission of an unknown period was reopened; told by its key");
                }
                let notice = reopened_notice(event_id, &s, period.as_ref(), &r.reason);
                fan_out(tx, &notice, max_attempts).await?;
            }
        } else if let Some(a) = payload::<ActivityRecorded>(env) {
            activity_run(tx, vec![(env, a)]).await?;
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

    /// Activities, the most numerous events, are kept a run at a time; the others one
    /// by one, in order.
    async fn handle_all(
        &self,
        tx: &mut PgConnection,
        events: &[&Envelope],
    ) -> Result<(), HandleError> {
        for run in runs::<ActivityRecorded>(events) {
            match run {
                Run::Of(activities) => activity_run(tx, activities).await?,
                Run::One(env) => self.handle(tx, env).await?,
            }
        }
        Ok(())
    }
}

/// Activity events kept in one statement.
async fn activity_run(
    tx: &mut PgConnection,
    run: Vec<(&Envelope, Result<ActivityRecorded, prost::DecodeError>)>,
) -> Result<(), HandleError> {
    let rows = run
        .into_iter()
        .map(|(_, a)| activity(&a.map_err(permanent)?))
        .collect::<Result<Vec<_>, HandleError>>()?;
    Ok(reminders::activities_recorded(tx, &rows).await?)
}

/// What the reminders keep of an activity.
fn activity(a: &ActivityRecorded) -> Result<(Uuid, Uuid, NaiveDate, Option<Uuid>), HandleError> {
    Ok((
        id("activity_id", &a.activity_id)?,
        id("unit_id", &a.unit_id)?,
        date("date", &a.date)?,
        a.supersedes.parse().ok(),
    ))
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
    fn a_reopening_of_an_unknown_period_is_told_by_its_key() {
        let plan_id = Uuid::from_u128(7);
        let s = Submission {
            plan_id,
            period_key: "2020-H1".into(),
            unit_id: Uuid::from_u128(8),
            event_id: Uuid::nil(),
            event_at: chrono::DateTime::UNIX_EPOCH,
        };
        let n = reopened_notice(Uuid::nil(), &s, None, "Thiếu biên bản");
        let (_, _, text) = defaults()
            .into_iter()
            .find(|(k, _, _)| *k == Kind::ReportReopened)
            .unwrap();
        let t = Template {
            key: "report_reopened".into(),
            language: "vi".into(),
            version: 1,
            subject: String::new(),
            text: text.into(),
            html: String::new(),
        };
        let r = t.render(&n.values);
        assert!(
            r.text.contains(&format!(
                "báo cáo kỳ 2020-H1 của Kế hoạch {plan_id}: Thiếu biên bản."
            )),
            "{}",
            r.text
        );
        assert!(matches!(n.affected, Affected::Units(ref v) if v == &[s.unit_id]));
        assert_eq!(n.plan_id, Some(plan_id));
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

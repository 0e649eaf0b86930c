//! Events in: units become recipients, procedure changes and reports become messages,
//! and plans, reports made and postings are kept for the reminders. Each handler runs
//! inside the consumer's transaction, so what it writes and the "processed" record
//! commit together.

use std::sync::Arc;

use cchc_platform::consumer::{HandleError, Handler};
use cchc_platform::events::{Event, occurred_at, payload};
use cchc_proto::events::v1::{
    ActivityRecorded, Envelope, OneStopResultSubmitted, PlanSaved, PostingConfirmed, PostingStale,
    ProcedurePublished, ReportGenerated, UnitClosed, UnitCreated, UnitMerged, UnitRenamed,
};
use chrono::NaiveDate;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::config::Settings;
use crate::domain::template::Values;
use crate::domain::{Kind, change_words, vietnamese_date};
use crate::store::fanout::{Affected, Notice, fan_out};
use crate::store::recipients;

pub struct Notifier {
    settings: Arc<Settings>,
}

impl Notifier {
    pub fn new(settings: Arc<Settings>) -> Self {
        Self { settings }
    }
}

fn permanent(e: impl Into<anyhow::Error>) -> HandleError {
    HandleError::Permanent(e.into())
}

fn date(field: &str, s: &str) -> Result<NaiveDate, HandleError> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|e| permanent(anyhow::anyhow!("{field} {s:?} is not a date: {e}")))
}

/// The day an event happened, in Vietnam (UTC+7).
fn local_day(env: &Envelope) -> NaiveDate {
    let offset = chrono::FixedOffset::east_opt(7 * 3600).expect("valid offset");
    occurred_at(env).with_timezone(&offset).date_naive()
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

/// A merged or closed unit is told nothing more.
async fn deactivate(tx: &mut PgConnection, unit_id: &str) -> Result<(), HandleError> {
    sqlx::query(
        "UPDATE recipients SET active = false, updated_at = now() WHERE id = $1 AND kind = 'unit'",
    )
    .bind(unit_id.parse::<Uuid>().map_err(permanent)?)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

impl Handler for Notifier {
    async fn handle(&self, tx: &mut PgConnection, env: &Envelope) -> Result<(), HandleError> {
        let event_id: Uuid = env.id.parse().map_err(permanent)?;
        let max_attempts = self.settings.delivery.max_attempts;
        if let Some(u) = payload::<UnitCreated>(env) {
            let u = u.map_err(permanent)?;
            let id: Uuid = u.unit_id.parse().map_err(permanent)?;
            recipients::upsert_unit(tx, id, &u.name, &u.kind).await?;
        } else if let Some(m) = payload::<UnitMerged>(env) {
            deactivate(tx, &m.map_err(permanent)?.unit_id).await?;
        } else if let Some(c) = payload::<UnitClosed>(env) {
            deactivate(tx, &c.map_err(permanent)?.unit_id).await?;
        } else if let Some(r) = payload::<UnitRenamed>(env) {
            let r = r.map_err(permanent)?;
            sqlx::query("UPDATE recipients SET name = $2, updated_at = now() WHERE id = $1 AND kind = 'unit'")
                .bind(r.unit_id.parse::<Uuid>().map_err(permanent)?)
                .bind(&r.new_name)
                .execute(&mut *tx)
                .await?;
        } else if let Some(p) = payload::<ProcedurePublished>(env) {
            let p = p.map_err(permanent)?;
            fan_out(tx, &procedure_notice(event_id, &p), max_attempts).await?;
        } else if let Some(r) = payload::<ReportGenerated>(env) {
            let r = r.map_err(permanent)?;
            let notice = report_notice(event_id, &r, &self.settings.public_url);
            fan_out(tx, &notice, max_attempts).await?;
        } else if let Some(s) = payload::<PostingStale>(env) {
            let s = s.map_err(permanent)?;
            // A newer version starts a new wait; a redelivered or older event changes nothing.
            sqlx::query(
                "INSERT INTO stale_postings (unit_id, code, procedure_name, posted_version, current_version, stale_on)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (unit_id, code) DO UPDATE SET procedure_name = EXCLUDED.procedure_name,
                     posted_version = EXCLUDED.posted_version, current_version = EXCLUDED.current_version,
                     stale_on = EXCLUDED.stale_on, resolved_at = NULL, reminder_id = NULL, reminded_on = NULL
                 WHERE stale_postings.current_version < EXCLUDED.current_version",
            )
            .bind(s.unit_id.parse::<Uuid>().map_err(permanent)?)
            .bind(&s.code)
            .bind(&s.procedure_name)
            .bind(s.posted_version as i32)
            .bind(s.current_version as i32)
            .bind(local_day(env))
            .execute(&mut *tx)
            .await?;
        } else if let Some(c) = payload::<PostingConfirmed>(env) {
            let c = c.map_err(permanent)?;
            sqlx::query(
                "UPDATE stale_postings SET resolved_at = now()
                 WHERE unit_id = $1 AND code = $2 AND current_version <= $3 AND resolved_at IS NULL",
            )
            .bind(c.unit_id.parse::<Uuid>().map_err(permanent)?)
            .bind(&c.code)
            .bind(c.version as i32)
            .execute(&mut *tx)
            .await?;
        } else if let Some(p) = payload::<PlanSaved>(env) {
            save_plan(tx, &p.map_err(permanent)?).await?;
        } else if let Some(a) = payload::<ActivityRecorded>(env) {
            let a = a.map_err(permanent)?;
            sqlx::query(
                "INSERT INTO unit_activities (activity_id, unit_id, date, supersedes) VALUES ($1, $2, $3, $4)
                 ON CONFLICT DO NOTHING",
            )
            .bind(a.activity_id.parse::<Uuid>().map_err(permanent)?)
            .bind(a.unit_id.parse::<Uuid>().map_err(permanent)?)
            .bind(date("date", &a.date)?)
            .bind(a.supersedes.parse::<Uuid>().ok())
            .execute(&mut *tx)
            .await?;
        } else if let Some(o) = payload::<OneStopResultSubmitted>(env) {
            let o = o.map_err(permanent)?;
            sqlx::query(
                "INSERT INTO unit_one_stop (unit_id, period, start_date, end_date) VALUES ($1, $2, $3, $4)
                 ON CONFLICT DO NOTHING",
            )
            .bind(o.unit_id.parse::<Uuid>().map_err(permanent)?)
            .bind(&o.period)
            .bind(date("period_start", &o.period_start)?)
            .bind(date("period_end", &o.period_end)?)
            .execute(&mut *tx)
            .await?;
        }
        Ok(())
    }
}

/// Keeps the newest revision of a plan and its periods.
async fn save_plan(tx: &mut PgConnection, p: &PlanSaved) -> Result<(), HandleError> {
    let plan_id: Uuid = p.plan_id.parse().map_err(permanent)?;
    let mut periods = Vec::new();
    for period in &p.periods {
        periods.push((
            period,
            date("start", &period.start)?,
            date("end", &period.end)?,
            date("due_date", &period.due_date)?,
        ));
    }
    let newer = sqlx::query(
        "INSERT INTO plans (plan_id, number_symbol, year, title, revision, unit_ids, recipient_ids)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (plan_id) DO UPDATE SET number_symbol = EXCLUDED.number_symbol, year = EXCLUDED.year,
             title = EXCLUDED.title, revision = EXCLUDED.revision, unit_ids = EXCLUDED.unit_ids,
             recipient_ids = EXCLUDED.recipient_ids, updated_at = now()
         WHERE plans.revision <= EXCLUDED.revision",
    )
    .bind(plan_id)
    .bind(&p.number_symbol)
    .bind(p.year)
    .bind(&p.title)
    .bind(p.revision as i32)
    .bind(uuids(&p.unit_ids))
    .bind(uuids(&p.recipient_ids))
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !newer {
        return Ok(());
    }
    sqlx::query("DELETE FROM plan_periods WHERE plan_id = $1")
        .bind(plan_id)
        .execute(&mut *tx)
        .await?;
    for (period, start, end, due) in periods {
        sqlx::query(
            "INSERT INTO plan_periods (plan_id, key, title, start_date, end_date, due_date)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (plan_id, key) DO NOTHING",
        )
        .bind(plan_id)
        .bind(&period.key)
        .bind(if period.title.is_empty() {
            &period.key
        } else {
            &period.title
        })
        .bind(start)
        .bind(end)
        .bind(due)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::template::{Template, defaults};

    #[test]
    fn procedure_message_is_vietnamese_with_local_date() {
        let notice = procedure_notice(
            Uuid::nil(),
            &ProcedurePublished {
                code: "1.012753.H19".into(),
                version: 2,
                name: "Cấp bản sao văn bằng".into(),
                change_type: "amended".into(),
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

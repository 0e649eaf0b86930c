//! Applying events to the read models, inside the consumer's transaction.

use cchc_platform::consumer::{HandleError, Handler};
use cchc_platform::events::{occurred_at, payload};
use cchc_proto::events::v1::{ActivityRecorded, Envelope, ProcedurePublished, UnitCreated};
use sqlx::PgConnection;
use uuid::Uuid;

pub struct ReadModels;

fn permanent(e: impl Into<anyhow::Error>) -> HandleError {
    HandleError::Permanent(e.into())
}

fn date(s: &str) -> Result<chrono::NaiveDate, HandleError> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(permanent)
}

impl Handler for ReadModels {
    async fn handle(&self, tx: &mut PgConnection, env: &Envelope) -> Result<(), HandleError> {
        let at = occurred_at(env);
        if let Some(u) = payload::<UnitCreated>(env) {
            let u = u.map_err(permanent)?;
            sqlx::query(
                "INSERT INTO rm_units (unit_id, name, kind, parent_id, event_at) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (unit_id) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind,
                   parent_id = EXCLUDED.parent_id, event_at = EXCLUDED.event_at
                 WHERE rm_units.event_at <= EXCLUDED.event_at",
            )
            .bind(u.unit_id.parse::<Uuid>().map_err(permanent)?)
            .bind(&u.name)
            .bind(&u.kind)
            .bind(u.parent_id.parse::<Uuid>().ok())
            .bind(at)
            .execute(&mut *tx)
            .await?;
        } else if let Some(p) = payload::<ProcedurePublished>(env) {
            let p = p.map_err(permanent)?;
            let status = if p.change_type == "abolished" {
                "abolished"
            } else {
                "published"
            };
            // Versions only move forward, whatever order events arrive in.
            sqlx::query(
                "INSERT INTO rm_procedures (code, version, name, field, level, status, event_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (code) DO UPDATE SET version = EXCLUDED.version, name = EXCLUDED.name, field = EXCLUDED.field,
                   level = EXCLUDED.level, status = EXCLUDED.status, event_at = EXCLUDED.event_at
                 WHERE rm_procedures.version < EXCLUDED.version",
            )
            .bind(&p.code)
            .bind(p.version as i32)
            .bind(&p.name)
            .bind(&p.field)
            .bind(&p.level)
            .bind(status)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO rm_procedure_changes (code, version, change_type, effective_date, event_at) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT DO NOTHING",
            )
            .bind(&p.code)
            .bind(p.version as i32)
            .bind(&p.change_type)
            .bind(date(&p.effective_date)?)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        } else if let Some(a) = payload::<ActivityRecorded>(env) {
            let a = a.map_err(permanent)?;
            sqlx::query(
                "INSERT INTO rm_activities (activity_id, unit_id, kind, date, head_count, supersedes, event_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
            )
            .bind(a.activity_id.parse::<Uuid>().map_err(permanent)?)
            .bind(a.unit_id.parse::<Uuid>().map_err(permanent)?)
            .bind(&a.kind)
            .bind(date(&a.date)?)
            .bind(a.head_count)
            .bind(a.supersedes.parse::<Uuid>().ok())
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        Ok(())
    }
}

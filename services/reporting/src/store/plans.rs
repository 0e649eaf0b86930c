//! Plans (kế hoạch): the office's documents the reports are made for, each save with
//! its `PlanSaved` event.

use cchc_platform::page::{Cursor, Paging};
use cchc_platform::time::stamp;
use cchc_platform::validation::{FieldError, Rule};
use cchc_platform::{Actor, Caller};
use cchc_proto::events::v1::{PlanSaved, ReportingPeriod};
use cchc_proto::reporting::v1::Plan;
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Postgres, Transaction};
use uuid::Uuid;

use super::{BindPage, Error, Store, newest_first, violates};
use crate::domain::plan::{CheckedPlan, recipient_ids};

#[derive(sqlx::FromRow)]
struct PlanRow {
    id: Uuid,
    revision: i32,
    document: sqlx::types::Json<Plan>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    created_by: Option<String>,
    updated_by: Option<String>,
}

impl PlanRow {
    fn into_plan(self) -> Plan {
        Plan {
            id: self.id.to_string(),
            revision: self.revision as u32,
            created_at: stamp(&self.created_at),
            updated_at: stamp(&self.updated_at),
            created_by: self.created_by.unwrap_or_default(),
            updated_by: self.updated_by.unwrap_or_default(),
            ..self.document.0
        }
    }
}

const PLAN_COLUMNS: &str = "id, revision, document, created_at, updated_at, created_by, updated_by";

/// The stored document: the plan without what the service sets.
fn document(p: &Plan) -> Plan {
    Plan {
        id: String::new(),
        revision: 0,
        created_at: String::new(),
        updated_at: String::new(),
        created_by: String::new(),
        updated_by: String::new(),
        ..p.clone()
    }
}

/// SHA-256 of a plan document's JSON (the fields serialise in a fixed order).
fn request_hash(doc: &Plan) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(
        serde_json::to_vec(doc).unwrap_or_default(),
    ))
}

fn plan_saved(p: &Plan) -> PlanSaved {
    PlanSaved {
        plan_id: p.id.clone(),
        number_symbol: p.number_symbol.clone(),
        year: p.year,
        title: p.title.clone(),
        periods: p
            .periods
            .iter()
            .map(|x| ReportingPeriod {
                key: x.key.clone(),
                start: x.start.clone(),
                end: x.end.clone(),
                due_date: x.due_date.clone(),
                title: x.title.clone(),
            })
            .collect(),
        unit_ids: p.unit_ids.clone(),
        recipient_ids: recipient_ids(p),
        recipient_names: p.recipients.iter().map(|r| r.name.clone()).collect(),
        revision: p.revision,
    }
}

/// Refuses a plan covering units the read models do not know, naming each.
async fn known_units(tx: &mut PgConnection, ids: &[Uuid]) -> Result<(), Error> {
    let unknown: Vec<i64> = sqlx::query_scalar(
        "SELECT n - 1 FROM unnest($1::uuid[]) WITH ORDINALITY AS c(unit_id, n)
         WHERE NOT EXISTS (SELECT 1 FROM rm_units u WHERE u.unit_id = c.unit_id) ORDER BY n",
    )
    .bind(ids)
    .fetch_all(&mut *tx)
    .await?;
    if unknown.is_empty() {
        return Ok(());
    }
    Err(Error::Rule {
        message: "the plan covers units reporting does not know".into(),
        errors: unknown
            .into_iter()
            .map(|i| FieldError::new(format!("unit_ids[{i}]"), Rule::NoSuch { of: "unit" }))
            .collect(),
    })
}

impl Store {
    /// A new plan, attributed to `caller`'s actor; a key is the caller's unit's.
    pub async fn create_plan(
        &self,
        caller: &Caller,
        checked: &CheckedPlan,
        key: Option<&str>,
    ) -> Result<Plan, Error> {
        let mut tx = self.pool.begin().await?;
        let doc = document(&checked.plan);
        if let Some(key) = key {
            let seen: Option<(Uuid, String)> = sqlx::query_as(
                "SELECT id, request_hash FROM plans WHERE created_by_unit = $1 AND idempotency_key = $2",
            )
            .bind(caller.unit_id)
            .bind(key)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some((id, hash)) = seen {
                // A retry returns the plan it made (as it is now), as long as it asks
                // for the same.
                if hash != request_hash(&doc) {
                    return Err(Error::KeyReused);
                }
                let row: PlanRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {PLAN_COLUMNS} FROM plans WHERE id = $1"
                )))
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
                return Ok(row.into_plan());
            }
        }
        known_units(&mut tx, &checked.unit_ids).await?;
        let inserted = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "INSERT INTO plans (id, revision, number_symbol, year, document, created_by_unit, idempotency_key, request_hash,
               created_by, updated_by)
             VALUES ($1, 1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING {PLAN_COLUMNS}"
        )))
        .bind(Uuid::now_v7())
        .bind(&doc.number_symbol)
        .bind(doc.year)
        .bind(sqlx::types::Json(&doc))
        .bind(caller.unit_id)
        .bind(key)
        .bind(request_hash(&doc))
        .bind(caller.actor.to_string())
        .fetch_one(&mut *tx)
        .await;
        self.saved(tx, &caller.actor, inserted, &doc).await
    }

    /// A new revision of plan `id`, attributed to `actor`.
    pub async fn update_plan(
        &self,
        actor: &Actor,
        id: Uuid,
        expected_revision: u32,
        checked: &CheckedPlan,
    ) -> Result<Plan, Error> {
        let mut tx = self.pool.begin().await?;
        let current: Option<i32> =
            sqlx::query_scalar("SELECT revision FROM plans WHERE id = $1 FOR UPDATE")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        let current = current.ok_or_else(|| Error::NotFound("no such plan".into()))?;
        if current as u32 != expected_revision {
            return Err(Error::Conflict(format!(
                "the plan is at revision {current}, not {expected_revision}; read it again"
            )));
        }
        known_units(&mut tx, &checked.unit_ids).await?;
        let doc = document(&checked.plan);
        let updated = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "UPDATE plans SET revision = revision + 1, number_symbol = $2, year = $3, document = $4, updated_at = now(),
               updated_by = $5
             WHERE id = $1 RETURNING {PLAN_COLUMNS}"
        )))
        .bind(id)
        .bind(&doc.number_symbol)
        .bind(doc.year)
        .bind(sqlx::types::Json(&doc))
        .bind(actor.to_string())
        .fetch_one(&mut *tx)
        .await;
        self.saved(tx, actor, updated, &doc).await
    }

    /// Ends a save: a clash with another plan of the same number and year is a
    /// conflict; otherwise the event goes out with the change, attributed to `actor`.
    async fn saved(
        &self,
        mut tx: Transaction<'_, Postgres>,
        actor: &Actor,
        written: Result<PlanRow, sqlx::Error>,
        doc: &Plan,
    ) -> Result<Plan, Error> {
        let plan = match written {
            Ok(row) => row.into_plan(),
            Err(e) if violates(&e, "plans_number_year") => {
                return Err(Error::Conflict(format!(
                    "a plan {} for {} already exists",
                    doc.number_symbol, doc.year
                )));
            }
            Err(e) => return Err(e.into()),
        };
        self.outbox
            .enqueue(&mut tx, actor, &plan_saved(&plan))
            .await?;
        tx.commit().await?;
        self.outbox.notify();
        Ok(plan)
    }

    /// A plan and when it was last saved.
    pub async fn plan(&self, id: Uuid) -> Result<Option<(Plan, DateTime<Utc>)>, Error> {
        let row: Option<PlanRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {PLAN_COLUMNS} FROM plans WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| {
            let at = r.updated_at;
            (r.into_plan(), at)
        }))
    }

    /// Plans newest first, from where `paging` starts, one more than a page; each
    /// with its place in the list.
    pub async fn plans(
        &self,
        year: Option<i32>,
        paging: &Paging,
    ) -> Result<Vec<(Plan, Cursor)>, Error> {
        let rows: Vec<PlanRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {PLAN_COLUMNS} FROM plans WHERE ($1::int IS NULL OR year = $1) AND {}",
            newest_first("created_at", 2)
        )))
        .bind(year)
        .bind_page(paging)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let at = Cursor {
                    at: r.created_at,
                    id: r.id,
                };
                (r.into_plan(), at)
            })
            .collect())
    }
}

//! Units and API keys in the gateway's own database. Unit changes are events (outbox).

use cchc_platform::outbox::Outbox;
use cchc_platform::page::{Cursor, Paging};
use cchc_platform::vocabulary::{unit_kind, unit_status};
use cchc_platform::{Actor, Caller, Role};
use cchc_proto::events::v1::{UnitClosed, UnitCreated, UnitMerged, UnitRenamed};
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use crate::api_key::{generate_key, hash_key, prefix_of};

/// The key configured by the operator (`CCHC_BOOTSTRAP_TOKEN`) has this fixed id.
pub const BOOTSTRAP_KEY_ID: Uuid = Uuid::from_u128(1);
/// And `CCHC_OPERATOR_TOKEN`, the first operator key, this one.
pub const BOOTSTRAP_OPERATOR_KEY_ID: Uuid = Uuid::from_u128(2);

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Unit {
    pub id: Uuid,
    pub name: String,
    pub kind: String,
    pub parent_id: Option<Uuid>,
    pub status: String,
    pub merged_into: Option<Uuid>,
    /// Since when the status applies (rename, merge, close).
    pub status_since: Option<chrono::NaiveDate>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// Who made the unit and who changed it last (actor texts; `None` before people
    /// were recorded, and for the Department made at the first start).
    #[schema(value_type = Option<cchc_proto::ActorRef>)]
    pub created_by: Option<String>,
    #[schema(value_type = Option<cchc_proto::ActorRef>)]
    pub updated_by: Option<String>,
}

impl Unit {
    /// Whether the unit still acts: a merged or closed unit keeps its records but can
    /// no longer write, and no key can be issued for it.
    pub fn acts(&self) -> bool {
        unit_status::acts(&self.status)
    }
}

/// A name a unit had, from a date on (`None`: since it was created).
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct UnitName {
    pub name: String,
    pub valid_from: Option<chrono::NaiveDate>,
}

/// Why a lifecycle change was refused.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error("no such unit")]
    NotFound,
    /// A rule of the lifecycle, by the problem type it is answered with (`unit-ended`,
    /// `department-unit`, `same-name`, `merge-into-itself`, `no-merge-target`).
    #[error("{1}")]
    Rule(&'static str, String),
    /// Another unit of the same parent, still acting, has the name already.
    #[error("a unit named {} already exists here", .0.name)]
    Taken(Box<Unit>),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct KeyInfo {
    pub id: Uuid,
    pub unit_id: Uuid,
    pub role: String,
    pub prefix: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
    pub last_used_at: Option<chrono::DateTime<chrono::Utc>>,
    #[schema(value_type = Option<cchc_proto::ActorRef>)]
    pub created_by: Option<String>,
}

#[derive(Clone)]
pub struct Store {
    pool: PgPool,
    outbox: Outbox,
}

const UNIT_COLUMNS: &str = "id, name, kind, parent_id, status, merged_into, status_since, created_at, created_by, updated_by";
const KEY_COLUMNS: &str =
    "id, unit_id, role, prefix, created_at, expires_at, revoked_at, last_used_at, created_by";

impl Store {
    pub fn new(pool: PgPool, outbox: Outbox) -> Self {
        Self { pool, outbox }
    }

    /// The Department's unit (id, name), created when absent. One that still acts: a
    /// Department closed before closing it was refused is replaced, so the configured
    /// keys and the first person work again.
    pub async fn department(&self) -> anyhow::Result<(Uuid, String)> {
        let found: Option<(Uuid, String)> = sqlx::query_as(
            "SELECT id, name FROM units WHERE kind = $1 AND status NOT IN ($2, $3)
             ORDER BY created_at LIMIT 1",
        )
        .bind(unit_kind::DEPARTMENT)
        .bind(unit_status::MERGED)
        .bind(unit_status::CLOSED)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match found {
            Some(d) => d,
            None => match self
                .create_unit(
                    &Actor::System,
                    "Sở Giáo dục và Đào tạo",
                    unit_kind::DEPARTMENT,
                    None,
                )
                .await
            {
                Ok(u) => (u.id, u.name),
                // Replicas of the gateway start together: another made it since we looked.
                Err(LifecycleError::Taken(u)) if u.kind == unit_kind::DEPARTMENT => (u.id, u.name),
                Err(e) => return Err(e.into()),
            },
        })
    }

    /// Makes a configured token a key of the Department (created when absent) with
    /// `role` (office for `CCHC_BOOTSTRAP_TOKEN`, operator for `CCHC_OPERATOR_TOKEN`).
    /// The configuration is the operator's last word: a configured key revoked through
    /// the API works again after a restart (so no API key can lock everyone out), and a
    /// new token replaces the old one. To end a configured key, change the configuration.
    pub async fn bootstrap(&self, token: &str, role: Role) -> anyhow::Result<()> {
        let (department, _) = self.department().await?;
        sqlx::query(
            "INSERT INTO api_keys (id, unit_id, role, prefix, hash) VALUES ($1, $2, $4, 'bootstrap', $3)
             ON CONFLICT (id) DO UPDATE SET hash = EXCLUDED.hash, unit_id = EXCLUDED.unit_id,
               role = EXCLUDED.role, revoked_at = NULL, expires_at = NULL",
        )
        .bind(match role {
            Role::Operator => BOOTSTRAP_OPERATOR_KEY_ID,
            _ => BOOTSTRAP_KEY_ID,
        })
        .bind(department)
        .bind(hash_key(token))
        .bind(role.as_str())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The acting unit under `parent_id` named `name` (case aside), other than
    /// `except`. Holds, until the transaction ends, the right to name a unit there: two
    /// offices adding the same school at once get one school and one refusal.
    async fn sibling_named(
        tx: &mut sqlx::PgConnection,
        parent_id: Option<Uuid>,
        name: &str,
        except: Option<Uuid>,
    ) -> Result<Option<Unit>, sqlx::Error> {
        sqlx::query(
            "SELECT pg_advisory_xact_lock(hashtext('cchc.unit-names:' || coalesce($1::text, '')))",
        )
        .bind(parent_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {UNIT_COLUMNS} FROM units
             WHERE parent_id IS NOT DISTINCT FROM $1 AND lower(name) = lower($2)
               AND status NOT IN ($3, $4) AND id IS DISTINCT FROM $5
             ORDER BY created_at LIMIT 1"
        )))
        .bind(parent_id)
        .bind(name)
        .bind(unit_status::MERGED)
        .bind(unit_status::CLOSED)
        .bind(except)
        .fetch_optional(&mut *tx)
        .await
    }

    pub async fn create_unit(
        &self,
        actor: &Actor,
        name: &str,
        kind: &str,
        parent_id: Option<Uuid>,
    ) -> Result<Unit, LifecycleError> {
        let mut tx = self.pool.begin().await?;
        if let Some(existing) = Self::sibling_named(&mut tx, parent_id, name, None).await? {
            return Err(LifecycleError::Taken(Box::new(existing)));
        }
        let unit: Unit = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "INSERT INTO units (id, name, kind, parent_id, created_by, updated_by) VALUES ($1, $2, $3, $4, $5, $5) RETURNING {UNIT_COLUMNS}"
        )))
        .bind(Uuid::now_v7())
        .bind(name)
        .bind(kind)
        .bind(parent_id)
        .bind(actor.to_string())
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO unit_names (unit_id, name) VALUES ($1, $2)")
            .bind(unit.id)
            .bind(&unit.name)
            .execute(&mut *tx)
            .await?;
        self.outbox
            .enqueue(
                &mut tx,
                actor,
                &UnitCreated {
                    unit_id: unit.id.to_string(),
                    name: unit.name.clone(),
                    kind: unit.kind.clone(),
                    parent_id: unit.parent_id.map(|p| p.to_string()).unwrap_or_default(),
                },
            )
            .await?;
        tx.commit().await?;
        self.outbox.notify();
        Ok(unit)
    }

    pub async fn unit(&self, id: Uuid) -> Result<Option<Unit>, sqlx::Error> {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {UNIT_COLUMNS} FROM units WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
    }

    /// A page of units in the order they were created.
    pub async fn units(&self, paging: &Paging) -> Result<(Vec<Unit>, String), sqlx::Error> {
        let (at, id) = paging.after_parts();
        let rows: Vec<Unit> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {UNIT_COLUMNS} FROM units
             WHERE $1::timestamptz IS NULL OR (created_at, id) > ($1, $2)
             ORDER BY created_at, id LIMIT $3"
        )))
        .bind(at)
        .bind(id)
        .bind(paging.fetch())
        .fetch_all(&self.pool)
        .await?;
        Ok(paging.page(rows, |u| Cursor {
            at: u.created_at,
            id: u.id,
        }))
    }

    /// Issues a key; the returned string is the only time the key exists in clear.
    pub async fn issue_key(
        &self,
        actor: &Actor,
        unit_id: Uuid,
        role: Role,
        expires_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<(KeyInfo, String), sqlx::Error> {
        let key = generate_key();
        let info: KeyInfo = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "INSERT INTO api_keys (id, unit_id, role, prefix, hash, expires_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {KEY_COLUMNS}"
        )))
        .bind(Uuid::now_v7())
        .bind(unit_id)
        .bind(role.as_str())
        .bind(prefix_of(&key))
        .bind(hash_key(&key))
        .bind(expires_at)
        .bind(actor.to_string())
        .fetch_one(&self.pool)
        .await?;
        Ok((info, key))
    }

    pub async fn keys_of(&self, unit_id: Uuid) -> Result<Vec<KeyInfo>, sqlx::Error> {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE unit_id = $1 ORDER BY created_at"
        )))
        .bind(unit_id)
        .fetch_all(&self.pool)
        .await
    }

    /// Revokes a key at once; `false` when there is no such key.
    pub async fn revoke_key(&self, id: Uuid) -> Result<bool, sqlx::Error> {
        Ok(sqlx::query(
            "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1",
        )
        .bind(id)
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1)
    }

    /// The key id and caller a key hash stands for, when the key is live and its unit
    /// still acts (not merged or closed). Records its use (at most once a minute, to spare
    /// writes on every request).
    pub async fn caller_for_key(&self, hash: &[u8]) -> Result<Option<(Uuid, Caller)>, sqlx::Error> {
        // One statement, so every keyed request costs the database one round trip.
        let row: Option<(Uuid, Uuid, String)> = sqlx::query_as(
            "WITH live AS (
                SELECT k.id, k.unit_id, k.role, k.last_used_at FROM api_keys k
                JOIN units u ON u.id = k.unit_id
                WHERE k.hash = $1 AND k.revoked_at IS NULL
                  AND (k.expires_at IS NULL OR k.expires_at > now())
                  AND u.status NOT IN ('merged', 'closed')
             ), used AS (
                UPDATE api_keys SET last_used_at = now()
                WHERE id IN (SELECT id FROM live
                             WHERE last_used_at IS NULL OR last_used_at < now() - interval '1 minute')
             )
             SELECT id, unit_id, role FROM live",
        )
        .bind(hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some((id, unit_id, role)) = row else {
            return Ok(None);
        };
        Ok(Role::parse(&role).map(|role| (id, Caller::new(unit_id, role, Actor::Key(id)))))
    }

    /// A key's role, when there is such a key.
    pub async fn key_role(&self, id: Uuid) -> Result<Option<Role>, sqlx::Error> {
        let role: Option<String> = sqlx::query_scalar("SELECT role FROM api_keys WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(role.as_deref().and_then(Role::parse))
    }

    pub async fn unit_names(&self, id: Uuid) -> Result<Vec<UnitName>, sqlx::Error> {
        sqlx::query_as("SELECT name, valid_from FROM unit_names WHERE unit_id = $1 ORDER BY valid_from NULLS FIRST, recorded_at")
            .bind(id)
            .fetch_all(&self.pool)
            .await
    }

    /// Locks an active unit for a lifecycle change.
    async fn active_unit(tx: &mut sqlx::PgConnection, id: Uuid) -> Result<Unit, LifecycleError> {
        let unit: Unit = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {UNIT_COLUMNS} FROM units WHERE id = $1 FOR UPDATE"
        )))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(LifecycleError::NotFound)?;
        if !unit.acts() {
            return Err(LifecycleError::Rule(
                "unit-ended",
                format!("the unit is {} and can no longer change", unit.status),
            ));
        }
        Ok(unit)
    }

    /// Locks an active unit that is to end (merge, close): never the Department itself,
    /// whose keys are the office's and the operators' way in.
    async fn ending_unit(tx: &mut sqlx::PgConnection, id: Uuid) -> Result<Unit, LifecycleError> {
        let unit = Self::active_unit(tx, id).await?;
        if unit.kind == unit_kind::DEPARTMENT {
            return Err(LifecycleError::Rule(
                "department-unit",
                "the Department's own unit cannot be merged or closed".into(),
            ));
        }
        Ok(unit)
    }

    /// Renames a unit from `from` on; earlier records keep the old name.
    pub async fn rename_unit(
        &self,
        actor: &Actor,
        id: Uuid,
        name: &str,
        from: chrono::NaiveDate,
    ) -> Result<Unit, LifecycleError> {
        let mut tx = self.pool.begin().await?;
        let old = Self::active_unit(&mut tx, id).await?;
        if old.name == name {
            return Err(LifecycleError::Rule(
                "same-name",
                "the unit already has this name".into(),
            ));
        }
        if let Some(existing) = Self::sibling_named(&mut tx, old.parent_id, name, Some(id)).await? {
            return Err(LifecycleError::Taken(Box::new(existing)));
        }
        let unit: Unit = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "UPDATE units SET name = $2, status = 'renamed', status_since = $3, updated_by = $4 WHERE id = $1 RETURNING {UNIT_COLUMNS}"
        )))
        .bind(id)
        .bind(name)
        .bind(from)
        .bind(actor.to_string())
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO unit_names (unit_id, name, valid_from) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(name)
            .bind(from)
            .execute(&mut *tx)
            .await?;
        let event = UnitRenamed {
            unit_id: id.to_string(),
            old_name: old.name,
            new_name: name.to_owned(),
            effective_date: from.to_string(),
        };
        self.outbox.enqueue(&mut tx, actor, &event).await?;
        tx.commit().await?;
        self.outbox.notify();
        Ok(unit)
    }

    /// Merges a unit into another from `from` on and revokes its keys and accounts: it no longer acts,
    /// but its records stay its own.
    pub async fn merge_unit(
        &self,
        actor: &Actor,
        id: Uuid,
        into: Uuid,
        from: chrono::NaiveDate,
    ) -> Result<Unit, LifecycleError> {
        if id == into {
            return Err(LifecycleError::Rule(
                "merge-into-itself",
                "a unit cannot be merged into itself".into(),
            ));
        }
        let mut tx = self.pool.begin().await?;
        Self::ending_unit(&mut tx, id).await?;
        Self::active_unit(&mut tx, into)
            .await
            .map_err(|e| match e {
                LifecycleError::NotFound => LifecycleError::Rule(
                    "no-merge-target",
                    "the unit to merge into does not exist".into(),
                ),
                other => other,
            })?;
        let unit = self
            .end_unit(&mut tx, actor, id, unit_status::MERGED, Some(into), from)
            .await?;
        self.outbox
            .enqueue(
                &mut tx,
                actor,
                &UnitMerged {
                    unit_id: id.to_string(),
                    into_unit_id: into.to_string(),
                    effective_date: from.to_string(),
                },
            )
            .await?;
        tx.commit().await?;
        self.outbox.notify();
        Ok(unit)
    }

    pub async fn close_unit(
        &self,
        actor: &Actor,
        id: Uuid,
        from: chrono::NaiveDate,
    ) -> Result<Unit, LifecycleError> {
        let mut tx = self.pool.begin().await?;
        Self::ending_unit(&mut tx, id).await?;
        let unit = self
            .end_unit(&mut tx, actor, id, unit_status::CLOSED, None, from)
            .await?;
        self.outbox
            .enqueue(
                &mut tx,
                actor,
                &UnitClosed {
                    unit_id: id.to_string(),
                    effective_date: from.to_string(),
                },
            )
            .await?;
        tx.commit().await?;
        self.outbox.notify();
        Ok(unit)
    }

    async fn end_unit(
        &self,
        tx: &mut sqlx::PgConnection,
        actor: &Actor,
        id: Uuid,
        status: &str,
        into: Option<Uuid>,
        from: chrono::NaiveDate,
    ) -> Result<Unit, LifecycleError> {
        let unit: Unit = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "UPDATE units SET status = $2, merged_into = $3, status_since = $4, updated_by = $5 WHERE id = $1 RETURNING {UNIT_COLUMNS}"
        )))
        .bind(id)
        .bind(status)
        .bind(into)
        .bind(from)
        .bind(actor.to_string())
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE unit_id = $1",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        crate::people::disable_with_unit(tx, id, actor).await?;
        Ok(unit)
    }
}

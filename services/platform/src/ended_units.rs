//! Units that no longer act: closed, or merged into another. The gateway refuses their
//! keys; each service that takes writes from units keeps its own list too, from the
//! gateway's `unit_closed` and `unit_merged` events, and refuses their writes, so a key
//! that slips past the gateway still changes nothing.
//!
//! A service creates the table in its own migrations:
//!
//! ```sql
//! CREATE TABLE ended_units (
//!     unit_id        UUID PRIMARY KEY,
//!     status         TEXT NOT NULL CHECK (status IN ('closed', 'merged')),
//!     merged_into    UUID,
//!     effective_date DATE NOT NULL,
//!     recorded_at    TIMESTAMPTZ NOT NULL DEFAULT now()
//! );
//! ```

use std::sync::Arc;

use cchc_proto::events::v1::{Envelope, UnitClosed, UnitMerged};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::service::Runtime;
use crate::vocabulary::unit_status;

use crate::consumer::{ConsumerSpec, HandleError, Handler};
use crate::events::{Event, payload};

/// The durable consumer of `service` reading the gateway's closures and merges, named
/// `<service>-gateway` like every durable (`<service>-<producer>`).
pub fn consumer(service: &str) -> ConsumerSpec {
    ConsumerSpec::new(format!("{service}-gateway"), "gateway")
        .subjects(&[UnitClosed::TYPE, UnitMerged::TYPE])
}

/// Records each closed or merged unit once; a unit ends once, so a later event about
/// the same unit changes nothing.
pub struct EndedUnits;

fn permanent(e: impl Into<anyhow::Error>) -> HandleError {
    HandleError::Permanent(e.into())
}

fn unit_id(s: &str) -> Result<Uuid, HandleError> {
    s.parse()
        .map_err(|e| permanent(anyhow::anyhow!("unit id {s:?}: {e}")))
}

fn date(s: &str) -> Result<chrono::NaiveDate, HandleError> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|e| permanent(anyhow::anyhow!("effective date {s:?}: {e}")))
}

impl Handler for EndedUnits {
    async fn handle(&self, tx: &mut PgConnection, env: &Envelope) -> Result<(), HandleError> {
        let (unit, status, into, effective) = if let Some(c) = payload::<UnitClosed>(env) {
            let c = c.map_err(permanent)?;
            (
                unit_id(&c.unit_id)?,
                unit_status::CLOSED,
                None,
                date(&c.effective_date)?,
            )
        } else if let Some(m) = payload::<UnitMerged>(env) {
            let m = m.map_err(permanent)?;
            let into = unit_id(&m.into_unit_id)?;
            (
                unit_id(&m.unit_id)?,
                unit_status::MERGED,
                Some(into),
                date(&m.effective_date)?,
            )
        } else {
            return Ok(());
        };
        sqlx::query(
            "INSERT INTO ended_units (unit_id, status, merged_into, effective_date)
             VALUES ($1, $2, $3, $4) ON CONFLICT (unit_id) DO NOTHING",
        )
        .bind(unit)
        .bind(status)
        .bind(into)
        .bind(effective)
        .execute(&mut *tx)
        .await?;
        Ok(())
    }
}

/// Why a unit may not write.
#[derive(Debug, thiserror::Error)]
pub enum Ended {
    #[error("unit {unit} was closed on {since} and can no longer make changes")]
    Closed {
        unit: Uuid,
        since: chrono::NaiveDate,
    },
    #[error("unit {unit} was merged into unit {into} on {since} and can no longer make changes")]
    Merged {
        unit: Uuid,
        into: Uuid,
        since: chrono::NaiveDate,
    },
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// `Ok` when `unit_id` may still act; a unit that was closed or merged is refused,
/// saying when and into which unit.
pub async fn ensure_active(db: impl sqlx::PgExecutor<'_>, unit_id: Uuid) -> Result<(), Ended> {
    let ended: Option<(String, Option<Uuid>, chrono::NaiveDate)> = sqlx::query_as(
        "SELECT status, merged_into, effective_date FROM ended_units WHERE unit_id = $1",
    )
    .bind(unit_id)
    .fetch_optional(db)
    .await?;
    match ended {
        None => Ok(()),
        Some((status, Some(into), since)) if status == unit_status::MERGED => Err(Ended::Merged {
            unit: unit_id,
            into,
            since,
        }),
        Some((_, _, since)) => Err(Ended::Closed {
            unit: unit_id,
            since,
        }),
    }
}

/// Starts `service`'s consumer of the gateway's closures and merges, run until shutdown.
pub fn consume(rt: &mut Runtime, service: &str) {
    let ended = crate::consumer::run(
        consumer(service),
        rt.js.clone(),
        rt.pool.clone(),
        Arc::new(EndedUnits),
        rt.shutdown.clone(),
    );
    rt.tasks.spawn(ended);
}

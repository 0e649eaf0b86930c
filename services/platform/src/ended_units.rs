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

use cchc_proto::events::v1::{Envelope, UnitClosed, UnitMerged};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

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
                "closed",
                None,
                date(&c.effective_date)?,
            )
        } else if let Some(m) = payload::<UnitMerged>(env) {
            let m = m.map_err(permanent)?;
            let into = unit_id(&m.into_unit_id)?;
            (
                unit_id(&m.unit_id)?,
                "merged",
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

/// `Ok` when `unit_id` may still act; a unit that was closed or merged is refused
/// (PermissionDenied), saying when and into which unit.
pub async fn ensure_active(pool: &PgPool, unit_id: Uuid) -> Result<(), tonic::Status> {
    let ended: Option<(String, Option<Uuid>, chrono::NaiveDate)> = sqlx::query_as(
        "SELECT status, merged_into, effective_date FROM ended_units WHERE unit_id = $1",
    )
    .bind(unit_id)
    .fetch_optional(pool)
    .await
    .map_err(crate::validation::internal)?;
    match ended {
        None => Ok(()),
        Some((status, into, since)) => Err(tonic::Status::permission_denied(match into {
            Some(into) if status == "merged" => format!(
                "unit {unit_id} was merged into unit {into} on {since} and can no longer make changes"
            ),
            _ => format!("unit {unit_id} was closed on {since} and can no longer make changes"),
        })),
    }
}

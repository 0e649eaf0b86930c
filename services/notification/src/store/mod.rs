//! PostgreSQL, and all of the service's SQL: recipients, subscriptions, templates,
//! messages and their attempts, and what the reminders need (plans, period
//! submissions, stale postings).
//!
//! [`Store`] runs what starts its own transaction (the API's reads and writes, the
//! reminders, the delivery worker). What must commit with an event's "processed"
//! record takes the consumer's transaction instead: [`recipients::upsert_unit`] and
//! its neighbours, [`reminders`]' event facts, [`fanout::fan_out`] and
//! [`accounts::queue_account_email`].
//!
//! The service publishes no events, so its store holds no outbox.

pub mod accounts;
pub mod deliveries;
pub mod fanout;
pub mod messages;
pub mod recipients;
pub mod reminders;
pub mod subscriptions;
pub mod templates;

use cchc_platform::Actor;
use cchc_platform::page::{Cursor, Paging};
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::{PgPool, Postgres};
use uuid::Uuid;

use crate::domain::{Channel, Kind, template};

/// The channel the delivery worker listens on; notified in the transaction, so it
/// hears only of committed messages.
const WAKE_CHANNEL: &str = "cchc_notification_deliveries";

/// What the store could not do. The gRPC layer answers each variant with its own
/// status; the consumer redelivers on [`Error::Db`] alone.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "unit {unit_id} already has recipient {unit_id}; change it with PUT /v1/recipients/{unit_id}"
    )]
    UnitTaken { unit_id: Uuid },
    #[error("no recipient {0}")]
    NoRecipient(Uuid),
    #[error("a unit's recipient stays a unit, of the same unit")]
    UnitFixed,
    /// A subscription named a recipient that does not exist.
    #[error("the subscription names a recipient that does not exist")]
    UnknownRecipient,
    /// Another save took the same template version at the same moment.
    #[error("another version was saved at the same moment; save again")]
    VersionTaken,
    /// Absent, or (in an inbox) another unit's: the two are not told apart.
    #[error("no notification {0}")]
    NoMessage(Uuid),
    /// Only dead-lettered messages are retried; this one is in the state named.
    #[error("only dead-lettered messages are retried; this one is {0}")]
    NotDead(String),
    /// The message's account link was dropped when it was given up: sent again, it
    /// would carry none. The person needs a new link.
    #[error("the account link of message {0} was dropped; the person must be sent a new link")]
    LinkDropped(Uuid),
    /// A kind has no Vietnamese template (the defaults are written at start).
    #[error("no Vietnamese template for {0}")]
    NoTemplate(&'static str),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Clone)]
pub struct Store {
    pool: PgPool,
}

impl Store {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// Writes the default templates (version 1, Vietnamese) and subscriptions when
    /// absent, attributed to the system.
    pub async fn ensure_defaults(&self) -> Result<()> {
        let system = Actor::System.to_string();
        let mut tx = self.pool.begin().await?;
        for (kind, subject, text) in template::defaults() {
            sqlx::query(
                "INSERT INTO templates (key, language, version, subject, text, created_by)
                 VALUES ($1, 'vi', 1, $2, $3, $4) ON CONFLICT DO NOTHING",
            )
            .bind(kind.as_str())
            .bind(subject)
            .bind(text)
            .bind(&system)
            .execute(&mut *tx)
            .await?;
        }
        let all: Vec<&str> = Channel::ALL.iter().map(|c| c.as_str()).collect();
        for (id, kind, group) in default_subscriptions() {
            sqlx::query(
                "INSERT INTO subscriptions (id, event_type, group_name, affected, channels, created_at, created_by)
                 VALUES ($1, $2, $3, $4, $5, '2020-01-01T00:00:00Z', $6) ON CONFLICT DO NOTHING",
            )
            .bind(id)
            .bind(kind.as_str())
            .bind(group)
            .bind(group.is_none())
            .bind(&all)
            .bind(&system)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// The subscriptions every database starts with: each notice goes to the recipients it
/// concerns on every channel they have a contact for, and escalations to the group
/// "leadership". Their ids are fixed so that a restart adds nothing.
pub fn default_subscriptions() -> Vec<(Uuid, Kind, Option<&'static str>)> {
    vec![
        (Uuid::from_u128(1), Kind::ProcedureChanged, None),
        (Uuid::from_u128(2), Kind::PostingStale, None),
        (Uuid::from_u128(3), Kind::ReportDue, None),
        (Uuid::from_u128(4), Kind::ReportOverdue, Some("leadership")),
        (Uuid::from_u128(5), Kind::ReportGenerated, None),
        (Uuid::from_u128(6), Kind::ReportReopened, None),
    ]
}

/// A row a keyset list is ordered by: its time, then its id.
trait Keyed {
    fn key(&self) -> Cursor;
}

/// A query whose rows are `R`.
type Query<'q, R> = sqlx::query::QueryAs<'q, Postgres, R, PgArguments>;

/// Runs a keyset list whose last three parameters are the cursor's time and id and
/// the rows to fetch ([`Paging::fetch`]), and cuts the answer to the page, with the
/// next page's token.
async fn fetch_page<R, T>(
    pool: &PgPool,
    q: Query<'_, R>,
    paging: &Paging,
) -> Result<(Vec<T>, String)>
where
    R: for<'r> sqlx::FromRow<'r, PgRow> + Keyed + Send + Unpin,
    T: From<R>,
{
    let (after_at, after_id) = paging.after_parts();
    let rows = q
        .bind(after_at)
        .bind(after_id)
        .bind(paging.fetch())
        .fetch_all(pool)
        .await?;
    let (rows, next) = paging.page(rows, R::key);
    Ok((rows.into_iter().map(Into::into).collect(), next))
}

/// Wakes the delivery worker once the transaction commits.
async fn wake(tx: &mut sqlx::PgConnection) -> sqlx::Result<()> {
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(WAKE_CHANNEL)
        .execute(tx)
        .await?;
    Ok(())
}

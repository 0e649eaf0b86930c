//! What every kind of submission (one-stop results, satisfaction surveys, budget
//! lines) stores alike: one row per submission of a unit's figures for a period, the
//! newest the current one, the earlier ones kept as history. A kind says what its
//! figures are ([`Submission`]); how a submission is numbered, found again and listed
//! is written here once.
//!
//! Each revision is attributed as of its submission and never changed: `created_at`
//! and `created_by` are the slot's first revision's (copied onto every later one),
//! `updated_by` is whoever submitted the revision itself, at its `submitted_at`. The
//! current revision thus names who first submitted the slot and who replaced it last.

use cchc_platform::Actor;
use cchc_platform::events::Event;
use cchc_platform::page::Cursor;
use cchc_platform::time::stamp;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::QueryAs;
use sqlx::{PgConnection, Postgres};
use uuid::Uuid;

use super::{Error, Page, Store, SubmissionFilter};

/// The columns every submission row has, read as its [`Revision`].
const COMMON: &str = "t.id, t.unit_id, t.period, t.revision, t.submitted_at, t.created_at, \
                      t.created_by, t.updated_by";

/// The columns every submission table has and a submission sets itself, in the order
/// [`Store::submit`] binds them, each with the expression of its bound value.
const COMMON_INSERTED: &[(&str, &str)] = &[
    ("id", "$"),
    ("unit_id", "$"),
    ("period", "$"),
    ("revision", "$"),
    ("idempotency_key", "$"),
    // NULL for a slot's first revision, created now, as it is submitted.
    ("created_at", "coalesce($, now())"),
    ("created_by", "$"),
    ("updated_by", "$"),
];

/// A query inserting a submission, its row read back.
pub type Insert<'q, F> = QueryAs<'q, Postgres, Stored<F>, PgArguments>;

/// A kind of submission: figures a unit gives for a period, in its own table.
pub trait Submission: Sync {
    /// The table, with the columns `id`, `unit_id`, `period`, `revision`,
    /// `idempotency_key`, `submitted_at`, `created_at`, `created_by` and `updated_by`
    /// besides the kind's own.
    const TABLE: &'static str;
    /// The kind's own columns, in the order [`Submission::bind`] binds them.
    const FIELDS: &'static [&'static str];

    /// The kind's own columns as stored.
    type Fields: for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin;
    /// What the API answers with.
    type Answer: From<Stored<Self::Fields>>;
    /// The event announcing a new revision.
    type Event: Event + Send + Sync;

    /// The period these figures are for, as written in the table.
    fn period(&self) -> String;
    /// Whether `stored` holds these very figures (their period aside).
    fn holds(&self, stored: &Self::Fields) -> bool;
    /// Binds the values of [`Submission::FIELDS`], in order.
    fn bind<'q>(&'q self, q: Insert<'q, Self::Fields>) -> Insert<'q, Self::Fields>;
    /// The event of `row`, replacing `supersedes` when there was a current one.
    fn event(row: &Stored<Self::Fields>, supersedes: Option<Uuid>) -> Self::Event;
}

/// A stored submission: its revision and the kind's fields.
pub struct Stored<F> {
    pub rev: Revision,
    pub fields: F,
}

impl<'r, F: sqlx::FromRow<'r, PgRow>> sqlx::FromRow<'r, PgRow> for Stored<F> {
    fn from_row(row: &'r PgRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            rev: Revision::from_row(row)?,
            fields: F::from_row(row)?,
        })
    }
}

/// What every stored submission has: which unit's figures for which period, and where
/// they stand among that slot's submissions.
#[derive(Debug, sqlx::FromRow)]
pub struct Revision {
    pub id: Uuid,
    pub unit_id: Uuid,
    pub period: String,
    /// 1 for a slot's first submission, one more for each that replaced it.
    #[sqlx(rename = "revision")]
    pub number: i32,
    pub submitted_at: chrono::DateTime<chrono::Utc>,
    /// When the slot's first revision was submitted, and by whom (`None`: unknown).
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub created_by: Option<String>,
    /// Who submitted this revision (`None`: unknown).
    pub updated_by: Option<String>,
    /// No later revision of the slot exists.
    pub current: bool,
}

impl Revision {
    /// The attribution an answer shows: when and by whom the slot was first submitted
    /// and this revision submitted, actors empty when unknown.
    pub fn attribution(&self) -> Attribution {
        Attribution {
            created_at: stamp(&self.created_at),
            created_by: self.created_by.clone().unwrap_or_default(),
            updated_at: stamp(&self.submitted_at),
            updated_by: self.updated_by.clone().unwrap_or_default(),
        }
    }
}

/// A revision's attribution, as the API writes it.
pub struct Attribution {
    pub created_at: String,
    pub created_by: String,
    pub updated_at: String,
    pub updated_by: String,
}

/// The condition that row `t` of `table` is its slot's current revision: no later one
/// of the same unit and period exists.
fn current(table: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM {table} n
                     WHERE n.unit_id = t.unit_id AND n.period = t.period AND n.revision > t.revision)"
    )
}

/// The columns of `S`'s table `t` that make its row.
fn columns<S: Submission>() -> String {
    let fields: String = S::FIELDS.iter().map(|f| format!(", t.{f}")).collect();
    format!("{COMMON}{fields}, {} AS current", current(S::TABLE))
}

/// Where a new submission stands among the earlier ones of its slot.
enum Prior<R> {
    /// The idempotency key was seen: the request is a retry of this submission.
    Retry(R),
    /// The current submission of the slot, if any.
    Current(Option<R>),
}

/// Locks the slot (`S`'s figures of `unit_id` for `period`) for this transaction, so
/// resubmissions are numbered one by one, then finds a retry by key or the current
/// submission.
async fn prior<S: Submission>(
    tx: &mut PgConnection,
    unit_id: Uuid,
    period: &str,
    key: Option<&str>,
) -> Result<Prior<Stored<S::Fields>>, Error> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(format!("{}/{unit_id}/{period}", S::TABLE))
        .execute(&mut *tx)
        .await?;
    let columns = columns::<S>();
    if let Some(key) = key {
        let seen: Option<Stored<S::Fields>> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {columns} FROM {} t WHERE unit_id = $1 AND idempotency_key = $2",
            S::TABLE
        )))
        .bind(unit_id)
        .bind(key)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(r) = seen {
            return Ok(Prior::Retry(r));
        }
    }
    let current: Option<Stored<S::Fields>> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {columns} FROM {} t WHERE unit_id = $1 AND period = $2 ORDER BY revision DESC LIMIT 1",
        S::TABLE
    )))
    .bind(unit_id)
    .bind(period)
    .fetch_optional(&mut *tx)
    .await?;
    Ok(Prior::Current(current))
}

impl Store {
    /// Makes `s`, submitted by `actor`, the current submission of its slot (unit,
    /// period), keeping the previous one as history, with its event. Figures equal to
    /// the current ones, or a retry with a known key, change nothing and return what
    /// is stored (attributed as it was); a known key with other figures is `KeyReused`.
    pub async fn submit<S: Submission>(
        &self,
        actor: &Actor,
        unit_id: Uuid,
        s: &S,
        idempotency_key: Option<&str>,
    ) -> Result<S::Answer, Error> {
        let period = s.period();
        let same = |row: &Stored<S::Fields>| row.rev.period == period && s.holds(&row.fields);
        let mut tx = self.pool.begin().await?;
        let current = match prior::<S>(&mut tx, unit_id, &period, idempotency_key).await? {
            Prior::Retry(first) if same(&first) => return Ok(first.into()),
            Prior::Retry(_) => return Err(Error::KeyReused),
            Prior::Current(Some(c)) if same(&c) => return Ok(c.into()),
            Prior::Current(c) => c.map(|c| c.rev),
        };
        let writer = actor.to_string();
        // A later revision carries on the slot's creation, unknown (NULL) if its first
        // revision's submitter is.
        let (created_at, created_by) = match &current {
            Some(c) => (Some(c.created_at), c.created_by.clone()),
            None => (None, Some(writer.clone())),
        };
        let (names, values): (Vec<&str>, Vec<String>) = COMMON_INSERTED
            .iter()
            .copied()
            .chain(S::FIELDS.iter().map(|f| (*f, "$")))
            .enumerate()
            .map(|(i, (name, value))| (name, value.replace('$', &format!("${}", i + 1))))
            .unzip();
        let insert = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "INSERT INTO {} AS t ({}) VALUES ({}) RETURNING {}",
            S::TABLE,
            names.join(", "),
            values.join(", "),
            columns::<S>()
        )))
        .bind(Uuid::now_v7())
        .bind(unit_id)
        .bind(&period)
        .bind(current.as_ref().map_or(1, |c| c.number + 1))
        .bind(idempotency_key)
        .bind(created_at)
        .bind(created_by)
        .bind(&writer);
        let row = s.bind(insert).fetch_one(&mut *tx).await?;
        self.outbox
            .enqueue(&mut tx, actor, &S::event(&row, current.map(|c| c.id)))
            .await?;
        tx.commit().await?;
        self.outbox.notify();
        Ok(row.into())
    }

    /// `S`'s submissions matching `f`, newest first, a page after the cursor.
    pub async fn submissions<S: Submission>(
        &self,
        f: &SubmissionFilter,
    ) -> Result<Page<S::Answer>, Error> {
        let (after_at, after_id) = f.paging.after_parts();
        let rows: Vec<Stored<S::Fields>> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {} FROM {} t
             WHERE ($1::uuid IS NULL OR t.unit_id = $1)
               AND ($2::text IS NULL OR t.period = $2)
               AND ($3 OR {})
               AND ($4::timestamptz IS NULL OR (t.submitted_at, t.id) < ($4, $5))
             ORDER BY t.submitted_at DESC, t.id DESC LIMIT $6",
            columns::<S>(),
            S::TABLE,
            current(S::TABLE)
        )))
        .bind(f.unit_id)
        .bind(&f.period)
        .bind(f.history)
        .bind(after_at)
        .bind(after_id)
        .bind(f.paging.fetch())
        .fetch_all(&self.pool)
        .await?;
        Ok(Page::of(&f.paging, rows, |r| Cursor {
            at: r.rev.submitted_at,
            id: r.rev.id,
        }))
    }
}

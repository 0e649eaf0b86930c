//! Activities: recorded one by one or in batches, corrected by superseding records.
//!
//! Each row is attributed as of its writing and never changed: `created_at` and
//! `created_by` are the original record's (copied onto each correction of its chain),
//! `updated_by` is whoever wrote the row itself, at its `recorded_at`. So the current
//! record of a chain, which is what a list shows, names the creator and the latest
//! corrector; a superseded record in the history keeps what it said when it was
//! current, and its `superseded_by` leads to who replaced it.

use std::collections::HashMap;

use cchc_platform::Actor;
use cchc_platform::events::Event;
use cchc_platform::outbox::Outbox;
use cchc_platform::outbox::{self, INSERT as OUTBOX};
use cchc_platform::page::{Cursor, Paging};
use cchc_platform::time::stamp;
use cchc_proto::activity::v1::Activity;
use cchc_proto::events::v1::ActivityRecorded;
use sqlx::{PgConnection, PgPool};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::{Error, Page, Store, violates};
use crate::domain::NewActivity;

#[derive(Clone, sqlx::FromRow)]
struct Row {
    id: Uuid,
    unit_id: Uuid,
    kind: String,
    date: chrono::NaiveDate,
    title: String,
    description: String,
    channel: String,
    audience: String,
    head_count: i64,
    evidence_links: Vec<String>,
    procedure_codes: Vec<String>,
    recorded_at: chrono::DateTime<chrono::Utc>,
    supersedes: Option<Uuid>,
    superseded_by: Option<Uuid>,
    correction_reason: String,
    created_at: chrono::DateTime<chrono::Utc>,
    created_by: Option<String>,
    updated_by: Option<String>,
    /// The idempotency key, where a query asks for it.
    #[sqlx(default)]
    key: Option<String>,
}

impl Row {
    /// The record `a` makes when `writer` writes it at `now`, as a correction or not:
    /// an original record is created by its writer, then; a correction carries on its
    /// chain's creation, unknown (NULL) if the original's creator is.
    fn new(
        unit_id: Uuid,
        a: &NewActivity,
        now: chrono::DateTime<chrono::Utc>,
        writer: &str,
        correction: Option<&Correction<'_>>,
    ) -> Self {
        let (created_at, created_by) = match correction {
            Some(c) => (c.created_at, c.created_by.clone()),
            None => (now, Some(writer.to_owned())),
        };
        Row {
            id: Uuid::now_v7(),
            unit_id,
            kind: a.kind().to_owned(),
            date: a.date(),
            title: a.title().to_owned(),
            description: a.description().to_owned(),
            channel: a.channel().to_owned(),
            audience: a.audience().to_owned(),
            head_count: a.head_count(),
            evidence_links: a.evidence_links().to_vec(),
            procedure_codes: a.procedure_codes().to_vec(),
            recorded_at: now,
            supersedes: correction.map(|c| c.original),
            superseded_by: None,
            correction_reason: correction.map_or_else(String::new, |c| c.reason.to_owned()),
            created_at,
            created_by,
            updated_by: Some(writer.to_owned()),
            key: None,
        }
    }

    /// Whether this stored record is what `a` (correcting `supersedes`) asks for.
    fn is(&self, a: &NewActivity, supersedes: Option<Uuid>) -> bool {
        self.kind == a.kind()
            && self.date == a.date()
            && self.title == a.title()
            && self.description == a.description()
            && self.channel == a.channel()
            && self.audience == a.audience()
            && self.head_count == a.head_count()
            && self.evidence_links == a.evidence_links()
            && self.procedure_codes == a.procedure_codes()
            && self.supersedes == supersedes
    }

    fn event(&self) -> ActivityRecorded {
        ActivityRecorded {
            activity_id: self.id.to_string(),
            unit_id: self.unit_id.to_string(),
            kind: self.kind.clone(),
            date: self.date.to_string(),
            title: self.title.clone(),
            head_count: self.head_count,
            supersedes: self.supersedes.map(|s| s.to_string()).unwrap_or_default(),
            correction_reason: self.correction_reason.clone(),
            procedure_codes: self.procedure_codes.clone(),
            recorded_at: stamp(&self.recorded_at),
        }
    }
}

impl From<Row> for Activity {
    fn from(r: Row) -> Self {
        Activity {
            id: r.id.to_string(),
            unit_id: r.unit_id.to_string(),
            kind: r.kind,
            date: r.date.to_string(),
            title: r.title,
            description: r.description,
            channel: r.channel,
            audience: r.audience,
            head_count: r.head_count,
            evidence_links: r.evidence_links,
            procedure_codes: r.procedure_codes,
            recorded_at: stamp(&r.recorded_at),
            supersedes: r.supersedes.map(|s| s.to_string()).unwrap_or_default(),
            superseded_by: r.superseded_by.map(|s| s.to_string()).unwrap_or_default(),
            correction_reason: r.correction_reason,
            created_at: stamp(&r.created_at),
            created_by: r.created_by.unwrap_or_default(),
            updated_at: stamp(&r.recorded_at),
            updated_by: r.updated_by.unwrap_or_default(),
        }
    }
}

/// Columns of `activities a`, with the correction that superseded it (if any).
const COLUMNS: &str =
    "a.id, a.unit_id, a.kind, a.date, a.title, a.description, a.channel, a.audience, a.head_count,
    a.evidence_links, a.procedure_codes, a.recorded_at, a.supersedes, a.correction_reason,
    a.created_at, a.created_by, a.updated_by,
    (SELECT s.id FROM activities s WHERE s.supersedes = a.id) AS superseded_by";

/// Filters for listing; `unit_id` is already restricted to the caller's own for units.
pub struct Filter {
    pub unit_id: Option<Uuid>,
    pub kind: Option<String>,
    pub from: Option<chrono::NaiveDate>,
    pub to: Option<chrono::NaiveDate>,
    /// Superseded records too.
    pub history: bool,
    pub paging: Paging,
}

/// A correction to make: which record it supersedes and why, and the creation of
/// that record's chain, which the correction carries on.
struct Correction<'a> {
    original: Uuid,
    reason: &'a str,
    created_at: chrono::DateTime<chrono::Utc>,
    created_by: Option<String>,
}

impl Store {
    /// Records an activity of `unit_id`, made by `actor`, with its event, unless the
    /// unit was closed or merged. With an idempotency key, a repeated submission
    /// returns the first record instead of adding another.
    pub async fn record(
        &self,
        actor: &Actor,
        unit_id: Uuid,
        a: &NewActivity,
        idempotency_key: Option<&str>,
    ) -> Result<Activity, Error> {
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            actor: *actor,
            unit_id,
            activity: a.clone(),
            key: idempotency_key.map(str::to_owned),
            trace: outbox::trace(),
            reply,
        };
        self.writes
            .send(pending)
            .await
            .map_err(|_| Error::Db(sqlx::Error::PoolClosed))?;
        let row = answer
            .await
            .map_err(|_| Error::Db(sqlx::Error::PoolClosed))??;
        Ok(row.into())
    }

    /// Records several activities made by `actor` in one statement, each with its
    /// event. An item whose key was already used for something else gets
    /// `Err(KeyReused)` and the others are still recorded.
    pub async fn record_many(
        &self,
        actor: &Actor,
        unit_id: Uuid,
        items: &[(NewActivity, Option<String>)],
    ) -> Result<Vec<Result<Activity, Error>>, Error> {
        let trace = outbox::trace();
        let writes: Vec<Write<'_>> = items
            .iter()
            .map(|(a, key)| Write {
                actor,
                unit_id,
                activity: a,
                key: key.as_deref(),
                correction: None,
                trace: &trace,
            })
            .collect();
        let stored = write_all(&mut *self.pool.acquire().await?, &self.outbox, &writes).await?;
        self.outbox.notify();
        Ok(stored.into_iter().map(|r| r.map(Activity::from)).collect())
    }

    /// Records `a`, made by `actor`, as the correction of the caller's activity
    /// `original`. Another unit's activity is `NotFound`, as if absent; an already
    /// corrected one is `AlreadyCorrected`.
    pub async fn correct(
        &self,
        actor: &Actor,
        unit_id: Uuid,
        original: Uuid,
        a: &NewActivity,
        reason: &str,
        idempotency_key: Option<&str>,
    ) -> Result<Activity, Error> {
        let mut tx = self.pool.begin().await?;
        // A retry of a correction that landed is answered with it, before the
        // original is found to be superseded (by that very correction).
        if let Some(key) = idempotency_key
            && let Some(first) = by_key(&mut *tx, unit_id, key).await?
        {
            return if first.is(a, Some(original)) {
                Ok(first.into())
            } else {
                Err(Error::KeyReused)
            };
        }
        let found: Option<(chrono::DateTime<chrono::Utc>, Option<String>)> = sqlx::query_as(
            "SELECT created_at, created_by FROM activities WHERE id = $1 AND unit_id = $2 FOR UPDATE",
        )
        .bind(original)
        .bind(unit_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((created_at, created_by)) = found else {
            return Err(Error::NotFound);
        };
        let by: Option<(Uuid,)> = sqlx::query_as("SELECT id FROM activities WHERE supersedes = $1")
            .bind(original)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some((by,)) = by {
            return Err(Error::AlreadyCorrected {
                original,
                by: Some(by),
            });
        }
        let correction = Correction {
            original,
            reason,
            created_at,
            created_by,
        };
        let trace = outbox::trace();
        let write = Write {
            actor,
            unit_id,
            activity: a,
            key: idempotency_key,
            correction: Some(&correction),
            trace: &trace,
        };
        let recorded = match write_all(&mut tx, &self.outbox, &[write]).await {
            Ok(mut one) => one.pop().expect("one write, one answer")?,
            // Two corrections of one record raced; the other one won.
            Err(Error::Db(e)) if violates(&e, "activities_superseded_once") => {
                return Err(Error::AlreadyCorrected { original, by: None });
            }
            Err(e) => return Err(e),
        };
        tx.commit().await?;
        self.outbox.notify();
        Ok(recorded.into())
    }

    /// The activity `id`, if it is of `unit_id` (any unit's when `None`).
    pub async fn get(&self, id: Uuid, unit_id: Option<Uuid>) -> Result<Option<Activity>, Error> {
        let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM activities a WHERE a.id = $1 AND ($2::uuid IS NULL OR a.unit_id = $2)"
        )))
        .bind(id)
        .bind(unit_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(Activity::from))
    }

    /// Records matching `f`, newest first, a page after the cursor: current ones only
    /// unless the history is asked for.
    pub async fn list(&self, f: &Filter) -> Result<Page<Activity>, Error> {
        let (after_at, after_id) = f.paging.after_parts();
        let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM activities a
             WHERE ($1::uuid IS NULL OR a.unit_id = $1)
               AND ($2::text IS NULL OR a.kind = $2)
               AND ($3::date IS NULL OR a.date >= $3)
               AND ($4::date IS NULL OR a.date <= $4)
               AND ($5::timestamptz IS NULL OR (a.recorded_at, a.id) < ($5, $6))
               AND ($8 OR NOT EXISTS (SELECT 1 FROM activities s WHERE s.supersedes = a.id))
             ORDER BY a.recorded_at DESC, a.id DESC LIMIT $7"
        )))
        .bind(f.unit_id)
        .bind(&f.kind)
        .bind(f.from)
        .bind(f.to)
        .bind(after_at)
        .bind(after_id)
        .bind(f.paging.fetch())
        .bind(f.history)
        .fetch_all(&self.pool)
        .await?;
        Ok(Page::of(&f.paging, rows, |r| Cursor {
            at: r.recorded_at,
            id: r.id,
        }))
    }
}

/// A single record waiting for the writer ([`combine`]).
pub(super) struct Pending {
    actor: Actor,
    unit_id: Uuid,
    activity: NewActivity,
    key: Option<String>,
    trace: serde_json::Value,
    reply: oneshot::Sender<Result<Row, Error>>,
}

impl Pending {
    fn write(&self) -> Write<'_> {
        Write {
            actor: &self.actor,
            unit_id: self.unit_id,
            activity: &self.activity,
            key: self.key.as_deref(),
            correction: None,
            trace: &self.trace,
        }
    }
}

/// Most records written at once.
const GROUP: usize = 256;

/// Writes the single records as they come, together: whatever waits while one
/// statement runs goes in the next (as PostgreSQL's own group commit does). A lone
/// record is written at once; under load, one statement and one commit serve many
/// submissions instead of a round trip each. Runs until the store is dropped.
pub(super) async fn combine(pool: PgPool, outbox: Outbox, mut queue: mpsc::Receiver<Pending>) {
    let mut group = Vec::with_capacity(GROUP);
    while queue.recv_many(&mut group, GROUP).await > 0 {
        let writes: Vec<Write<'_>> = group.iter().map(Pending::write).collect();
        let written = match pool.acquire().await {
            Ok(mut conn) => write_all(&mut conn, &outbox, &writes).await,
            Err(e) => Err(e.into()),
        };
        drop(writes);
        match written {
            Ok(results) => {
                for (p, r) in group.drain(..).zip(results) {
                    let _ = p.reply.send(r);
                }
            }
            // One record may have failed the statement for all: each alone, so that
            // only its own writer hears of it.
            Err(_) if group.len() > 1 => {
                for p in group.drain(..) {
                    let r = match pool.acquire().await {
                        Ok(mut conn) => write_all(&mut conn, &outbox, &[p.write()]).await,
                        Err(e) => Err(e.into()),
                    };
                    let _ = p
                        .reply
                        .send(r.and_then(|mut one| one.pop().expect("one write, one answer")));
                }
            }
            Err(e) => {
                if let Some(p) = group.pop() {
                    let _ = p.reply.send(Err(e));
                }
            }
        }
        outbox.notify();
    }
}

/// One activity to record, as its writer asked.
struct Write<'a> {
    actor: &'a Actor,
    unit_id: Uuid,
    activity: &'a NewActivity,
    key: Option<&'a str>,
    /// The record it corrects, when it is a correction.
    correction: Option<&'a Correction<'a>>,
    /// The trace context of the request, stored with the event.
    trace: &'a serde_json::Value,
}

/// Records `writes` (of any units and writers) with their events in one statement:
/// set-based, and atomic as a whole. Each gets its stored record, or why not: its
/// unit ended (`UnitEnded`), or its key stands for something else (`KeyReused`). A
/// write repeating an earlier one's unit and key is the same request again or a reused
/// key, told apart once the first is stored. `Err` when the statement failed: nothing
/// was written.
async fn write_all(
    db: &mut PgConnection,
    outbox: &Outbox,
    writes: &[Write<'_>],
) -> Result<Vec<Result<Row, Error>>, Error> {
    let now = now();
    let mut first_of_key: HashMap<(Uuid, &str), usize> = HashMap::new();
    let mut repeats = Vec::new();
    let mut written = Vec::with_capacity(writes.len());
    let mut rows = Vec::with_capacity(writes.len());
    let mut events = Vec::with_capacity(writes.len());
    for (i, w) in writes.iter().enumerate() {
        if let Some(key) = w.key {
            if let Some(&first) = first_of_key.get(&(w.unit_id, key)) {
                repeats.push((i, first));
                continue;
            }
            first_of_key.insert((w.unit_id, key), i);
        }
        let writer = w.actor.to_string();
        let row = Row::new(w.unit_id, w.activity, now, &writer, w.correction);
        events.push(outbox.prepare(w.actor, &row.event()));
        rows.push(serde_json::json!({
            "id": row.id,
            "unit_id": row.unit_id,
            "kind": row.kind,
            "date": row.date,
            "title": row.title,
            "description": row.description,
            "channel": row.channel,
            "audience": row.audience,
            "head_count": row.head_count,
            "evidence_links": row.evidence_links,
            "procedure_codes": row.procedure_codes,
            "idempotency_key": w.key,
            "supersedes": row.supersedes,
            "correction_reason": row.correction_reason,
            "created_at": row.created_at,
            "created_by": row.created_by,
            "writer": writer,
        }));
        written.push((i, row.id));
    }
    // A row is skipped with its event when its unit has ended, or when its key is
    // already used (perhaps by a request racing this one, which committed meanwhile).
    let inserted: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "WITH item AS (
             SELECT * FROM jsonb_to_recordset($1) AS i(id uuid, unit_id uuid, kind text,
                 date date, title text, description text, channel text, audience text,
                 head_count bigint, evidence_links text[], procedure_codes text[],
                 idempotency_key text, supersedes uuid, correction_reason text,
                 created_at timestamptz, created_by text, writer text)
         ), a AS (
             INSERT INTO activities AS a (id, unit_id, kind, date, title, description,
                 channel, audience, head_count, evidence_links, procedure_codes,
                 idempotency_key, supersedes, correction_reason, recorded_at, created_at,
                 created_by, updated_by)
             SELECT i.id, i.unit_id, i.kind, i.date, i.title, i.description, i.channel,
                 i.audience, i.head_count, i.evidence_links, i.procedure_codes,
                 i.idempotency_key, i.supersedes, i.correction_reason, $2, i.created_at,
                 i.created_by, i.writer
             FROM item i
             WHERE NOT EXISTS (SELECT 1 FROM ended_units e WHERE e.unit_id = i.unit_id)
             ON CONFLICT (unit_id, idempotency_key) DO NOTHING RETURNING {COLUMNS}
         ), event AS (
             INSERT INTO {OUTBOX}
             SELECT e.id, $3, e.body, e.trace
             FROM unnest($4::uuid[], $5::uuid[], $6::bytea[], $7::jsonb[]) WITH ORDINALITY
                 AS e(activity_id, id, body, trace, n)
             JOIN a ON a.id = e.activity_id
             ORDER BY e.n
         )
         SELECT * FROM a"
    )))
    .bind(serde_json::Value::Array(rows))
    .bind(now)
    .bind(ActivityRecorded::TYPE)
    .bind(written.iter().map(|(_, id)| *id).collect::<Vec<_>>())
    .bind(events.iter().map(|e| e.id).collect::<Vec<_>>())
    .bind(events.into_iter().map(|e| e.body).collect::<Vec<_>>())
    .bind(
        written
            .iter()
            .map(|(i, _)| writes[*i].trace)
            .collect::<Vec<_>>(),
    )
    .fetch_all(&mut *db)
    .await?;
    let mut by_id: HashMap<Uuid, Row> = inserted.into_iter().map(|r| (r.id, r)).collect();
    // The skipped ones (rare, but a whole batch when it is retried): why, asked once
    // per unit and once for all their keys.
    let skipped: Vec<&Write<'_>> = written
        .iter()
        .filter(|(_, id)| !by_id.contains_key(id))
        .map(|(i, _)| &writes[*i])
        .collect();
    let mut ended: HashMap<Uuid, String> = HashMap::new();
    let mut firsts: HashMap<(Uuid, String), Row> = HashMap::new();
    if !skipped.is_empty() {
        for w in &skipped {
            if !ended.contains_key(&w.unit_id)
                && let Err(e) = super::ensure_active(&mut *db, w.unit_id).await
            {
                match e {
                    Error::UnitEnded(why) => ended.insert(w.unit_id, why),
                    e => return Err(e),
                };
            }
        }
        let keyed: Vec<(Uuid, &str)> = skipped
            .iter()
            .filter_map(|w| Some((w.unit_id, w.key?)))
            .collect();
        let found: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS}, a.idempotency_key AS key FROM activities a
             JOIN unnest($1::uuid[], $2::text[]) AS k(unit_id, key)
               ON a.unit_id = k.unit_id AND a.idempotency_key = k.key"
        )))
        .bind(keyed.iter().map(|k| k.0).collect::<Vec<_>>())
        .bind(keyed.iter().map(|k| k.1).collect::<Vec<_>>())
        .fetch_all(&mut *db)
        .await?;
        firsts = found
            .into_iter()
            .filter_map(|r| Some(((r.unit_id, r.key.clone()?), r)))
            .collect();
    }
    let mut stored: Vec<Option<Result<Row, Error>>> = (0..writes.len()).map(|_| None).collect();
    for (i, id) in &written {
        let w = &writes[*i];
        stored[*i] = Some(if let Some(row) = by_id.remove(id) {
            Ok(row)
        } else if let Some(why) = ended.get(&w.unit_id) {
            Err(Error::UnitEnded(why.clone()))
        } else {
            match w
                .key
                .and_then(|k| firsts.remove(&(w.unit_id, k.to_owned())))
            {
                Some(first) if first.is(w.activity, w.correction.map(|c| c.original)) => Ok(first),
                _ => Err(Error::KeyReused),
            }
        });
    }
    for (i, first) in repeats {
        stored[i] = Some(match &stored[first] {
            Some(Ok(row))
                if row.is(writes[i].activity, writes[i].correction.map(|c| c.original)) =>
            {
                Ok(row.clone())
            }
            Some(Err(Error::UnitEnded(why))) => Err(Error::UnitEnded(why.clone())),
            _ => Err(Error::KeyReused),
        });
    }
    Ok(stored
        .into_iter()
        .map(|r| r.expect("every write is answered"))
        .collect())
}

/// Now, to the microsecond PostgreSQL keeps, so that the event written beside a row
/// says the row's own time. The service's clock, like the time in the row's UUIDv7.
fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::SubsecRound;
    chrono::Utc::now().trunc_subsecs(6)
}

async fn by_key(
    db: impl sqlx::PgExecutor<'_>,
    unit_id: Uuid,
    key: &str,
) -> Result<Option<Row>, Error> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM activities a WHERE a.unit_id = $1 AND a.idempotency_key = $2"
    )))
    .bind(unit_id)
    .bind(key)
    .fetch_optional(db)
    .await?)
}

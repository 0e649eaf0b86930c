//! The delivery worker's records: claiming due messages for an attempt, what a claimed
//! message says and where it goes, and each attempt's outcome.

use std::collections::HashMap;
use std::time::Duration;

use sqlx::postgres::PgListener;
use uuid::Uuid;

use super::{Result, Store, WAKE_CHANNEL};
use crate::domain::delivery::Outcome;

/// A message due for an attempt, before it is taken.
#[derive(Debug, sqlx::FromRow)]
pub struct Due {
    pub id: Uuid,
    pub endpoint: String,
    status: String,
    tries_left: i32,
}

/// A message taken for one attempt.
#[derive(Debug)]
pub struct Claimed {
    pub id: Uuid,
    pub attempts: i32,
    pub endpoint: String,
    /// What the claim changed, so that an attempt never begun can be given back.
    status_before: String,
    tries_left_before: i32,
}

/// What a claimed message says, and its recipient's contacts as they are now (or the
/// address it goes to itself, with the account link it carries sealed).
#[derive(sqlx::FromRow)]
pub struct Content {
    pub id: Uuid,
    pub channel: String,
    pub kind: String,
    pub event_id: Uuid,
    pub event_type: String,
    pub subject: String,
    pub body: String,
    pub html: String,
    pub data: serde_json::Value,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub recipient_id: Uuid,
    pub recipient_name: Option<String>,
    pub emails: Option<Vec<String>>,
    pub webhook_url: Option<String>,
    pub webhook_secret: Option<String>,
    /// Set for a message to a person rather than a recipient: where it goes.
    pub address: Option<String>,
    /// Set when the message carries an account link.
    pub link_id: Option<Uuid>,
    pub sealed_link: Option<Vec<u8>>,
    pub link_expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl Store {
    /// Hears of messages committed from now on; `None` when listening fails (polling
    /// covers it).
    pub async fn listen(&self) -> Option<PgListener> {
        let mut l = PgListener::connect_with(&self.pool).await.ok()?;
        l.listen(WAKE_CHANNEL).await.ok()?;
        Some(l)
    }

    /// Takes the messages `choose` picks among up to `candidates` due ones (oldest due
    /// first, none to the endpoints in `skip`, none another worker holds) and records
    /// an attempt `sending` for each, with a lease of `lease`, before anything is sent.
    pub async fn claim(
        &self,
        skip: &[&str],
        candidates: i64,
        lease: Duration,
        choose: impl FnOnce(&[Due]) -> Vec<Uuid> + Send,
    ) -> Result<Vec<Claimed>> {
        let mut tx = self.pool.begin().await?;
        let due: Vec<Due> = sqlx::query_as(
            "SELECT id, endpoint, status, tries_left FROM messages
             WHERE status IN ('created', 'temporary_failure', 'sending') AND next_attempt_at <= now()
               AND endpoint <> ALL($1)
             ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED",
        )
        .bind(skip)
        .bind(candidates)
        .fetch_all(&mut *tx)
        .await?;
        let ids = choose(&due);
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let interrupted: Vec<Uuid> = due
            .iter()
            .filter(|d| d.status == "sending" && ids.contains(&d.id))
            .map(|d| d.id)
            .collect();
        if !interrupted.is_empty() {
            tracing::warn!(
                messages = interrupted.len(),
                "attempts interrupted before their outcome was recorded; sending again with the same id"
            );
            sqlx::query(
                "UPDATE delivery_attempts SET status = 'temporary_failure', finished_at = now(),
                     reason = 'interrupted: the outcome was not recorded (the process stopped?); sent again with the same id'
                 WHERE message_id = ANY($1) AND status = 'sending'",
            )
            .bind(&interrupted)
            .execute(&mut *tx)
            .await?;
        }
        let mut attempts: HashMap<Uuid, i32> = sqlx::query_as(
            "UPDATE messages SET status = 'sending', attempts = attempts + 1,
                 tries_left = GREATEST(tries_left - 1, 0),
                 next_attempt_at = now() + make_interval(secs => $2)
             WHERE id = ANY($1) RETURNING id, attempts",
        )
        .bind(&ids)
        .bind(lease.as_secs_f64())
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .collect();
        // In the order chosen, which is the order due.
        let claimed: Vec<Claimed> = due
            .into_iter()
            .filter_map(|d| {
                Some(Claimed {
                    attempts: attempts.remove(&d.id)?,
                    id: d.id,
                    endpoint: d.endpoint,
                    status_before: d.status,
                    tries_left_before: d.tries_left,
                })
            })
            .collect();
        sqlx::query(
            "INSERT INTO delivery_attempts (message_id, attempt, status)
             SELECT m.id, m.attempts, 'sending' FROM messages m WHERE m.id = ANY($1)",
        )
        .bind(&ids)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(claimed)
    }

    /// The content of messages `ids`, with their recipients' current contacts.
    pub async fn contents(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, Content>> {
        let rows: Vec<Content> = sqlx::query_as(
            "SELECT m.id, m.channel, m.kind, m.event_id, m.event_type, m.subject, m.body, m.html,
                 m.data, m.created_at, m.recipient_id, r.name AS recipient_name, r.emails,
                 r.webhook_url, r.webhook_secret, m.address, m.link_id, m.sealed_link,
                 m.link_expires_at
             FROM messages m LEFT JOIN recipients r ON r.id = m.recipient_id
             WHERE m.id = ANY($1)",
        )
        .bind(ids)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|c| (c.id, c)).collect())
    }

    /// Undoes the claims of attempts that were never begun (nothing was sent): each
    /// message is due again at once, as it was, and its attempt is forgotten. A claim
    /// that no longer holds its message is left alone.
    pub async fn give_back(&self, claims: &[Claimed]) -> Result<()> {
        if claims.is_empty() {
            return Ok(());
        }
        let ids: Vec<Uuid> = claims.iter().map(|c| c.id).collect();
        let attempts: Vec<i32> = claims.iter().map(|c| c.attempts).collect();
        // An attempt interrupted by a crash was closed by this claim: the message is
        // due again after a failed attempt, no longer "sending".
        let statuses: Vec<&str> = claims
            .iter()
            .map(|c| match c.status_before.as_str() {
                "sending" => "temporary_failure",
                s => s,
            })
            .collect();
        let tries: Vec<i32> = claims.iter().map(|c| c.tries_left_before).collect();
        let mut tx = self.pool.begin().await?;
        let undone: Vec<(Uuid, i32)> = sqlx::query_as(
            "UPDATE messages m SET status = g.status, attempts = m.attempts - 1,
                 tries_left = g.tries_left, next_attempt_at = now()
             FROM unnest($1::uuid[], $2::int4[], $3::text[], $4::int4[])
                 AS g(id, attempt, status, tries_left)
             WHERE m.id = g.id AND m.attempts = g.attempt AND m.status = 'sending'
             RETURNING m.id, g.attempt",
        )
        .bind(&ids)
        .bind(&attempts)
        .bind(&statuses)
        .bind(&tries)
        .fetch_all(&mut *tx)
        .await?;
        let (ids, attempts): (Vec<Uuid>, Vec<i32>) = undone.into_iter().unzip();
        sqlx::query(
            "DELETE FROM delivery_attempts a USING unnest($1::uuid[], $2::int4[]) AS g(id, attempt)
             WHERE a.message_id = g.id AND a.attempt = g.attempt AND a.status = 'sending'",
        )
        .bind(&ids)
        .bind(&attempts)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records how attempt `c` ended and moves the message on: delivered, to be tried
    /// again after `retry_in` while it has tries left, or dead-lettered. Returns the
    /// message's new status; `None` when the attempt no longer held the message.
    pub async fn record(
        &self,
        c: &Claimed,
        outcome: &Outcome,
        retry_in: Duration,
    ) -> Result<Option<String>> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE delivery_attempts SET status = $3, reason = $4, finished_at = now()
             WHERE message_id = $1 AND attempt = $2 AND status = 'sending'",
        )
        .bind(c.id)
        .bind(c.attempts)
        .bind(outcome.status())
        .bind(outcome.reason())
        .execute(&mut *tx)
        .await?;
        // Only the attempt that holds the message may move it on.
        let now: Option<String> = sqlx::query_scalar(
            "UPDATE messages SET
                 status = CASE WHEN $3 = 'delivered' THEN 'delivered'
                               WHEN $3 = 'temporary_failure' AND tries_left > 0 THEN 'temporary_failure'
                               ELSE 'dead_lettered' END,
                 delivered_at = CASE WHEN $3 = 'delivered' THEN now() END,
                 next_attempt_at = CASE WHEN $3 = 'temporary_failure' AND tries_left > 0
                                        THEN now() + make_interval(secs => $5) END,
                 last_error = CASE WHEN $3 = 'delivered' THEN NULL
                                   WHEN $3 = 'permanent_failure' THEN 'permanent failure: ' || $4
                                   WHEN tries_left > 0 THEN $4
                                   ELSE 'gave up after ' || attempts || ' attempts: ' || $4 END
             WHERE id = $1 AND attempts = $2 AND status = 'sending'
             RETURNING status",
        )
        .bind(c.id)
        .bind(c.attempts)
        .bind(outcome.status())
        .bind(outcome.reason())
        .bind(retry_in.as_secs_f64())
        .fetch_optional(&mut *tx)
        .await?;
        if now.is_some() {
            // Delivered or given up, an account link is of no more use.
            super::accounts::drop_link_when_done(&mut tx, c.id).await?;
        }
        tx.commit().await?;
        Ok(now)
    }
}

//! E-mails that carry a one-time account link: written in the consumer's transaction
//! for the person the gateway names (not a recipient), sent by the delivery worker like
//! any e-mail, and rid of their link once it is of no more use. The link is only ever
//! stored sealed ([`crate::domain::account`]); what the rows keep in its place is a
//! placeholder, which becomes [`LINK_SENT`] or [`LINK_DROPPED`] when the sealed link is
//! dropped.

use sqlx::PgConnection;
use uuid::Uuid;

use super::fanout::templates;
use super::{Error, Result, Store, wake};
use crate::domain::account::{AccountEmail, LINK_DROPPED, LINK_PLACEHOLDER, LINK_SENT};
use crate::domain::delivery::EMAIL_ENDPOINT;

/// Why a message's link was dropped before it was sent, as its record says.
pub const EXPIRED: &str = "the account link expired before the e-mail could be delivered";
pub const REPLACED: &str = "a newer account link for the same person replaced this one";

/// Queues the e-mail for one account link inside `tx`; `false` when it is already
/// queued (the link id is the key) or a newer link for the same person was seen.
/// Older links of the person not yet sent are dropped: the gateway ended them.
pub async fn queue_account_email(
    tx: &mut PgConnection,
    event_id: Uuid,
    event_type: &str,
    m: &AccountEmail,
    max_attempts: u32,
) -> Result<bool> {
    let newer: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM messages WHERE recipient_id = $1 AND link_id IS NOT NULL
           AND link_id <> $2 AND link_issued_at > $3)",
    )
    .bind(m.user_id)
    .bind(m.link_id)
    .bind(m.issued_at)
    .fetch_one(&mut *tx)
    .await?;
    if newer {
        return Ok(false);
    }
    sqlx::query(
        "UPDATE messages SET status = 'dead_lettered', next_attempt_at = NULL, last_error = $4,
             sealed_link = NULL, body = replace(body, $5, $6), html = replace(html, $5, $6)
         WHERE recipient_id = $1 AND link_id IS NOT NULL AND link_id <> $2 AND link_issued_at < $3
           AND sealed_link IS NOT NULL AND status IN ('created', 'temporary_failure')",
    )
    .bind(m.user_id)
    .bind(m.link_id)
    .bind(m.issued_at)
    .bind(REPLACED)
    .bind(LINK_PLACEHOLDER)
    .bind(LINK_DROPPED)
    .execute(&mut *tx)
    .await?;

    // The person has no language of their own here: the Vietnamese template.
    let templates = templates(tx, m.kind).await?;
    let template = templates
        .get("vi")
        .ok_or(Error::NoTemplate(m.kind.as_str()))?;
    let rendered = template.render(&m.values);
    // What a reader of the record may see of the values: all but the link's place.
    let mut data = m.values.clone();
    data.remove("link");
    data.remove("recipient_name");
    let inserted: Option<Uuid> = sqlx::query_scalar(
        "INSERT INTO messages (id, recipient_id, unit_id, channel, event_id, event_type, kind, template,
             template_version, language, subject, body, html, data, endpoint, destination, address,
             link_id, sealed_link, link_issued_at, link_expires_at,
             status, attempts, tries_left, next_attempt_at)
         VALUES ($1, $2, NULL, 'email', $3, $4, $5, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13,
             $14, $15, $16, $17, 'created', 0, $18, now())
         ON CONFLICT DO NOTHING
         RETURNING id",
    )
    .bind(Uuid::now_v7())
    .bind(m.user_id)
    .bind(event_id)
    .bind(event_type)
    .bind(m.kind.as_str())
    .bind(template.version)
    .bind(&template.language)
    .bind(&rendered.subject)
    .bind(&rendered.text)
    .bind(&rendered.html)
    .bind(sqlx::types::Json(&data))
    .bind(EMAIL_ENDPOINT)
    .bind(&m.address)
    .bind(m.link_id)
    .bind(&m.sealed.0)
    .bind(m.issued_at)
    .bind(m.expires_at)
    .bind(max_attempts as i32)
    .fetch_optional(&mut *tx)
    .await?;
    if inserted.is_some() {
        wake(tx).await?;
    }
    Ok(inserted.is_some())
}

/// Drops the sealed link of a message that is delivered (its text then says
/// [`LINK_SENT`]) or dead-lettered ([`LINK_DROPPED`]); other messages are left alone.
pub(super) async fn drop_link_when_done(tx: &mut PgConnection, id: Uuid) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE messages SET sealed_link = NULL,
             body = replace(body, $2, CASE WHEN status = 'delivered' THEN $3 ELSE $4 END),
             html = replace(html, $2, CASE WHEN status = 'delivered' THEN $3 ELSE $4 END)
         WHERE id = $1 AND sealed_link IS NOT NULL AND status IN ('delivered', 'dead_lettered')",
    )
    .bind(id)
    .bind(LINK_PLACEHOLDER)
    .bind(LINK_SENT)
    .bind(LINK_DROPPED)
    .execute(tx)
    .await?;
    Ok(())
}

impl Store {
    /// Drops the links that expired: a message still waiting for its attempt is
    /// dead-lettered, saying so (one being sent is left to its attempt, which will not
    /// send an expired link). Returns how many links were dropped.
    pub async fn drop_expired_links(&self) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE messages SET sealed_link = NULL,
                 body = replace(body, $1, $2), html = replace(html, $1, $2),
                 status = CASE WHEN status IN ('created', 'temporary_failure') THEN 'dead_lettered' ELSE status END,
                 next_attempt_at = CASE WHEN status IN ('created', 'temporary_failure') THEN NULL
                                        ELSE next_attempt_at END,
                 last_error = CASE WHEN status IN ('created', 'temporary_failure') THEN $3 ELSE last_error END
             WHERE sealed_link IS NOT NULL AND link_expires_at <= now() AND status <> 'sending'",
        )
        .bind(LINK_PLACEHOLDER)
        .bind(LINK_DROPPED)
        .bind(EXPIRED)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }
}

//! From one notice to its messages: the subscriptions of its kind choose recipients and
//! channels, the latest template in each recipient's language renders the text, and
//! one row per (cause, recipient, channel) is written — a repeat writes nothing, which
//! is what makes a redelivered event or a re-run reminder harmless.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use sqlx::PgConnection;
use uuid::Uuid;

use super::{Result, wake};
use crate::domain::address::without_credentials;
use crate::domain::delivery::{EMAIL_ENDPOINT, webhook_endpoint};
use crate::domain::notice::{Affected, Notice};
use crate::domain::recipient::{Audience, Filters};
use crate::domain::template::Template;
use crate::domain::{Channel, Kind};

#[derive(sqlx::FromRow)]
struct SubscriptionRow {
    recipient_id: Option<Uuid>,
    group_name: Option<String>,
    affected: bool,
    filters: sqlx::types::Json<Filters>,
    channels: Vec<String>,
}

#[derive(sqlx::FromRow)]
struct RecipientRow {
    id: Uuid,
    name: String,
    unit_id: Option<Uuid>,
    language: String,
    emails: Vec<String>,
    webhook_url: Option<String>,
}

#[derive(sqlx::FromRow)]
struct TemplateRow {
    key: String,
    language: String,
    version: i32,
    subject: String,
    text: String,
    html: String,
}

async fn audience(
    tx: &mut PgConnection,
    audience: &Audience,
    affected: &Affected,
) -> sqlx::Result<Vec<Uuid>> {
    let q = |sql: &'static str| sqlx::query_scalar::<_, Uuid>(sql);
    match audience {
        Audience::Recipient(id) => {
            q("SELECT id FROM recipients WHERE id = $1 AND active")
                .bind(*id)
                .fetch_all(&mut *tx)
                .await
        }
        Audience::Group(g) => {
            q(
                "SELECT id FROM recipients WHERE active AND ($1 = ANY(groups)
                 OR (kind = 'unit' AND ($1 = 'units' OR unit_kind = $1)))",
            )
            .bind(g)
            .fetch_all(&mut *tx)
            .await
        }
        Audience::Affected => match affected {
            Affected::AllUnits => {
                q("SELECT id FROM recipients WHERE kind = 'unit' AND active")
                    .fetch_all(&mut *tx)
                    .await
            }
            Affected::Units(units) => {
                q("SELECT id FROM recipients WHERE kind = 'unit' AND active AND unit_id = ANY($1)")
                    .bind(units)
                    .fetch_all(&mut *tx)
                    .await
            }
            Affected::Recipients(rs) => {
                q("SELECT id FROM recipients WHERE active AND id = ANY($1)")
                    .bind(rs)
                    .fetch_all(&mut *tx)
                    .await
            }
            Affected::Nobody => Ok(Vec::new()),
        },
    }
}

/// The latest template of `kind` in each language.
pub(super) async fn templates(
    tx: &mut PgConnection,
    kind: Kind,
) -> sqlx::Result<HashMap<String, Template>> {
    let rows: Vec<TemplateRow> = sqlx::query_as(
        "SELECT DISTINCT ON (language) key, language, version, subject, text, html FROM templates
         WHERE key = $1 ORDER BY language, version DESC",
    )
    .bind(kind.as_str())
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                r.language.clone(),
                Template {
                    key: r.key,
                    language: r.language,
                    version: r.version,
                    subject: r.subject,
                    text: r.text,
                    html: r.html,
                },
            )
        })
        .collect())
}

#[derive(Default)]
struct Rows {
    id: Vec<Uuid>,
    recipient_id: Vec<Uuid>,
    unit_id: Vec<Option<Uuid>>,
    channel: Vec<String>,
    version: Vec<i32>,
    language: Vec<String>,
    subject: Vec<String>,
    body: Vec<String>,
    html: Vec<String>,
    endpoint: Vec<String>,
    destination: Vec<String>,
}

/// Writes the notice's messages inside `tx`; returns how many were new.
pub async fn fan_out(tx: &mut PgConnection, notice: &Notice, max_attempts: u32) -> Result<usize> {
    let subs: Vec<SubscriptionRow> = sqlx::query_as(
        "SELECT recipient_id, group_name, affected, filters, channels FROM subscriptions
         WHERE event_type = $1 ORDER BY created_at, id",
    )
    .bind(notice.kind.as_str())
    .fetch_all(&mut *tx)
    .await?;
    let mut targets: BTreeMap<Uuid, BTreeSet<Channel>> = BTreeMap::new();
    for s in subs {
        if !s.filters.admit(notice.field.as_deref(), notice.plan_id) {
            continue;
        }
        let a = match (s.recipient_id, s.group_name, s.affected) {
            (Some(id), _, _) => Audience::Recipient(id),
            (None, Some(g), _) => Audience::Group(g),
            _ => Audience::Affected,
        };
        let channels: Vec<Channel> = s
            .channels
            .iter()
            .filter_map(|c| Channel::parse(c))
            .collect();
        for id in audience(tx, &a, &notice.affected).await? {
            targets
                .entry(id)
                .or_default()
                .extend(channels.iter().copied());
        }
    }
    if targets.is_empty() {
        return Ok(0);
    }
    let wanted: Vec<Uuid> = targets.keys().copied().collect();
    let recipients: Vec<RecipientRow> = sqlx::query_as(
        "SELECT id, name, unit_id, language, emails, webhook_url FROM recipients
         WHERE id = ANY($1) ORDER BY id",
    )
    .bind(&wanted)
    .fetch_all(&mut *tx)
    .await?;
    let templates = templates(tx, notice.kind).await?;
    let Some(fallback) = templates.get("vi") else {
        tracing::error!(
            kind = notice.kind.as_str(),
            "no Vietnamese template; nothing sent"
        );
        return Ok(0);
    };

    let mut rows = Rows::default();
    let mut values = notice.values.clone();
    for r in recipients {
        let template = templates.get(&r.language).unwrap_or(fallback);
        values.insert("recipient_name", r.name.clone());
        let rendered = template.render(&values);
        for channel in &targets[&r.id] {
            let (endpoint, destination) = match channel {
                Channel::Inbox if r.unit_id.is_some() => (String::new(), String::new()),
                Channel::Email if !r.emails.is_empty() => {
                    (EMAIL_ENDPOINT.to_owned(), r.emails.join(", "))
                }
                Channel::Webhook => match &r.webhook_url {
                    Some(url) => {
                        let url = without_credentials(url);
                        (webhook_endpoint(&url), url)
                    }
                    None => continue,
                },
                // No contact on this channel: nothing to deliver.
                _ => continue,
            };
            rows.id.push(Uuid::now_v7());
            rows.recipient_id.push(r.id);
            rows.unit_id.push(r.unit_id);
            rows.channel.push(channel.as_str().to_owned());
            rows.version.push(template.version);
            rows.language.push(template.language.clone());
            rows.subject.push(rendered.subject.clone());
            rows.body.push(rendered.text.clone());
            rows.html.push(if *channel == Channel::Email {
                rendered.html.clone()
            } else {
                String::new()
            });
            rows.endpoint.push(endpoint);
            rows.destination.push(destination);
        }
    }
    if rows.id.is_empty() {
        return Ok(0);
    }
    // Webhook receivers get the values as data (without the per-recipient name).
    values.remove("recipient_name");
    let inserted: Vec<(Uuid, String)> = sqlx::query_as(
        "INSERT INTO messages (id, recipient_id, unit_id, channel, event_id, event_type, kind, template,
             template_version, language, subject, body, html, data, endpoint, destination,
             status, attempts, tries_left, next_attempt_at, delivered_at)
         SELECT m.id, m.recipient_id, m.unit_id, m.channel, $1, $2, $3, $3,
             m.version, m.language, m.subject, m.body, m.html, $4, m.endpoint, m.destination,
             CASE WHEN m.channel = 'inbox' THEN 'delivered' ELSE 'created' END,
             CASE WHEN m.channel = 'inbox' THEN 1 ELSE 0 END,
             CASE WHEN m.channel = 'inbox' THEN 0 ELSE $5 END,
             CASE WHEN m.channel = 'inbox' THEN NULL ELSE now() END,
             CASE WHEN m.channel = 'inbox' THEN now() END
         FROM UNNEST($6::uuid[], $7::uuid[], $8::uuid[], $9::text[], $10::int[], $11::text[],
                     $12::text[], $13::text[], $14::text[], $15::text[], $16::text[])
              AS m(id, recipient_id, unit_id, channel, version, language, subject, body, html,
                   endpoint, destination)
         ON CONFLICT (event_id, recipient_id, channel) DO NOTHING
         RETURNING id, channel",
    )
    .bind(notice.cause_id)
    .bind(&notice.event_type)
    .bind(notice.kind.as_str())
    .bind(sqlx::types::Json(&values))
    .bind(max_attempts as i32)
    .bind(&rows.id)
    .bind(&rows.recipient_id)
    .bind(&rows.unit_id)
    .bind(&rows.channel)
    .bind(&rows.version)
    .bind(&rows.language)
    .bind(&rows.subject)
    .bind(&rows.body)
    .bind(&rows.html)
    .bind(&rows.endpoint)
    .bind(&rows.destination)
    .fetch_all(&mut *tx)
    .await?;
    // An inbox message is delivered by being written: its one attempt says so.
    let inbox: Vec<Uuid> = inserted
        .iter()
        .filter(|(_, c)| c == "inbox")
        .map(|(id, _)| *id)
        .collect();
    if !inbox.is_empty() {
        sqlx::query(
            "INSERT INTO delivery_attempts (message_id, attempt, status, started_at, finished_at)
             SELECT id, 1, 'delivered', now(), now() FROM UNNEST($1::uuid[]) AS id",
        )
        .bind(&inbox)
        .execute(&mut *tx)
        .await?;
    }
    if inserted.len() > inbox.len() {
        wake(tx).await?;
    }
    Ok(inserted.len())
}

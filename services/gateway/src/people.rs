//! People in the gateway's own database: accounts, the one-time links that let a person
//! set a password (invitation, reset), sessions, and the audit log of what was done to
//! accounts. A link leaves only as an event whose link is sealed for the notification
//! service; a token of either kind is stored only as its SHA-256.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cchc_platform::outbox::Outbox;
use cchc_platform::page::{Cursor, Paging};
use cchc_platform::{Actor, CallerKey, Role};
use cchc_proto::events::v1::AccountLinkIssued;
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::api_key::{generate_token, hash_key};
use crate::password;

pub mod status {
    pub const INVITED: &str = "invited";
    pub const ACTIVE: &str = "active";
    pub const DISABLED: &str = "disabled";
    pub const ALL: &[&str] = &[INVITED, ACTIVE, DISABLED];
}

/// What a one-time link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Invitation,
    PasswordReset,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Invitation => "invitation",
            Purpose::PasswordReset => "password_reset",
        }
    }
}

/// The purpose links are sealed under (the notification service opens them with it).
pub const LINK_SEAL: &str = "account-link";
/// Session tokens, and the cookie that carries one for the console.
pub const SESSION_PREFIX: &str = "cchs_";
pub const SESSION_COOKIE: &str = "cchc_session";
const LINK_PREFIX: &str = "cchl_";

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct User {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub unit_id: Uuid,
    /// unit, office, leader, operator
    pub role: String,
    /// invited, active, disabled
    pub status: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    #[schema(value_type = Option<cchc_proto::ActorRef>)]
    pub created_by: Option<String>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    #[schema(value_type = Option<cchc_proto::ActorRef>)]
    pub updated_by: Option<String>,
    pub last_sign_in_at: Option<chrono::DateTime<chrono::Utc>>,
}

const USER_COLUMNS: &str = "id, name, email, unit_id, role, status, created_at, created_by, \
     updated_at, updated_by, last_sign_in_at";

/// One entry of the audit log.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct AuditEntry {
    pub id: i64,
    pub at: chrono::DateTime<chrono::Utc>,
    pub action: String,
    #[schema(value_type = Option<cchc_proto::ActorRef>)]
    pub actor: Option<String>,
    pub user_id: Option<Uuid>,
    pub unit_id: Option<Uuid>,
    pub address: Option<String>,
    pub detail: serde_json::Value,
}

/// What is written to the audit log.
pub struct Audit<'a> {
    pub action: &'a str,
    pub actor: Option<&'a Actor>,
    pub user_id: Option<Uuid>,
    pub unit_id: Option<Uuid>,
    pub address: Option<&'a str>,
    pub detail: serde_json::Value,
}

pub async fn audit(tx: &mut PgConnection, a: Audit<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_log (action, actor, user_id, unit_id, address, detail)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(a.action)
    .bind(a.actor.map(|a| a.to_string()))
    .bind(a.user_id)
    .bind(a.unit_id)
    .bind(a.address)
    .bind(a.detail)
    .execute(tx)
    .await?;
    Ok(())
}

/// Ends the accounts of a unit that stops acting (merged, closed), with its keys: the
/// people are disabled and signed out at once.
pub async fn disable_with_unit(
    tx: &mut PgConnection,
    unit_id: Uuid,
    actor: &Actor,
) -> Result<(), sqlx::Error> {
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "UPDATE users SET status = 'disabled', updated_at = now(), updated_by = $2
         WHERE unit_id = $1 AND status <> 'disabled' RETURNING id",
    )
    .bind(unit_id)
    .bind(actor.to_string())
    .fetch_all(&mut *tx)
    .await?;
    end_sessions(tx, &ids).await?;
    for id in ids {
        audit(
            tx,
            Audit {
                action: "user_disabled",
                actor: Some(actor),
                user_id: Some(id),
                unit_id: Some(unit_id),
                address: None,
                detail: serde_json::json!({ "reason": "unit_ended" }),
            },
        )
        .await?;
    }
    Ok(())
}

async fn end_sessions(tx: &mut PgConnection, users: &[Uuid]) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE sessions SET ended_at = now() WHERE user_id = ANY($1) AND ended_at IS NULL",
    )
    .bind(users)
    .execute(tx)
    .await?;
    Ok(())
}

/// Why an account change was refused.
#[derive(Debug, thiserror::Error)]
pub enum PeopleError {
    #[error("no such user")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Rule(String),
    /// The link is unknown, used, replaced or expired (one answer for all).
    #[error("the link is not valid any more")]
    LinkInvalid,
    #[error("the password is too weak")]
    Weak(password::Weakness),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// How long links and sessions live, and where links point.
#[derive(Debug, Clone)]
pub struct Lifetimes {
    /// The address people reach cchc at; links are made under it.
    pub public_url: String,
    /// Where people sign in with their password (the console), when there is one.
    pub sign_in_url: Option<String>,
    pub invitation: Duration,
    pub reset: Duration,
    /// A session unused this long ends.
    pub session_idle: Duration,
    /// A session ends this long after sign-in, however used.
    pub session_lifetime: Duration,
}

/// A new person to invite.
pub struct Invitee<'a> {
    pub name: &'a str,
    pub email: &'a str,
    pub unit_id: Uuid,
    pub unit_name: &'a str,
    pub role: Role,
}

/// What changes in an account (absent: unchanged).
#[derive(Default)]
pub struct Changes {
    pub name: Option<String>,
    pub role: Option<Role>,
    pub unit_id: Option<Uuid>,
    /// `active` (enable) or `disabled`.
    pub status: Option<String>,
}

/// A session found for a token.
#[derive(Debug, Clone)]
pub struct SessionOf {
    pub session_id: Uuid,
    pub user_id: Uuid,
    pub unit_id: Uuid,
    pub role: Role,
}

/// A session just started: the token exists in clear only in this answer.
pub struct NewSession {
    pub token: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    pub user: User,
}

/// The CSRF token of a session: derived from its token, so only who holds the cookie can
/// know it, and nothing more is stored.
pub fn csrf_token(session_token: &str) -> String {
    let mut h = sha2::Sha256::new();
    sha2::Digest::update(&mut h, b"csrf|");
    sha2::Digest::update(&mut h, session_token.as_bytes());
    hex::encode(sha2::Digest::finalize(h))
}

use sha2::Digest as _;

#[derive(Clone)]
pub struct People {
    pool: PgPool,
    outbox: Outbox,
    seal: CallerKey,
    lifetimes: Lifetimes,
    names: NameCache,
}

/// Who actors are, as recently looked up: every answer that names its actors would
/// otherwise cost a query, the public catalogue's among them. A person renamed here is
/// forgotten at once; renamed elsewhere (keys, SQL) they read under the old name for at
/// most [`NAMES_FRESH_FOR`].
#[derive(Clone, Default)]
struct NameCache(
    Arc<Mutex<HashMap<String, (serde_json::Value, Instant)>>>,
    /// Counts the people forgotten, so answers kept with their names (the public
    /// catalogue's) know when one was renamed.
    Arc<std::sync::atomic::AtomicU64>,
);

pub(crate) const NAMES_FRESH_FOR: Duration = Duration::from_secs(60);
const NAMES_KEPT: usize = 10_000;

impl NameCache {
    fn get(&self, actor: &str) -> Option<serde_json::Value> {
        let names = self.0.lock().unwrap_or_else(|e| e.into_inner());
        names
            .get(actor)
            .filter(|(_, at)| at.elapsed() < NAMES_FRESH_FOR)
            .map(|(v, _)| v.clone())
    }

    fn put(&self, actor: String, who: serde_json::Value) {
        let mut names = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if names.len() >= NAMES_KEPT {
            names.clear();
        }
        names.insert(actor, (who, Instant::now()));
    }

    fn forget(&self, actor: &Actor) {
        let mut names = self.0.lock().unwrap_or_else(|e| e.into_inner());
        names.remove(&actor.to_string());
        self.1.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }
}

impl People {
    pub fn new(pool: PgPool, outbox: Outbox, seal: CallerKey, lifetimes: Lifetimes) -> Self {
        Self {
            pool,
            outbox,
            seal,
            lifetimes,
            names: NameCache::default(),
        }
    }

    /// Moves whenever a person is renamed (or moved) here.
    pub fn names_epoch(&self) -> u64 {
        self.names.1.load(std::sync::atomic::Ordering::Acquire)
    }

    pub fn lifetimes(&self) -> &Lifetimes {
        &self.lifetimes
    }

    pub async fn user(&self, id: Uuid) -> Result<Option<User>, sqlx::Error> {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
    }

    pub async fn user_by_email(&self, email: &str) -> Result<Option<User>, sqlx::Error> {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users WHERE lower(email) = lower($1)"
        )))
        .bind(email)
        .fetch_optional(&self.pool)
        .await
    }

    /// A page of accounts in the order they were made, of one unit and status if asked.
    pub async fn users(
        &self,
        unit_id: Option<Uuid>,
        status: Option<&str>,
        paging: &Paging,
    ) -> Result<(Vec<User>, String), sqlx::Error> {
        let (at, id) = paging.after_parts();
        let rows: Vec<User> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users
             WHERE ($1::uuid IS NULL OR unit_id = $1) AND ($2::text IS NULL OR status = $2)
               AND ($3::timestamptz IS NULL OR (created_at, id) > ($3, $4))
             ORDER BY created_at, id LIMIT $5"
        )))
        .bind(unit_id)
        .bind(status)
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

    /// Makes an invited account and sends its invitation.
    pub async fn invite(
        &self,
        actor: &Actor,
        invited_by: &str,
        who: Invitee<'_>,
        address: Option<&str>,
    ) -> Result<User, PeopleError> {
        let mut tx = self.pool.begin().await?;
        let user: Option<User> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "INSERT INTO users (id, name, email, unit_id, role, created_by, updated_by)
             VALUES ($1, $2, $3, $4, $5, $6, $6)
             ON CONFLICT DO NOTHING RETURNING {USER_COLUMNS}"
        )))
        .bind(Uuid::now_v7())
        .bind(who.name)
        .bind(who.email)
        .bind(who.unit_id)
        .bind(who.role.as_str())
        .bind(actor.to_string())
        .fetch_optional(&mut *tx)
        .await?;
        let user = user.ok_or_else(|| {
            PeopleError::Conflict("an account with this e-mail address exists".into())
        })?;
        self.issue_link(
            &mut tx,
            &user,
            who.unit_name,
            Purpose::Invitation,
            invited_by,
        )
        .await?;
        audit(
            &mut tx,
            Audit {
                action: "user_invited",
                actor: Some(actor),
                user_id: Some(user.id),
                unit_id: Some(user.unit_id),
                address,
                detail: serde_json::json!({ "role": user.role, "email": user.email }),
            },
        )
        .await?;
        tx.commit().await?;
        self.outbox.notify();
        Ok(user)
    }

    /// Sends an invited person a new invitation; earlier links stop working.
    pub async fn reinvite(
        &self,
        actor: &Actor,
        invited_by: &str,
        user: &User,
        unit_name: &str,
        address: Option<&str>,
    ) -> Result<(), PeopleError> {
        if user.status != status::INVITED {
            return Err(PeopleError::Rule(format!(
                "the account is {}: only an invited account is sent an invitation",
                user.status
            )));
        }
        let mut tx = self.pool.begin().await?;
        self.issue_link(&mut tx, user, unit_name, Purpose::Invitation, invited_by)
            .await?;
        audit(
            &mut tx,
            Audit {
                action: "invitation_resent",
                actor: Some(actor),
                user_id: Some(user.id),
                unit_id: Some(user.unit_id),
                address,
                detail: serde_json::json!({}),
            },
        )
        .await?;
        tx.commit().await?;
        self.outbox.notify();
        Ok(())
    }

    /// A link for `user`, replacing any earlier one: its hash is stored, and the link
    /// itself leaves sealed in an event for the notification service to e-mail. Returns
    /// the link (for the operator's first-user command, which prints it).
    async fn issue_link(
        &self,
        tx: &mut PgConnection,
        user: &User,
        unit_name: &str,
        purpose: Purpose,
        issued_by: &str,
    ) -> Result<String, sqlx::Error> {
        sqlx::query(
            "UPDATE account_links SET ended_at = now() WHERE user_id = $1 AND ended_at IS NULL",
        )
        .bind(user.id)
        .execute(&mut *tx)
        .await?;
        let token = generate_token(LINK_PREFIX);
        let lifetime = match purpose {
            Purpose::Invitation => self.lifetimes.invitation,
            Purpose::PasswordReset => self.lifetimes.reset,
        };
        let expires_at = chrono::Utc::now()
            + chrono::Duration::from_std(lifetime).unwrap_or(chrono::Duration::hours(1));
        let link_id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO account_links (id, user_id, purpose, hash, expires_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(link_id)
        .bind(user.id)
        .bind(purpose.as_str())
        .bind(hash_key(&token))
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        let link = format!(
            "{}/account/password?token={token}",
            self.lifetimes.public_url.trim_end_matches('/')
        );
        let event = AccountLinkIssued {
            link_id: link_id.to_string(),
            user_id: user.id.to_string(),
            email: user.email.clone(),
            name: user.name.clone(),
            purpose: purpose.as_str().into(),
            unit_name: unit_name.into(),
            role: user.role.clone(),
            expires_at: expires_at.to_rfc3339(),
            sealed_link: self.seal.seal(LINK_SEAL, link.as_bytes()),
            issued_by_name: issued_by.into(),
        };
        self.outbox
            .enqueue(&mut *tx, &Actor::User(user.id), &event)
            .await?;
        Ok(link)
    }

    /// For the first person of a new installation (the operator's command): an office
    /// account for `email` in the Department, invited, with its link returned to print.
    /// An invited account gets a new link; an active one is left alone (`None`).
    pub async fn first_user(
        &self,
        email: &str,
        name: &str,
        department: (Uuid, &str),
    ) -> Result<Option<String>, PeopleError> {
        let mut tx = self.pool.begin().await?;
        let existing: Option<User> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users WHERE lower(email) = lower($1) FOR UPDATE"
        )))
        .bind(email)
        .fetch_optional(&mut *tx)
        .await?;
        let user = match existing {
            Some(u) if u.status != status::INVITED => return Ok(None),
            Some(u) => u,
            None => {
                sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO users (id, name, email, unit_id, role, created_by, updated_by)
                     VALUES ($1, $2, $3, $4, 'office', 'system', 'system') RETURNING {USER_COLUMNS}"
                )))
                .bind(Uuid::now_v7())
                .bind(name)
                .bind(email)
                .bind(department.0)
                .fetch_one(&mut *tx)
                .await?
            }
        };
        let link = self
            .issue_link(&mut tx, &user, department.1, Purpose::Invitation, "")
            .await?;
        audit(
            &mut tx,
            Audit {
                action: "user_invited",
                actor: Some(&Actor::System),
                user_id: Some(user.id),
                unit_id: Some(user.unit_id),
                address: None,
                detail: serde_json::json!({ "role": "office", "email": user.email, "first_user": true }),
            },
        )
        .await?;
        tx.commit().await?;
        self.outbox.notify();
        Ok(Some(link))
    }

    /// Sends a reset link when `email` names an active account; otherwise nothing, and
    /// the caller answers the same either way.
    pub async fn request_reset(
        &self,
        email: &str,
        address: Option<&str>,
    ) -> Result<(), PeopleError> {
        let user = self.user_by_email(email).await?;
        let mut tx = self.pool.begin().await?;
        match &user {
            Some(u) if u.status == status::ACTIVE => {
                let unit: String = sqlx::query_scalar("SELECT name FROM units WHERE id = $1")
                    .bind(u.unit_id)
                    .fetch_one(&mut *tx)
                    .await?;
                self.issue_link(&mut tx, u, &unit, Purpose::PasswordReset, "")
                    .await?;
            }
            _ => {}
        }
        audit(
            &mut tx,
            Audit {
                action: "password_reset_requested",
                actor: None,
                user_id: user.as_ref().map(|u| u.id),
                unit_id: user.as_ref().map(|u| u.unit_id),
                address,
                detail: serde_json::json!({ "email": email.to_lowercase(), "sent": user.as_ref().is_some_and(|u| u.status == status::ACTIVE) }),
            },
        )
        .await?;
        tx.commit().await?;
        self.outbox.notify();
        Ok(())
    }

    /// The account a live link is for, and the link's purpose.
    pub async fn link(&self, token: &str) -> Result<(User, Purpose), PeopleError> {
        let row: Option<(Uuid, String)> = sqlx::query_as(
            "SELECT l.user_id, l.purpose FROM account_links l JOIN users u ON u.id = l.user_id
             WHERE l.hash = $1 AND l.ended_at IS NULL AND l.expires_at > now()
               AND u.status <> 'disabled'",
        )
        .bind(hash_key(token))
        .fetch_optional(&self.pool)
        .await?;
        let (user_id, purpose) = row.ok_or(PeopleError::LinkInvalid)?;
        let user = self.user(user_id).await?.ok_or(PeopleError::LinkInvalid)?;
        let purpose = if purpose == Purpose::Invitation.as_str() {
            Purpose::Invitation
        } else {
            Purpose::PasswordReset
        };
        Ok((user, purpose))
    }

    /// Sets the password a live link allows, once: an invited account becomes active;
    /// after a reset, the account's other sessions end.
    /// With `only`, a link for another purpose is refused as if unknown.
    pub async fn set_password(
        &self,
        token: &str,
        new_password: &str,
        only: Option<Purpose>,
        address: Option<&str>,
    ) -> Result<User, PeopleError> {
        let (user, purpose) = self.link(token).await?;
        if only.is_some_and(|p| p != purpose) {
            return Err(PeopleError::LinkInvalid);
        }
        password::check(new_password, &user.email, &user.name).map_err(PeopleError::Weak)?;
        let phc = {
            let p = new_password.to_owned();
            tokio::task::spawn_blocking(move || password::hash(&p))
                .await
                .map_err(|e| PeopleError::Rule(format!("hashing failed: {e}")))?
        };
        let mut tx = self.pool.begin().await?;
        // The link is taken under a lock: of two uses at once, one wins.
        let row: Option<(Uuid, String)> = sqlx::query_as(
            "UPDATE account_links SET ended_at = now()
             WHERE hash = $1 AND ended_at IS NULL AND expires_at > now()
             RETURNING user_id, purpose",
        )
        .bind(hash_key(token))
        .fetch_optional(&mut *tx)
        .await?;
        let (user_id, purpose) = row.ok_or(PeopleError::LinkInvalid)?;
        let user: Option<User> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "UPDATE users SET password_hash = $2, status = 'active', updated_at = now()
             WHERE id = $1 AND status <> 'disabled' RETURNING {USER_COLUMNS}"
        )))
        .bind(user_id)
        .bind(phc)
        .fetch_optional(&mut *tx)
        .await?;
        let user = user.ok_or(PeopleError::LinkInvalid)?;
        end_sessions(&mut tx, &[user.id]).await?;
        audit(
            &mut tx,
            Audit {
                action: if purpose == Purpose::Invitation.as_str() {
                    "invitation_accepted"
                } else {
                    "password_reset"
                },
                actor: Some(&Actor::User(user.id)),
                user_id: Some(user.id),
                unit_id: Some(user.unit_id),
                address,
                detail: serde_json::json!({}),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(user)
    }

    /// Signs a person in: a new session, or `None` for a wrong password, an unknown
    /// address, an account not active or a unit that no longer acts, alike.
    pub async fn sign_in(
        &self,
        email: &str,
        given: &str,
        address: Option<&str>,
    ) -> Result<Option<NewSession>, PeopleError> {
        let row: Option<(Uuid, Option<String>, bool)> = sqlx::query_as(
            "SELECT u.id, u.password_hash, u.status = 'active' AND un.status NOT IN ('merged', 'closed')
             FROM users u JOIN units un ON un.id = u.unit_id WHERE lower(u.email) = lower($1)",
        )
        .bind(email)
        .fetch_optional(&self.pool)
        .await?;
        let phc = row
            .as_ref()
            .filter(|(_, _, may)| *may)
            .and_then(|(_, h, _)| h.clone());
        let ok = {
            let given = given.to_owned();
            tokio::task::spawn_blocking(move || password::verify(&given, phc.as_deref()))
                .await
                .unwrap_or(false)
        };
        let mut tx = self.pool.begin().await?;
        let user_id = row.as_ref().map(|(id, _, _)| *id);
        if !ok {
            audit(
                &mut tx,
                Audit {
                    action: "sign_in_failed",
                    actor: None,
                    user_id,
                    unit_id: None,
                    address,
                    detail: serde_json::json!({ "email": email.to_lowercase() }),
                },
            )
            .await?;
            tx.commit().await?;
            return Ok(None);
        }
        let user_id = user_id.expect("a password matched an account");
        let token = generate_token(SESSION_PREFIX);
        let expires_at = chrono::Utc::now()
            + chrono::Duration::from_std(self.lifetimes.session_lifetime)
                .unwrap_or(chrono::Duration::hours(12));
        sqlx::query("INSERT INTO sessions (id, user_id, hash, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(Uuid::now_v7())
            .bind(user_id)
            .bind(hash_key(&token))
            .bind(expires_at)
            .execute(&mut *tx)
            .await?;
        let user: User = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "UPDATE users SET last_sign_in_at = now() WHERE id = $1 RETURNING {USER_COLUMNS}"
        )))
        .bind(user_id)
        .fetch_one(&mut *tx)
        .await?;
        audit(
            &mut tx,
            Audit {
                action: "sign_in",
                actor: Some(&Actor::User(user.id)),
                user_id: Some(user.id),
                unit_id: Some(user.unit_id),
                address,
                detail: serde_json::json!({}),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(Some(NewSession {
            token,
            expires_at,
            user,
        }))
    }

    /// The live session a token hash names: not ended, within its lifetime and idle
    /// time, its person active and their unit acting. Records the use (at most every
    /// half minute, to spare a write per request).
    pub async fn session(&self, hash: &[u8]) -> Result<Option<SessionOf>, sqlx::Error> {
        let row: Option<(Uuid, Uuid, Uuid, String, bool)> = sqlx::query_as(
            "SELECT s.id, u.id, u.unit_id, u.role, s.last_seen_at < now() - interval '30 seconds'
             FROM sessions s JOIN users u ON u.id = s.user_id JOIN units un ON un.id = u.unit_id
             WHERE s.hash = $1 AND s.ended_at IS NULL AND s.expires_at > now()
               AND s.last_seen_at > now() - make_interval(secs => $2)
               AND u.status = 'active' AND un.status NOT IN ('merged', 'closed')",
        )
        .bind(hash)
        .bind(self.lifetimes.session_idle.as_secs_f64())
        .fetch_optional(&self.pool)
        .await?;
        let Some((session_id, user_id, unit_id, role, stale)) = row else {
            return Ok(None);
        };
        if stale {
            sqlx::query("UPDATE sessions SET last_seen_at = now() WHERE id = $1")
                .bind(session_id)
                .execute(&self.pool)
                .await?;
        }
        Ok(Role::parse(&role).map(|role| SessionOf {
            session_id,
            user_id,
            unit_id,
            role,
        }))
    }

    pub async fn sign_out(
        &self,
        session_id: Uuid,
        user_id: Uuid,
        address: Option<&str>,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let unit_id: Option<Uuid> = sqlx::query_scalar(
            "UPDATE sessions s SET ended_at = now() FROM users u
             WHERE s.id = $1 AND s.ended_at IS NULL AND u.id = s.user_id RETURNING u.unit_id",
        )
        .bind(session_id)
        .fetch_optional(&mut *tx)
        .await?;
        if unit_id.is_some() {
            audit(
                &mut tx,
                Audit {
                    action: "sign_out",
                    actor: Some(&Actor::User(user_id)),
                    user_id: Some(user_id),
                    unit_id,
                    address,
                    detail: serde_json::json!({}),
                },
            )
            .await?;
        }
        tx.commit().await
    }

    /// Changes an account. Disabling ends its sessions at once; enabling makes it
    /// active again (invited when it never set a password).
    pub async fn change(
        &self,
        actor: &Actor,
        id: Uuid,
        changes: Changes,
        address: Option<&str>,
    ) -> Result<User, PeopleError> {
        let mut tx = self.pool.begin().await?;
        let before: User = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users WHERE id = $1 FOR UPDATE"
        )))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(PeopleError::NotFound)?;
        let status = match changes.status.as_deref() {
            Some(status::DISABLED) => Some(status::DISABLED),
            Some(status::ACTIVE) if before.status == status::DISABLED => {
                let has_password: bool =
                    sqlx::query_scalar("SELECT password_hash IS NOT NULL FROM users WHERE id = $1")
                        .bind(id)
                        .fetch_one(&mut *tx)
                        .await?;
                Some(if has_password {
                    status::ACTIVE
                } else {
                    status::INVITED
                })
            }
            _ => None,
        };
        let after: User = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "UPDATE users SET name = coalesce($2, name), role = coalesce($3, role),
               unit_id = coalesce($4, unit_id), status = coalesce($5, status),
               updated_at = now(), updated_by = $6
             WHERE id = $1 RETURNING {USER_COLUMNS}"
        )))
        .bind(id)
        .bind(changes.name.as_deref())
        .bind(changes.role.map(Role::as_str))
        .bind(changes.unit_id)
        .bind(status)
        .bind(actor.to_string())
        .fetch_one(&mut *tx)
        .await?;
        // A person moved to another role or unit signs in again under it.
        if after.status == status::DISABLED
            || after.role != before.role
            || after.unit_id != before.unit_id
        {
            end_sessions(&mut tx, &[id]).await?;
        }
        let mut entries = Vec::new();
        if after.role != before.role || after.unit_id != before.unit_id {
            entries.push((
                "user_changed",
                serde_json::json!({
                    "role": { "from": before.role, "to": after.role },
                    "unit_id": { "from": before.unit_id, "to": after.unit_id },
                }),
            ));
        }
        if after.status != before.status {
            entries.push((
                if after.status == status::DISABLED {
                    "user_disabled"
                } else {
                    "user_enabled"
                },
                serde_json::json!({ "from": before.status, "to": after.status }),
            ));
        }
        if after.name != before.name {
            entries.push((
                "user_changed",
                serde_json::json!({ "name": { "from": before.name, "to": after.name } }),
            ));
        }
        for (action, detail) in entries {
            audit(
                &mut tx,
                Audit {
                    action,
                    actor: Some(actor),
                    user_id: Some(id),
                    unit_id: Some(after.unit_id),
                    address,
                    detail,
                },
            )
            .await?;
        }
        tx.commit().await?;
        // A new name or unit reads at once in every record the person made.
        self.names.forget(&Actor::User(id));
        Ok(after)
    }

    /// A page of the audit log, newest first, of one account or action if asked.
    pub async fn audit_log(
        &self,
        user_id: Option<Uuid>,
        action: Option<&str>,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, sqlx::Error> {
        sqlx::query_as(
            "SELECT id, at, action, actor, user_id, unit_id, address, detail FROM audit_log
             WHERE ($1::uuid IS NULL OR user_id = $1) AND ($2::text IS NULL OR action = $2)
               AND ($3::bigint IS NULL OR id < $3)
             ORDER BY id DESC LIMIT $4",
        )
        .bind(user_id)
        .bind(action)
        .bind(before)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
    }

    /// Who each actor is, in words for a record's reader: a person's name, a key's
    /// prefix and unit, or the system.
    pub async fn actors(
        &self,
        actors: &[String],
    ) -> Result<HashMap<String, serde_json::Value>, sqlx::Error> {
        let mut users = Vec::new();
        let mut keys = Vec::new();
        let mut out = HashMap::new();
        for a in actors {
            if let Some(who) = self.names.get(a) {
                out.insert(a.clone(), who);
                continue;
            }
            match Actor::parse(a) {
                Some(Actor::User(id)) => users.push(id),
                Some(Actor::Key(id)) => keys.push(id),
                Some(Actor::System) => {
                    out.insert(
                        a.clone(),
                        serde_json::json!({ "kind": "system", "name": "Hệ thống" }),
                    );
                }
                None => {}
            }
        }
        if !users.is_empty() {
            let rows: Vec<(Uuid, String, Uuid)> =
                sqlx::query_as("SELECT id, name, unit_id FROM users WHERE id = ANY($1)")
                    .bind(&users)
                    .fetch_all(&self.pool)
                    .await?;
            for (id, name, unit_id) in rows {
                let who = serde_json::json!({ "kind": "user", "id": id, "name": name, "unit_id": unit_id });
                self.names.put(Actor::User(id).to_string(), who.clone());
                out.insert(Actor::User(id).to_string(), who);
            }
        }
        if !keys.is_empty() {
            let rows: Vec<(Uuid, String, Uuid)> =
                sqlx::query_as("SELECT id, prefix, unit_id FROM api_keys WHERE id = ANY($1)")
                    .bind(&keys)
                    .fetch_all(&self.pool)
                    .await?;
            for (id, prefix, unit_id) in rows {
                let who = serde_json::json!({ "kind": "api_key", "id": id, "name": format!("Khóa API {prefix}…"), "unit_id": unit_id });
                self.names.put(Actor::Key(id).to_string(), who.clone());
                out.insert(Actor::Key(id).to_string(), who);
            }
        }
        Ok(out)
    }
}

/// An e-mail address as people type them: one `@`, a dotted domain, no spaces.
pub fn valid_email(e: &str) -> bool {
    let Some((local, domain)) = e.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && e.len() <= 254
        && !e.chars().any(|c| c.is_whitespace() || c.is_control())
}

pub use cchc_proto::ACTOR_FIELDS;

/// Replaces each actor text under [`ACTOR_FIELDS`] anywhere in `value` with who it is
/// (`{kind, id, name}`); an empty one becomes `null` (made before people were recorded).
pub async fn attribute(people: &People, value: &mut serde_json::Value) -> Result<(), sqlx::Error> {
    fn collect(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    match v {
                        serde_json::Value::String(s) if ACTOR_FIELDS.contains(&k.as_str()) => {
                            out.push(s.clone())
                        }
                        other => collect(other, out),
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| collect(v, out)),
            _ => {}
        }
    }
    fn replace(v: &mut serde_json::Value, names: &HashMap<String, serde_json::Value>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m.iter_mut() {
                    match v {
                        serde_json::Value::String(s) if ACTOR_FIELDS.contains(&k.as_str()) => {
                            *v = names.get(s.as_str()).cloned().unwrap_or_else(|| {
                                match Actor::parse(s) {
                                    // Someone since forgotten: their id still says who.
                                    Some(a) => serde_json::json!({ "kind": "unknown", "id": a.to_string() }),
                                    None => serde_json::Value::Null,
                                }
                            });
                        }
                        other => replace(other, names),
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(|v| replace(v, names)),
            _ => {}
        }
    }
    let mut actors = Vec::new();
    collect(value, &mut actors);
    if actors.is_empty() {
        return Ok(());
    }
    actors.sort();
    actors.dedup();
    let names = people.actors(&actors).await?;
    replace(value, &names);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_kept_forgotten_and_bounded() {
        let names = NameCache::default();
        let lan = Actor::User(Uuid::from_u128(1));
        names.put(lan.to_string(), serde_json::json!({"name": "Lan"}));
        assert_eq!(names.get(&lan.to_string()).unwrap()["name"], "Lan");
        names.forget(&lan);
        assert!(names.get(&lan.to_string()).is_none());
        for i in 0..NAMES_KEPT + 1 {
            names.put(format!("user:{i}"), serde_json::json!({}));
        }
        assert!(names.0.lock().unwrap().len() <= NAMES_KEPT);
    }
}

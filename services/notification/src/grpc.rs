//! The notification API over gRPC. Every request names its caller: units read their own
//! inbox; the office manages recipients, subscriptions and templates; the office and
//! operators see deliveries; operators retry dead letters.

use std::sync::Arc;

use cchc_platform::validation::{Errors, internal};
use cchc_platform::{Caller, Role};
use cchc_proto::notification::v1 as pb;
use cchc_proto::notification::v1::notification_service_server::NotificationService;
use sqlx::PgPool;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::config::Settings;
use crate::domain::address::origin_only;
use crate::domain::recipient::{NewRecipient, NewSubscription};
use crate::domain::{Kind, template};
use crate::store::page;
use crate::store::recipients::RecipientError;
use crate::store::{messages, recipients, subscriptions, templates};

const EVERYONE: &[Role] = &[Role::Unit, Role::Office, Role::Leader, Role::Operator];

pub struct Api {
    pool: PgPool,
    settings: Arc<Settings>,
}

impl Api {
    pub fn new(pool: PgPool, settings: Arc<Settings>) -> Self {
        Self { pool, settings }
    }
}

fn limit(n: u32) -> i64 {
    if n == 0 { 50 } else { n.min(500) as i64 }
}

fn id_of(field: &str, s: &str) -> Result<Uuid, Status> {
    s.parse().map_err(|_| {
        cchc_platform::validation::status(
            tonic::Code::InvalidArgument,
            &format!("{field} is not an id"),
            vec![cchc_platform::validation::FieldError {
                field: field.into(),
                message: "must be a UUID".into(),
            }],
        )
    })
}

fn message_not_found(id: Uuid) -> Status {
    Status::not_found(format!("no notification {id}"))
}

impl From<RecipientError> for Status {
    fn from(e: RecipientError) -> Self {
        match e {
            RecipientError::UnitTaken { .. } => Status::already_exists(e.to_string()),
            RecipientError::NotFound(_) => Status::not_found(e.to_string()),
            RecipientError::UnitFixed => Status::failed_precondition(e.to_string()),
            RecipientError::Db(e) => internal(e),
        }
    }
}

/// A recipient as the leadership sees it: where its webhook goes (the origin) but not
/// the path and query, which are often the receiver's own access token. The office,
/// which enters them, and operators, who fix deliveries, see the whole URL; nobody sees
/// the secret.
fn for_reader(mut r: pb::Recipient) -> pb::Recipient {
    for c in &mut r.contacts {
        if !c.url.is_empty() {
            c.url = origin_only(&c.url);
        }
    }
    r
}

#[tonic::async_trait]
impl NotificationService for Api {
    async fn list_inbox(
        &self,
        req: Request<pb::ListInboxRequest>,
    ) -> Result<Response<pb::ListInboxResponse>, Status> {
        let caller = Caller::require(&req, EVERYONE)?;
        let r = req.into_inner();
        let (messages, next_page_token) = messages::inbox(
            &self.pool,
            caller.unit_id,
            limit(r.limit),
            page(&r.page_token)?,
        )
        .await
        .map_err(internal)?;
        Ok(Response::new(pb::ListInboxResponse {
            messages,
            next_page_token,
        }))
    }

    async fn mark_read(
        &self,
        req: Request<pb::MessageRef>,
    ) -> Result<Response<pb::InboxMessage>, Status> {
        let caller = Caller::require(&req, EVERYONE)?;
        let id = id_of("id", &req.get_ref().id)?;
        // Another unit's message is as absent as a missing one.
        messages::mark_read(&self.pool, caller.unit_id, id)
            .await
            .map_err(internal)?
            .map(Response::new)
            .ok_or_else(|| message_not_found(id))
    }

    async fn create_recipient(
        &self,
        req: Request<pb::RecipientInput>,
    ) -> Result<Response<pb::Recipient>, Status> {
        Caller::require(&req, &[Role::Office])?;
        let r = NewRecipient::parse(req.get_ref(), &self.settings.delivery.webhook_addresses)?;
        Ok(Response::new(recipients::create(&self.pool, &r).await?))
    }

    async fn update_recipient(
        &self,
        req: Request<pb::UpdateRecipientRequest>,
    ) -> Result<Response<pb::Recipient>, Status> {
        Caller::require(&req, &[Role::Office])?;
        let body = req.into_inner();
        let id = id_of("id", &body.id)?;
        let r = NewRecipient::parse(
            &body.recipient.unwrap_or_default(),
            &self.settings.delivery.webhook_addresses,
        )?;
        Ok(Response::new(recipients::update(&self.pool, id, &r).await?))
    }

    async fn list_recipients(
        &self,
        req: Request<pb::ListRecipientsRequest>,
    ) -> Result<Response<pb::ListRecipientsResponse>, Status> {
        let caller = Caller::require(&req, &[Role::Office, Role::Leader, Role::Operator])?;
        let r = req.into_inner();
        let nonempty = |s: &String| (!s.is_empty()).then_some(s.clone());
        let (recipients, next_page_token) = recipients::list(
            &self.pool,
            nonempty(&r.kind).as_deref(),
            nonempty(&r.group).as_deref(),
            limit(r.limit),
            page(&r.page_token)?,
        )
        .await
        .map_err(internal)?;
        let recipients = if caller.role == Role::Leader {
            recipients.into_iter().map(for_reader).collect()
        } else {
            recipients
        };
        Ok(Response::new(pb::ListRecipientsResponse {
            recipients,
            next_page_token,
        }))
    }

    async fn create_subscription(
        &self,
        req: Request<pb::SubscriptionInput>,
    ) -> Result<Response<pb::Subscription>, Status> {
        Caller::require(&req, &[Role::Office])?;
        let s = NewSubscription::parse(req.get_ref())?;
        subscriptions::create(&self.pool, &s)
            .await
            .map_err(internal)?
            .map(Response::new)
            .ok_or_else(|| {
                cchc_platform::validation::status(
                    tonic::Code::FailedPrecondition,
                    "the subscription names a recipient that does not exist",
                    vec![cchc_platform::validation::FieldError {
                        field: "recipient_id".into(),
                        message: "no such recipient".into(),
                    }],
                )
            })
    }

    async fn list_subscriptions(
        &self,
        req: Request<pb::ListSubscriptionsRequest>,
    ) -> Result<Response<pb::ListSubscriptionsResponse>, Status> {
        Caller::require(&req, &[Role::Office, Role::Leader, Role::Operator])?;
        let t = &req.get_ref().event_type;
        let subscriptions = subscriptions::list(&self.pool, (!t.is_empty()).then_some(t.as_str()))
            .await
            .map_err(internal)?;
        Ok(Response::new(pb::ListSubscriptionsResponse {
            subscriptions,
        }))
    }

    async fn save_template(
        &self,
        req: Request<pb::TemplateInput>,
    ) -> Result<Response<pb::Template>, Status> {
        Caller::require(&req, &[Role::Office])?;
        let t = req.into_inner();
        let mut e = Errors::new();
        let kind = Kind::parse(&t.key);
        if kind.is_none() {
            let known: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
            e.add("key", format!("must be one of {}", known.join(", ")));
        }
        let language = if t.language.is_empty() {
            "vi"
        } else {
            t.language.as_str()
        };
        e.check(
            language == "vi" || language == "en",
            "language",
            "must be vi or en",
        );
        e.check(
            !t.subject.trim().is_empty() && t.subject.chars().count() <= 500,
            "subject",
            "is required, at most 500 characters",
        );
        e.check(
            !t.text.trim().is_empty() && t.text.chars().count() <= 20_000,
            "text",
            "is required, at most 20000 characters",
        );
        e.check(
            t.html.chars().count() <= 50_000,
            "html",
            "at most 50000 characters",
        );
        if let Some(kind) = kind {
            for (field, text) in [
                ("subject", &t.subject),
                ("text", &t.text),
                ("html", &t.html),
            ] {
                if let Err(err) = template::check(kind, text) {
                    e.add(field, err.to_string());
                }
            }
        }
        e.finish(tonic::Code::InvalidArgument, "the template is not valid")?;
        let kind = kind.expect("checked");
        templates::save(&self.pool, kind, language, &t.subject, &t.text, &t.html)
            .await
            .map_err(internal)?
            .map(Response::new)
            .ok_or_else(|| {
                Status::aborted("another version was saved at the same moment; save again")
            })
    }

    async fn list_templates(
        &self,
        req: Request<pb::ListTemplatesRequest>,
    ) -> Result<Response<pb::ListTemplatesResponse>, Status> {
        Caller::require(&req, &[Role::Office, Role::Leader, Role::Operator])?;
        let k = &req.get_ref().key;
        let templates = templates::list(&self.pool, (!k.is_empty()).then_some(k.as_str()))
            .await
            .map_err(internal)?;
        Ok(Response::new(pb::ListTemplatesResponse { templates }))
    }

    async fn list_deliveries(
        &self,
        req: Request<pb::MessageRef>,
    ) -> Result<Response<pb::DeliveryReport>, Status> {
        Caller::require(&req, &[Role::Office, Role::Operator])?;
        let id = id_of("id", &req.get_ref().id)?;
        messages::report(&self.pool, id)
            .await
            .map_err(internal)?
            .map(Response::new)
            .ok_or_else(|| message_not_found(id))
    }

    async fn list_dead_letters(
        &self,
        req: Request<pb::ListDeadLettersRequest>,
    ) -> Result<Response<pb::ListDeadLettersResponse>, Status> {
        Caller::require(&req, &[Role::Office, Role::Operator])?;
        let r = req.into_inner();
        let (messages, next_page_token) =
            messages::dead_letters(&self.pool, limit(r.limit), page(&r.page_token)?)
                .await
                .map_err(internal)?;
        Ok(Response::new(pb::ListDeadLettersResponse {
            messages,
            next_page_token,
        }))
    }

    async fn retry_message(
        &self,
        req: Request<pb::MessageRef>,
    ) -> Result<Response<pb::DeliveryReport>, Status> {
        Caller::require(&req, &[Role::Operator])?;
        let id = id_of("id", &req.get_ref().id)?;
        match messages::retry(&self.pool, id, self.settings.delivery.max_attempts)
            .await
            .map_err(internal)?
        {
            messages::Retry::Queued => {}
            messages::Retry::NotFound => return Err(message_not_found(id)),
            messages::Retry::NotDead(status) => {
                return Err(Status::failed_precondition(format!(
                    "only dead-lettered messages are retried; this one is {status}"
                )));
            }
        }
        messages::report(&self.pool, id)
            .await
            .map_err(internal)?
            .map(Response::new)
            .ok_or_else(|| message_not_found(id))
    }
}

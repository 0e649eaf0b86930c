//! The notification API over gRPC, one file per group of RPCs; this one routes the
//! calls and answers the store's refusals. Every request names its caller: units read
//! their own inbox; the office manages recipients, subscriptions and templates; the
//! office and operators see deliveries; operators retry dead letters. Each write is
//! attributed to the caller's actor, which the store records beside it.

mod deliveries;
mod inbox;
mod recipients;
mod subscriptions;
mod templates;

use std::sync::Arc;

use cchc_platform::page::Paging;
use cchc_platform::validation::{Errors, FieldError, Rule, internal, status};
use cchc_proto::notification::v1 as pb;
use cchc_proto::notification::v1::notification_service_server::NotificationService;
use tonic::{Code, Request, Response, Status};
use uuid::Uuid;

use crate::config::Settings;
use crate::store::{self, Store};

pub struct Notifications {
    store: Store,
    settings: Arc<Settings>,
}

impl Notifications {
    pub fn new(store: Store, settings: Arc<Settings>) -> Self {
        Self { store, settings }
    }
}

/// Each refusal of the store, as the caller hears it.
impl From<store::Error> for Status {
    fn from(e: store::Error) -> Self {
        use store::Error;
        match e {
            Error::UnitTaken { .. } => Status::already_exists(e.to_string()),
            Error::NoRecipient(_) | Error::NoMessage(_) => Status::not_found(e.to_string()),
            Error::UnitFixed | Error::NotDead(_) | Error::LinkDropped(_) | Error::NoTemplate(_) => {
                Status::failed_precondition(e.to_string())
            }
            Error::UnknownRecipient => status(
                Code::FailedPrecondition,
                &e.to_string(),
                vec![FieldError::new(
                    "recipient_id",
                    Rule::NoSuch { of: "recipient" },
                )],
            ),
            Error::VersionTaken => Status::aborted(e.to_string()),
            Error::Db(e) => internal(e),
        }
    }
}

/// The id in field `field` of a request.
fn id_of(field: &str, s: &str) -> Result<Uuid, Status> {
    s.parse().map_err(|_| {
        status(
            Code::InvalidArgument,
            &format!("{field} is not an id"),
            vec![FieldError::new(field, Rule::Id { of: "" })],
        )
    })
}

/// A list request's page: the platform's limit and token rules.
fn paging(limit: u32, page_token: &str) -> Result<Paging, Status> {
    let mut e = Errors::new();
    let paging = Paging::read(limit, page_token, &mut e);
    e.finish(Code::InvalidArgument, "the page asked for is not valid")?;
    Ok(paging)
}

/// A filter left empty: none.
fn given(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

#[tonic::async_trait]
impl NotificationService for Notifications {
    async fn list_inbox(
        &self,
        req: Request<pb::ListInboxRequest>,
    ) -> Result<Response<pb::ListInboxResponse>, Status> {
        inbox::list(self, req).await.map(Response::new)
    }

    async fn mark_read(
        &self,
        req: Request<pb::MessageRef>,
    ) -> Result<Response<pb::InboxMessage>, Status> {
        inbox::mark_read(self, req).await.map(Response::new)
    }

    async fn create_recipient(
        &self,
        req: Request<pb::RecipientInput>,
    ) -> Result<Response<pb::Recipient>, Status> {
        recipients::create(self, req).await.map(Response::new)
    }

    async fn update_recipient(
        &self,
        req: Request<pb::UpdateRecipientRequest>,
    ) -> Result<Response<pb::Recipient>, Status> {
        recipients::update(self, req).await.map(Response::new)
    }

    async fn list_recipients(
        &self,
        req: Request<pb::ListRecipientsRequest>,
    ) -> Result<Response<pb::ListRecipientsResponse>, Status> {
        recipients::list(self, req).await.map(Response::new)
    }

    async fn create_subscription(
        &self,
        req: Request<pb::SubscriptionInput>,
    ) -> Result<Response<pb::Subscription>, Status> {
        subscriptions::create(self, req).await.map(Response::new)
    }

    async fn list_subscriptions(
        &self,
        req: Request<pb::ListSubscriptionsRequest>,
    ) -> Result<Response<pb::ListSubscriptionsResponse>, Status> {
        subscriptions::list(self, req).await.map(Response::new)
    }

    async fn save_template(
        &self,
        req: Request<pb::TemplateInput>,
    ) -> Result<Response<pb::Template>, Status> {
        templates::save(self, req).await.map(Response::new)
    }

    async fn preview_template(
        &self,
        req: Request<pb::TemplateInput>,
    ) -> Result<Response<pb::TemplatePreview>, Status> {
        templates::preview(req).map(Response::new)
    }

    async fn list_templates(
        &self,
        req: Request<pb::ListTemplatesRequest>,
    ) -> Result<Response<pb::ListTemplatesResponse>, Status> {
        templates::list(self, req).await.map(Response::new)
    }

    async fn list_deliveries(
        &self,
        req: Request<pb::MessageRef>,
    ) -> Result<Response<pb::DeliveryReport>, Status> {
        deliveries::report(self, req).await.map(Response::new)
    }

    async fn list_dead_letters(
        &self,
        req: Request<pb::ListDeadLettersRequest>,
    ) -> Result<Response<pb::ListDeadLettersResponse>, Status> {
        deliveries::dead_letters(self, req).await.map(Response::new)
    }

    async fn retry_message(
        &self,
        req: Request<pb::MessageRef>,
    ) -> Result<Response<pb::DeliveryReport>, Status> {
        deliveries::retry(self, req).await.map(Response::new)
    }
}

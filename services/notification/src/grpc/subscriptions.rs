//! Subscriptions: who is told what, by which channels. The office makes them; the
//! office, leadership and operators list them.

use cchc_platform::{Caller, Role};
use cchc_proto::notification::v1 as pb;
use tonic::{Request, Status};

use super::{Notifications, given};
use crate::domain::recipient::NewSubscription;

pub async fn create(
    api: &Notifications,
    req: Request<pb::SubscriptionInput>,
) -> Result<pb::Subscription, Status> {
    let caller = Caller::require(&req, &[Role::Office])?;
    let s = NewSubscription::parse(req.get_ref())?;
    Ok(api.store.create_subscription(&caller.actor, &s).await?)
}

pub async fn list(
    api: &Notifications,
    req: Request<pb::ListSubscriptionsRequest>,
) -> Result<pb::ListSubscriptionsResponse, Status> {
    Caller::require(&req, &[Role::Office, Role::Leader, Role::Operator])?;
    let event_type = given(&req.get_ref().event_type);
    let subscriptions = api.store.list_subscriptions(event_type).await?;
    Ok(pb::ListSubscriptionsResponse { subscriptions })
}

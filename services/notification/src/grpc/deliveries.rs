//! The delivery record: every attempt at one message (the office and operators), the
//! dead letters, and an operator's retry of one.

use cchc_platform::{Caller, Role};
use cchc_proto::notification::v1 as pb;
use tonic::{Request, Status};

use super::{Notifications, id_of, paging};

/// Who sees deliveries: the office and operators.
const READERS: &[Role] = &[Role::Office, Role::Operator];

pub async fn report(
    api: &Notifications,
    req: Request<pb::MessageRef>,
) -> Result<pb::DeliveryReport, Status> {
    Caller::require(&req, READERS)?;
    let id = id_of("id", &req.get_ref().id)?;
    Ok(api.store.delivery_report(id).await?)
}

pub async fn dead_letters(
    api: &Notifications,
    req: Request<pb::ListDeadLettersRequest>,
) -> Result<pb::ListDeadLettersResponse, Status> {
    Caller::require(&req, READERS)?;
    let r = req.into_inner();
    let paging = paging(r.limit, &r.page_token)?;
    let (messages, next_page_token) = api.store.dead_letters(&paging).await?;
    Ok(pb::ListDeadLettersResponse {
        messages,
        next_page_token,
    })
}

/// Queues a dead-lettered message again with a fresh budget of attempts, and answers
/// its record.
pub async fn retry(
    api: &Notifications,
    req: Request<pb::MessageRef>,
) -> Result<pb::DeliveryReport, Status> {
    let caller = Caller::require(&req, &[Role::Operator])?;
    let id = id_of("id", &req.get_ref().id)?;
    api.store
        .retry(&caller.actor, id, api.settings.delivery.max_attempts)
        .await?;
    Ok(api.store.delivery_report(id).await?)
}

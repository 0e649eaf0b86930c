//! A unit's inbox: its messages, newest first, and marking one read. Every role reads
//! the inbox of the unit it acts for.

use cchc_platform::{Caller, Role};
use cchc_proto::notification::v1 as pb;
use tonic::{Request, Status};

use super::{Notifications, id_of, paging};

const EVERYONE: &[Role] = &[Role::Unit, Role::Office, Role::Leader, Role::Operator];

pub async fn list(
    api: &Notifications,
    req: Request<pb::ListInboxRequest>,
) -> Result<pb::ListInboxResponse, Status> {
    let caller = Caller::require(&req, EVERYONE)?;
    let r = req.into_inner();
    let paging = paging(r.limit, &r.page_token)?;
    let (messages, next_page_token) = api.store.inbox(caller.unit_id, &paging).await?;
    Ok(pb::ListInboxResponse {
        messages,
        next_page_token,
    })
}

pub async fn mark_read(
    api: &Notifications,
    req: Request<pb::MessageRef>,
) -> Result<pb::InboxMessage, Status> {
    let caller = Caller::require(&req, EVERYONE)?;
    let id = id_of("id", &req.get_ref().id)?;
    // Another unit's message is as absent as a missing one.
    Ok(api
        .store
        .mark_read(&caller.actor, caller.unit_id, id)
        .await?)
}

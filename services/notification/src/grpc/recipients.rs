//! Recipients: the office enters them; the office, leadership and operators list them.

use cchc_platform::{Caller, Role};
use cchc_proto::notification::v1 as pb;
use tonic::{Request, Status};

use super::{Notifications, given, id_of, paging};
use crate::domain::address::origin_only;
use crate::domain::recipient::NewRecipient;
use crate::store::recipients::Filter;

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

pub async fn create(
    api: &Notifications,
    req: Request<pb::RecipientInput>,
) -> Result<pb::Recipient, Status> {
    let caller = Caller::require(&req, &[Role::Office])?;
    let r = NewRecipient::parse(req.get_ref(), &api.settings.delivery.webhook_addresses)?;
    Ok(api.store.create_recipient(&caller.actor, &r).await?)
}

pub async fn update(
    api: &Notifications,
    req: Request<pb::UpdateRecipientRequest>,
) -> Result<pb::Recipient, Status> {
    let caller = Caller::require(&req, &[Role::Office])?;
    let body = req.into_inner();
    let id = id_of("id", &body.id)?;
    let r = NewRecipient::parse(
        &body.recipient.unwrap_or_default(),
        &api.settings.delivery.webhook_addresses,
    )?;
    Ok(api.store.update_recipient(&caller.actor, id, &r).await?)
}

pub async fn list(
    api: &Notifications,
    req: Request<pb::ListRecipientsRequest>,
) -> Result<pb::ListRecipientsResponse, Status> {
    let caller = Caller::require(&req, &[Role::Office, Role::Leader, Role::Operator])?;
    let r = req.into_inner();
    let paging = paging(r.limit, &r.page_token)?;
    let filter = Filter {
        kind: given(&r.kind),
        group: given(&r.group),
    };
    let (recipients, next_page_token) = api.store.list_recipients(&filter, &paging).await?;
    let recipients = if caller.role == Role::Leader {
        recipients.into_iter().map(for_reader).collect()
    } else {
        recipients
    };
    Ok(pb::ListRecipientsResponse {
        recipients,
        next_page_token,
    })
}

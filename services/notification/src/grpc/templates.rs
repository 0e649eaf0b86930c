//! Templates: the office saves new versions; the office, leadership and operators list
//! them.

use cchc_platform::{Caller, Role};
use cchc_proto::notification::v1 as pb;
use tonic::{Request, Status};

use super::{Notifications, given};
use crate::domain::template::NewTemplate;

pub async fn save(
    api: &Notifications,
    req: Request<pb::TemplateInput>,
) -> Result<pb::Template, Status> {
    let caller = Caller::require(&req, &[Role::Office])?;
    let t = NewTemplate::parse(req.into_inner())?;
    Ok(api.store.save_template(&caller.actor, &t).await?)
}

/// A draft rendered with example values, checked as a save is; nothing is stored.
pub fn preview(req: Request<pb::TemplateInput>) -> Result<pb::TemplatePreview, Status> {
    Caller::require(&req, &[Role::Office])?;
    let t = NewTemplate::parse(req.into_inner())?;
    let r = t.preview();
    Ok(pb::TemplatePreview {
        subject: r.subject,
        text: r.text,
        html: r.html,
    })
}

pub async fn list(
    api: &Notifications,
    req: Request<pb::ListTemplatesRequest>,
) -> Result<pb::ListTemplatesResponse, Status> {
    Caller::require(&req, &[Role::Office, Role::Leader, Role::Operator])?;
    let templates = api.store.list_templates(given(&req.get_ref().key)).await?;
    Ok(pb::ListTemplatesResponse { templates })
}

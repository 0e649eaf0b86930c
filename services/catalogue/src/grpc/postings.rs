//! Postings (niêm yết): a unit confirms what it posted; units list their own, the
//! office and leadership all.

use cchc_platform::{Caller, Role};
use cchc_proto::catalogue::v1::*;
use tonic::{Request, Response, Status};

use super::{invalid, writer};
use crate::domain::{NewPosting, PostingFilter};
use crate::store::Store;

pub(super) async fn confirm(
    store: &Store,
    req: Request<ConfirmPostingRequest>,
) -> Result<Response<Posting>, Status> {
    let caller = writer(store, &req, &[Role::Unit]).await?;
    let posting = NewPosting::parse(req.into_inner(), cchc_platform::time::today())
        .map_err(|e| invalid(e, "the posting is not valid"))?;
    Ok(Response::new(
        store
            .confirm_posting(&caller.actor, caller.unit_id, &posting)
            .await?,
    ))
}

pub(super) async fn list(
    store: &Store,
    req: Request<ListPostingsRequest>,
) -> Result<Response<ListPostingsResponse>, Status> {
    let caller = Caller::require(
        &req,
        &[Role::Unit, Role::Office, Role::Leader, Role::Operator],
    )?;
    let filter = PostingFilter::parse(&caller, req.into_inner())
        .map_err(|e| invalid(e, "the filter is not valid"))?;
    Ok(Response::new(store.postings(&filter).await?))
}

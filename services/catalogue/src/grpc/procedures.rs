//! Procedures: drafts, publication, versions and search.

use cchc_platform::{Caller, Role};
use cchc_proto::catalogue::v1::*;
use tonic::{Request, Response, Status};

use super::{invalid, lookup_code, sees_unpublished, writer};
use crate::domain::{DraftEdit, NewProcedure, ProcedureSearch, Publication};
use crate::store::Store;

pub(super) async fn create(
    store: &Store,
    req: Request<CreateProcedureRequest>,
) -> Result<Response<ProcedureView>, Status> {
    let caller = writer(store, &req, &[Role::Office]).await?;
    let p = NewProcedure::parse(req.into_inner())
        .map_err(|e| invalid(e, "the procedure is not valid"))?;
    Ok(Response::new(store.create(&caller.actor, &p).await?))
}

pub(super) async fn publish(
    store: &Store,
    req: Request<PublishProcedureRequest>,
) -> Result<Response<ProcedureView>, Status> {
    let caller = writer(store, &req, &[Role::Office]).await?;
    let p = Publication::parse(req.get_ref())
        .map_err(|e| invalid(e, "the publication is not valid"))?;
    Ok(Response::new(store.publish(&caller.actor, &p).await?))
}

pub(super) async fn get(
    store: &Store,
    req: Request<GetProcedureRequest>,
) -> Result<Response<ProcedureView>, Status> {
    let office = sees_unpublished(&req)?;
    let r = req.into_inner();
    let code = lookup_code(&r.code)?;
    Ok(Response::new(store.get(code, r.version, office).await?))
}

pub(super) async fn get_draft(
    store: &Store,
    req: Request<GetDraftRequest>,
) -> Result<Response<ProcedureView>, Status> {
    Caller::require(&req, &[Role::Office])?;
    let code = lookup_code(&req.get_ref().code)?;
    Ok(Response::new(store.draft(code).await?))
}

pub(super) async fn update_draft(
    store: &Store,
    req: Request<UpdateDraftRequest>,
) -> Result<Response<ProcedureView>, Status> {
    let caller = writer(store, &req, &[Role::Office]).await?;
    let edit =
        DraftEdit::parse(req.into_inner()).map_err(|e| invalid(e, "the draft is not valid"))?;
    Ok(Response::new(
        store.update_draft(&caller.actor, &edit).await?,
    ))
}

pub(super) async fn list_versions(
    store: &Store,
    req: Request<ListVersionsRequest>,
) -> Result<Response<ListVersionsResponse>, Status> {
    let office = sees_unpublished(&req)?;
    let code = lookup_code(&req.get_ref().code)?;
    let versions = store.versions(code, office).await?;
    Ok(Response::new(ListVersionsResponse { versions }))
}

pub(super) async fn search(
    store: &Store,
    req: Request<SearchProceduresRequest>,
) -> Result<Response<SearchProceduresResponse>, Status> {
    let search = ProcedureSearch::parse(req.into_inner())
        .map_err(|e| invalid(e, "the search is not valid"))?;
    Ok(Response::new(store.search(&search).await?))
}

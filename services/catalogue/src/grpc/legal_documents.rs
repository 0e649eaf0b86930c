//! Legal documents: recording them, reading one, and searching.

use cchc_platform::Role;
use cchc_proto::catalogue::v1::*;
use tonic::{Request, Response, Status};

use super::{invalid, writer};
use crate::domain::{LegalDocumentSearch, NewLegalDocument};
use crate::store::Store;

pub(super) async fn create(
    store: &Store,
    req: Request<CreateLegalDocumentRequest>,
) -> Result<Response<LegalDocument>, Status> {
    let caller = writer(store, &req, &[Role::Office]).await?;
    let doc = NewLegalDocument::parse(req.get_ref())
        .map_err(|e| invalid(e, "the legal document is not valid"))?;
    Ok(Response::new(
        store.create_legal_document(&caller.actor, &doc).await?,
    ))
}

pub(super) async fn get(
    store: &Store,
    req: Request<GetLegalDocumentRequest>,
) -> Result<Response<LegalDocument>, Status> {
    // Ids are issued by the catalogue: anything else names no document.
    let id = req
        .get_ref()
        .id
        .parse()
        .map_err(|_| Status::not_found("no such legal document"))?;
    Ok(Response::new(store.legal_document(id).await?))
}

pub(super) async fn search(
    store: &Store,
    req: Request<SearchLegalDocumentsRequest>,
) -> Result<Response<SearchLegalDocumentsResponse>, Status> {
    let search = LegalDocumentSearch::parse(req.into_inner())
        .map_err(|e| invalid(e, "the search is not valid"))?;
    Ok(Response::new(store.search_legal_documents(&search).await?))
}

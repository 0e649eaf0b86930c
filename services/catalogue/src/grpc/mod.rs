//! The catalogue's gRPC API, one file per group of RPCs. Writes need the office role
//! (postings the unit role) and a unit that was neither closed nor merged; reads are
//! public for published versions. Each handler reads its request into a
//! [`crate::domain`] type, calls the [`Store`], and says here what each store error
//! tells the caller.

mod cpsv_ap;
mod exchange;
mod legal_documents;
mod postings;
mod procedures;

use cchc_platform::validation::{self, Errors};
use cchc_platform::{Caller, Role};
use cchc_proto::catalogue::v1::catalogue_service_server::CatalogueService;
use cchc_proto::catalogue::v1::*;
use tonic::{Code, Request, Response, Status};

use crate::store::{self, Store};

/// The catalogue service.
pub struct Catalogue {
    store: Store,
}

impl Catalogue {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

#[tonic::async_trait]
impl CatalogueService for Catalogue {
    async fn create_procedure(
        &self,
        req: Request<CreateProcedureRequest>,
    ) -> Result<Response<ProcedureView>, Status> {
        procedures::create(&self.store, req).await
    }

    async fn publish_procedure(
        &self,
        req: Request<PublishProcedureRequest>,
    ) -> Result<Response<ProcedureView>, Status> {
        procedures::publish(&self.store, req).await
    }

    async fn get_procedure(
        &self,
        req: Request<GetProcedureRequest>,
    ) -> Result<Response<ProcedureView>, Status> {
        procedures::get(&self.store, req).await
    }

    async fn get_draft(
        &self,
        req: Request<GetDraftRequest>,
    ) -> Result<Response<ProcedureView>, Status> {
        procedures::get_draft(&self.store, req).await
    }

    async fn update_draft(
        &self,
        req: Request<UpdateDraftRequest>,
    ) -> Result<Response<ProcedureView>, Status> {
        procedures::update_draft(&self.store, req).await
    }

    async fn list_versions(
        &self,
        req: Request<ListVersionsRequest>,
    ) -> Result<Response<ListVersionsResponse>, Status> {
        procedures::list_versions(&self.store, req).await
    }

    async fn search_procedures(
        &self,
        req: Request<SearchProceduresRequest>,
    ) -> Result<Response<SearchProceduresResponse>, Status> {
        procedures::search(&self.store, req).await
    }

    async fn create_legal_document(
        &self,
        req: Request<CreateLegalDocumentRequest>,
    ) -> Result<Response<LegalDocument>, Status> {
        legal_documents::create(&self.store, req).await
    }

    async fn get_legal_document(
        &self,
        req: Request<GetLegalDocumentRequest>,
    ) -> Result<Response<LegalDocument>, Status> {
        legal_documents::get(&self.store, req).await
    }

    async fn search_legal_documents(
        &self,
        req: Request<SearchLegalDocumentsRequest>,
    ) -> Result<Response<SearchLegalDocumentsResponse>, Status> {
        legal_documents::search(&self.store, req).await
    }

    async fn confirm_posting(
        &self,
        req: Request<ConfirmPostingRequest>,
    ) -> Result<Response<Posting>, Status> {
        postings::confirm(&self.store, req).await
    }

    async fn list_postings(
        &self,
        req: Request<ListPostingsRequest>,
    ) -> Result<Response<ListPostingsResponse>, Status> {
        postings::list(&self.store, req).await
    }

    async fn export_catalogue(
        &self,
        req: Request<ExportCatalogueRequest>,
    ) -> Result<Response<ExportCatalogueResponse>, Status> {
        exchange::export(&self.store, req).await
    }

    async fn import_procedures(
        &self,
        req: Request<ImportProceduresRequest>,
    ) -> Result<Response<ImportProceduresResponse>, Status> {
        exchange::import(&self.store, req).await
    }
}

/// What each store error tells the caller.
impl From<store::Error> for Status {
    fn from(e: store::Error) -> Self {
        use store::Error;
        match e {
            Error::NotFound(_) => Status::not_found(e.to_string()),
            Error::Conflict(m) => Status::already_exists(m),
            Error::Stale(m) => Status::aborted(m),
            Error::Rule(m) => Status::failed_precondition(m),
            Error::Incomplete { message, missing } => {
                validation::status(Code::FailedPrecondition, &message, missing.into_vec())
            }
            Error::UnitEnded(m) => Status::permission_denied(m),
            Error::Db(e) => validation::internal(e),
        }
    }
}

/// Bad input, every problem named by its field.
fn invalid(errors: Errors, message: &str) -> Status {
    validation::status(Code::InvalidArgument, message, errors.into_vec())
}

/// The caller making a write: one of `roles`, of a unit that still acts.
async fn writer<T>(store: &Store, req: &Request<T>, roles: &[Role]) -> Result<Caller, Status> {
    let caller = Caller::require(req, roles)?;
    store.ensure_active(caller.unit_id).await?;
    Ok(caller)
}

/// Whether the caller reads drafts and scheduled versions too (office, leadership).
fn sees_unpublished<T>(req: &Request<T>) -> Result<bool, Status> {
    Ok(Caller::of(req)?.is_some_and(|c| matches!(c.role, Role::Office | Role::Leader)))
}

/// A code to look up: any code may be asked for (one the catalogue does not hold is
/// not found), but one with a control character names nothing and is refused before
/// it reaches the database (PostgreSQL refuses NUL in text).
fn lookup_code(code: &str) -> Result<&str, Status> {
    let mut errors = Errors::new();
    errors.single_line("code", code);
    if errors.is_empty() {
        Ok(code)
    } else {
        Err(invalid(errors, "the procedure code is not valid"))
    }
}

//! The catalogue's gRPC API. Writes need the office role; reads are public for published
//! versions.

use cchc_platform::validation::Errors;
use cchc_platform::{Caller, Role};
use cchc_proto::catalogue::v1::catalogue_service_server::CatalogueService;
use cchc_proto::catalogue::v1::{
    CreateProcedureRequest, GetProcedureRequest, ProcedureView, PublishProcedureRequest,
};
use tonic::{Request, Response, Status};

use crate::domain;
use crate::store::Store;

pub struct Catalogue {
    store: Store,
}

impl Catalogue {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

fn check_code(errors: &mut Errors, code: &str) {
    errors.check(
        domain::valid_code(code),
        "code",
        "must be a national procedure code such as 1.012753.H19",
    );
}

#[tonic::async_trait]
impl CatalogueService for Catalogue {
    async fn create_procedure(
        &self,
        req: Request<CreateProcedureRequest>,
    ) -> Result<Response<ProcedureView>, Status> {
        Caller::require(&req, &[Role::Office])?;
        let r = req.into_inner();
        let content = r.content.unwrap_or_default();
        let mut errors = Errors::new();
        check_code(&mut errors, &r.code);
        domain::check_draft(&mut errors, &content);
        errors.finish(tonic::Code::InvalidArgument, "the procedure is not valid")?;
        Ok(Response::new(self.store.create(&r.code, &content).await?))
    }

    async fn publish_procedure(
        &self,
        req: Request<PublishProcedureRequest>,
    ) -> Result<Response<ProcedureView>, Status> {
        Caller::require(&req, &[Role::Office])?;
        let r = req.into_inner();
        let abolish = r.change_type == "abolished";
        let mut errors = Errors::new();
        check_code(&mut errors, &r.code);
        let publication = domain::check_publication(&mut errors, &r, abolish);
        errors.finish(tonic::Code::InvalidArgument, "the publication is not valid")?;
        let publication =
            publication.ok_or_else(|| Status::invalid_argument("the publication is not valid"))?;
        Ok(Response::new(
            self.store.publish(&r.code, publication, abolish).await?,
        ))
    }

    async fn get_procedure(
        &self,
        req: Request<GetProcedureRequest>,
    ) -> Result<Response<ProcedureView>, Status> {
        let caller = Caller::from_metadata(req.metadata())?;
        let office = caller.is_some_and(|c| matches!(c.role, Role::Office | Role::Leader));
        let r = req.into_inner();
        Ok(Response::new(
            self.store.get(&r.code, r.version, office).await?,
        ))
    }
}

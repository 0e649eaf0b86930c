//! The catalogue's gRPC API. Writes need the office role (postings the unit role) and a
//! unit that was neither closed nor merged; reads are public for published versions.

use cchc_platform::validation::{Errors, is_http_url, parse_date, today};
use cchc_platform::{Caller, Role};
use cchc_proto::catalogue::v1::catalogue_service_server::CatalogueService;
use cchc_proto::catalogue::v1::*;
use tonic::{Request, Response, Status};

use crate::domain;
use crate::store::{NewPosting, PostingFilter, Store};

pub struct Catalogue {
    store: Store,
}

impl Catalogue {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

/// Offset pagination: the token is the offset of the next page.
fn page(errors: &mut Errors, limit: u32, token: &str) -> (i64, i64) {
    let limit = if limit == 0 { 50 } else { limit.min(500) } as i64;
    let offset = if token.is_empty() {
        0
    } else {
        token
            .parse::<i64>()
            .ok()
            .filter(|o| *o >= 0)
            .unwrap_or_else(|| {
                errors.add("page_token", "is not a token this service issued");
                0
            })
    };
    (limit, offset)
}

fn next_token(limit: i64, offset: i64, got: usize) -> String {
    if got as i64 == limit {
        (offset + limit).to_string()
    } else {
        String::new()
    }
}

/// Whether the caller reads drafts too (office, leadership).
fn reader<T>(req: &Request<T>) -> Result<bool, Status> {
    Ok(Caller::of(req)?.is_some_and(|c| matches!(c.role, Role::Office | Role::Leader)))
}

/// A code to look up: one with a control character names nothing and is refused before
/// it reaches the database (PostgreSQL refuses NUL in text).
fn check_lookup_code(code: &str) -> Result<(), Status> {
    let mut errors = Errors::new();
    errors.single_line("code", code);
    errors.finish(
        tonic::Code::InvalidArgument,
        "the procedure code is not valid",
    )
}

impl Catalogue {
    /// The caller making a write: one of `roles`, of a unit that still acts.
    async fn writer<T>(&self, req: &Request<T>, roles: &[Role]) -> Result<Caller, Status> {
        let caller = Caller::require(req, roles)?;
        self.store.ensure_active(caller.unit_id).await?;
        Ok(caller)
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
        self.writer(&req, &[Role::Office]).await?;
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
        self.writer(&req, &[Role::Office]).await?;
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
        let office = reader(&req)?;
        let r = req.into_inner();
        check_lookup_code(&r.code)?;
        Ok(Response::new(
            self.store.get(&r.code, r.version, office).await?,
        ))
    }

    async fn get_draft(
        &self,
        req: Request<GetDraftRequest>,
    ) -> Result<Response<ProcedureView>, Status> {
        Caller::require(&req, &[Role::Office])?;
        let code = req.into_inner().code;
        check_lookup_code(&code)?;
        Ok(Response::new(self.store.draft(&code).await?))
    }

    async fn update_draft(
        &self,
        req: Request<UpdateDraftRequest>,
    ) -> Result<Response<ProcedureView>, Status> {
        self.writer(&req, &[Role::Office]).await?;
        let r = req.into_inner();
        let content = r.content.unwrap_or_default();
        let mut errors = Errors::new();
        errors.single_line("code", &r.code);
        errors.check(
            r.revision > 0,
            "revision",
            "the draft revision the edit started from is required",
        );
        domain::check_draft(&mut errors, &content);
        errors.finish(tonic::Code::InvalidArgument, "the draft is not valid")?;
        Ok(Response::new(
            self.store
                .update_draft(&r.code, r.revision, &content)
                .await?,
        ))
    }

    async fn list_versions(
        &self,
        req: Request<ListVersionsRequest>,
    ) -> Result<Response<ListVersionsResponse>, Status> {
        let office = reader(&req)?;
        let code = req.into_inner().code;
        check_lookup_code(&code)?;
        let versions = self.store.versions(&code, office).await?;
        Ok(Response::new(ListVersionsResponse { versions }))
    }

    async fn search_procedures(
        &self,
        req: Request<SearchProceduresRequest>,
    ) -> Result<Response<SearchProceduresResponse>, Status> {
        let r = req.into_inner();
        let mut errors = Errors::new();
        errors.check(
            r.q.chars().count() <= 200,
            "q",
            "must be at most 200 characters",
        );
        errors.check(
            r.level.is_empty() || domain::LEVELS.contains(&r.level.as_str()),
            "level",
            format!("must be one of {}", domain::LEVELS.join(", ")),
        );
        errors.check(
            ["", "published", "abolished"].contains(&r.status.as_str()),
            "status",
            "must be published or abolished",
        );
        let (limit, offset) = page(&mut errors, r.limit, &r.page_token);
        errors.finish(tonic::Code::InvalidArgument, "the search is not valid")?;
        let (procedures, total) = self.store.search(&r, limit, offset).await?;
        let next_page_token = next_token(limit, offset, procedures.len());
        Ok(Response::new(SearchProceduresResponse {
            procedures,
            next_page_token,
            total,
        }))
    }

    async fn create_legal_document(
        &self,
        req: Request<CreateLegalDocumentRequest>,
    ) -> Result<Response<LegalDocument>, Status> {
        self.writer(&req, &[Role::Office]).await?;
        let r = req.into_inner();
        let mut errors = Errors::new();
        let doc = domain::check_legal_document(&mut errors, &r);
        errors.finish(
            tonic::Code::InvalidArgument,
            "the legal document is not valid",
        )?;
        let doc = doc.ok_or_else(|| Status::invalid_argument("the legal document is not valid"))?;
        Ok(Response::new(self.store.create_legal_document(doc).await?))
    }

    async fn get_legal_document(
        &self,
        req: Request<GetLegalDocumentRequest>,
    ) -> Result<Response<LegalDocument>, Status> {
        let id = req
            .into_inner()
            .id
            .parse()
            .map_err(|_| Status::not_found("no such legal document"))?;
        Ok(Response::new(self.store.legal_document(id).await?))
    }

    async fn search_legal_documents(
        &self,
        req: Request<SearchLegalDocumentsRequest>,
    ) -> Result<Response<SearchLegalDocumentsResponse>, Status> {
        let r = req.into_inner();
        let mut errors = Errors::new();
        errors.check(
            ["", "in_force", "amended", "repealed"].contains(&r.status.as_str()),
            "status",
            "must be in_force, amended or repealed",
        );
        errors.check(
            r.r#type.is_empty() || domain::DOCUMENT_TYPES.contains(&r.r#type.as_str()),
            "type",
            format!("must be one of {}", domain::DOCUMENT_TYPES.join(", ")),
        );
        let (limit, offset) = page(&mut errors, r.limit, &r.page_token);
        errors.finish(tonic::Code::InvalidArgument, "the search is not valid")?;
        let some = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        let documents = self
            .store
            .search_legal_documents(
                &r.q,
                some(&r.status).as_deref(),
                some(&r.r#type).as_deref(),
                limit,
                offset,
            )
            .await?;
        let next_page_token = next_token(limit, offset, documents.len());
        Ok(Response::new(SearchLegalDocumentsResponse {
            documents,
            next_page_token,
        }))
    }

    async fn confirm_posting(
        &self,
        req: Request<ConfirmPostingRequest>,
    ) -> Result<Response<Posting>, Status> {
        let caller = self.writer(&req, &[Role::Unit]).await?;
        let r = req.into_inner();
        let mut errors = Errors::new();
        check_code(&mut errors, &r.code);
        errors.check(r.version > 0, "version", "the posted version is required");
        errors.check(
            !r.location.trim().is_empty(),
            "location",
            "where the procedure is posted is required",
        );
        errors.check(
            r.location.chars().count() <= 500,
            "location",
            "must be at most 500 characters",
        );
        errors.single_line("location", &r.location);
        let posted_on = parse_date(&mut errors, "posted_on", &r.posted_on);
        if let Some(d) = posted_on {
            errors.check(d <= today(), "posted_on", "must not be in the future");
        }
        errors.check(
            r.evidence_url.is_empty() || is_http_url(&r.evidence_url),
            "evidence_url",
            "must be an http(s) URL",
        );
        errors.finish(tonic::Code::InvalidArgument, "the posting is not valid")?;
        let posting = NewPosting {
            code: r.code,
            version: r.version,
            location: r.location.trim().to_owned(),
            posted_on: posted_on
                .ok_or_else(|| Status::invalid_argument("posted_on is required"))?,
            evidence_url: r.evidence_url,
        };
        Ok(Response::new(
            self.store.confirm_posting(caller.unit_id, posting).await?,
        ))
    }

    async fn list_postings(
        &self,
        req: Request<ListPostingsRequest>,
    ) -> Result<Response<ListPostingsResponse>, Status> {
        let caller = Caller::require(
            &req,
            &[Role::Unit, Role::Office, Role::Leader, Role::Operator],
        )?;
        let r = req.into_inner();
        let mut errors = Errors::new();
        let unit_id = if caller.role == Role::Unit {
            Some(caller.unit_id)
        } else if r.unit_id.is_empty() {
            None
        } else {
            r.unit_id
                .parse()
                .map_err(|_| errors.add("unit_id", "must be a unit id"))
                .ok()
        };
        errors.single_line("code", &r.code);
        let stale = match r.stale.as_str() {
            "" => None,
            "true" => Some(true),
            "false" => Some(false),
            _ => {
                errors.add("stale", "must be true or false");
                None
            }
        };
        let (limit, offset) = page(&mut errors, r.limit, &r.page_token);
        errors.finish(tonic::Code::InvalidArgument, "the filter is not valid")?;
        let filter = PostingFilter {
            unit_id,
            code: (!r.code.is_empty()).then_some(r.code),
            stale,
            limit,
            offset,
        };
        let postings = self.store.postings(&filter).await?;
        let next_page_token = next_token(limit, offset, postings.len());
        Ok(Response::new(ListPostingsResponse {
            postings,
            next_page_token,
        }))
    }

    async fn export_catalogue(
        &self,
        req: Request<ExportCatalogueRequest>,
    ) -> Result<Response<ExportCatalogueResponse>, Status> {
        let format = req.into_inner().format;
        let procedures = self.store.published().await?;
        let (content_type, body) = match format.as_str() {
            "" | "json" => (
                "application/json",
                serde_json::to_vec(&serde_json::json!({ "procedures": procedures })),
            ),
            "jsonld" => (
                "application/ld+json",
                serde_json::to_vec(&crate::export::cpsv_ap(&procedures)),
            ),
            _ => {
                return Err(cchc_platform::validation::status(
                    tonic::Code::InvalidArgument,
                    "unknown export format",
                    vec![cchc_platform::validation::FieldError {
                        field: "format".into(),
                        message: "must be json or jsonld".into(),
                    }],
                ));
            }
        };
        let body = body.map_err(cchc_platform::validation::internal)?;
        Ok(Response::new(ExportCatalogueResponse {
            content_type: content_type.into(),
            body,
        }))
    }

    async fn import_procedures(
        &self,
        req: Request<ImportProceduresRequest>,
    ) -> Result<Response<ImportProceduresResponse>, Status> {
        self.writer(&req, &[Role::Office, Role::Operator]).await?;
        let rows = req.into_inner().rows;
        if rows.len() > 1000 {
            return Err(Status::invalid_argument("at most 1000 rows per request"));
        }
        let mut results = Vec::with_capacity(rows.len());
        for row in rows {
            let content = row.content.unwrap_or_default();
            let mut errors = Errors::new();
            check_code(&mut errors, &row.code);
            errors.check(
                !content.name.trim().is_empty(),
                "content.name",
                "the name is required",
            );
            domain::check_draft(&mut errors, &content);
            let (outcome, errors) = if errors.is_empty() {
                (
                    self.store.import_draft(&row.code, &content).await?,
                    Vec::new(),
                )
            } else {
                let status = errors
                    .finish(tonic::Code::InvalidArgument, "")
                    .expect_err("errors were found");
                let errors = cchc_platform::validation::field_errors(&status)
                    .into_iter()
                    .map(|e| ImportError {
                        field: e.field,
                        message: e.message,
                    })
                    .collect();
                ("rejected", errors)
            };
            results.push(ImportRowResult {
                row: row.row,
                code: row.code,
                outcome: outcome.into(),
                errors,
            });
        }
        Ok(Response::new(ImportProceduresResponse { results }))
    }
}

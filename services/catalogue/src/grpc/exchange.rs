//! The catalogue in and out as files: the published catalogue exported (JSON or
//! CPSV-AP JSON-LD), and drafts imported from a spreadsheet's rows.

use cchc_platform::Role;
use cchc_platform::validation::{self, FieldError, Rule};
use cchc_proto::catalogue::v1::*;
use tonic::{Code, Request, Response, Status};

use super::{cpsv_ap::cpsv_ap, writer};
use crate::domain::{Imported, NewProcedure};
use crate::store::Store;

/// Rows one import may carry.
const MAX_IMPORT_ROWS: usize = 1000;

pub(super) async fn export(
    store: &Store,
    req: Request<ExportCatalogueRequest>,
) -> Result<Response<ExportCatalogueResponse>, Status> {
    let format = req.into_inner().format;
    let (content_type, as_jsonld) = match format.as_str() {
        "" | "json" => ("application/json", false),
        "jsonld" => ("application/ld+json", true),
        _ => {
            return Err(validation::status(
                Code::InvalidArgument,
                "unknown export format",
                vec![FieldError::new(
                    "format",
                    Rule::OneOf {
                        values: "json, jsonld".into(),
                    },
                )],
            ));
        }
    };
    let procedures = store.published().await?;
    let body = if as_jsonld {
        serde_json::to_vec(&cpsv_ap(&procedures))
    } else {
        serde_json::to_vec(&serde_json::json!({ "procedures": procedures }))
    }
    .map_err(validation::internal)?;
    Ok(Response::new(ExportCatalogueResponse {
        content_type: content_type.into(),
        body,
    }))
}

/// Imports each row on its own: a row with errors is rejected, naming them, and the
/// others are imported.
pub(super) async fn import(
    store: &Store,
    req: Request<ImportProceduresRequest>,
) -> Result<Response<ImportProceduresResponse>, Status> {
    let caller = writer(store, &req, &[Role::Office, Role::Operator]).await?;
    let ImportProceduresRequest { rows, dry_run } = req.into_inner();
    if rows.len() > MAX_IMPORT_ROWS {
        return Err(Status::invalid_argument(format!(
            "at most {MAX_IMPORT_ROWS} rows per request"
        )));
    }
    let mut results = Vec::with_capacity(rows.len());
    for row in rows {
        let ((outcome, changes), errors) = match NewProcedure::parse_import(&row) {
            Ok((p, parts)) => (
                store
                    .import_draft(&caller.actor, &p, &parts, dry_run)
                    .await?,
                Vec::new(),
            ),
            Err(errors) => ((Imported::Rejected, Vec::new()), errors.into_vec()),
        };
        results.push(ImportRowResult {
            row: row.row,
            code: row.code,
            outcome: outcome.as_str().into(),
            errors: errors
                .into_iter()
                .take(validation::MAX_FIELD_ERRORS)
                .map(|e| ImportError {
                    field: e.field,
                    message: e.message,
                    code: e.code,
                    params: e.params,
                })
                .collect(),
            changes,
        });
    }
    Ok(Response::new(ImportProceduresResponse { results }))
}

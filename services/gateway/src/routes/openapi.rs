//! The API's OpenAPI 3.1 document, generated from the handlers' annotations and the
//! request and reply types, and a documentation page that renders it — served by the
//! gateway itself, with nothing fetched from elsewhere.

use axum::Router;
use axum::http::header;
use axum::response::Html;
use axum::routing::get;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

pub(crate) struct ApiKey;

impl Modify for ApiKey {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API key issued to a unit (`Authorization: Bearer cchc_…`), or a person's session token from `POST /v1/sessions` (`Bearer cchs_…`, or the `cchc_session` cookie with `X-CSRF-Token` on writes). Its role (unit, office, leader, operator) decides what it may do; the unit of a write is always the credential's."))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "cchc — administrative reform communication",
        version = "1",
        description = "The HTTP API units and the Department Office integrate against. Errors are application/problem+json (RFC 9457); writes accept Idempotency-Key; lists are paginated with limit and page_token."
    ),
    // The problem answers are documented once (`Problems`); their schema is here.
    components(schemas(crate::problem::Problem)),
    modifiers(&ApiKey),
    tags(
        (name = "units", description = "Units and their hierarchy, as they change"),
        (name = "people", description = "People's accounts, sign-in and sessions, and the accounts' audit log"),
        (name = "api-keys", description = "Keys: shown once, stored as a hash, revocable"),
        (name = "procedures", description = "Administrative procedures (thủ tục hành chính) and their versions"),
        (name = "legal-documents", description = "Legal documents (văn bản quy phạm pháp luật)"),
        (name = "postings", description = "Public posting (niêm yết) of procedures at units"),
        (name = "activities", description = "Units' communication activities"),
        (name = "one-stop", description = "One-stop (một cửa) results per period"),
        (name = "satisfaction", description = "Satisfaction surveys per period"),
        (name = "budget", description = "Communication budget lines per year"),
        (name = "notifications", description = "The caller's inbox"),
        (name = "reports", description = "Plans, reports and the dashboard"),
        (name = "operations", description = "What operators look at"),
    )
)]
pub struct ApiDoc;

/// `/openapi.json` (the document of every registered route, rendered once) and `/docs`.
pub fn routes(doc: &utoipa::openapi::OpenApi) -> Router {
    let json = doc.to_json().unwrap_or_default();
    Router::new()
        .route(
            "/openapi.json",
            get(move || async move { ([(header::CONTENT_TYPE, "application/json")], json) }),
        )
        .route("/docs", get(|| async { Html(DOCS_PAGE) }))
}

/// Renders `/openapi.json` in the browser; plain HTML and script, no outside assets.
const DOCS_PAGE: &str = include_str!("docs.html");

#[cfg(test)]
mod tests {

    fn refs(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                if let Some(serde_json::Value::String(r)) = m.get("$ref") {
                    out.push(r.clone());
                }
                m.values().for_each(|v| refs(v, out));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn document_is_openapi_3_1_and_complete() {
        let doc = serde_json::to_value(super::super::api().into_openapi()).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
        let paths = doc["paths"].as_object().unwrap();
        for p in [
            "/v1/units",
            "/v1/procedures/{code}",
            "/v1/activities/{id}/corrections",
            "/v1/one-stop-results/{period}",
            "/v1/dashboard",
        ] {
            assert!(paths.contains_key(p), "{p} is not documented");
        }
        // Every handler's operation is in the document: registering a route is what
        // documents it.
        let operations: usize = paths
            .values()
            .map(|ops| ops.as_object().unwrap().len())
            .sum();
        let handlers: usize = [
            include_str!("activities.rs"),
            include_str!("admin.rs"),
            include_str!("audit.rs"),
            include_str!("dashboard.rs"),
            include_str!("legal_documents.rs"),
            include_str!("notifications.rs"),
            include_str!("plans.rs"),
            include_str!("postings.rs"),
            include_str!("procedures.rs"),
            include_str!("recipients.rs"),
            include_str!("replay.rs"),
            include_str!("reports.rs"),
            include_str!("sessions.rs"),
            include_str!("submissions.rs"),
            include_str!("units.rs"),
            include_str!("users.rs"),
        ]
        .iter()
        .map(|src| src.matches("#[utoipa::path(").count())
        .sum();
        assert_eq!(operations, handlers);
        // Every operation documents its problem answers.
        for (path, ops) in paths {
            for (method, op) in ops.as_object().unwrap() {
                assert!(
                    op["responses"]["4XX"].is_object(),
                    "{method} {path} lacks its error answers"
                );
            }
        }
        // Every referenced schema is defined.
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        let mut all = Vec::new();
        refs(&doc, &mut all);
        for r in all {
            let name = r.rsplit('/').next().unwrap();
            assert!(
                schemas.contains_key(name),
                "{r} is referenced but not defined"
            );
        }
    }
}

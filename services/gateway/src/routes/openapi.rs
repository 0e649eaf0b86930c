//! The API's OpenAPI 3.1 document, generated from the handlers' annotations and the
//! request and reply types, and a documentation page that renders it — served by the
//! gateway itself, with nothing fetched from elsewhere.

use axum::response::Html;
use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::*;

pub(crate) struct ApiKey;

impl Modify for ApiKey {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API key issued to a unit: `Authorization: Bearer cchc_…`. Its role (unit, office, leader, operator) decides what it may do; the unit of a write is always the key's."))
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
    paths(
        units::create, units::list, units::read, units::rename, units::merge, units::close,
        units::issue_key, units::list_keys, units::revoke_key,
        procedures::create, procedures::search, procedures::read, procedures::draft, procedures::update_draft,
        procedures::versions, procedures::publish, procedures::abolish, procedures::import, procedures::export,
        legal_documents::create, legal_documents::search, legal_documents::read,
        postings::confirm, postings::list,
        activities::record, activities::record_batch, activities::correct, activities::list,
        submissions::submit_one_stop, submissions::list_one_stop, submissions::submit_satisfaction,
        submissions::list_satisfaction, submissions::submit_budget_lines, submissions::list_budget_lines,
        notifications::inbox, notifications::mark_read, notifications::deliveries, notifications::retry,
        notifications::dead_letters, recipients::create_recipient, recipients::update_recipient,
        recipients::list_recipients, recipients::create_subscription, recipients::list_subscriptions,
        recipients::save_template, recipients::list_templates,
        plans::create, plans::update, plans::read, plans::list,
        reports::start, reports::read, reports::list, reports::export,
        dashboard::dashboard, admin::dead_letters, replay::start, replay::latest, replay::read,
    ),
    modifiers(&ApiKey),
    tags(
        (name = "units", description = "Units and their hierarchy, as they change"),
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

pub fn routes() -> Router {
    Router::new()
        .route("/openapi.json", get(|| async { Json(ApiDoc::openapi()) }))
        .route("/docs", get(|| async { Html(DOCS_PAGE) }))
}

/// Renders `/openapi.json` in the browser; plain HTML and script, no outside assets.
const DOCS_PAGE: &str = include_str!("docs.html");

#[cfg(test)]
mod tests {
    use super::*;

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
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
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

//! Units and their API keys.

use axum::Json as Reply;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cchc_platform::Role;
use cchc_platform::page::Paging;
use cchc_platform::validation::{Errors, Rule};
use cchc_platform::vocabulary::unit_kind;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::extract::Authenticated;
use crate::extract::{Json, Query};
use crate::middleware::idempotency::ReplayWithout;
use crate::problem::Problem;
use crate::state::AppState;
use crate::store::{KeyInfo, LifecycleError, Unit};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(read))
        .routes(routes!(rename))
        .routes(routes!(merge))
        .routes(routes!(close))
        .routes(routes!(issue_key, list_keys))
        .routes(routes!(revoke_key))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct NewUnit {
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: String,
    parent_id: Option<Uuid>,
}

fn unit_id(raw: &str) -> Result<Uuid, Problem> {
    raw.parse().map_err(|_| Problem::not_found("no such unit"))
}

#[utoipa::path(post, path = "/v1/units", tag = "units", summary = "Create a unit (office)", request_body = NewUnit, responses((status = 201, description = "Success", body = crate::store::Unit), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn create(
    State(s): State<AppState>,
    auth: Authenticated,
    Json(body): Json<NewUnit>,
) -> Result<(StatusCode, Reply<Unit>), Problem> {
    auth.require(&[Role::Office])?;
    let mut e = Errors::new();
    let name = body.name.trim();
    e.check(!name.is_empty(), "name", Rule::Required);
    e.check(
        name.chars().count() <= 300,
        "name",
        Rule::TooLong { max: 300 },
    );
    e.check(
        unit_kind::ALL.contains(&body.kind.as_str()),
        "kind",
        Rule::OneOf {
            values: unit_kind::ALL.join(", "),
        },
    );
    if let Some(p) = body.parent_id {
        e.check(
            s.store.unit(p).await?.is_some(),
            "parent_id",
            Rule::NoSuch { of: "unit" },
        );
    }
    e.finish(tonic::Code::InvalidArgument, "the unit is not valid")?;
    let unit = s
        .store
        .create_unit(&auth.0.actor, name, &body.kind, body.parent_id)
        .await?;
    Ok((StatusCode::CREATED, Reply(unit)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    limit: Option<u32>,
    page_token: Option<String>,
}

#[utoipa::path(get, path = "/v1/units", tag = "units", summary = "List units", params(ListQuery), responses((status = 200, description = "Success", body = Object), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn list(
    State(s): State<AppState>,
    _auth: Authenticated,
    Query(q): Query<ListQuery>,
) -> Result<Reply<serde_json::Value>, Problem> {
    let mut e = Errors::new();
    let paging = Paging::read(
        q.limit.unwrap_or(0),
        q.page_token.as_deref().unwrap_or(""),
        &mut e,
    );
    e.finish(
        tonic::Code::InvalidArgument,
        "the page asked for is not valid",
    )?;
    let (units, next) = s.store.units(&paging).await?;
    Ok(Reply(
        serde_json::json!({ "units": units, "next_page_token": next }),
    ))
}

#[utoipa::path(get, path = "/v1/units/{unit_id}", tag = "units", summary = "A unit with the names it has had", params(("unit_id" = String, Path, description = "Unit id")), responses((status = 200, description = "Success", body = Object), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn read(
    State(s): State<AppState>,
    _auth: Authenticated,
    Path(id): Path<String>,
) -> Result<Reply<serde_json::Value>, Problem> {
    let unit = s
        .store
        .unit(unit_id(&id)?)
        .await?
        .ok_or_else(|| Problem::not_found("no such unit"))?;
    let names = s.store.unit_names(unit.id).await?;
    let mut reply = serde_json::to_value(&unit).unwrap_or_default();
    reply["names"] = serde_json::to_value(names).unwrap_or_default();
    Ok(Reply(reply))
}

impl From<LifecycleError> for Problem {
    fn from(e: LifecycleError) -> Self {
        match e {
            LifecycleError::NotFound => Problem::not_found("no such unit"),
            LifecycleError::Rule(slug, m) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                slug,
                "Domain rule broken",
                m,
            ),
            LifecycleError::Taken(existing) => {
                let mut p = Problem::new(
                    StatusCode::CONFLICT,
                    "name-taken",
                    "Name taken",
                    format!(
                        "a unit named {} already exists here ({})",
                        existing.name, existing.id
                    ),
                );
                p.errors = vec![cchc_platform::validation::FieldError::new(
                    "name",
                    Rule::Duplicate {
                        first: format!("{} ({})", existing.name, existing.id),
                    },
                )];
                p
            }
            LifecycleError::Db(e) => e.into(),
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct Change {
    #[serde(default)]
    name: String,
    into_unit_id: Option<String>,
    #[serde(default)]
    effective_date: String,
}

fn effective(body: &Change) -> Result<chrono::NaiveDate, Problem> {
    let mut e = Errors::new();
    let d = cchc_platform::validation::parse_date(&mut e, "effective_date", &body.effective_date);
    e.finish(tonic::Code::InvalidArgument, "the change is not valid")?;
    d.ok_or_else(|| Problem::field("effective_date", Rule::Required))
}

#[utoipa::path(post, path = "/v1/units/{unit_id}/rename", tag = "units", summary = "Rename a unit from a date on (office)", request_body = Change, params(("unit_id" = String, Path, description = "Unit id")), responses((status = 200, description = "Success", body = crate::store::Unit), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn rename(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    Json(body): Json<Change>,
) -> Result<Reply<Unit>, Problem> {
    auth.require(&[Role::Office])?;
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 300 {
        return Err(Problem::field("name", Rule::Length { min: 1, max: 300 }));
    }
    Ok(Reply(
        s.store
            .rename_unit(&auth.0.actor, unit_id(&id)?, name, effective(&body)?)
            .await?,
    ))
}

#[utoipa::path(post, path = "/v1/units/{unit_id}/merge", tag = "units", summary = "Merge a unit into another (office); its keys are revoked", request_body = Change, params(("unit_id" = String, Path, description = "Unit id")), responses((status = 200, description = "Success", body = crate::store::Unit), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn merge(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    Json(body): Json<Change>,
) -> Result<Reply<Unit>, Problem> {
    auth.require(&[Role::Office])?;
    let into = body
        .into_unit_id
        .as_deref()
        .and_then(|u| u.parse().ok())
        .ok_or_else(|| Problem::field("into_unit_id", Rule::Id { of: "unit" }))?;
    Ok(Reply(
        s.store
            .merge_unit(&auth.0.actor, unit_id(&id)?, into, effective(&body)?)
            .await?,
    ))
}

#[utoipa::path(post, path = "/v1/units/{unit_id}/close", tag = "units", summary = "Close a unit (office); its keys are revoked", request_body = Change, params(("unit_id" = String, Path, description = "Unit id")), responses((status = 200, description = "Success", body = crate::store::Unit), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn close(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    Json(body): Json<Change>,
) -> Result<Reply<Unit>, Problem> {
    auth.require(&[Role::Office])?;
    Ok(Reply(
        s.store
            .close_unit(&auth.0.actor, unit_id(&id)?, effective(&body)?)
            .await?,
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct NewKey {
    #[serde(default)]
    role: String,
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[utoipa::path(post, path = "/v1/units/{unit_id}/api-keys", tag = "api-keys", summary = "Issue an API key (office, operator); the key is shown only in this answer", request_body = NewKey, params(("unit_id" = String, Path, description = "Unit id")), responses((status = 201, description = "Success", body = Object), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn issue_key(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    Json(body): Json<NewKey>,
) -> Result<Response, Problem> {
    let caller = auth.require(&[Role::Office, Role::Operator])?;
    let unit = s
        .store
        .unit(unit_id(&id)?)
        .await?
        .ok_or_else(|| Problem::not_found("no such unit"))?;
    if !unit.acts() {
        return Err(Problem::from(LifecycleError::Rule(
            "unit-ended",
            format!("the unit is {}: no key can be issued for it", unit.status),
        )));
    }
    let role = Role::parse(&body.role).ok_or_else(|| {
        Problem::field(
            "role",
            Rule::OneOf {
                values: "unit, office, leader, operator".into(),
            },
        )
    })?;
    if role == Role::Operator && caller.role != Role::Operator {
        return Err(Problem::forbidden(
            "only an operator may issue operator keys",
        ));
    }
    if body.expires_at.is_some_and(|t| t <= chrono::Utc::now()) {
        return Err(Problem::field("expires_at", Rule::Future));
    }
    let (info, key) = s
        .store
        .issue_key(&caller.actor, unit.id, role, body.expires_at)
        .await?;
    let mut reply = serde_json::to_value(&info).unwrap_or_default();
    // A retry with the same Idempotency-Key gets the key's record, never the key again.
    let replayed = serde_json::to_vec(&reply).unwrap_or_default();
    // The only time the key is shown.
    reply["key"] = key.into();
    let mut res = (StatusCode::CREATED, Reply(reply)).into_response();
    res.extensions_mut().insert(ReplayWithout(replayed));
    Ok(res)
}

#[utoipa::path(get, path = "/v1/units/{unit_id}/api-keys", tag = "api-keys", summary = "A unit's keys: prefix, role, expiry, last use (office, operator)", params(("unit_id" = String, Path, description = "Unit id")), responses((status = 200, description = "Success", body = Object), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn list_keys(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> Result<Reply<serde_json::Value>, Problem> {
    auth.require(&[Role::Office, Role::Operator])?;
    let keys: Vec<KeyInfo> = s.store.keys_of(unit_id(&id)?).await?;
    Ok(Reply(serde_json::json!({ "api_keys": keys })))
}

#[utoipa::path(delete, path = "/v1/api-keys/{key_id}", tag = "api-keys", summary = "Revoke a key at once (office, operator)", params(("key_id" = String, Path, description = "Key id")), responses((status = 204, description = "Success"), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn revoke_key(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    let caller = auth.require(&[Role::Office, Role::Operator])?;
    let id: Uuid = id.parse().map_err(|_| Problem::not_found("no such key"))?;
    // The office runs the Department's work; the operators' keys are the operators' own.
    if s.store.key_role(id).await? == Some(Role::Operator) && caller.role != Role::Operator {
        return Err(Problem::forbidden(
            "only an operator may revoke operator keys",
        ));
    }
    if s.store.revoke_key(id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Problem::not_found("no such key"))
    }
}

//! People's accounts: invited by the office (operators by operators), changed and
//! disabled by them; a person sets their password through a one-time link.

use axum::Json as Reply;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cchc_platform::Role;
use cchc_platform::page::Paging;
use cchc_platform::validation::{Errors, FieldError, Rule};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::extract::{Address, Authenticated, Json, MaybeCaller, Query};
use crate::middleware::idempotency::ReplayWithout;
use crate::people::{Changes, Invitee, PeopleError, Purpose, User, status, valid_email};
use crate::problem::Problem;
use crate::state::AppState;
use crate::store::Unit;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(invite, list))
        .routes(routes!(read, change))
        .routes(routes!(resend_invitation))
        .routes(routes!(request_reset))
        .routes(routes!(set_password))
        .routes(routes!(accept_invitation))
        .routes(routes!(complete_reset))
        .routes(routes!(disable))
}

impl From<PeopleError> for Problem {
    fn from(e: PeopleError) -> Self {
        match e {
            PeopleError::NotFound => Problem::not_found("no such user"),
            PeopleError::Conflict(m) => Problem::conflict(m),
            PeopleError::Rule(m) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "rule-broken",
                "Domain rule broken",
                m,
            ),
            PeopleError::LinkInvalid => Problem::new(
                StatusCode::GONE,
                "link-invalid",
                "The link does not work any more",
                "the link is unknown, already used, replaced by a newer one or expired; ask for a new one",
            ),
            PeopleError::Weak(w) => Problem {
                errors: vec![FieldError::new("password", w.rule())],
                ..Problem::new(
                    StatusCode::BAD_REQUEST,
                    w.code(),
                    "The password is too weak",
                    format!("password {}", w.rule().message()),
                )
            },
            PeopleError::Db(e) => e.into(),
        }
    }
}

/// Who may manage an account of `role`: operators theirs, the office everyone else's.
fn may_manage(caller: Role, role: Role) -> bool {
    match role {
        Role::Operator => caller == Role::Operator,
        _ => caller == Role::Office,
    }
}

fn user_id(raw: &str) -> Result<Uuid, Problem> {
    raw.parse().map_err(|_| Problem::not_found("no such user"))
}

async fn acting_unit(s: &AppState, id: Uuid, field: &str) -> Result<Unit, Problem> {
    let unit = s
        .store
        .unit(id)
        .await?
        .ok_or_else(|| Problem::field(field, Rule::NoSuch { of: "unit" }))?;
    if !unit.acts() {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "rule-broken",
            "Domain rule broken",
            format!("the unit is {}: it has no accounts any more", unit.status),
        ));
    }
    Ok(unit)
}

/// A user as the API shows them; their actors are named on the way out
/// (middleware::attribution).
fn reply(user: &User) -> serde_json::Value {
    serde_json::to_value(user).unwrap_or_default()
}

/// The name the invitation gives as its sender.
async fn sender_name(s: &AppState, caller: &cchc_platform::Caller) -> Result<String, Problem> {
    Ok(match caller.actor {
        cchc_platform::Actor::User(id) => s.people.user(id).await?.map(|u| u.name),
        _ => None,
    }
    .unwrap_or_else(|| "Văn phòng Sở Giáo dục và Đào tạo".into()))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct NewUser {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    unit_id: Option<Uuid>,
    #[serde(default)]
    role: String,
}

/// Invites a person: an account of a unit with a role, and an e-mail with a link to set
/// a password (valid 72 hours, once).
#[utoipa::path(post, path = "/v1/users", tag = "people", summary = "Invite a person (office; operators invite operators)", request_body = NewUser, responses((status = 201, description = "Invited", body = crate::people::User), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn invite(
    State(s): State<AppState>,
    auth: Authenticated,
    Address(address): Address,
    Json(body): Json<NewUser>,
) -> Result<(StatusCode, Reply<serde_json::Value>), Problem> {
    let caller = auth.require(&[Role::Office, Role::Operator])?;
    let mut e = Errors::new();
    let name = body.name.trim();
    let email = body.email.trim().to_lowercase();
    e.check(!name.is_empty(), "name", Rule::Required);
    e.check(
        name.chars().count() <= 200,
        "name",
        Rule::TooLong { max: 200 },
    );
    e.check(valid_email(&email), "email", Rule::Email);
    e.check(body.unit_id.is_some(), "unit_id", Rule::Required);
    let role = Role::parse(&body.role);
    e.check(
        role.is_some(),
        "role",
        Rule::OneOf {
            values: "unit, office, leader, operator".into(),
        },
    );
    e.finish(tonic::Code::InvalidArgument, "the person is not valid")?;
    let role = role.expect("checked");
    if !may_manage(caller.role, role) {
        return Err(Problem::forbidden(if role == Role::Operator {
            "only an operator may invite operators"
        } else {
            "only the Department Office may invite people"
        }));
    }
    let unit = acting_unit(&s, body.unit_id.expect("checked"), "unit_id").await?;
    let sender = sender_name(&s, caller).await?;
    let user = s
        .people
        .invite(
            &caller.actor,
            &sender,
            Invitee {
                name,
                email: &email,
                unit_id: unit.id,
                unit_name: &unit.name,
                role,
            },
            address.as_deref(),
        )
        .await?;
    Ok((StatusCode::CREATED, Reply(reply(&user))))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    unit_id: Option<Uuid>,
    /// invited, active, disabled
    status: Option<String>,
    limit: Option<u32>,
    page_token: Option<String>,
}

#[utoipa::path(get, path = "/v1/users", tag = "people", summary = "People's accounts (office, operator)", params(ListQuery), responses((status = 200, description = "Success", body = Object), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn list(
    State(s): State<AppState>,
    auth: Authenticated,
    Query(q): Query<ListQuery>,
) -> Result<Reply<serde_json::Value>, Problem> {
    auth.require(&[Role::Office, Role::Operator])?;
    let mut e = Errors::new();
    if let Some(st) = &q.status {
        e.check(
            status::ALL.contains(&st.as_str()),
            "status",
            Rule::OneOf {
                values: status::ALL.join(", "),
            },
        );
    }
    let paging = Paging::read(
        q.limit.unwrap_or(0),
        q.page_token.as_deref().unwrap_or(""),
        &mut e,
    );
    e.finish(
        tonic::Code::InvalidArgument,
        "the page asked for is not valid",
    )?;
    let (users, next) = s
        .people
        .users(q.unit_id, q.status.as_deref(), &paging)
        .await?;
    Ok(Reply(
        serde_json::json!({ "users": users, "next_page_token": next }),
    ))
}

#[utoipa::path(get, path = "/v1/users/{user_id}", tag = "people", summary = "An account (office, operator, or the person)", params(("user_id" = String, Path, description = "User id")), responses((status = 200, description = "Success", body = crate::people::User), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn read(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> Result<Reply<serde_json::Value>, Problem> {
    let id = user_id(&id)?;
    let own = auth.0.actor == cchc_platform::Actor::User(id);
    if !own && !matches!(auth.0.role, Role::Office | Role::Operator) {
        return Err(Problem::not_found("no such user"));
    }
    let user = s
        .people
        .user(id)
        .await?
        .ok_or_else(|| Problem::not_found("no such user"))?;
    Ok(Reply(reply(&user)))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct Change {
    name: Option<String>,
    role: Option<String>,
    unit_id: Option<Uuid>,
    /// `disabled` ends every session at once; `active` enables again.
    status: Option<String>,
}

#[utoipa::path(patch, path = "/v1/users/{user_id}", tag = "people", summary = "Change a person's name, role, unit or status (office; operators for operators)", request_body = Change, params(("user_id" = String, Path, description = "User id")), responses((status = 200, description = "Success", body = crate::people::User), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn change(
    State(s): State<AppState>,
    auth: Authenticated,
    Address(address): Address,
    Path(id): Path<String>,
    Json(body): Json<Change>,
) -> Result<Reply<serde_json::Value>, Problem> {
    let caller = auth.require(&[Role::Office, Role::Operator])?;
    let id = user_id(&id)?;
    let user = s
        .people
        .user(id)
        .await?
        .ok_or_else(|| Problem::not_found("no such user"))?;
    let current = Role::parse(&user.role).unwrap_or(Role::Unit);
    let mut e = Errors::new();
    let name = body.name.as_deref().map(str::trim);
    if let Some(n) = name {
        e.check(
            !n.is_empty() && n.chars().count() <= 200,
            "name",
            Rule::Length { min: 1, max: 200 },
        );
    }
    let role = body.role.as_deref().map(Role::parse);
    e.check(
        role.is_none_or(|r| r.is_some()),
        "role",
        Rule::OneOf {
            values: "unit, office, leader, operator".into(),
        },
    );
    if let Some(st) = &body.status {
        e.check(
            st == status::ACTIVE || st == status::DISABLED,
            "status",
            Rule::OneOf {
                values: format!("{}, {}", status::ACTIVE, status::DISABLED),
            },
        );
    }
    e.finish(tonic::Code::InvalidArgument, "the change is not valid")?;
    let role = role.flatten();
    if !may_manage(caller.role, current) || role.is_some_and(|r| !may_manage(caller.role, r)) {
        return Err(Problem::forbidden(
            "operators manage operators' accounts; the Department Office everyone else's",
        ));
    }
    if body.status.as_deref() == Some(status::DISABLED)
        && caller.actor == cchc_platform::Actor::User(id)
    {
        return Err(PeopleError::Rule("you cannot disable your own account".into()).into());
    }
    if let Some(u) = body.unit_id {
        acting_unit(&s, u, "unit_id").await?;
    }
    let user = s
        .people
        .change(
            &caller.actor,
            id,
            Changes {
                name: name.map(str::to_owned),
                role,
                unit_id: body.unit_id,
                status: body.status,
            },
            address.as_deref(),
        )
        .await?;
    Ok(Reply(reply(&user)))
}

/// The same as `PATCH` with `{"status": "disabled"}`: the person's sessions end at once.
#[utoipa::path(post, path = "/v1/users/{user_id}/disable", tag = "people", summary = "Disable a person's account; their sessions end at once (office; operators for operators)", params(("user_id" = String, Path, description = "User id")), responses((status = 200, description = "Disabled", body = crate::people::User), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn disable(
    state: State<AppState>,
    auth: Authenticated,
    address: Address,
    id: Path<String>,
) -> Result<Reply<serde_json::Value>, Problem> {
    let body = Change {
        name: None,
        role: None,
        unit_id: None,
        status: Some(status::DISABLED.into()),
    };
    change(state, auth, address, id, Json(body)).await
}

#[utoipa::path(post, path = "/v1/users/{user_id}/invitation", tag = "people", summary = "Send an invited person a new invitation; earlier links stop working", params(("user_id" = String, Path, description = "User id")), responses((status = 202, description = "Sent"), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn resend_invitation(
    State(s): State<AppState>,
    auth: Authenticated,
    Address(address): Address,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    let caller = auth.require(&[Role::Office, Role::Operator])?;
    let user = s
        .people
        .user(user_id(&id)?)
        .await?
        .ok_or_else(|| Problem::not_found("no such user"))?;
    if !may_manage(caller.role, Role::parse(&user.role).unwrap_or(Role::Unit)) {
        return Err(Problem::forbidden(
            "operators manage operators' accounts; the Department Office everyone else's",
        ));
    }
    let unit = acting_unit(&s, user.unit_id, "unit_id").await?;
    let sender = sender_name(&s, caller).await?;
    s.people
        .reinvite(
            &caller.actor,
            &sender,
            &user,
            &unit.name,
            address.as_deref(),
        )
        .await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct ResetRequest {
    #[serde(default)]
    email: String,
}

/// Sends a reset link (valid one hour, once) when the address has an active account.
/// The answer is the same whether it has or not.
#[utoipa::path(post, path = "/v1/password-resets", tag = "people", summary = "Ask for a password reset link by e-mail", request_body = ResetRequest, responses((status = 202, description = "If the address has an account, a link is on its way"), crate::problem::Problems))]
pub(crate) async fn request_reset(
    State(s): State<AppState>,
    Address(address): Address,
    Json(body): Json<ResetRequest>,
) -> Result<Response, Problem> {
    let email = body.email.trim().to_lowercase();
    if !valid_email(&email) {
        return Err(Problem::field("email", Rule::Email));
    }
    // Each request spends the address's and the account's budgets, so resets cannot
    // be used to flood a mailbox or probe for accounts.
    let attempt = s.throttle.sign_in(address.as_deref(), &email)?;
    attempt.failed();
    s.people.request_reset(&email, address.as_deref()).await?;
    Ok((
        StatusCode::ACCEPTED,
        Reply(serde_json::json!({
            "detail": "if the address has an active account, a link to set a new password is on its way"
        })),
    )
        .into_response())
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct NewPassword {
    /// The token of the link (`token=` in it).
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: String,
}

/// Sets a password with a one-time link's token: an invitation makes the account
/// active; a reset signs the person out everywhere. The link works once.
#[utoipa::path(post, path = "/v1/account/password", tag = "people", summary = "Set a password with an invitation or reset link", request_body = NewPassword, responses((status = 200, description = "Set", body = crate::people::User), crate::problem::Problems))]
pub(crate) async fn set_password(
    State(s): State<AppState>,
    _caller: MaybeCaller,
    Address(address): Address,
    Json(body): Json<NewPassword>,
) -> Result<Response, Problem> {
    use_link(&s, address, body, None).await
}

/// The first password, from an invitation's link (a reset link is refused here).
#[utoipa::path(post, path = "/v1/invitations/accept", tag = "people", summary = "Accept an invitation: set the first password with its link's token", request_body = NewPassword, responses((status = 200, description = "Active", body = crate::people::User), crate::problem::Problems))]
pub(crate) async fn accept_invitation(
    State(s): State<AppState>,
    _caller: MaybeCaller,
    Address(address): Address,
    Json(body): Json<NewPassword>,
) -> Result<Response, Problem> {
    use_link(&s, address, body, Some(Purpose::Invitation)).await
}

/// A new password, from a reset link (an invitation's link is refused here).
#[utoipa::path(post, path = "/v1/password-resets/complete", tag = "people", summary = "Complete a password reset with its link's token; every session ends", request_body = NewPassword, responses((status = 200, description = "Set", body = crate::people::User), crate::problem::Problems))]
pub(crate) async fn complete_reset(
    State(s): State<AppState>,
    _caller: MaybeCaller,
    Address(address): Address,
    Json(body): Json<NewPassword>,
) -> Result<Response, Problem> {
    use_link(&s, address, body, Some(Purpose::PasswordReset)).await
}

async fn use_link(
    s: &AppState,
    address: Option<String>,
    body: NewPassword,
    only: Option<Purpose>,
) -> Result<Response, Problem> {
    let token = body.token.trim();
    let attempt = s.throttle.sign_in(address.as_deref(), "")?;
    let user = match s
        .people
        .set_password(token, &body.password, only, address.as_deref())
        .await
    {
        Err(PeopleError::LinkInvalid) => {
            // Guessing tokens costs the address's budget like guessing passwords.
            attempt.failed();
            return Err(PeopleError::LinkInvalid.into());
        }
        other => other?,
    };
    let v = reply(&user);
    let mut res = Reply(v.clone()).into_response();
    res.extensions_mut()
        .insert(ReplayWithout(serde_json::to_vec(&v).unwrap_or_default()));
    Ok(res)
}

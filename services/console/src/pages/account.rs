//! Signing in and out, and asking for a new password.

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::*;
use crate::App;
use crate::gateway::On;
use crate::text::{self, Shown};

// ---- Signing in and out -----------------------------------------------------

/// A random token for the sign-in form (a cookie and a field that must match), so no
/// other site can sign a browser in to an account of its choosing.
pub(crate) const FORM_COOKIE: &str = "cchc_form";

#[derive(Template)]
#[template(path = "sign_in.html")]
pub(crate) struct SignInPage {
    frame: Frame,
    form: String,
    email: String,
    errors: Vec<Shown>,
    notice: String,
}

impl FieldErrors for SignInPage {
    fn errors(&self) -> &[Shown] {
        &self.errors
    }
}

pub(crate) fn sign_in_page(
    app: &App,
    frame: Frame,
    status: StatusCode,
    email: String,
    errors: Vec<Shown>,
    notice: String,
) -> Response {
    let bytes: [u8; 16] = rand::random();
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let mut res = render(
        status,
        &SignInPage {
            frame,
            form: token.clone(),
            email,
            errors,
            notice,
        },
    );
    set_cookie(
        &mut res,
        &format!(
            "{FORM_COOKIE}={token}; Path=/dang-nhap; HttpOnly; SameSite=Strict{}",
            app.secure_suffix()
        ),
    );
    res
}

pub async fn sign_in_form(State(app): State<App>, Visitor { frame }: Visitor) -> Response {
    sign_in_page(
        &app,
        frame,
        StatusCode::OK,
        String::new(),
        Vec::new(),
        String::new(),
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SignIn {
    email: String,
    password: String,
    form: String,
}

#[derive(Deserialize)]
pub(crate) struct SessionAnswer {
    token: String,
}

pub async fn sign_in(
    State(app): State<App>,
    ConnectInfo(addr): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    Visitor { frame }: Visitor,
    Form(f): Form<SignIn>,
) -> Response {
    let lang = frame.lang;
    if f.form.is_empty() || cookie(&headers, FORM_COOKIE).as_deref() != Some(f.form.as_str()) {
        return sign_in_page(
            &app,
            frame,
            StatusCode::FORBIDDEN,
            f.email,
            Vec::new(),
            lang.t(
                "Biểu mẫu đã hết hạn. Vui lòng đăng nhập lại.",
                "The form has expired. Please sign in again.",
            )
            .into(),
        );
    }
    let mut errors = Vec::new();
    if f.email.trim().is_empty() {
        errors.push(Shown {
            field: "email".into(),
            message: lang
                .t("Hãy nhập địa chỉ e-mail", "Enter your email address")
                .into(),
        });
    }
    if f.password.is_empty() {
        errors.push(Shown {
            field: "password".into(),
            message: lang.t("Hãy nhập mật khẩu", "Enter your password").into(),
        });
    }
    if !errors.is_empty() {
        return sign_in_page(
            &app,
            frame,
            StatusCode::BAD_REQUEST,
            f.email,
            errors,
            String::new(),
        );
    }
    let client = addr.ip().to_string();
    let on = On {
        client: Some(&client),
        ..On::default()
    };
    let body = json!({"email": f.email.trim(), "password": f.password});
    match app
        .gateway
        .post::<SessionAnswer>("/v1/sessions", on, &body)
        .await
    {
        Ok(s) => {
            let mut res = Redirect::to("/trang-chu").into_response();
            set_cookie(
                &mut res,
                &format!(
                    "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax{}",
                    s.token,
                    app.secure_suffix()
                ),
            );
            res
        }
        Err(p) => {
            let notice = match p.status {
                401 => lang
                    .t(
                        "Địa chỉ e-mail hoặc mật khẩu không đúng.",
                        "The email address or password is incorrect.",
                    )
                    .to_owned(),
                _ => text::problem_in(&p, lang),
            };
            let status = status_of(&p, StatusCode::SERVICE_UNAVAILABLE);
            sign_in_page(&app, frame, status, f.email, Vec::new(), notice)
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Csrf {
    pub(crate) csrf: String,
}

pub async fn sign_out(
    State(app): State<App>,
    Guest { visit, frame }: Guest,
    Form(f): Form<Csrf>,
) -> Response {
    if let Err(p) = app
        .gateway
        .delete("/v1/sessions/current", visit.writing(&f.csrf))
        .await
        && p.status == 403
    {
        return refused(frame, &p);
    }
    let mut res = Redirect::to("/").into_response();
    set_cookie(
        &mut res,
        &format!(
            "{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{}",
            app.secure_suffix()
        ),
    );
    res
}

#[derive(Template)]
#[template(path = "forgot.html")]
pub(crate) struct ForgotPage {
    frame: Frame,
    sent: bool,
    notice: String,
}

pub async fn forgot_form(Visitor { frame }: Visitor) -> Response {
    render(
        StatusCode::OK,
        &ForgotPage {
            frame,
            sent: false,
            notice: String::new(),
        },
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Forgot {
    email: String,
}

/// Asks for a reset link; the answer is the same whether the address has an account.
pub async fn forgot(
    State(app): State<App>,
    ConnectInfo(addr): ConnectInfo<std::net::SocketAddr>,
    Visitor { frame }: Visitor,
    Form(f): Form<Forgot>,
) -> Response {
    let lang = frame.lang;
    let client = addr.ip().to_string();
    let on = On {
        client: Some(&client),
        ..On::default()
    };
    let asked = app
        .gateway
        .post::<Value>("/v1/password-resets", on, &json!({"email": f.email.trim()}))
        .await;
    let (status, sent, notice) = match asked {
        Ok(_) => (StatusCode::OK, true, String::new()),
        Err(p) if p.status == 400 => (
            StatusCode::BAD_REQUEST,
            false,
            lang.t(
                "Hãy nhập đúng địa chỉ e-mail, ví dụ ten@truong.edu.vn.",
                "Enter a correct email address, for example ten@truong.edu.vn.",
            )
            .to_owned(),
        ),
        Err(p) => (
            status_of(&p, StatusCode::BAD_REQUEST),
            false,
            text::problem_in(&p, lang),
        ),
    };
    render(
        status,
        &ForgotPage {
            frame,
            sent,
            notice,
        },
    )
}

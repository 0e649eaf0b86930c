//! The page a one-time link opens: a person sets their password (first password from an
//! invitation, or a new one after a reset). Plain HTML in Vietnamese that works without
//! JavaScript; the console will carry the rest of the pages.

use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use cchc_text::html_escape as escape;
use serde::Deserialize;

use crate::extract::Address;
use crate::people::{PeopleError, Purpose};
use crate::state::AppState;

pub fn pages() -> Router<AppState> {
    Router::new().route("/account/password", get(form).post(submit))
}

#[derive(Deserialize)]
pub(crate) struct TokenQuery {
    #[serde(default)]
    token: String,
}

#[derive(Deserialize)]
pub(crate) struct Submitted {
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

/// A page, with what keeps the link's token from leaking: no caching, no referrer, no
/// scripts, forms only to ourselves.
fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"vi\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{title} – CCHC Sở Giáo dục và Đào tạo</title>\
<style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;line-height:1.5;color:#0b0c0c}}\
label{{display:block;font-weight:700;margin-top:1rem}}.hint{{color:#505a5f}}\
input{{font-size:1.1rem;padding:.4rem;width:100%;box-sizing:border-box;border:2px solid #0b0c0c}}\
input:focus{{outline:3px solid #ffdd00}}button{{margin-top:1.5rem;font-size:1.1rem;padding:.5rem 1rem;background:#00703c;color:#fff;border:0}}\
.error-summary{{border:4px solid #d4351c;padding:1rem}}.error{{color:#d4351c;font-weight:700}}</style>\
</head><body><main>\n<h1>{title}</h1>\n{body}\n</main></body></html>\n",
        title = escape(title),
    );
    let mut res = (status, Html(html)).into_response();
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    res
}

fn invalid_link() -> Response {
    page(
        StatusCode::GONE,
        "Liên kết không còn dùng được",
        "<p>Liên kết này đã được dùng, đã được thay bằng liên kết mới hơn hoặc đã hết hạn.</p>\
<p>Hãy đề nghị Văn phòng Sở gửi lại thư mời, hoặc yêu cầu đặt lại mật khẩu.</p>",
    )
}

fn password_form(token: &str, purpose: Purpose, name: &str, error: Option<&str>) -> Response {
    let (title, lead) = match purpose {
        Purpose::Invitation => (
            "Đặt mật khẩu cho tài khoản",
            format!(
                "<p>Xin chào {}. Hãy chọn mật khẩu để bắt đầu dùng hệ thống.</p>",
                escape(name)
            ),
        ),
        Purpose::PasswordReset => (
            "Đặt lại mật khẩu",
            format!("<p>Xin chào {}. Hãy chọn mật khẩu mới.</p>", escape(name)),
        ),
    };
    let summary = error
        .map(|e| {
            format!(
                "<div class=\"error-summary\" role=\"alert\" tabindex=\"-1\"><h2>Có lỗi cần sửa</h2>\
<p><a href=\"#password\">{}</a></p></div>",
                escape(e)
            )
        })
        .unwrap_or_default();
    let field_error = error
        .map(|e| format!("<p class=\"error\" id=\"password-error\">{}</p>", escape(e)))
        .unwrap_or_default();
    let body = format!(
        "{summary}{lead}\
<form method=\"post\" action=\"/account/password\" novalidate>\
<input type=\"hidden\" name=\"token\" value=\"{token}\">\
<label for=\"password\">Mật khẩu mới</label>\
<p class=\"hint\" id=\"password-hint\">Ít nhất {min} ký tự. Nên dùng một câu dễ nhớ với bạn nhưng khó đoán với người khác; tránh các mật khẩu phổ biến như 123456789.</p>\
{field_error}<input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"new-password\" aria-describedby=\"password-hint\" required>\
<label for=\"confirm\">Nhập lại mật khẩu</label>\
<input id=\"confirm\" name=\"confirm\" type=\"password\" autocomplete=\"new-password\" required>\
<button type=\"submit\">Lưu mật khẩu</button></form>",
        token = escape(token),
        min = crate::password::MIN_LENGTH,
    );
    page(
        if error.is_some() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        },
        title,
        &body,
    )
}

pub(crate) async fn form(State(s): State<AppState>, Query(q): Query<TokenQuery>) -> Response {
    match s.people.link(q.token.trim()).await {
        Ok((user, purpose)) => password_form(q.token.trim(), purpose, &user.name, None),
        Err(PeopleError::LinkInvalid) => invalid_link(),
        Err(e) => {
            tracing::error!(error = %e, "reading an account link failed");
            unavailable()
        }
    }
}

fn unavailable() -> Response {
    page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Hệ thống đang bận",
        "<p>Chưa lưu được. Hãy thử lại sau ít phút.</p>",
    )
}

pub(crate) async fn submit(
    State(s): State<AppState>,
    Address(address): Address,
    Form(f): Form<Submitted>,
) -> Response {
    let token = f.token.trim();
    let Ok(attempt) = s.throttle.sign_in(address.as_deref(), "") else {
        return page(
            StatusCode::TOO_MANY_REQUESTS,
            "Quá nhiều lần thử",
            "<p>Có quá nhiều lần thử không thành công từ địa chỉ này. Hãy thử lại sau ít phút.</p>",
        );
    };
    let (user, purpose) = match s.people.link(token).await {
        Ok(found) => found,
        Err(PeopleError::LinkInvalid) => {
            attempt.failed();
            return invalid_link();
        }
        Err(_) => return unavailable(),
    };
    if f.password != f.confirm {
        return password_form(
            token,
            purpose,
            &user.name,
            Some("Hai lần nhập mật khẩu không giống nhau."),
        );
    }
    match s
        .people
        .set_password(token, &f.password, None, address.as_deref())
        .await
    {
        Ok(user) => {
            let sign_in = s
                .people
                .lifetimes()
                .sign_in_url
                .as_deref()
                .map(|u| format!("<p><a href=\"{}\">Đăng nhập</a></p>", escape(u)))
                .unwrap_or_default();
            page(
                StatusCode::OK,
                "Đã lưu mật khẩu",
                &format!(
                    "<p>Mật khẩu của tài khoản <strong>{}</strong> đã được lưu. Từ nay bạn đăng nhập bằng địa chỉ e-mail này và mật khẩu vừa chọn.</p>{sign_in}",
                    escape(&user.email)
                ),
            )
        }
        Err(PeopleError::Weak(w)) => {
            password_form(token, purpose, &user.name, Some(&w.vietnamese()))
        }
        Err(PeopleError::LinkInvalid) => invalid_link(),
        Err(e) => {
            tracing::error!(error = %e, "setting a password failed");
            unavailable()
        }
    }
}

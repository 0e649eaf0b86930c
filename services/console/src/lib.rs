//! The console: cchc's web pages in Vietnamese, for the staff of the units, the
//! Department Office and the leadership, and the public catalogue the Department
//! website links to. It is a client of the gateway's public HTTP API and nothing else
//! (no database, no gRPC): whatever a page does, a unit's own software can do too.
//!
//! Pages are rendered on the server ([`pages`], templates under `templates/`) and work
//! without JavaScript. A person signs in with the gateway's sessions; the session token
//! sits in an HttpOnly cookie, and every form carries the session's CSRF token, which the
//! gateway checks on each write. [`text`] says everything in Vietnamese.

mod chart;
pub mod gateway;
mod pages;
mod pdf;
pub mod qr;
pub mod text;

use std::net::SocketAddr;

use axum::Router;
use axum::routing::{get, post};
use cchc_platform::config::{Config, ConfigError};
use tokio_util::sync::CancellationToken;

#[derive(Clone, Debug)]
pub struct Settings {
    /// `CCHC_CONSOLE_ADDR` (127.0.0.1:8090).
    pub addr: SocketAddr,
    /// `CCHC_GATEWAY_URL`: the gateway's API (http://127.0.0.1:8080).
    pub gateway_url: String,
    /// `CCHC_CONSOLE_PUBLIC_URL`: where people reach the console; https makes its
    /// cookies Secure.
    pub public_url: String,
}

impl Settings {
    pub fn load(c: &Config) -> Result<Self, ConfigError> {
        let addr: SocketAddr = c.parse_or(
            "CCHC_CONSOLE_ADDR",
            SocketAddr::from(([127, 0, 0, 1], 8090)),
        )?;
        Ok(Self {
            addr,
            gateway_url: c
                .optional("CCHC_GATEWAY_URL")
                .unwrap_or_else(|| "http://127.0.0.1:8080".into()),
            public_url: c
                .optional("CCHC_CONSOLE_PUBLIC_URL")
                .unwrap_or_else(|| format!("http://127.0.0.1:{}", addr.port())),
        })
    }
}

/// What every handler shares.
#[derive(Clone)]
pub struct App {
    gateway: gateway::Gateway,
    secure: bool,
    /// Where people reach the console, for links printed on paper (QR codes).
    public_url: String,
}

impl App {
    /// `; Secure` for cookies when people reach the console over https.
    fn secure_suffix(&self) -> &'static str {
        if self.secure { "; Secure" } else { "" }
    }
}

pub fn router(settings: &Settings) -> Router {
    let app = App {
        gateway: gateway::Gateway::new(&settings.gateway_url),
        secure: settings.public_url.starts_with("https://"),
        public_url: settings.public_url.trim_end_matches('/').to_owned(),
    };
    let ready = app.gateway.clone();
    let readiness = cchc_platform::health::Readiness::default().check("gateway", move || {
        let g = ready.clone();
        async move { g.ready().await }
    });
    Router::new()
        .route("/", get(pages::search))
        .route("/ngon-ngu", get(pages::choose_language))
        .route("/thu-tuc/{code}", get(pages::procedure))
        .route("/thu-tuc/{code}/so-sanh", get(pages::compare))
        .route("/dang-nhap", get(pages::sign_in_form).post(pages::sign_in))
        .route("/dang-xuat", post(pages::sign_out))
        .route(
            "/quen-mat-khau",
            get(pages::forgot_form).post(pages::forgot),
        )
        .route("/trang-chu", get(pages::home))
        .route("/ke-hoach", get(pages::plan_standing))
        .route("/bao-cao-ky", post(pages::submit_period))
        .route("/hoat-dong", get(pages::activities))
        .route(
            "/hoat-dong/moi",
            get(pages::new_activity).post(pages::record_activity),
        )
        .route("/hoat-dong/{id}", get(pages::activity))
        .route(
            "/niem-yet",
            get(pages::postings).post(pages::confirm_posting),
        )
        .route(
            "/mot-cua",
            get(pages::one_stop_form).post(pages::submit_one_stop),
        )
        .route("/bao-cao", get(pages::reports).post(pages::start_report))
        .route("/bao-cao/{id}", get(pages::report))
        .route("/bao-cao/{id}/tai/{format}", get(pages::report_file))
        .route("/van-phong/thu-tuc/{code}", get(pages::edit_procedure))
        .route("/van-phong/thu-tuc/{code}/du-thao", post(pages::save_draft))
        .route(
            "/van-phong/thu-tuc/{code}/cong-bo",
            post(pages::publish_procedure),
        )
        .route("/tong-quan", get(pages::dashboard))
        .route("/thong-bao", get(pages::inbox))
        .route(
            "/kinh-phi",
            get(pages::budget_form).post(pages::submit_budget),
        )
        .route("/thong-bao/{id}/da-doc", post(pages::mark_read))
        .route(
            "/hai-long",
            get(pages::satisfaction_form).post(pages::submit_satisfaction),
        )
        .route(
            "/van-phong/nguoi-dung",
            get(pages::people).post(pages::invite),
        )
        .route(
            "/van-phong/nguoi-dung/{id}/khoa",
            post(pages::disable_person),
        )
        .route("/don-vi/{unit_id}/niem-yet", get(pages::posting_sheet))
        .route(
            "/don-vi/{unit_id}/niem-yet.pdf",
            get(pages::posting_sheet_pdf),
        )
        .route("/don-vi/{unit_id}/ket-qua", get(pages::published_results))
        .route(
            "/van-phong/don-vi",
            get(pages::units).post(pages::create_unit),
        )
        .route(
            "/van-phong/danh-muc",
            get(pages::office_catalogue).post(pages::new_procedure),
        )
        .route(
            "/van-phong/danh-muc/nhap",
            // A catalogue of a few thousand procedures is a few megabytes.
            post(pages::import_catalogue).layer(axum::extract::DefaultBodyLimit::max(20 << 20)),
        )
        .route("/van-phong/danh-muc/xuat", get(pages::export_catalogue))
        .route(
            "/van-phong/mau-thu",
            get(pages::templates).post(pages::save_template),
        )
        .route(
            "/van-phong/van-ban",
            get(pages::legal_documents).post(pages::record_document),
        )
        .route(
            "/van-phong/noi-nhan",
            get(pages::recipients).post(pages::add_recipient),
        )
        .route("/van-phong/noi-nhan/dang-ky", post(pages::subscribe))
        .route(
            "/van-phong/ke-hoach",
            get(pages::plans).post(pages::create_plan),
        )
        .route(
            "/van-phong/ke-hoach/{plan_id}/ky/{period}",
            get(pages::period),
        )
        .route(
            "/van-phong/ke-hoach/{plan_id}/ky/{period}/mo-lai",
            post(pages::reopen),
        )
        .route("/van-phong/thu-gui", get(pages::undelivered))
        .route("/van-phong/thu-gui/{id}", get(pages::delivery))
        .route("/van-phong/thu-gui/{id}/gui-lai", post(pages::resend))
        .route("/van-phong/don-vi/{id}", get(pages::unit_page))
        .route("/van-phong/don-vi/{id}/khoa", post(pages::issue_key))
        .route(
            "/van-phong/don-vi/{id}/khoa/{key_id}/thu-hoi",
            post(pages::revoke_key),
        )
        .route("/van-phong/don-vi/{id}/{action}", post(pages::change_unit))
        .route("/tep/{name}", get(pages::script))
        .fallback(pages::not_found)
        .with_state(app)
        .merge(cchc_platform::health::router(readiness))
}

/// Serves until `shutdown`.
pub async fn run(settings: Settings, shutdown: CancellationToken) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(settings.addr).await?;
    tracing::info!(addr = %listener.local_addr()?, gateway = %settings.gateway_url, "console serving");
    // A page written in more than one piece must not wait for the browser's delayed
    // ACK (axum leaves Nagle's algorithm on).
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(
        listener,
        router(&settings).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move { shutdown.cancelled().await })
    .await?;
    Ok(())
}

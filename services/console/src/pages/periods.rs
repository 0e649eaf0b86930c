//! A period of a plan as the Department Office follows it: every covered unit, whether
//! it submitted (late or not) or is late to report, and the office's reopening of a
//! submission whose figures must be corrected.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::Value;

use super::*;
use crate::App;

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct Line {
    pub unit_id: String,
    pub unit_name: String,
    pub status: String,
    pub submitted_at: String,
    pub late: bool,
    pub note: String,
    pub reopened_at: String,
    pub reopen_reason: String,
    pub overdue: bool,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct Lines {
    pub submissions: Vec<Line>,
    pub covered: i64,
    pub submitted: i64,
    pub late: i64,
    pub overdue: i64,
}

#[derive(Template)]
#[template(path = "period.html")]
pub(crate) struct PeriodPage {
    frame: Frame,
    plan: crate::pages::Plan,
    period: crate::pages::PlanPeriod,
    lines: Lines,
    errors: Vec<text::Shown>,
    notice: String,
    saved: String,
}

impl FieldErrors for PeriodPage {
    fn errors(&self) -> &[text::Shown] {
        &self.errors
    }
}

async fn period_page(
    app: &App,
    visit: &Visit,
    frame: Frame,
    (plan_id, key): (&str, &str),
    status: StatusCode,
    outcome: Outcome,
) -> Response {
    // The office's and the leadership's page; a unit follows its own on its home.
    if frame.is_unit() {
        return forbidden(frame);
    }
    let plan_path = format!("/v1/plans/{}", encode(plan_id));
    let lines_path = format!(
        "/v1/plans/{}/periods/{}/submissions",
        encode(plan_id),
        encode(key)
    );
    let (plan, lines) = tokio::join!(
        app.gateway
            .get::<crate::pages::Plan>(&plan_path, visit.on()),
        app.gateway.get::<Lines>(&lines_path, visit.on()),
    );
    let (plan, lines) = match (plan, lines) {
        (Ok(p), Ok(l)) => (p, l),
        (Err(p), _) | (_, Err(p)) => return refused(frame, &p),
    };
    let Some(period) = plan.periods.iter().find(|p| p.key == key).cloned() else {
        return refused(
            frame,
            &Problem {
                status: 404,
                ..Problem::default()
            },
        );
    };
    render(
        status,
        &PeriodPage {
            frame,
            plan,
            period,
            lines,
            errors: outcome.errors,
            notice: outcome.notice,
            saved: outcome.saved,
        },
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Said {
    da: String,
}

/// Who submitted the period, who late, who has not.
pub async fn period(
    State(app): State<App>,
    Staff { visit, frame }: Staff,
    Path((plan_id, key)): Path<(String, String)>,
    axum::extract::Query(q): axum::extract::Query<Said>,
) -> Response {
    let saved = match q.da.as_str() {
        "mo-lai" => "Đã mở lại báo cáo; đơn vị được thông báo lý do và cần nộp lại.".to_owned(),
        _ => String::new(),
    };
    let outcome = Outcome {
        saved,
        ..Outcome::default()
    };
    period_page(
        &app,
        &visit,
        frame,
        (&plan_id, &key),
        StatusCode::OK,
        outcome,
    )
    .await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ReopenForm {
    csrf: String,
    unit_id: String,
    reason: String,
}

/// The office reopens a unit's submission, saying why.
pub async fn reopen(
    State(app): State<App>,
    Staff { visit, frame }: Staff,
    Path((plan_id, key)): Path<(String, String)>,
    axum::Form(f): axum::Form<ReopenForm>,
) -> Response {
    let path = format!(
        "/v1/plans/{}/periods/{}/submissions/{}/reopen",
        encode(&plan_id),
        encode(&key),
        encode(&f.unit_id)
    );
    let body = serde_json::json!({"reason": f.reason.trim()});
    match app
        .gateway
        .post::<Value>(&path, visit.writing(&f.csrf), &body)
        .await
    {
        Ok(_) => Redirect::to(&format!(
            "/van-phong/ke-hoach/{}/ky/{}?da=mo-lai",
            encode(&plan_id),
            encode(&key)
        ))
        .into_response(),
        Err(p) if p.status == 401 => Redirect::to("/dang-nhap").into_response(),
        Err(p) => {
            let mut outcome =
                Outcome::refused_labelled(&p, &[("reason", "Lý do mở lại")], frame.lang);
            // The field is one per unit on the page: the error points at that unit's.
            for e in &mut outcome.errors {
                if e.field == "reason" {
                    e.field = format!("reason-{}", f.unit_id);
                }
            }
            if p.status == 409 {
                outcome.notice =
                    "Đơn vị chưa nộp báo cáo kỳ này, hoặc báo cáo đã được mở lại.".into();
            }
            let status = status_of(&p, StatusCode::BAD_REQUEST);
            period_page(&app, &visit, frame, (&plan_id, &key), status, outcome).await
        }
    }
}

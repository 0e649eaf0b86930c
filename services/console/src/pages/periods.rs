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
        "mo-lai" => frame
            .t(
                "Đã mở lại báo cáo; đơn vị được thông báo lý do và cần nộp lại.",
                "The report is reopened; the unit is told why and must submit it again.",
            )
            .to_owned(),
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
            let outcome = reopen_refused(&p, &f.unit_id, frame.lang);
            let status = status_of(&p, StatusCode::BAD_REQUEST);
            period_page(&app, &visit, frame, (&plan_id, &key), status, outcome).await
        }
    }
}

/// A refused reopening in `lang`: the reason's error beside that unit's field (one per
/// unit on the page), or why the submission cannot be reopened.
fn reopen_refused(p: &Problem, unit_id: &str, lang: text::Lang) -> Outcome {
    let mut outcome = Outcome::refused_labelled(p, &[("reason", "Lý do mở lại")], lang);
    for e in &mut outcome.errors {
        if e.field == "reason" {
            e.field = format!("reason-{unit_id}");
        }
    }
    if p.status == 409 {
        outcome.notice = lang
            .t(
                "Đơn vị chưa nộp báo cáo kỳ này, hoặc báo cáo đã được mở lại.",
                "The unit has not submitted its report for this period, or the report is already reopened.",
            )
            .into();
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::FieldError;

    fn page(lang: text::Lang, outcome: Outcome) -> String {
        let line = |unit: &str, status: &str, late: bool, overdue: bool| Line {
            unit_id: unit.into(),
            unit_name: format!("Trường {unit}"),
            status: status.into(),
            submitted_at: "2025-07-10T08:00:00Z".into(),
            late,
            overdue,
            ..Line::default()
        };
        PeriodPage {
            frame: Frame {
                me: Some(Me {
                    role: "office".into(),
                    ..Me::default()
                }),
                ..Frame::nobody(lang)
            },
            plan: crate::pages::Plan {
                number_symbol: "109/KH-SGDĐT".into(),
                ..Default::default()
            },
            period: crate::pages::PlanPeriod {
                title: "6 tháng đầu năm 2025".into(),
                due_date: "2025-07-05".into(),
                ..Default::default()
            },
            lines: Lines {
                submissions: vec![
                    line("a", "submitted", true, false),
                    line("b", "", false, true),
                ],
                covered: 2,
                submitted: 1,
                late: 1,
                overdue: 1,
            },
            errors: outcome.errors,
            notice: outcome.notice,
            saved: outcome.saved,
        }
        .render()
        .unwrap()
    }

    fn no_reason() -> Problem {
        let e = cchc_platform::validation::FieldError::new(
            "reason",
            cchc_platform::validation::Rule::Required,
        );
        Problem {
            status: 400,
            errors: vec![FieldError {
                field: e.field,
                code: e.code,
                params: e.params,
                message: e.message,
            }],
            ..Problem::default()
        }
    }

    #[test]
    fn the_period_is_followed_in_either_language() {
        let vi = page(
            text::Lang::Vi,
            reopen_refused(&no_reason(), "a", text::Lang::Vi),
        );
        assert!(
            vi.contains("<strong>1/2</strong> đơn vị đã nộp, trong đó 1 đơn vị nộp muộn; <strong>1</strong> đơn vị quá hạn chưa nộp."),
            "{vi}"
        );
        assert!(
            vi.contains(r#"id="reason-a-error">Hãy nhập lý do mở lại<"#),
            "{vi}"
        );
        assert!(vi.contains("Lý do mở lại</label>"), "{vi}");

        let en = page(
            text::Lang::En,
            reopen_refused(&no_reason(), "a", text::Lang::En),
        );
        assert!(
            en.contains("<strong>1 of 2</strong> units have submitted, 1 late; <strong>1</strong> unit is overdue and has not submitted."),
            "{en}"
        );
        assert!(
            en.contains(r#"id="reason-a-error">Reason is required<"#),
            "{en}"
        );
        assert!(
            en.contains(r#"<label for="reason-a">Reason for reopening</label>"#),
            "{en}"
        );
        assert!(en.contains("Overdue, not submitted"), "{en}");
        assert!(!en.contains("đã nộp"), "{en}");
    }
}

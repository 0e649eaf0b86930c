//! Reports for the office and the leadership, and the year at a glance.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;

use super::*;
use crate::gateway::Problem;
use crate::text::{self};
use crate::{App, chart};

// ---- Reports ----------------------------------------------------------------

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct Plans {
    plans: Vec<Plan>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct Report {
    pub id: String,
    pub plan_id: String,
    pub period: String,
    pub state: String,
    pub percent: i32,
    pub step: String,
    pub error: String,
    pub title: String,
    pub summary: String,
    pub requested_at: String,
    pub created_by: Option<ActorRef>,
}

impl Report {
    pub fn state_text(&self) -> &str {
        match self.state.as_str() {
            "queued" => "Đang chờ",
            "running" => "Đang lập",
            "completed" => "Đã xong",
            "failed" => "Không lập được",
            other => other,
        }
    }
    pub fn done(&self) -> bool {
        self.state == "completed"
    }
    pub fn working(&self) -> bool {
        self.state == "queued" || self.state == "running"
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct Reports {
    reports: Vec<Report>,
}

/// The formats a report is exported in, with what people call them.
pub const EXPORTS: &[(&str, &str)] = &[
    ("docx", "Văn bản Word (DOCX)"),
    ("xlsx", "Bảng tính Excel (XLSX)"),
    ("csv", "CSV"),
];

pub(crate) fn may_read_reports(frame: &Frame) -> bool {
    frame
        .me
        .as_ref()
        .is_some_and(|m| matches!(m.role.as_str(), "office" | "leader"))
}

#[derive(Template)]
#[template(path = "reports.html")]
pub(crate) struct ReportsPage {
    frame: Frame,
    reports: Vec<Report>,
    plans: Vec<Plan>,
    office: bool,
    notice: String,
}

pub(crate) async fn reports_page(
    app: &App,
    visit: &Visit,
    frame: Frame,
    notice: String,
    status: StatusCode,
) -> Response {
    if !may_read_reports(&frame) {
        let p = Problem {
            status: 403,
            ..Problem::default()
        };
        return refused(frame, &p);
    }
    let (reports, plans) = tokio::join!(
        app.gateway
            .get::<Reports>("/v1/reports?limit=50", visit.on()),
        app.gateway.get::<Plans>("/v1/plans?limit=50", visit.on()),
    );
    let reports = match reports {
        Ok(r) => r.reports,
        Err(p) => return refused(frame, &p),
    };
    let office = frame.is_office();
    render(
        status,
        &ReportsPage {
            frame,
            reports,
            plans: plans.unwrap_or_default().plans,
            office,
            notice,
        },
    )
}

pub async fn reports(State(app): State<App>, Staff { visit, frame }: Staff) -> Response {
    reports_page(&app, &visit, frame, String::new(), StatusCode::OK).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NewReport {
    csrf: String,
    /// `plan_id|period`, one choice of the form's list.
    choice: String,
}

pub async fn start_report(
    State(app): State<App>,
    Staff { visit, frame }: Staff,
    Form(f): Form<NewReport>,
) -> Response {
    let Some((plan_id, period)) = f.choice.split_once('|') else {
        return reports_page(
            &app,
            &visit,
            frame,
            "Hãy chọn kế hoạch và kỳ báo cáo.".into(),
            StatusCode::BAD_REQUEST,
        )
        .await;
    };
    match app
        .gateway
        .post::<Report>(
            "/v1/reports",
            visit.writing(&f.csrf),
            &json!({"plan_id": plan_id, "period": period}),
        )
        .await
    {
        Ok(r) => Redirect::to(&format!("/bao-cao/{}", encode(&r.id))).into_response(),
        Err(p) if p.status == 401 => Redirect::to("/dang-nhap").into_response(),
        Err(p) => {
            let status = status_of(&p, StatusCode::BAD_REQUEST);
            reports_page(&app, &visit, frame, text::problem(&p), status).await
        }
    }
}

#[derive(Template)]
#[template(path = "report.html")]
pub(crate) struct ReportPage {
    frame: Frame,
    r: Report,
    exports: &'static [(&'static str, &'static str)],
}

pub async fn report(
    State(app): State<App>,
    Staff { visit, frame }: Staff,
    Path(id): Path<String>,
) -> Response {
    match app
        .gateway
        .get::<Report>(&format!("/v1/reports/{}", encode(&id)), visit.on())
        .await
    {
        Ok(r) => render(
            StatusCode::OK,
            &ReportPage {
                frame,
                r,
                exports: EXPORTS,
            },
        ),
        Err(p) => refused(frame, &p),
    }
}

/// A report's document, fetched from the gateway for the signed-in person.
pub async fn report_file(
    State(app): State<App>,
    Staff { visit, frame }: Staff,
    Path((id, format)): Path<(String, String)>,
) -> Response {
    if !EXPORTS.iter().any(|(f, _)| *f == format) {
        return not_found(Guest { visit, frame }).await;
    }
    let path = format!("/v1/reports/{}/export?format={format}", encode(&id));
    match app.gateway.download(&path, visit.on()).await {
        Ok(d) => served(d),
        Err(p) => refused(frame, &p),
    }
}

// ---- Leadership: the dashboard ----------------------------------------------

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct KindCount {
    pub kind: String,
    pub count: i64,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct Dashboard {
    pub year: i32,
    pub procedures_published: i64,
    pub procedures_abolished: i64,
    pub activities_by_kind: Vec<KindCount>,
    pub activities_total: i64,
    pub units_reporting: i64,
    pub as_of: String,
    pub postings_current: i64,
    pub postings_stale: i64,
    pub units_with_stale_postings: i64,
    pub units_total: i64,
    pub units_with_one_stop_results: i64,
    pub activities_by_month: Vec<MonthKind>,
    pub units: Vec<UnitStanding>,
    pub periods: Vec<PeriodStanding>,
}

/// A period of a plan: who submitted, who is late to report.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct PeriodStanding {
    pub plan_id: String,
    pub plan_number_symbol: String,
    pub period: String,
    pub title: String,
    pub due_date: String,
    pub covered: i64,
    pub submitted: i64,
    pub submitted_late: i64,
    pub late_units: Vec<LateUnit>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct LateUnit {
    pub unit_id: String,
    pub name: String,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct MonthKind {
    pub month: u32,
    pub kind: String,
    pub count: i64,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct UnitStanding {
    pub unit_id: String,
    pub name: String,
    pub kind: String,
    pub activities: i64,
    pub postings_current: i64,
    pub postings_stale: i64,
    pub one_stop_period: String,
    pub on_time_percent: Option<f64>,
    pub satisfaction_period: String,
    pub satisfaction_percent: Option<f64>,
}

/// A month's activities: the total and each kind's share, as a sentence.
pub struct Month {
    pub name: String,
    pub total: i64,
    pub by_kind: String,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
pub(crate) struct DashboardPage {
    frame: Frame,
    d: Dashboard,
    kinds: Vec<(String, i64)>,
    activities_chart: String,
    postings_chart: String,
    units_chart: String,
    months: Vec<Month>,
    months_chart: String,
    on_time_chart: String,
    satisfaction_chart: String,
    /// Units with neither an activity nor one-stop figures in the year.
    silent: Vec<String>,
}

/// A rate (percent) as people read it: "90,5%", a dash when there is none.
pub fn percent(r: &Option<f64>) -> String {
    text::percent(r.map(|r| r / 100.0))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct YearQuery {
    nam: Option<i32>,
}

pub async fn dashboard(
    State(app): State<App>,
    Staff { visit, frame }: Staff,
    Query(q): Query<YearQuery>,
) -> Response {
    let year = q
        .nam
        .unwrap_or_else(|| text::today()[6..].parse().unwrap_or(2020));
    let d: Dashboard = match app
        .gateway
        .get(&format!("/v1/dashboard?year={year}"), visit.on())
        .await
    {
        Ok(d) => d,
        Err(p) => return refused(frame, &p),
    };
    let kinds: Vec<(String, i64)> = text::ACTIVITY_KINDS
        .iter()
        .map(|(code, name)| {
            let n = d
                .activities_by_kind
                .iter()
                .find(|k| k.kind == *code)
                .map_or(0, |k| k.count);
            ((*name).to_owned(), n)
        })
        .collect();
    let activities_chart = chart::bars("Hoạt động tuyên truyền theo hình thức", &kinds);
    let postings_chart = chart::bars(
        "Niêm yết thủ tục",
        &[
            ("Đúng phiên bản hiện hành".into(), d.postings_current),
            ("Cần niêm yết lại".into(), d.postings_stale),
        ],
    );
    let units_chart = chart::bars(
        "Đơn vị",
        &[
            ("Tổng số đơn vị".into(), d.units_total),
            ("Có hoạt động tuyên truyền".into(), d.units_reporting),
            (
                "Đã nộp kết quả một cửa".into(),
                d.units_with_one_stop_results,
            ),
            (
                "Có thủ tục cần niêm yết lại".into(),
                d.units_with_stale_postings,
            ),
        ],
    );
    let months: Vec<Month> = (1..=12)
        .map(|m| {
            let of_month: Vec<&MonthKind> = d
                .activities_by_month
                .iter()
                .filter(|x| x.month == m)
                .collect();
            let by_kind: Vec<String> = of_month
                .iter()
                .map(|x| {
                    format!(
                        "{} {}",
                        text::activity_kind(&x.kind),
                        text::number(&x.count)
                    )
                })
                .collect();
            Month {
                name: format!("Tháng {m}"),
                total: of_month.iter().map(|x| x.count).sum(),
                by_kind: by_kind.join("; "),
            }
        })
        .collect();
    let months_chart = chart::bars(
        "Hoạt động tuyên truyền theo tháng",
        &months
            .iter()
            .map(|m| (m.name.clone(), m.total))
            .collect::<Vec<_>>(),
    );
    let rated = |f: fn(&UnitStanding) -> Option<f64>| -> Vec<(String, f64)> {
        d.units
            .iter()
            .filter_map(|u| f(u).map(|r| (u.name.clone(), r)))
            .collect()
    };
    let on_time_chart = chart::percent_bars(
        "Tỷ lệ hồ sơ giải quyết đúng hạn theo đơn vị",
        &rated(|u| u.on_time_percent),
    );
    let satisfaction_chart = chart::percent_bars(
        "Tỷ lệ hài lòng theo đơn vị",
        &rated(|u| u.satisfaction_percent),
    );
    let silent = d
        .units
        .iter()
        .filter(|u| u.activities == 0 && u.one_stop_period.is_empty() && u.kind != "department")
        .map(|u| u.name.clone())
        .collect();
    render(
        StatusCode::OK,
        &DashboardPage {
            frame,
            d,
            kinds,
            activities_chart,
            postings_chart,
            units_chart,
            months,
            months_chart,
            on_time_chart,
            satisfaction_chart,
            silent,
        },
    )
}

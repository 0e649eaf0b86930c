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
    /// The report's state in `lang`.
    pub fn state_text(&self, lang: &text::Lang) -> &str {
        match (*lang, self.state.as_str()) {
            (text::Lang::Vi, "queued") => "Đang chờ",
            (text::Lang::Vi, "running") => "Đang lập",
            (text::Lang::Vi, "completed") => "Đã xong",
            (text::Lang::Vi, "failed") => "Không lập được",
            (text::Lang::En, "queued") => "Queued",
            (text::Lang::En, "running") => "In progress",
            (text::Lang::En, "completed") => "Completed",
            (text::Lang::En, "failed") => "Failed",
            (_, other) => other,
        }
    }
    /// The step the reporting service is at, in `lang`: the service names it by a
    /// code of its own, shown as it is in Vietnamese.
    pub fn step_in(&self, lang: &text::Lang) -> &str {
        match (*lang, self.step.as_str()) {
            (text::Lang::En, "plan") => "reading the plan",
            (text::Lang::En, "units") => "counting the units",
            (text::Lang::En, "activities") => "counting the activities",
            (text::Lang::En, "catalogue") => "reading the catalogue of procedures",
            (text::Lang::En, "postings") => "checking the postings",
            (text::Lang::En, "one-stop results and satisfaction") => {
                "adding up one-stop results and satisfaction"
            }
            (text::Lang::En, "budget") => "adding up the budget",
            (text::Lang::En, "submissions") => "checking the units' submissions",
            (text::Lang::En, "figures") => "working out the figures",
            (text::Lang::En, "documents") => "writing the documents",
            (text::Lang::En, "waiting to retry") => "waiting to try again",
            (_, other) => other,
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

/// The formats a report is exported in, with what people call them (Vietnamese,
/// English).
pub const EXPORTS: &[(&str, &str, &str)] = &[
    ("docx", "Văn bản Word (DOCX)", "Word document (DOCX)"),
    ("xlsx", "Bảng tính Excel (XLSX)", "Excel spreadsheet (XLSX)"),
    ("csv", "CSV", "CSV"),
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
    /// What the document says of itself; each left empty takes its default (the
    /// number "   /BC-…", the period's last day, the title from the plan, the plan's
    /// signer).
    number_symbol: String,
    report_date: String,
    title: String,
    signer_title: String,
    signer_name: String,
}

const REPORT_LABELS: &[(&str, &str)] = &[
    ("number_symbol", "Số, ký hiệu báo cáo"),
    ("report_date", "Ngày báo cáo"),
    ("title", "Trích yếu"),
    ("signer_title", "Chức vụ người ký"),
    ("signer_name", "Người ký"),
];

pub async fn start_report(
    State(app): State<App>,
    Staff { visit, frame }: Staff,
    Form(f): Form<NewReport>,
) -> Response {
    let Some((plan_id, period)) = f.choice.split_once('|') else {
        let notice = frame
            .t(
                "Hãy chọn kế hoạch và kỳ báo cáo.",
                "Choose a plan and a reporting period.",
            )
            .to_owned();
        return reports_page(&app, &visit, frame, notice, StatusCode::BAD_REQUEST).await;
    };
    match app
        .gateway
        .post::<Report>(
            "/v1/reports",
            visit.writing(&f.csrf),
            &json!({
                "plan_id": plan_id,
                "period": period,
                "number_symbol": f.number_symbol.trim(),
                "report_date": if f.report_date.trim().is_empty() {
                    String::new()
                } else {
                    text::api_date(&f.report_date)
                },
                "title": f.title.trim(),
                // Typed on two lines ("KT. GIÁM ĐỐC" / "PHÓ GIÁM ĐỐC"), kept as two.
                "signer_title": f.signer_title.trim().replace("\r\n", "\n"),
                "signer_name": f.signer_name.trim(),
            }),
        )
        .await
    {
        Ok(r) => Redirect::to(&format!("/bao-cao/{}", encode(&r.id))).into_response(),
        Err(p) if p.status == 401 => Redirect::to("/dang-nhap").into_response(),
        Err(p) => {
            let status = status_of(&p, StatusCode::BAD_REQUEST);
            let notice = if p.errors.is_empty() {
                text::problem_in(&p, frame.lang)
            } else {
                p.errors
                    .iter()
                    .map(|e| text::field_error_labelled(e, REPORT_LABELS, frame.lang).message)
                    .collect::<Vec<_>>()
                    .join(". ")
            };
            reports_page(&app, &visit, frame, notice, status).await
        }
    }
}

#[derive(Template)]
#[template(path = "report.html")]
pub(crate) struct ReportPage {
    frame: Frame,
    r: Report,
    /// Each format and its name in the page's language.
    exports: Vec<(&'static str, &'static str)>,
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
        Ok(r) => {
            let exports = EXPORTS
                .iter()
                .map(|(format, vi, en)| (*format, frame.t(vi, en)))
                .collect();
            render(StatusCode::OK, &ReportPage { frame, r, exports })
        }
        Err(p) => refused(frame, &p),
    }
}

/// A report's document, fetched from the gateway for the signed-in person.
pub async fn report_file(
    State(app): State<App>,
    Staff { visit, frame }: Staff,
    Path((id, format)): Path<(String, String)>,
) -> Response {
    if !EXPORTS.iter().any(|(f, _, _)| *f == format) {
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

/// A month's name in `lang`: "Tháng 3", "March".
pub fn month_name(month: u32, lang: text::Lang) -> String {
    const EN: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    match lang {
        text::Lang::En if (1..=12).contains(&month) => EN[month as usize - 1].to_owned(),
        _ => format!("Tháng {month}"),
    }
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
    render(StatusCode::OK, &dashboard_page(frame, d))
}

/// The year at a glance in the frame's language: its charts drawn, its months and
/// kinds named.
fn dashboard_page(frame: Frame, d: Dashboard) -> DashboardPage {
    let lang = frame.lang;
    let t = |vi: &'static str, en: &'static str| lang.t(vi, en);
    let kinds: Vec<(String, i64)> = text::ACTIVITY_KINDS
        .iter()
        .map(|(code, _)| {
            let n = d
                .activities_by_kind
                .iter()
                .find(|k| k.kind == *code)
                .map_or(0, |k| k.count);
            (text::activity_kind_in(code, &lang).to_owned(), n)
        })
        .collect();
    let activities_chart = chart::bars(
        t(
            "Hoạt động tuyên truyền theo hình thức",
            "Communication activities by type",
        ),
        &kinds,
    );
    let postings_chart = chart::bars(
        t("Niêm yết thủ tục", "Procedures posted"),
        &[
            (
                t("Đúng phiên bản hiện hành", "Current version posted").into(),
                d.postings_current,
            ),
            (
                t("Cần niêm yết lại", "To be posted again").into(),
                d.postings_stale,
            ),
        ],
    );
    let units_chart = chart::bars(
        t("Đơn vị", "Units"),
        &[
            (t("Tổng số đơn vị", "All units").into(), d.units_total),
            (
                t("Có hoạt động tuyên truyền", "With communication activities").into(),
                d.units_reporting,
            ),
            (
                t("Đã nộp kết quả một cửa", "Submitted one-stop results").into(),
                d.units_with_one_stop_results,
            ),
            (
                t(
                    "Có thủ tục cần niêm yết lại",
                    "With procedures to post again",
                )
                .into(),
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
                        text::activity_kind_in(&x.kind, &lang),
                        text::number(&x.count)
                    )
                })
                .collect();
            Month {
                name: month_name(m, lang),
                total: of_month.iter().map(|x| x.count).sum(),
                by_kind: by_kind.join("; "),
            }
        })
        .collect();
    let months_chart = chart::bars(
        t(
            "Hoạt động tuyên truyền theo tháng",
            "Communication activities by month",
        ),
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
        t(
            "Tỷ lệ hồ sơ giải quyết đúng hạn theo đơn vị",
            "Dossiers resolved on time, by unit",
        ),
        &rated(|u| u.on_time_percent),
    );
    let satisfaction_chart = chart::percent_bars(
        t("Tỷ lệ hài lòng theo đơn vị", "Satisfaction, by unit"),
        &rated(|u| u.satisfaction_percent),
    );
    let silent = d
        .units
        .iter()
        .filter(|u| u.activities == 0 && u.one_stop_period.is_empty() && u.kind != "department")
        .map(|u| u.name.clone())
        .collect();
    DashboardPage {
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::Lang;

    fn year_2020() -> Dashboard {
        Dashboard {
            year: 2020,
            activities_total: 1,
            activities_by_kind: vec![KindCount {
                kind: "briefing".into(),
                count: 1,
            }],
            activities_by_month: vec![MonthKind {
                month: 3,
                kind: "briefing".into(),
                count: 1,
            }],
            periods: vec![PeriodStanding {
                plan_id: "p".into(),
                plan_number_symbol: "109/KH-SGDĐT-VP".into(),
                period: "2020-H1".into(),
                title: "6 tháng đầu năm".into(),
                due_date: "2020-06-15".into(),
                covered: 2,
                ..PeriodStanding::default()
            }],
            units: vec![UnitStanding {
                name: "Trường THPT Chu Văn An".into(),
                kind: "school".into(),
                ..UnitStanding::default()
            }],
            ..Dashboard::default()
        }
    }

    #[test]
    fn the_dashboard_in_english_and_in_vietnamese() {
        let en = dashboard_page(Frame::nobody(Lang::En), year_2020())
            .render()
            .unwrap();
        for words in [
            "Overview of administrative reform communication in 2020",
            "<title>Communication activities by month</title>",
            ">March</text>",
            "<td>March</td><td>1</td><td>Meeting or briefing 1</td>",
            "Reporting period</th>",
            "Units late to report</th>",
            "(Plan No. 109/KH-SGDĐT-VP)",
            "Units with no figures for 2020 yet (1)",
        ] {
            assert!(en.contains(words), "{words}: {en}");
        }
        assert!(!en.contains("Tháng"), "{en}");
        let vi = dashboard_page(Frame::nobody(Lang::Vi), year_2020())
            .render()
            .unwrap();
        for words in [
            "Tổng quan công tác tuyên truyền CCHC năm 2020",
            "<title>Hoạt động tuyên truyền theo tháng</title>",
            "<td>Tháng 3</td><td>1</td><td>Hội nghị, quán triệt, phổ biến 1</td>",
            "Đơn vị quá hạn chưa nộp</th>",
            "(Kế hoạch số 109/KH-SGDĐT-VP)",
        ] {
            assert!(vi.contains(words), "{words}: {vi}");
        }
    }

    #[test]
    fn months_are_named_in_the_pages_language() {
        assert_eq!(month_name(3, Lang::Vi), "Tháng 3");
        assert_eq!(month_name(12, Lang::Vi), "Tháng 12");
        assert_eq!(month_name(1, Lang::En), "January");
        assert_eq!(month_name(12, Lang::En), "December");
    }

    #[test]
    fn a_reports_state_and_step_in_each_language() {
        let r = Report {
            state: "running".into(),
            step: "units".into(),
            ..Report::default()
        };
        assert_eq!(r.state_text(&Lang::Vi), "Đang lập");
        assert_eq!(r.state_text(&Lang::En), "In progress");
        assert_eq!(r.step_in(&Lang::Vi), "units");
        assert_eq!(r.step_in(&Lang::En), "counting the units");
        let done = Report {
            state: "completed".into(),
            ..Report::default()
        };
        assert_eq!(done.state_text(&Lang::Vi), "Đã xong");
        assert_eq!(done.state_text(&Lang::En), "Completed");
    }

    #[test]
    fn the_reports_page_in_english() {
        let page = ReportsPage {
            frame: Frame::nobody(Lang::En),
            reports: vec![Report {
                id: "r".into(),
                period: "2020-H1".into(),
                state: "running".into(),
                percent: 40,
                requested_at: "2020-06-20T08:00:00Z".into(),
                ..Report::default()
            }],
            plans: vec![Plan {
                id: "p".into(),
                number_symbol: "109/KH-SGDĐT-VP".into(),
                periods: vec![PlanPeriod {
                    key: "2020-H1".into(),
                    due_date: "2020-06-15".into(),
                    ..PlanPeriod::default()
                }],
                ..Plan::default()
            }],
            office: true,
            notice: String::new(),
        }
        .render()
        .unwrap();
        for words in [
            "<h1>Reports on carrying out the plans</h1>",
            "<label for=\"choice\">Plan and reporting period</label>",
            "Plan No. 109/KH-SGDĐT-VP: 2020-H1 (due 15/06/2020)</option>",
            "<button class=\"primary\" type=\"submit\">Prepare report</button>",
            "<td>In progress (40%)</td><td>20/06/2020</td>",
        ] {
            assert!(page.contains(words), "{words}: {page}");
        }
    }
}

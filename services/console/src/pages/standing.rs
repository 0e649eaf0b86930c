//! A unit's own standing against the plans that cover it: for each activity a plan
//! requires, how many the unit has done in the year and in the period it is in now,
//! against what is required; and the reports the plans ask for next.

use std::collections::{BTreeMap, HashMap};

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{Datelike, NaiveDate};
use serde::Deserialize;
use serde_json::Value;

use super::*;
use crate::App;
use crate::text;

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct Target {
    pub kind: String,
    pub min_per_unit: i64,
    pub per: String,
    pub note: String,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct PlanPeriod {
    pub key: String,
    pub title: String,
    pub due_date: String,
    pub start: String,
}

/// A plan as the console reads it (the unit's standing, the office's periods, the
/// reports' choice of plan and period).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct Plan {
    pub id: String,
    pub number_symbol: String,
    pub year: i32,
    pub title: String,
    pub required_activities: Vec<Target>,
    pub unit_ids: Vec<String>,
    pub periods: Vec<PlanPeriod>,
}

/// How many periods of `per` a year has.
fn periods_in_year(per: &str) -> i64 {
    match per {
        "month" => 12,
        "quarter" => 4,
        "half_year" => 2,
        _ => 1,
    }
}

/// The period of `per` that `day` falls in, as its first and last day.
fn period_of(per: &str, day: NaiveDate) -> (NaiveDate, NaiveDate) {
    let months = (12 / periods_in_year(per)) as u32;
    let first_month = (day.month0() / months) * months + 1;
    let start = NaiveDate::from_ymd_opt(day.year(), first_month, 1).unwrap_or(day);
    let end = start
        .checked_add_months(chrono::Months::new(months))
        .and_then(|d| d.pred_opt())
        .unwrap_or(day);
    (start, end)
}

pub fn per_text(per: &str) -> &str {
    match per {
        "month" => "mỗi tháng",
        "quarter" => "mỗi quý",
        "half_year" => "mỗi 6 tháng",
        "year" => "mỗi năm",
        other => other,
    }
}

/// [`per_text`] in the page's language: "per quarter".
pub fn per_text_in<'a>(per: &'a str, lang: &text::Lang) -> &'a str {
    match (lang, per) {
        (text::Lang::En, "month") => "per month",
        (text::Lang::En, "quarter") => "per quarter",
        (text::Lang::En, "half_year") => "per half-year",
        (text::Lang::En, "year") => "per year",
        _ => per_text(per),
    }
}

/// One required activity and where the unit stands.
#[derive(Debug, Clone, PartialEq)]
pub struct Standing {
    pub kind: String,
    pub per: String,
    pub min: i64,
    /// Done in the year, and required in the year.
    pub year_done: i64,
    pub year_required: i64,
    /// Done in the period the reference day is in (the whole year for a yearly
    /// target); `None` when the year is not the reference day's.
    pub now_done: Option<i64>,
}

impl Standing {
    pub fn met_now(&self) -> bool {
        self.now_done.is_some_and(|n| n >= self.min)
    }
}

/// Where a unit stands on `targets` of a plan of `year`, from the dates of its
/// activities by kind, on `today`.
pub fn standing(
    targets: &[Target],
    year: i32,
    dates: &BTreeMap<String, Vec<NaiveDate>>,
    today: NaiveDate,
) -> Vec<Standing> {
    targets
        .iter()
        .map(|t| {
            let of_kind = dates.get(&t.kind).map(Vec::as_slice).unwrap_or(&[]);
            let in_year = |d: &&NaiveDate| d.year() == year;
            let now_done = (today.year() == year).then(|| {
                let (start, end) = period_of(&t.per, today);
                of_kind
                    .iter()
                    .filter(|d| **d >= start && **d <= end)
                    .count() as i64
            });
            Standing {
                kind: t.kind.clone(),
                per: t.per.clone(),
                min: t.min_per_unit,
                year_done: of_kind.iter().filter(in_year).count() as i64,
                year_required: t.min_per_unit * periods_in_year(&t.per),
                now_done,
            }
        })
        .collect()
}

/// A plan covering the unit, with the unit's standing and its periods' submissions.
pub struct PlanStanding {
    pub plan: Plan,
    pub rows: Vec<Standing>,
    pub periods: Vec<UnitPeriod>,
}

#[derive(Template)]
#[template(path = "standing.html")]
pub(crate) struct StandingPage {
    frame: Frame,
    year: i32,
    plans: Vec<PlanStanding>,
    today: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct StandingQuery {
    nam: Option<i32>,
}

/// Every page of a list the gateway pages, up to `cap` rows.
async fn all_pages(app: &App, visit: &Visit, path: &str, field: &str, cap: usize) -> Vec<Value> {
    let mut rows = Vec::new();
    let mut token = String::new();
    let sep = if path.contains('?') { '&' } else { '?' };
    while rows.len() < cap {
        let page: Value = match app
            .gateway
            .get(
                &format!("{path}{sep}limit=500&page_token={}", encode(&token)),
                visit.on(),
            )
            .await
        {
            Ok(p) => p,
            Err(_) => break,
        };
        rows.extend(page[field].as_array().cloned().unwrap_or_default());
        token = page["next_page_token"].as_str().unwrap_or("").to_owned();
        if token.is_empty() {
            break;
        }
    }
    rows
}

/// A unit's line of a period, as the gateway answers it.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct Submission {
    pub status: String,
    pub submitted_at: String,
    pub late: bool,
    pub reopen_reason: String,
    pub overdue: bool,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Submissions {
    submissions: Vec<Submission>,
}

/// A period a plan asks the unit to report on, and where its submission stands.
pub struct UnitPeriod {
    pub plan_id: String,
    pub plan_number: String,
    pub key: String,
    pub title: String,
    pub due_date: String,
    /// Days to the due date; negative once it has passed.
    pub days_left: i64,
    /// Whether the period has begun: it can be submitted.
    pub begun: bool,
    pub submission: Submission,
}

impl UnitPeriod {
    pub fn submitted(&self) -> bool {
        self.submission.status == "submitted"
    }

    pub fn reopened(&self) -> bool {
        self.submission.status == "reopened"
    }

    /// Days past the due date.
    pub fn days_late(&self) -> i64 {
        -self.days_left
    }
}

/// The periods of `plans` that cover unit `unit_id`, each with the unit's
/// submission, by due date.
async fn unit_periods(app: &App, visit: &Visit, unit_id: &str, plans: &[Plan]) -> Vec<UnitPeriod> {
    let today = text::today_date();
    let wanted: Vec<(&Plan, &PlanPeriod)> = plans
        .iter()
        .filter(|p| p.unit_ids.iter().any(|u| u == unit_id))
        .flat_map(|p| p.periods.iter().map(move |k| (p, k)))
        .collect();
    let lines = futures::future::join_all(wanted.iter().map(|(p, k)| {
        let path = format!(
            "/v1/plans/{}/periods/{}/submissions",
            encode(&p.id),
            encode(&k.key)
        );
        async move {
            app.gateway
                .get::<Submissions>(&path, visit.on())
                .await
                .ok()
                .and_then(|s| s.submissions.into_iter().next())
                .unwrap_or_default()
        }
    }))
    .await;
    let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
    let mut out: Vec<UnitPeriod> = wanted
        .into_iter()
        .zip(lines)
        .filter_map(|((p, k), submission)| {
            let due = day(&k.due_date)?;
            Some(UnitPeriod {
                plan_id: p.id.clone(),
                plan_number: p.number_symbol.clone(),
                key: k.key.clone(),
                title: if k.title.is_empty() {
                    k.key.clone()
                } else {
                    k.title.clone()
                },
                due_date: k.due_date.clone(),
                days_left: (due - today).num_days(),
                begun: day(&k.start).is_none_or(|s| s <= today),
                submission,
            })
        })
        .collect();
    out.sort_by(|a, b| a.due_date.cmp(&b.due_date).then(a.key.cmp(&b.key)));
    out
}

/// The plans of `year` as the unit reads them.
async fn plans_of(app: &App, visit: &Visit, year: i32) -> Vec<Plan> {
    all_pages(app, visit, &format!("/v1/plans?year={year}"), "plans", 200)
        .await
        .into_iter()
        .filter_map(|p| serde_json::from_value(p).ok())
        .collect()
}

/// The reports the unit has still to submit (this year's plans and last year's,
/// whose year report falls due in this one): begun and not submitted, or reopened;
/// the most pressing first.
pub(crate) async fn reports_due(app: &App, visit: &Visit, unit_id: &str) -> Vec<UnitPeriod> {
    let year = text::today_date().year();
    let (last, this) = tokio::join!(plans_of(app, visit, year - 1), plans_of(app, visit, year));
    let plans: Vec<Plan> = last.into_iter().chain(this).collect();
    unit_periods(app, visit, unit_id, &plans)
        .await
        .into_iter()
        .filter(|p| p.begun && !p.submitted())
        .collect()
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SubmitForm {
    csrf: String,
    plan_id: String,
    period: String,
    note: String,
    /// The page to come back to.
    ve: String,
}

/// The unit submits its report for a period: its figures signed off.
pub async fn submit_period(
    State(app): State<App>,
    Staff { visit, frame }: Staff,
    axum::Form(f): axum::Form<SubmitForm>,
) -> Response {
    let path = format!(
        "/v1/plans/{}/periods/{}/submissions",
        encode(&f.plan_id),
        encode(&f.period)
    );
    let body = serde_json::json!({"note": f.note.trim()});
    match app
        .gateway
        .post::<Value>(&path, visit.writing(&f.csrf), &body)
        .await
    {
        Ok(_) => {
            // Back to where the button was, and only to a page of this console.
            let back = if f.ve == "/ke-hoach" || f.ve.starts_with("/ke-hoach?") {
                f.ve.as_str()
            } else {
                "/trang-chu"
            };
            axum::response::Redirect::to(back).into_response()
        }
        Err(p) if p.status == 409 => {
            let (title, told) = match frame.lang {
                text::Lang::Vi => (
                    "Chưa nộp được",
                    "Đơn vị đã nộp báo cáo kỳ này, hoặc kế hoạch không giao kỳ này cho đơn vị. \
                     Nếu cần sửa số liệu đã nộp, đề nghị Văn phòng Sở mở lại báo cáo.",
                ),
                text::Lang::En => (
                    "The report was not submitted",
                    "Your unit has already submitted the report for this period, or the plan \
                     does not ask your unit to report on it. To change figures already \
                     submitted, ask the Department Office to reopen the report.",
                ),
            };
            message(StatusCode::CONFLICT, frame, title, told.into())
        }
        Err(p) => refused(frame, &p),
    }
}

pub async fn plan_standing(
    State(app): State<App>,
    Staff { visit, frame }: Staff,
    Query(q): Query<StandingQuery>,
) -> Response {
    let today = text::today_date();
    let year = q.nam.unwrap_or(today.year());
    let plans: Vec<Plan> = plans_of(&app, &visit, year)
        .await
        .into_iter()
        .filter(|p| p.unit_ids.iter().any(|u| u == frame.unit_id()))
        .collect();
    let activities_path = format!("/v1/activities?period={year}");
    let (activities, postings) = tokio::join!(
        all_pages(&app, &visit, &activities_path, "activities", 20_000),
        all_pages(
            &app,
            &visit,
            "/v1/postings?history=true",
            "postings",
            20_000
        ),
    );
    let day = |v: &Value, k: &str| {
        v[k].as_str()
            .and_then(|d| NaiveDate::parse_from_str(d.get(..10)?, "%Y-%m-%d").ok())
    };
    let mut dates: BTreeMap<String, Vec<NaiveDate>> = BTreeMap::new();
    for a in &activities {
        if let (Some(kind), Some(d)) = (a["kind"].as_str(), day(a, "date")) {
            dates.entry(kind.to_owned()).or_default().push(d);
        }
    }
    // A procedure posted is a posting done, whether logged as an activity or
    // confirmed on the postings page (every version confirmed, when it was posted).
    for p in &postings {
        if let Some(d) = day(p, "posted_on") {
            dates.entry("posting".into()).or_default().push(d);
        }
    }
    let mut periods = unit_periods(&app, &visit, frame.unit_id(), &plans).await;
    let plans = plans
        .into_iter()
        .map(|plan| {
            let rows = standing(&plan.required_activities, year, &dates, today);
            let (mine, rest) = std::mem::take(&mut periods)
                .into_iter()
                .partition(|p| p.plan_id == plan.id);
            periods = rest;
            PlanStanding {
                plan,
                rows,
                periods: mine,
            }
        })
        .collect();
    render(
        StatusCode::OK,
        &StandingPage {
            frame,
            year,
            plans,
            today: today.format("%d/%m/%Y").to_string(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(lang: text::Lang) -> String {
        let mut frame = crate::pages::unit::tests::clerk(lang);
        frame.here = "/ke-hoach".into();
        StandingPage {
            frame,
            year: 2026,
            plans: vec![PlanStanding {
                plan: Plan {
                    number_symbol: "109/KH-SGDĐT".into(),
                    title: "Tuyên truyền CCHC năm 2026".into(),
                    ..Plan::default()
                },
                rows: vec![Standing {
                    kind: "news_post".into(),
                    per: "quarter".into(),
                    min: 2,
                    year_done: 3,
                    year_required: 8,
                    now_done: Some(1),
                }],
                periods: vec![UnitPeriod {
                    plan_id: "p1".into(),
                    plan_number: "109/KH-SGDĐT".into(),
                    key: "2026-Q2".into(),
                    title: "Quý II".into(),
                    due_date: "2026-06-30".into(),
                    days_left: 1,
                    begun: true,
                    submission: Submission::default(),
                }],
            }],
            today: "29/06/2026".into(),
        }
        .render()
        .unwrap()
    }

    #[test]
    fn the_standing_is_in_the_language_chosen() {
        let en = page(text::Lang::En);
        for said in [
            "Progress against the 2026 plans",
            "as of 29/06/2026",
            "News item on the portal or website",
            "At least 2 per quarter",
            "Not met",
            "due 30/06/2026",
            "(1 day left)",
            "Submit this period’s report",
        ] {
            assert!(en.contains(said), "{said}");
        }
        let vi = page(text::Lang::Vi);
        for said in [
            "Thực hiện kế hoạch năm 2026",
            "đến ngày 29/06/2026",
            "Ít nhất 2 mỗi quý",
            "Chưa đạt",
            "hạn nộp 30/06/2026",
            "(còn 1 ngày)",
        ] {
            assert!(vi.contains(said), "{said}");
        }
    }

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn a_target_counts_the_year_and_the_period_the_day_is_in() {
        let targets = vec![
            Target {
                kind: "news_post".into(),
                min_per_unit: 2,
                per: "quarter".into(),
                ..Target::default()
            },
            Target {
                kind: "briefing".into(),
                min_per_unit: 1,
                per: "year".into(),
                ..Target::default()
            },
        ];
        let mut dates = BTreeMap::new();
        dates.insert(
            "news_post".to_owned(),
            vec![
                d("2020-01-10"),
                d("2020-04-02"),
                d("2020-05-20"),
                d("2019-12-30"),
            ],
        );
        let s = standing(&targets, 2020, &dates, d("2020-05-31"));
        assert_eq!(
            (s[0].year_done, s[0].year_required, s[0].now_done),
            (3, 8, Some(2))
        );
        assert!(s[0].met_now());
        assert_eq!((s[1].year_done, s[1].now_done), (0, Some(0)));
        assert!(!s[1].met_now());
        // Another year than today's: no period "now".
        assert_eq!(
            standing(&targets, 2020, &dates, d("2021-01-05"))[0].now_done,
            None
        );
        assert_eq!(
            period_of("half_year", d("2020-08-15")),
            (d("2020-07-01"), d("2020-12-31"))
        );
        assert_eq!(
            period_of("month", d("2020-02-10")),
            (d("2020-02-01"), d("2020-02-29"))
        );
    }
}

// ---- The office's plans ---------------------------------------------------------------

/// How often a target applies, as the form offers it.
pub(crate) const PERS: &[(&str, &str)] = &[
    ("month", "mỗi tháng"),
    ("quarter", "mỗi quý"),
    ("half_year", "mỗi 6 tháng"),
    ("year", "mỗi năm"),
];

/// Rows of targets and periods the form offers.
const TARGET_ROWS: usize = 4;
const PERIOD_ROWS: usize = 4;

#[derive(Template)]
#[template(path = "plans.html")]
pub(crate) struct PlansPage {
    frame: Frame,
    year: i32,
    plans: Vec<Plan>,
    units: Vec<crate::pages::UnitRow>,
    form: HashMap<String, String>,
    /// Units ticked on the form (all of them on a fresh one).
    ticked: Vec<String>,
    kinds: &'static [(&'static str, &'static str)],
    pers: &'static [(&'static str, &'static str)],
    targets: std::ops::Range<usize>,
    periods: std::ops::Range<usize>,
    errors: Vec<text::Shown>,
    notice: String,
    saved: String,
}

impl FieldErrors for PlansPage {
    fn errors(&self) -> &[text::Shown] {
        &self.errors
    }
}

impl PlansPage {
    fn value(&self, field: &str) -> String {
        self.form.get(field).cloned().unwrap_or_default()
    }
}

/// The plan's fields as the form names them: `required_activities[1].kind` is `t1_kind`.
fn form_field(api: &str) -> String {
    let indexed = |prefix: &str, short: &str| {
        let rest = api.strip_prefix(prefix)?;
        let (i, field) = rest.split_once("].")?;
        Some(format!("{short}{i}_{field}"))
    };
    indexed("required_activities[", "t")
        .or_else(|| indexed("periods[", "p"))
        .unwrap_or_else(|| text::field_id(api))
}

const PLAN_LABELS: &[(&str, &str)] = &[
    ("number_symbol", "Số, ký hiệu kế hoạch"),
    ("title", "Tên kế hoạch"),
    ("issuing_body", "Cơ quan ban hành"),
    ("year", "Năm"),
    ("unit_ids", "Đơn vị thực hiện"),
    ("periods", "Kỳ báo cáo"),
    ("required_activities", "Hoạt động tối thiểu"),
];

async fn plans_page(
    app: &App,
    visit: &Visit,
    frame: Frame,
    status: StatusCode,
    year: i32,
    form: HashMap<String, String>,
    outcome: Outcome,
) -> Response {
    if !frame.is_office() {
        return forbidden(frame);
    }
    let path = format!("/v1/plans?year={year}");
    let (plans, units) = tokio::join!(
        all_pages(app, visit, &path, "plans", 200),
        crate::pages::all_units(app, visit),
    );
    let plans = plans
        .into_iter()
        .filter_map(|p| serde_json::from_value(p).ok())
        .collect();
    let units: Vec<crate::pages::UnitRow> = units
        .unwrap_or_default()
        .into_iter()
        .filter(|u| u.status != "merged" && u.status != "closed" && u.kind != "department")
        .collect();
    let ticked = if form.is_empty() {
        units.iter().map(|u| u.id.clone()).collect()
    } else {
        form.iter()
            .filter(|(k, _)| k.starts_with("u_"))
            .map(|(k, _)| k[2..].to_owned())
            .collect()
    };
    render(
        status,
        &PlansPage {
            frame,
            year,
            plans,
            units,
            form,
            ticked,
            kinds: text::ACTIVITY_KINDS,
            pers: PERS,
            targets: 0..TARGET_ROWS,
            periods: 0..PERIOD_ROWS,
            errors: outcome.errors,
            notice: outcome.notice,
            saved: outcome.saved,
        },
    )
}

pub async fn plans(
    State(app): State<App>,
    Staff { visit, frame }: Staff,
    Query(q): Query<StandingQuery>,
) -> Response {
    let year = q.nam.unwrap_or(text::today_date().year());
    plans_page(
        &app,
        &visit,
        frame,
        StatusCode::OK,
        year,
        HashMap::new(),
        Outcome::default(),
    )
    .await
}

/// Lays out a plan: its number, the activities each unit must carry out, its report
/// periods with their due dates, the units it covers.
pub async fn create_plan(
    State(app): State<App>,
    Staff { visit, frame }: Staff,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| f.get(k).map(|v| v.trim().to_owned()).unwrap_or_default();
    let year: i32 = get("year").parse().unwrap_or(0);
    let targets: Vec<Value> = (0..TARGET_ROWS)
        .filter(|i| !get(&format!("t{i}_min_per_unit")).is_empty())
        .map(|i| {
            serde_json::json!({
                "kind": get(&format!("t{i}_kind")),
                "min_per_unit": text::count(&get(&format!("t{i}_min_per_unit"))).unwrap_or(-1),
                "per": get(&format!("t{i}_per")),
            })
        })
        .collect();
    let periods: Vec<Value> = (0..PERIOD_ROWS)
        .filter(|i| !get(&format!("p{i}_key")).is_empty())
        .map(|i| {
            serde_json::json!({
                "key": get(&format!("p{i}_key")).to_uppercase(),
                "due_date": text::api_date(&get(&format!("p{i}_due_date"))),
            })
        })
        .collect();
    let unit_ids: Vec<&str> = f.keys().filter_map(|k| k.strip_prefix("u_")).collect();
    let recipients: Vec<Value> = get("recipients")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|name| serde_json::json!({"name": name}))
        .collect();
    let body = serde_json::json!({
        "number_symbol": get("number_symbol"), "year": year, "title": get("title"),
        "issuing_body": get("issuing_body"), "governing_body": get("governing_body"),
        "place": get("place"), "issued_on": text::api_date(&get("issued_on")),
        "objectives": get("objectives"), "required_activities": targets,
        "unit_ids": unit_ids, "periods": periods, "recipients": recipients,
        "signer_title": get("signer_title"), "signer_name": get("signer_name"),
    });
    let csrf = get("csrf");
    match app
        .gateway
        .post::<Plan>("/v1/plans", visit.writing(&csrf), &body)
        .await
    {
        Ok(p) => {
            let outcome = Outcome {
                saved: match frame.lang {
                    text::Lang::Vi => format!("Đã lưu Kế hoạch số {}.", p.number_symbol),
                    text::Lang::En => format!("Plan No. {} saved.", p.number_symbol),
                },
                ..Outcome::default()
            };
            plans_page(
                &app,
                &visit,
                frame,
                StatusCode::OK,
                p.year,
                HashMap::new(),
                outcome,
            )
            .await
        }
        Err(p) if p.status == 401 => axum::response::Redirect::to("/dang-nhap").into_response(),
        Err(p) => {
            let mut outcome = Outcome::refused_labelled(&p, PLAN_LABELS, frame.lang);
            for (shown, api) in outcome.errors.iter_mut().zip(&p.errors) {
                shown.field = form_field(&api.field);
            }
            let status = status_of(&p, StatusCode::BAD_REQUEST);
            let year = if year == 0 {
                text::today_date().year()
            } else {
                year
            };
            plans_page(&app, &visit, frame, status, year, f, outcome).await
        }
    }
}

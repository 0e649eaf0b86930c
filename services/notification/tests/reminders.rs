//! Reminders from plans, period submissions and stale postings, through real events:
//! each fires once per due date, whatever restarts or concurrent passes happen; only a
//! submission (not reopened) makes a unit reported, whatever it sent otherwise and in
//! whatever order the events arrive; a reopened unit is told why; a report generated
//! reaches the plan's recipients with its links; templates are versioned and checked.

mod common;

use std::sync::Arc;

use cchc_notification::scheduler::{Fired, Scheduler};
use cchc_notification::store::Store;
use cchc_platform::events;
use cchc_platform::vocabulary::unit_kind;
use cchc_platform::{Actor, Role};
use cchc_proto::events::v1::{
    ActivityRecorded, OneStopResultSubmitted, PeriodReopened, PeriodSubmitted, PlanSaved,
    PostingConfirmed, PostingStale, ReportGenerated, ReportingPeriod,
};
use cchc_proto::notification::v1 as pb;
use cchc_testkit::SmtpSink;
use chrono::NaiveDate;
use common::{Harness, email, from, office, procedure};
use tonic::Code;
use uuid::Uuid;

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

async fn inbox(h: &Harness, unit: Uuid) -> Vec<pb::InboxMessage> {
    h.client()
        .await
        .list_inbox(from(unit, Role::Unit, pb::ListInboxRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .messages
}

fn scheduler(h: &Harness) -> Scheduler {
    Scheduler::new(Store::new(h.pool.clone()), Arc::new(h.settings()))
}

const PLAN_NUMBER: &str = "109/KH-SGDĐT-VP";

/// A plan with one period, 2020-H1, due on 15/07/2020, covering `units`.
fn plan_h1(plan_id: Uuid, units: &[Uuid]) -> PlanSaved {
    PlanSaved {
        plan_id: plan_id.to_string(),
        number_symbol: PLAN_NUMBER.into(),
        year: 2020,
        title: "Kế hoạch tuyên truyền CCHC năm 2020".into(),
        periods: vec![ReportingPeriod {
            key: "2020-H1".into(),
            start: "2020-01-01".into(),
            end: "2020-06-30".into(),
            due_date: "2020-07-15".into(),
            title: "6 tháng đầu năm 2020".into(),
        }],
        unit_ids: units.iter().map(Uuid::to_string).collect(),
        revision: 1,
        ..Default::default()
    }
}

/// `unit` submitted 2020-H1 of `plan_id`.
fn submitted(plan_id: Uuid, unit: Uuid) -> PeriodSubmitted {
    PeriodSubmitted {
        plan_id: plan_id.to_string(),
        period: "2020-H1".into(),
        unit_id: unit.to_string(),
        submitted_at: "2020-07-05T09:30:00+07:00".into(),
        late: false,
        due_date: "2020-07-15".into(),
    }
}

/// The office reopened `unit`'s submission of 2020-H1 of `plan_id`.
fn reopened(plan_id: Uuid, unit: Uuid, reason: &str) -> PeriodReopened {
    PeriodReopened {
        plan_id: plan_id.to_string(),
        period: "2020-H1".into(),
        unit_id: unit.to_string(),
        reason: reason.into(),
    }
}

/// Whether `unit` counts as submitted for 2020-H1 of `plan_id`, and the event that
/// state comes from; `None` before any submission event is kept.
async fn submission(h: &Harness, plan_id: Uuid, unit: Uuid) -> Option<(bool, Uuid)> {
    sqlx::query_as(
        "SELECT submitted, event_id FROM unit_period_submissions
         WHERE plan_id = $1 AND period_key = '2020-H1' AND unit_id = $2",
    )
    .bind(plan_id)
    .bind(unit)
    .fetch_optional(&h.pool)
    .await
    .unwrap()
}

/// Waits until the state of `unit` comes from event `event_id`.
async fn kept(h: &Harness, plan_id: Uuid, unit: Uuid, event_id: &str) -> bool {
    h.eventually(20, &format!("event {event_id} is kept"), || async {
        submission(h, plan_id, unit)
            .await
            .filter(|(_, id)| id.to_string() == event_id)
            .map(|(submitted, _)| submitted)
    })
    .await
}

/// The messages of `kind` in `unit`'s inbox.
async fn of_kind(h: &Harness, unit: Uuid, kind: &str) -> Vec<pb::InboxMessage> {
    let mut m = inbox(h, unit).await;
    m.retain(|m| m.kind == kind);
    m
}

/// The escalation leadership received (one at most), listing the late units.
async fn escalation(h: &Harness, leader: &pb::Recipient) -> Vec<pb::InboxMessage> {
    of_kind(h, leader.unit_id.parse().unwrap(), "report_overdue").await
}

async fn leader(h: &Harness) -> pb::Recipient {
    h.recipient(pb::RecipientInput {
        kind: "person".into(),
        name: "Giám đốc Sở".into(),
        unit_id: Uuid::new_v4().to_string(),
        groups: vec!["leadership".into()],
        ..Default::default()
    })
    .await
}

#[tokio::test]
async fn due_reminders_and_the_escalation_fire_once_across_restarts() {
    let mut h = Harness::start(&[]).await;
    let a = h.unit("Trường THPT A", unit_kind::HIGH_SCHOOL).await;
    let b = h.unit("Trường THPT B", unit_kind::HIGH_SCHOOL).await;
    let c = h.unit("Phòng GD&ĐT C", unit_kind::DISTRICT_OFFICE).await;
    let leader = leader(&h).await;
    let plan_id = Uuid::new_v4();
    h.publish("reporting", &plan_h1(plan_id, &[a, b, c])).await;
    // A submitted the period, B too (after a reopening); C did not.
    h.publish("reporting", &submitted(plan_id, a)).await;
    h.publish("reporting", &submitted(plan_id, b)).await;
    h.publish("reporting", &reopened(plan_id, b, "Thiếu số liệu"))
        .await;
    let again = h.publish("reporting", &submitted(plan_id, b)).await;
    h.eventually(20, "plan and submissions are known", || async {
        let n = h
            .count("SELECT (SELECT count(*) FROM plan_periods) + (SELECT count(*) FROM unit_period_submissions WHERE submitted)")
            .await;
        (n == 3).then_some(())
    })
    .await;
    assert!(kept(&h, plan_id, b, &again.id).await);

    let s = scheduler(&h);
    assert_eq!(
        s.tick(day("2020-07-07")).await.unwrap(),
        Fired::default(),
        "8 days before: too early"
    );
    assert_eq!(
        s.tick(day("2020-07-08")).await.unwrap().due,
        1,
        "7 days before: C only"
    );
    assert_eq!(s.tick(day("2020-07-08")).await.unwrap(), Fired::default());
    // Two instances passing at once, then a crash and restart: still once.
    let other = scheduler(&h);
    let (x, y) = tokio::join!(s.tick(day("2020-07-09")), other.tick(day("2020-07-09")));
    assert_eq!(x.unwrap().due + y.unwrap().due, 0);
    h.kill().await;
    h.start_service().await;
    assert_eq!(
        scheduler(&h).tick(day("2020-07-15")).await.unwrap(),
        Fired::default()
    );

    let c_inbox = inbox(&h, c).await;
    assert_eq!(c_inbox.len(), 1, "{c_inbox:?}");
    assert_eq!(c_inbox[0].kind, "report_due");
    assert!(
        c_inbox[0].subject.contains("15/07/2020"),
        "{}",
        c_inbox[0].subject
    );
    assert!(c_inbox[0].body.contains("109/KH-SGDĐT-VP") && c_inbox[0].body.contains("còn 7 ngày"));
    assert!(inbox(&h, a).await.is_empty());
    let b_inbox = inbox(&h, b).await;
    assert_eq!(
        b_inbox.len(),
        1,
        "B hears of its reopening only: {b_inbox:?}"
    );
    assert_eq!(b_inbox[0].kind, "report_reopened");

    // The day after the due date: leadership hears that C is late, once.
    let fired = scheduler(&h).tick(day("2020-07-16")).await.unwrap();
    assert_eq!(fired.overdue, 1);
    assert_eq!(
        scheduler(&h).tick(day("2020-07-17")).await.unwrap(),
        Fired::default()
    );
    let leader_unit: Uuid = leader.unit_id.parse().unwrap();
    let l = inbox(&h, leader_unit).await;
    assert_eq!(l.len(), 1);
    assert_eq!(l[0].kind, "report_overdue");
    assert!(
        l[0].body.contains("- Phòng GD&ĐT C") && !l[0].body.contains("THPT"),
        "{}",
        l[0].body
    );
    assert!(l[0].body.contains("1 đơn vị chưa báo cáo"), "{}", l[0].body);

    // A plan entered long after its due dates reminds no one.
    let old = PlanSaved {
        plan_id: Uuid::new_v4().to_string(),
        periods: vec![ReportingPeriod {
            key: "2019".into(),
            start: "2019-01-01".into(),
            end: "2019-12-31".into(),
            due_date: "2019-12-15".into(),
            ..Default::default()
        }],
        unit_ids: vec![c.to_string()],
        revision: 1,
        ..Default::default()
    };
    h.publish("reporting", &old).await;
    h.eventually(20, "the old plan is known", || async {
        (h.count("SELECT count(*) FROM plans").await == 2).then_some(())
    })
    .await;
    assert_eq!(
        scheduler(&h).tick(day("2020-07-18")).await.unwrap(),
        Fired::default()
    );
}

#[tokio::test]
async fn activities_and_one_stop_results_without_a_submission_do_not_count_as_reported() {
    let h = Harness::start(&[]).await;
    let busy = h.unit("Trường THPT Bận Rộn", unit_kind::HIGH_SCHOOL).await;
    let done = h.unit("Trường THPT Đã Nộp", unit_kind::HIGH_SCHOOL).await;
    let leader = leader(&h).await;
    let plan_id = Uuid::new_v4();
    h.publish("reporting", &plan_h1(plan_id, &[busy, done]))
        .await;
    // One unit sends an activity dated in the period and its one-stop result for it,
    // but never submits the period; the other submits it and sends nothing else.
    h.publish(
        "activity",
        &ActivityRecorded {
            activity_id: Uuid::new_v4().to_string(),
            unit_id: busy.to_string(),
            kind: "briefing".into(),
            date: "2020-03-10".into(),
            title: "Phổ biến TTHC".into(),
            ..Default::default()
        },
    )
    .await;
    h.publish(
        "activity",
        &OneStopResultSubmitted {
            submission_id: Uuid::new_v4().to_string(),
            unit_id: busy.to_string(),
            period: "2020-H1".into(),
            period_start: "2020-01-01".into(),
            period_end: "2020-06-30".into(),
            revision: 1,
            ..Default::default()
        },
    )
    .await;
    let done_submitted = h.publish("reporting", &submitted(plan_id, done)).await;
    h.eventually(20, "the plan and what the units sent are kept", || async {
        let n = h
            .count("SELECT (SELECT count(*) FROM plan_periods) + (SELECT count(*) FROM unit_activities) + (SELECT count(*) FROM unit_one_stop)")
            .await;
        (n == 3).then_some(())
    })
    .await;
    assert!(kept(&h, plan_id, done, &done_submitted.id).await);
    assert_eq!(submission(&h, plan_id, busy).await, None);

    let fired = scheduler(&h).tick(day("2020-07-08")).await.unwrap();
    assert_eq!(fired.due, 1, "{fired:?}");
    let due = of_kind(&h, busy, "report_due").await;
    assert_eq!(due.len(), 1, "{due:?}");
    assert_eq!(
        due[0].subject,
        "Nhắc báo cáo 6 tháng đầu năm 2020 – hạn 15/07/2020"
    );
    assert!(
        due[0].body.starts_with("Kính gửi Trường THPT Bận Rộn,")
            && due[0].body.contains("Kế hoạch số 109/KH-SGDĐT-VP")
            && due[0].body.contains("còn 7 ngày")
            && due[0]
                .body
                .ends_with("Đến nay đơn vị chưa nộp báo cáo kỳ này."),
        "{}",
        due[0].body
    );
    assert!(
        inbox(&h, done).await.is_empty(),
        "a submitted unit is not reminded"
    );

    let fired = scheduler(&h).tick(day("2020-07-16")).await.unwrap();
    assert_eq!(fired.overdue, 1, "{fired:?}");
    let l = escalation(&h, &leader).await;
    assert_eq!(l.len(), 1, "{l:?}");
    assert!(
        l[0].body
            .ends_with("1 đơn vị chưa báo cáo:\n\n- Trường THPT Bận Rộn"),
        "{}",
        l[0].body
    );
    assert!(inbox(&h, done).await.is_empty());
}

#[tokio::test]
async fn a_reopened_unit_is_told_why_reminded_again_and_listed_late() {
    let h = Harness::start(&[]).await;
    let a = h.unit("Trường THPT A", unit_kind::HIGH_SCHOOL).await;
    let b = h.unit("Trường THPT B", unit_kind::HIGH_SCHOOL).await;
    let leader = leader(&h).await;
    let plan_id = Uuid::new_v4();
    h.publish("reporting", &plan_h1(plan_id, &[a, b])).await;
    let sa = h.publish("reporting", &submitted(plan_id, a)).await;
    let sb = h.publish("reporting", &submitted(plan_id, b)).await;
    assert!(kept(&h, plan_id, a, &sa.id).await && kept(&h, plan_id, b, &sb.id).await);
    let s = scheduler(&h);
    assert_eq!(
        s.tick(day("2020-07-08")).await.unwrap(),
        Fired::default(),
        "both submitted: nobody is reminded"
    );

    let reason = "Số lượt tuyên truyền chưa khớp với biên bản";
    let r = h.publish("reporting", &reopened(plan_id, a, reason)).await;
    assert!(!kept(&h, plan_id, a, &r.id).await);
    let told = h
        .eventually(20, "A is told of the reopening", || async {
            of_kind(&h, a, "report_reopened").await.into_iter().next()
        })
        .await;
    assert_eq!(told.event_id, r.id);
    assert_eq!(
        told.subject,
        "Báo cáo 6 tháng đầu năm 2020 được mở lại – Kế hoạch số 109/KH-SGDĐT-VP"
    );
    assert_eq!(
        told.body,
        "Kính gửi Trường THPT A,\n\nVăn phòng Sở đã mở lại báo cáo kỳ 6 tháng đầu năm 2020 \
         của Kế hoạch 109/KH-SGDĐT-VP: Số lượt tuyên truyền chưa khớp với biên bản. \
         Đề nghị đơn vị rà soát số liệu và nộp lại."
    );

    // From the next pass A is reminded as if it had never submitted; B is not.
    let fired = s.tick(day("2020-07-09")).await.unwrap();
    assert_eq!(fired.due, 1, "{fired:?}");
    let due = of_kind(&h, a, "report_due").await;
    assert_eq!(due.len(), 1, "{due:?}");
    assert!(due[0].body.contains("còn 6 ngày"), "{}", due[0].body);
    assert!(inbox(&h, b).await.is_empty());

    let fired = s.tick(day("2020-07-16")).await.unwrap();
    assert_eq!(fired.overdue, 1, "{fired:?}");
    let l = escalation(&h, &leader).await;
    assert_eq!(l.len(), 1, "{l:?}");
    assert!(
        l[0].body
            .ends_with("1 đơn vị chưa báo cáo:\n\n- Trường THPT A"),
        "{}",
        l[0].body
    );
    let leader_inbox = inbox(&h, leader.unit_id.parse().unwrap()).await;
    assert_eq!(
        leader_inbox.len(),
        1,
        "the reopening is told to its unit only"
    );
}

#[tokio::test]
async fn older_events_arriving_late_never_undo_a_newer_submission_state() {
    let h = Harness::start(&[]).await;
    let a = h.unit("Trường THPT A", unit_kind::HIGH_SCHOOL).await;
    let b = h.unit("Trường THPT B", unit_kind::HIGH_SCHOOL).await;
    let leader = leader(&h).await;
    let plan_id = Uuid::new_v4();
    h.publish("reporting", &plan_h1(plan_id, &[a, b])).await;
    let first = h.publish("reporting", &submitted(plan_id, a)).await;
    assert!(kept(&h, plan_id, a, &first.id).await);
    // Another submission of A made before the reopening, delivered only after it.
    let earlier = events::envelope("reporting", &Actor::System, &submitted(plan_id, a));
    let r = h
        .publish("reporting", &reopened(plan_id, a, "Sai số liệu"))
        .await;
    assert!(!kept(&h, plan_id, a, &r.id).await);
    // The first submission redelivered (a new message id gets past JetStream's
    // duplicate window), then the earlier one; B's submission, last, marks that the
    // service has handled both.
    h.publish_envelope(&first, &Uuid::new_v4().to_string())
        .await;
    h.publish_envelope(&earlier, &earlier.id).await;
    let marker = h.publish("reporting", &submitted(plan_id, b)).await;
    assert!(kept(&h, plan_id, b, &marker.id).await);
    let handled = format!(
        "SELECT count(*) FROM cchc_processed_events WHERE event_id = '{}'",
        earlier.id
    );
    assert_eq!(
        h.count(&handled).await,
        1,
        "the earlier submission was handled"
    );
    assert_eq!(
        submission(&h, plan_id, a).await,
        Some((false, r.id.parse().unwrap())),
        "A stays reopened"
    );
    let fired = scheduler(&h).tick(day("2020-07-08")).await.unwrap();
    assert_eq!(fired.due, 1, "A is reminded, B is not: {fired:?}");
    assert_eq!(of_kind(&h, a, "report_due").await.len(), 1);
    assert!(inbox(&h, b).await.is_empty());

    // A submits again; then a reopening made before that submission arrives, and the
    // first reopening is redelivered: A stays submitted and hears of neither.
    let stale_reopening = events::envelope(
        "reporting",
        &Actor::System,
        &reopened(plan_id, a, "Lý do cũ"),
    );
    let again = h.publish("reporting", &submitted(plan_id, a)).await;
    assert!(kept(&h, plan_id, a, &again.id).await);
    h.publish_envelope(&stale_reopening, &stale_reopening.id)
        .await;
    h.publish_envelope(&r, &Uuid::new_v4().to_string()).await;
    let marker = h.publish("reporting", &submitted(plan_id, b)).await;
    assert!(kept(&h, plan_id, b, &marker.id).await);
    let handled = format!(
        "SELECT count(*) FROM cchc_processed_events WHERE event_id = '{}'",
        stale_reopening.id
    );
    assert_eq!(
        h.count(&handled).await,
        1,
        "the stale reopening was handled"
    );
    assert_eq!(
        submission(&h, plan_id, a).await,
        Some((true, again.id.parse().unwrap())),
        "A stays submitted"
    );
    let told = of_kind(&h, a, "report_reopened").await;
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(told[0].body.contains(": Sai số liệu."), "{}", told[0].body);

    // Everyone submitted by the due date: the period is settled, nobody is told.
    let fired = scheduler(&h).tick(day("2020-07-16")).await.unwrap();
    assert_eq!(fired, Fired::default());
    assert!(escalation(&h, &leader).await.is_empty());
}

#[tokio::test]
async fn a_stale_posting_is_reminded_after_the_delay_unless_confirmed() {
    let h = Harness::start(&[("CCHC_STALE_POSTING_REMINDER_DAYS", "3")]).await;
    let a = h.unit("Trường THPT A", unit_kind::HIGH_SCHOOL).await;
    let b = h.unit("Trường THPT B", unit_kind::HIGH_SCHOOL).await;
    for unit in [a, b] {
        h.publish(
            "catalogue",
            &PostingStale {
                unit_id: unit.to_string(),
                code: "1.012753.H19".into(),
                posted_version: 1,
                current_version: 2,
                procedure_name: "Cấp bản sao văn bằng".into(),
            },
        )
        .await;
    }
    // B posts the new version; A does not.
    h.publish(
        "catalogue",
        &PostingConfirmed {
            unit_id: b.to_string(),
            code: "1.012753.H19".into(),
            version: 2,
            posted_on: "2020-03-01".into(),
        },
    )
    .await;
    h.eventually(20, "the postings are known", || async {
        let n = h.count("SELECT count(*) FROM stale_postings").await;
        let resolved = h
            .count("SELECT count(*) FROM stale_postings WHERE resolved_at IS NOT NULL")
            .await;
        (n == 2 && resolved == 1).then_some(())
    })
    .await;
    let today = cchc_platform::time::today();
    let s = scheduler(&h);
    assert_eq!(s.tick(today + chrono::Days::new(2)).await.unwrap().stale, 0);
    assert_eq!(s.tick(today + chrono::Days::new(3)).await.unwrap().stale, 1);
    assert_eq!(s.tick(today + chrono::Days::new(4)).await.unwrap().stale, 0);
    let m = inbox(&h, a).await;
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].kind, "posting_stale");
    assert!(
        m[0].body.contains("phiên bản 2") && m[0].body.contains("(3 ngày)"),
        "{}",
        m[0].body
    );
    assert!(inbox(&h, b).await.is_empty());
}

#[tokio::test]
async fn a_generated_report_reaches_the_plans_recipients_with_its_links() {
    let smtp = SmtpSink::start().await;
    let h = Harness::start(&[
        ("CCHC_SMTP_URL", &smtp.url()),
        ("CCHC_PUBLIC_URL", "https://cchc.sgddt.example.vn"),
    ])
    .await;
    let ubnd = h
        .recipient(pb::RecipientInput {
            kind: "body".into(),
            name: "UBND thành phố".into(),
            contacts: vec![email("vanthu@ubnd.example.vn")],
            ..Default::default()
        })
        .await;
    let other = h
        .recipient(pb::RecipientInput {
            kind: "body".into(),
            name: "Sở Nội vụ".into(),
            contacts: vec![email("vanthu@snv.example.vn")],
            ..Default::default()
        })
        .await;
    let report = ReportGenerated {
        report_id: "r-2020-h1".into(),
        plan_id: Uuid::new_v4().to_string(),
        plan_number_symbol: "109/KH-SGDĐT-VP".into(),
        period: "2020-H1".into(),
        title: "Báo cáo kết quả tuyên truyền CCHC 6 tháng đầu năm 2020".into(),
        export_paths: vec![
            "/v1/reports/r-2020-h1/export?format=docx".into(),
            "/v1/reports/r-2020-h1/export?format=xlsx".into(),
        ],
        recipient_ids: vec![ubnd.id.clone()],
        as_of: "2020-07-01T00:00:00Z".into(),
    };
    h.publish("reporting", &report).await;
    let mails = smtp.wait_for(1, 30).await;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, vec!["vanthu@ubnd.example.vn"]);
    assert_eq!(
        mails[0].subject,
        "Báo cáo 2020-H1 – Kế hoạch số 109/KH-SGDĐT-VP"
    );
    assert!(
        mails[0]
            .text
            .contains("https://cchc.sgddt.example.vn/v1/reports/r-2020-h1/export?format=docx"),
        "{}",
        mails[0].text
    );
    assert!(mails[0].text.contains("Kính gửi UBND thành phố"));
    // Only the plan's recipients.
    let to_other = h
        .count(&format!(
            "SELECT count(*) FROM messages WHERE recipient_id = '{}'",
            other.id
        ))
        .await;
    assert_eq!(to_other, 0);
}

#[tokio::test]
async fn templates_are_checked_versioned_and_recorded_on_each_message() {
    let h = Harness::start(&[]).await;
    let unit = h.unit("Trường THPT A", unit_kind::HIGH_SCHOOL).await;
    let mut c = h.client().await;

    let e = c
        .save_template(office(pb::TemplateInput {
            key: "procedure_changed".into(),
            subject: "Thủ tục {{ten_thu_tuc}}".into(),
            text: "Mã {{code}}, {{nam}}".into(),
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    let errors = cchc_platform::validation::field_errors(&e);
    let named: Vec<(&str, &str)> = errors
        .iter()
        .map(|f| (f.field.as_str(), f.message.as_str()))
        .collect();
    assert_eq!(named.len(), 2, "{named:?}");
    assert_eq!(named[0].0, "subject");
    assert!(
        named[0]
            .1
            .starts_with("unknown placeholder {{ten_thu_tuc}}"),
        "{}",
        named[0].1
    );
    assert_eq!(named[1].0, "text");
    assert!(named[1].1.contains("{{nam}}"));
    let e = c
        .save_template(office(pb::TemplateInput {
            key: "procedure_published".into(),
            subject: "x".into(),
            text: "y".into(),
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(cchc_platform::validation::field_errors(&e)[0].field, "key");
    let e = c
        .save_template(from(unit, Role::Unit, pb::TemplateInput::default()))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);

    let saved = c
        .save_template(office(pb::TemplateInput {
            key: "procedure_changed".into(),
            subject: "[CCHC] {{name}} ({{change}})".into(),
            text: "Kính gửi {{recipient_name}}: thủ tục mã {{code}} được {{change}}.".into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((saved.version, saved.language.as_str()), (2, "vi"));
    let english = c
        .save_template(office(pb::TemplateInput {
            key: "procedure_changed".into(),
            language: "en".into(),
            subject: "Procedure {{code}} changed".into(),
            text: "Dear {{recipient_name}}, procedure {{code}} changed ({{change_type}}).".into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(english.version, 1);
    let foreign = h
        .recipient(pb::RecipientInput {
            kind: "person".into(),
            name: "Ms Smith".into(),
            unit_id: Uuid::new_v4().to_string(),
            language: "en".into(),
            ..Default::default()
        })
        .await;
    h.subscribe(pb::SubscriptionInput {
        event_type: "procedure_changed".into(),
        recipient_id: foreign.id.clone(),
        channels: vec!["inbox".into()],
        ..Default::default()
    })
    .await;

    let env = h
        .publish(
            "catalogue",
            &procedure("1.000007.H19", "Thủ tục G", "Giáo dục"),
        )
        .await;
    let m = h
        .eventually(20, "the unit's message", || async {
            inbox(&h, unit).await.into_iter().next()
        })
        .await;
    assert_eq!(m.subject, "[CCHC] Thủ tục G (công bố mới)");
    assert_eq!(
        m.body,
        "Kính gửi Trường THPT A: thủ tục mã 1.000007.H19 được công bố mới."
    );
    let en = inbox(&h, foreign.unit_id.parse().unwrap()).await;
    assert_eq!(en[0].subject, "Procedure 1.000007.H19 changed");
    for (id, _, _) in h.messages_of(&env.id).await {
        let r = c
            .list_deliveries(office(pb::MessageRef { id: id.to_string() }))
            .await
            .unwrap()
            .into_inner();
        let expected = if r.recipient_id == foreign.id {
            ("en", 1)
        } else {
            ("vi", 2)
        };
        assert_eq!((r.language.as_str(), r.template_version), expected);
    }
    let all = c
        .list_templates(office(pb::ListTemplatesRequest {
            key: "procedure_changed".into(),
        }))
        .await
        .unwrap()
        .into_inner()
        .templates;
    let versions: Vec<(String, u32)> = all
        .iter()
        .map(|t| (t.language.clone(), t.version))
        .collect();
    assert_eq!(
        versions,
        vec![("vi".into(), 2), ("vi".into(), 1), ("en".into(), 1)]
    );
    assert!(all[0].placeholders.contains(&"decision_number".to_owned()));
}

#[tokio::test]
async fn subscriptions_by_field_and_group_and_recipients_checked() {
    let h = Harness::start(&[]).await;
    let school = h.unit("Trường THPT A", unit_kind::HIGH_SCHOOL).await;
    let mut c = h.client().await;
    // A person linked to the Department unit, told of one field's procedures only.
    let dept = Uuid::new_v4();
    let person = h
        .recipient(pb::RecipientInput {
            kind: "person".into(),
            name: "Trưởng phòng Khảo thí".into(),
            unit_id: dept.to_string(),
            ..Default::default()
        })
        .await;
    h.subscribe(pb::SubscriptionInput {
        event_type: "procedure_changed".into(),
        recipient_id: person.id.clone(),
        filters: Some(pb::SubscriptionFilters {
            field: "van bang, chung chi".into(),
            ..Default::default()
        }),
        channels: vec!["inbox".into()],
        ..Default::default()
    })
    .await;
    h.publish(
        "catalogue",
        &procedure("1.1.H19", "Thủ tục giáo dục", "Giáo dục"),
    )
    .await;
    h.publish(
        "catalogue",
        &procedure("1.2.H19", "Cấp bản sao văn bằng", "Văn bằng, chứng chỉ"),
    )
    .await;
    h.eventually(20, "both reach the school", || async {
        (inbox(&h, school).await.len() == 2).then_some(())
    })
    .await;
    let p = inbox(&h, dept).await;
    assert_eq!(p.len(), 1);
    assert!(p[0].subject.contains("Cấp bản sao văn bằng"));

    // Recipients: a unit's recipient exists already; units are in their kind's group.
    let e = c
        .create_recipient(office(pb::RecipientInput {
            kind: "unit".into(),
            name: "Trường THPT A".into(),
            unit_id: school.to_string(),
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::AlreadyExists);
    let updated = c
        .update_recipient(office(pb::UpdateRecipientRequest {
            id: school.to_string(),
            recipient: Some(pb::RecipientInput {
                kind: "unit".into(),
                name: "Trường THPT A".into(),
                unit_id: school.to_string(),
                contacts: vec![email("c3a@thpt.example.vn")],
                ..Default::default()
            }),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.contacts.len(), 1);
    assert!(updated.groups.contains(&unit_kind::HIGH_SCHOOL.to_owned()) && updated.has_inbox);
    let listed = c
        .list_recipients(office(pb::ListRecipientsRequest {
            group: unit_kind::HIGH_SCHOOL.into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .recipients;
    assert_eq!(listed.len(), 1);
    // Pages, one recipient each, until the last (which hands out no token).
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = c
            .list_recipients(office(pb::ListRecipientsRequest {
                limit: 1,
                page_token: token.clone(),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        seen.extend(page.recipients.into_iter().map(|r| r.id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen, vec![school.to_string(), person.id.clone()]);
    let e = c
        .list_recipients(office(pb::ListRecipientsRequest {
            page_token: "nonsense".into(),
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    let e = c
        .create_subscription(office(pb::SubscriptionInput {
            event_type: "report_due".into(),
            recipient_id: Uuid::new_v4().to_string(),
            channels: vec!["inbox".into()],
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    let e = c
        .create_recipient(from(school, Role::Unit, pb::RecipientInput::default()))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    // Marking read: one's own only.
    let m = &inbox(&h, school).await[0];
    let read = c
        .mark_read(from(
            school,
            Role::Unit,
            pb::MessageRef { id: m.id.clone() },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(read.read);
    let e = c
        .mark_read(from(dept, Role::Unit, pb::MessageRef { id: m.id.clone() }))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
}

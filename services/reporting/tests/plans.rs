//! Plans against PostgreSQL: Plan 109/KH-SGDĐT-VP of 2020, entered from the seed text,
//! reads back faithfully and announces itself with every field of `PlanSaved`;
//! validation, roles, duplicates, idempotency, revisions and the list.

mod common;

use cchc_platform::Role;
use cchc_proto::events::v1::{PlanSaved, UnitCreated};
use cchc_proto::reporting::v1::reporting_service_server::ReportingService;
use cchc_proto::reporting::v1::{
    ActivityTarget, CreatePlanRequest, GetPlanRequest, ListPlansRequest, ListReportsRequest, Plan,
    PlanPeriod, PlanRecipient, PlanSection, UpdatePlanRequest,
};
use chrono::{TimeZone, Utc};
use common::*;
use uuid::Uuid;

const SEED: &str = include_str!("fixtures/plan-2020.txt");

fn lines() -> Vec<&'static str> {
    SEED.lines().map(str::trim).collect()
}

fn index(lines: &[&str], line: &str) -> usize {
    lines
        .iter()
        .position(|l| *l == line)
        .unwrap_or_else(|| panic!("the seed has no line {line:?}"))
}

/// The paragraphs strictly between two marker lines, one per line.
fn between(lines: &[&str], start: &str, end: &str) -> String {
    let (a, b) = (index(lines, start), index(lines, end));
    lines[a + 1..b]
        .iter()
        .filter(|l| !l.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("\n")
}

/// Plan 109 as the office enters it from the seed text.
fn plan_109(units: &[Uuid]) -> Plan {
    let l = lines();
    let number = l
        .iter()
        .find_map(|x| x.strip_prefix("Số:"))
        .unwrap()
        .replace(' ', "");
    let place_date = l.iter().find(|x| x.starts_with("Hải Phòng, ngày")).unwrap();
    let (place, _) = place_date.split_once(',').unwrap();
    let title = l
        .iter()
        .find_map(|x| x.strip_prefix("V/v "))
        .unwrap()
        .to_owned();
    let basis = l.iter().find(|x| x.starts_with("Căn cứ")).unwrap();
    let headings = [
        "II. ĐỐI TƯỢNG, NỘI DUNG, HÌNH THỨC TUYÊN TRUYỀN",
        "III. HÌNH THỨC VÀ BIỆN PHÁP TUYÊN TRUYỀN:",
        "IV. TỔ CHỨC THỰC HIỆN:",
        "V. KINH PHÍ",
        "Nơi nhận:",
    ];
    let sections = headings
        .windows(2)
        .map(|w| PlanSection {
            heading: w[0].to_owned(),
            text: between(&l, w[0], w[1]),
        })
        .collect();
    let recipients = l[index(&l, "Nơi nhận:") + 1..]
        .iter()
        .filter_map(|x| x.strip_prefix("- "))
        .map(|x| PlanRecipient {
            name: x.trim_end_matches([';', '.']).to_owned(),
            recipient_id: String::new(),
        })
        .collect();
    let target = |kind: &str, min: i64, note: &str| ActivityTarget {
        kind: kind.into(),
        min_per_unit: min,
        per: "half_year".into(),
        note: note.into(),
    };
    Plan {
        number_symbol: number,
        year: 2020,
        title,
        issuing_body: "Sở Giáo dục và Đào tạo Hải Phòng".into(),
        governing_body: "Ủy ban nhân dân thành phố Hải Phòng".into(),
        place: place.into(),
        issued_on: "2020-01-15".into(),
        basis: (*basis).to_owned(),
        objectives: between(&l, "1. Mục đích", "2. Yêu cầu"),
        requirements: between(
            &l,
            "2. Yêu cầu",
            "II. ĐỐI TƯỢNG, NỘI DUNG, HÌNH THỨC TUYÊN TRUYỀN",
        ),
        sections,
        required_activities: vec![
            target(
                "news_post",
                2,
                "Thường xuyên đăng tải các tin bài, các văn bản về CCHC",
            ),
            target(
                "briefing",
                1,
                "Tuyên truyền qua các cuộc họp của Chi bộ, cơ quan và các tổ chức đoàn thể",
            ),
            target(
                "posting",
                1,
                "Niêm yết công khai các TTHC ở cơ quan, đơn vị",
            ),
            target(
                "one_stop_publication",
                1,
                "Công bố kết quả thực hiện cơ chế một cửa, một cửa liên thông",
            ),
        ],
        unit_ids: units.iter().map(Uuid::to_string).collect(),
        periods: vec![
            PlanPeriod {
                key: "2020-H1".into(),
                due_date: "2020-06-15".into(),
                ..Default::default()
            },
            PlanPeriod {
                key: "2020".into(),
                title: "năm 2020".into(),
                due_date: "2020-12-15".into(),
                ..Default::default()
            },
        ],
        recipients,
        signer_title: "KT. GIÁM ĐỐC\nPHÓ GIÁM ĐỐC".into(),
        signer_name: String::new(),
        ..Default::default()
    }
}

async fn units(svc: &Service, names: &[&str]) -> Vec<Uuid> {
    let mut ids = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let id = Uuid::new_v4();
        let at = Utc.with_ymd_and_hms(2020, 1, 2, 8, i as u32, 0).unwrap();
        svc.apply(&envelope_at(
            "gateway",
            &UnitCreated {
                unit_id: id.to_string(),
                name: (*name).into(),
                kind: "high_school".into(),
                parent_id: String::new(),
            },
            at,
        ))
        .await;
        ids.push(id);
    }
    ids
}

async fn create(svc: &Service, plan: Plan) -> Result<Plan, tonic::Status> {
    svc.api
        .create_plan(as_office(CreatePlanRequest {
            plan: Some(plan),
            idempotency_key: String::new(),
        }))
        .await
        .map(|r| r.into_inner())
}

#[tokio::test]
async fn plan_109_of_2020_reads_back_faithfully() {
    let svc = service().await;
    let ids = units(
        &svc,
        &[
            "Trường THPT Thái Phiên",
            "Trường THPT Ngô Quyền",
            "Phòng GD&ĐT quận Lê Chân",
        ],
    )
    .await;
    let input = plan_109(&ids);
    let saved = create(&svc, input.clone())
        .await
        .expect("plan 109 is valid");
    assert_eq!(saved.revision, 1);
    assert!(saved.id.parse::<Uuid>().is_ok());
    assert!(!saved.created_at.is_empty());

    let read = svc
        .api
        .get_plan(as_role(
            Role::Unit,
            GetPlanRequest {
                plan_id: saved.id.clone(),
            },
        ))
        .await
        .expect("every key reads plans")
        .into_inner();
    assert_eq!(read, saved);
    // Field by field, what was entered is what is read (periods gain their days and
    // the first one its title).
    assert_eq!(read.number_symbol, "109/KH-SGDĐT-VP");
    assert_eq!(read.year, 2020);
    assert_eq!(
        read.title,
        "Tuyên truyền về công tác Cải cách hành chính năm 2020"
    );
    assert_eq!(read.place, "Hải Phòng");
    assert_eq!(read.issued_on, "2020-01-15");
    assert_eq!(read.issuing_body, input.issuing_body);
    assert_eq!(read.governing_body, input.governing_body);
    assert_eq!(read.basis, input.basis);
    assert_eq!(read.objectives, input.objectives);
    assert_eq!(read.requirements, input.requirements);
    assert_eq!(read.sections, input.sections);
    assert_eq!(read.required_activities, input.required_activities);
    assert_eq!(read.unit_ids, input.unit_ids);
    assert_eq!(read.recipients, input.recipients);
    assert_eq!(read.signer_title, input.signer_title);
    assert_eq!(
        read.periods,
        vec![
            PlanPeriod {
                key: "2020-H1".into(),
                title: "6 tháng đầu năm 2020".into(),
                due_date: "2020-06-15".into(),
                start: "2020-01-01".into(),
                end: "2020-06-30".into(),
            },
            PlanPeriod {
                key: "2020".into(),
                title: "năm 2020".into(),
                due_date: "2020-12-15".into(),
                start: "2020-01-01".into(),
                end: "2020-12-31".into(),
            },
        ]
    );
    assert_eq!(read.recipients.len(), 10);
    assert_eq!(read.recipients[0].name, "UBND thành phố");
    assert_eq!(read.recipients[6].name, "Ban Giám đốc");
    assert_eq!(read.recipients[9].name, "Lưu: VT");

    // Every line of the plan's text is kept somewhere in the plan, word for word.
    let mut kept: Vec<&str> = vec![&read.basis];
    kept.extend(read.objectives.lines());
    kept.extend(read.requirements.lines());
    for s in &read.sections {
        kept.push(&s.heading);
        kept.extend(s.text.lines());
    }
    let l = lines();
    let structure = ["I. MỤC ĐÍCH, YÊU CẦU", "1. Mục đích", "2. Yêu cầu"];
    for line in &l[index(&l, "KẾ HOẠCH") + 3..index(&l, "Nơi nhận:")] {
        if !line.is_empty() && !structure.contains(line) {
            assert!(kept.contains(line), "lost from the plan: {line:?}");
        }
    }
    assert!(
        read.objectives
            .contains("Tuyên truyền sâu rộng đến toàn thể cán bộ")
    );
    assert!(
        read.sections[2]
            .text
            .contains("định kỳ 6 tháng đầu năm, cuối năm báo cáo")
    );

    // The event carries everything the notification service needs.
    let events: Vec<PlanSaved> = svc.payloads().await;
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(e.plan_id, saved.id);
    assert_eq!(e.number_symbol, "109/KH-SGDĐT-VP");
    assert_eq!(e.year, 2020);
    assert_eq!(e.title, read.title);
    assert_eq!(e.revision, 1);
    assert_eq!(e.unit_ids, read.unit_ids);
    assert_eq!(e.recipient_names.len(), 10);
    assert_eq!(e.recipient_names[1], "Sở Nội vụ");
    assert!(e.recipient_ids.is_empty());
    assert_eq!(e.periods.len(), 2);
    assert_eq!(e.periods[0].key, "2020-H1");
    assert_eq!(e.periods[0].start, "2020-01-01");
    assert_eq!(e.periods[0].end, "2020-06-30");
    assert_eq!(e.periods[0].due_date, "2020-06-15");
    assert_eq!(e.periods[0].title, "6 tháng đầu năm 2020");
    assert_eq!(e.periods[1].due_date, "2020-12-15");
}

#[tokio::test]
async fn bad_plans_are_refused_with_every_reason() {
    let svc = service().await;
    let ids = units(&svc, &["Trường THPT Lê Quý Đôn"]).await;

    let mut p = plan_109(&ids);
    p.unit_ids.push(Uuid::new_v4().to_string());
    let e = create(&svc, p).await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::FailedPrecondition, "{e:?}");
    assert_eq!(fields(&e), ["unit_ids[1]"]);

    let mut p = plan_109(&ids);
    p.title = String::new();
    p.periods[0].key = "2020-H3".into();
    p.periods[1].due_date = "15/12/2020".into();
    p.required_activities[0].kind = "party".into();
    p.recipients[0].recipient_id = "nobody".into();
    let e = create(&svc, p).await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    assert_eq!(
        fields(&e),
        [
            "title",
            "required_activities[0].kind",
            "periods[0].key",
            "periods[1].due_date",
            "recipients[0].recipient_id"
        ]
    );

    // Only the office writes plans.
    let e = svc
        .api
        .create_plan(as_role(
            Role::Leader,
            CreatePlanRequest {
                plan: Some(plan_109(&ids)),
                idempotency_key: String::new(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::PermissionDenied);
    assert_eq!(svc.count("plans").await, 0, "nothing half-written");
    assert!(svc.payloads::<PlanSaved>().await.is_empty());
}

#[tokio::test]
async fn duplicates_retries_revisions_and_the_list() {
    let svc = service().await;
    let ids = units(&svc, &["Trường THPT Trần Phú", "Trường THPT Hải An"]).await;
    let with_key = |key: &str, plan: Plan| {
        as_office(CreatePlanRequest {
            plan: Some(plan),
            idempotency_key: key.into(),
        })
    };
    let first = svc
        .api
        .create_plan(with_key("k1", plan_109(&ids)))
        .await
        .unwrap()
        .into_inner();
    // A retry with the same key returns the same plan; another body with it is refused.
    let again = svc
        .api
        .create_plan(with_key("k1", plan_109(&ids)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again, first);
    let mut other = plan_109(&ids);
    other.title = "Khác".into();
    let e = svc
        .api
        .create_plan(with_key("k1", other))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::AlreadyExists);
    // The same number and year without the key is a conflict.
    let e = create(&svc, plan_109(&ids)).await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::Aborted, "{e:?}");

    // A change against the revision read bumps it; a stale one is a conflict.
    let mut changed = first.clone();
    changed.unit_ids.truncate(1);
    changed.recipients[0].recipient_id = Uuid::new_v4().to_string();
    let updated = svc
        .api
        .update_plan(as_office(UpdatePlanRequest {
            plan: Some(changed.clone()),
            expected_revision: 1,
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.revision, 2);
    assert_eq!(updated.unit_ids.len(), 1);
    let e = svc
        .api
        .update_plan(as_office(UpdatePlanRequest {
            plan: Some(changed),
            expected_revision: 1,
        }))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::Aborted);
    // The first request retried now returns the plan it made, as it now is.
    let retried = svc
        .api
        .create_plan(with_key("k1", plan_109(&ids)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(retried, updated);
    let events: Vec<PlanSaved> = svc.payloads().await;
    assert_eq!(events.len(), 2);
    assert_eq!(events[1].revision, 2);
    assert_eq!(events[1].unit_ids, updated.unit_ids);
    assert_eq!(
        events[1].recipient_ids,
        [updated.recipients[0].recipient_id.clone()]
    );

    // Another year's plan; the list filters by year and pages.
    let mut p2021 = plan_109(&ids);
    p2021.year = 2021;
    p2021.periods = vec![PlanPeriod {
        key: "2021-H1".into(),
        due_date: "2021-06-15".into(),
        ..Default::default()
    }];
    create(&svc, p2021).await.unwrap();
    let page = svc
        .api
        .list_plans(as_role(
            Role::Leader,
            ListPlansRequest {
                year: 0,
                limit: 1,
                page_token: String::new(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.plans.len(), 1);
    assert_eq!(page.plans[0].year, 2021, "newest first");
    let rest = svc
        .api
        .list_plans(as_role(
            Role::Leader,
            ListPlansRequest {
                year: 0,
                limit: 10,
                page_token: page.next_page_token,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rest.plans.len(), 1);
    assert_eq!(rest.plans[0].id, first.id);
    assert!(rest.next_page_token.is_empty());
    let only_2020 = svc
        .api
        .list_plans(as_office(ListPlansRequest {
            year: 2020,
            limit: 10,
            page_token: String::new(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(only_2020.plans.len(), 1);
}

/// Plans and reports page by the platform's one rule: a page exactly full is the last
/// (no token to an empty page), a limit over 500 and a token no list issued are
/// refused naming the field.
#[tokio::test]
async fn lists_page_by_one_rule() {
    let svc = service().await;
    let ids = units(&svc, &["Trường THPT Trần Phú"]).await;
    for year in [2020, 2021] {
        let mut p = plan_109(&ids);
        p.year = year;
        p.periods = vec![PlanPeriod {
            key: format!("{year}-H1"),
            due_date: format!("{year}-06-15"),
            ..Default::default()
        }];
        create(&svc, p).await.unwrap();
    }
    let list = |limit: u32, page_token: &str| {
        svc.api.list_plans(as_office(ListPlansRequest {
            year: 0,
            limit,
            page_token: page_token.into(),
        }))
    };
    let full = list(2, "").await.unwrap().into_inner();
    assert_eq!(full.plans.len(), 2);
    assert!(
        full.next_page_token.is_empty(),
        "exactly full: the last page"
    );
    let e = list(501, "").await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    assert_eq!(fields(&e), ["limit"]);
    let e = list(10, "not-a-token").await.unwrap_err();
    assert_eq!(fields(&e), ["page_token"]);
    let e = svc
        .api
        .list_reports(as_office(ListReportsRequest {
            plan_id: String::new(),
            limit: 1000,
            page_token: "2020-01-01".into(),
        }))
        .await
        .unwrap_err();
    assert_eq!(fields(&e), ["limit", "page_token"]);
}

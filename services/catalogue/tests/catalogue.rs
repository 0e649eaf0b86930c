//! The catalogue service against a real PostgreSQL: completeness, versions, scheduled
//! effectiveness, stale edits, postings, legal documents and Vietnamese search.

use cchc_catalogue::grpc::Catalogue;
use cchc_catalogue::store::Store;
use cchc_platform::outbox::Outbox;
use cchc_platform::validation::field_errors;
use cchc_platform::{Actor, Caller, Role};
use cchc_proto::catalogue::v1::catalogue_service_server::CatalogueService;
use cchc_proto::catalogue::v1::*;
use cchc_proto::events::v1::Envelope;
use prost::Message;
use sqlx::PgPool;
use tonic::{Code, Request};
use unicode_normalization::UnicodeNormalization;
use uuid::Uuid;

struct Fixture {
    svc: Catalogue,
    store: Store,
    pool: PgPool,
    office: Caller,
}

async fn fixture(name: &str) -> Fixture {
    let url = cchc_testkit::fresh_database(name).await;
    let pool = cchc_platform::db::connect_and_migrate(&url, &cchc_catalogue::MIGRATOR)
        .await
        .unwrap();
    let store = Store::new(pool.clone(), Outbox::new("catalogue"));
    Fixture {
        svc: Catalogue::new(store.clone()),
        store,
        pool,
        office: Caller::new(Uuid::new_v4(), Role::Office, Actor::User(Uuid::new_v4())),
    }
}

fn req<T>(msg: T, caller: &Caller) -> Request<T> {
    caller.clone().verified(Request::new(msg))
}

/// An anonymous request, as the server's verifying layer passes it on.
fn public<T>(msg: T) -> Request<T> {
    Caller::anonymous(Request::new(msg))
}

fn unit() -> Caller {
    Caller::new(Uuid::new_v4(), Role::Unit, Actor::User(Uuid::new_v4()))
}

fn content(name: &str) -> ProcedureContent {
    ProcedureContent {
        name: name.into(),
        level: "province".into(),
        field: "Giáo dục và Đào tạo".into(),
        implementing_agency: "Sở Giáo dục và Đào tạo".into(),
        applicants: vec!["Cá nhân".into()],
        steps: vec!["Nộp hồ sơ".into(), "Nhận kết quả".into()],
        submission_channels: vec!["in_person".into(), "online".into()],
        dossier: vec![DossierComponent {
            name: "Đơn đề nghị".into(),
            originals: 1,
            required: true,
            ..Default::default()
        }],
        processing_days: Some(5.0),
        result: "Quyết định".into(),
        fees: vec![Fee {
            channel: "online".into(),
            amount_vnd: 20_000,
            note: String::new(),
        }],
        legal_basis: vec!["Thông tư 19/2015/TT-BGDĐT".into()],
        ..Default::default()
    }
}

fn publication(code: &str, change_type: &str, effective: &str) -> PublishProcedureRequest {
    PublishProcedureRequest {
        code: code.into(),
        decision: Some(Decision {
            number: "100/QĐ-UBND".into(),
            date: "2020-01-02".into(),
            signer: "Chủ tịch".into(),
        }),
        change_type: change_type.into(),
        change_note: String::new(),
        effective_date: effective.into(),
    }
}

impl Fixture {
    async fn create(&self, code: &str, name: &str) {
        self.svc
            .create_procedure(req(
                CreateProcedureRequest {
                    code: code.into(),
                    content: Some(content(name)),
                },
                &self.office,
            ))
            .await
            .unwrap();
    }

    async fn publish(
        &self,
        code: &str,
        change_type: &str,
        effective: &str,
    ) -> Result<ProcedureView, tonic::Status> {
        self.svc
            .publish_procedure(req(publication(code, change_type, effective), &self.office))
            .await
            .map(|r| r.into_inner())
    }

    /// The envelopes of the outbox's events of `subject`, oldest first.
    async fn envelopes(&self, subject: &str) -> Vec<Envelope> {
        let bodies: Vec<Vec<u8>> =
            sqlx::query_scalar("SELECT body FROM cchc_outbox WHERE subject = $1 ORDER BY seq")
                .bind(subject)
                .fetch_all(&self.pool)
                .await
                .unwrap();
        bodies
            .iter()
            .map(|b| Envelope::decode(b.as_slice()).unwrap())
            .collect()
    }

    async fn events(&self, subject: &str) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM cchc_outbox WHERE subject = $1")
            .bind(subject)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    async fn search(&self, q: &str) -> Vec<String> {
        let r = SearchProceduresRequest {
            q: q.into(),
            ..Default::default()
        };
        self.svc
            .search_procedures(public(r))
            .await
            .unwrap()
            .into_inner()
            .procedures
            .into_iter()
            .map(|p| p.code)
            .collect()
    }
}

#[tokio::test]
async fn publishing_an_incomplete_record_lists_every_missing_part() {
    let f = fixture("complete").await;
    let draft = CreateProcedureRequest {
        code: "1.000001.H19".into(),
        content: Some(ProcedureContent {
            name: "Thủ tục chưa đủ".into(),
            processing_days: Some(3.0),
            ..Default::default()
        }),
    };
    f.svc.create_procedure(req(draft, &f.office)).await.unwrap();
    let e = f
        .publish("1.000001.H19", "new", "2020-02-01")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    let fields: Vec<String> = field_errors(&e).into_iter().map(|f| f.field).collect();
    assert_eq!(
        fields,
        [
            "content.level",
            "content.field",
            "content.implementing_agency",
            "content.applicants",
            "content.steps",
            "content.submission_channels",
            "content.dossier",
            "content.result",
            "content.legal_basis"
        ]
    );
    assert_eq!(
        f.events("cchc.catalogue.procedure_published.v1").await,
        0,
        "nothing half-written"
    );
    // A bad code or a unit caller is refused before anything is stored.
    let bad = CreateProcedureRequest {
        code: "abc".into(),
        content: Some(content("x")),
    };
    assert_eq!(
        f.svc
            .create_procedure(req(bad, &f.office))
            .await
            .unwrap_err()
            .code(),
        Code::InvalidArgument
    );
    let by_unit = CreateProcedureRequest {
        code: "1.000002.H19".into(),
        content: Some(content("x")),
    };
    assert_eq!(
        f.svc
            .create_procedure(req(by_unit, &unit()))
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    let dup = CreateProcedureRequest {
        code: "1.000001.H19".into(),
        content: Some(content("x")),
    };
    assert_eq!(
        f.svc
            .create_procedure(req(dup, &f.office))
            .await
            .unwrap_err()
            .code(),
        Code::AlreadyExists
    );
}

#[tokio::test]
async fn versions_history_amendment_and_abolition() {
    let f = fixture("versions").await;
    let code = "1.012753.H19";
    f.create(code, "Cấp bản sao văn bằng").await;
    assert_eq!(
        f.publish(code, "new", "2020-02-01").await.unwrap().version,
        1
    );

    let draft = f
        .svc
        .get_draft(req(GetDraftRequest { code: code.into() }, &f.office))
        .await
        .unwrap()
        .into_inner();
    let mut c = draft.content.clone().unwrap();
    // The same day is a time limit like any other, and may be published.
    c.processing_days = Some(0.0);
    f.svc
        .update_draft(req(
            UpdateDraftRequest {
                code: code.into(),
                revision: draft.draft_revision,
                content: Some(c),
            },
            &f.office,
        ))
        .await
        .unwrap();
    let v2 = f.publish(code, "amended", "2020-06-01").await.unwrap();
    assert_eq!((v2.version, v2.status.as_str()), (2, "published"));
    let v3 = f
        .svc
        .publish_procedure(req(publication(code, "abolished", "2021-01-01"), &f.office))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((v3.version, v3.status.as_str()), (3, "abolished"));

    let anon = |v| {
        public(GetProcedureRequest {
            code: code.into(),
            version: v,
        })
    };
    let v1 = f.svc.get_procedure(anon(1)).await.unwrap().into_inner();
    assert_eq!(
        (v1.status.as_str(), v1.content.unwrap().processing_days),
        ("superseded", Some(5.0))
    );
    assert_eq!(
        f.svc
            .get_procedure(anon(2))
            .await
            .unwrap()
            .into_inner()
            .content
            .unwrap()
            .processing_days,
        Some(0.0)
    );
    assert_eq!(
        f.svc
            .get_procedure(anon(0))
            .await
            .unwrap()
            .into_inner()
            .status,
        "abolished"
    );
    let history = f
        .svc
        .list_versions(public(ListVersionsRequest { code: code.into() }))
        .await
        .unwrap()
        .into_inner()
        .versions;
    let shape: Vec<(u32, &str, &str)> = history
        .iter()
        .map(|v| (v.version, v.status.as_str(), v.change_type.as_str()))
        .collect();
    assert_eq!(
        shape,
        [
            (1, "superseded", "new"),
            (2, "superseded", "amended"),
            (3, "abolished", "abolished")
        ]
    );
    assert_eq!(f.events("cchc.catalogue.procedure_published.v1").await, 3);
    // Abolishing twice is refused.
    let again = f
        .svc
        .publish_procedure(req(publication(code, "abolished", "2021-02-01"), &f.office))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);
}

#[tokio::test]
async fn a_future_version_becomes_current_on_its_effective_date() {
    let f = fixture("scheduled").await;
    let code = "1.000100.H19";
    f.create(code, "Chuyển trường").await;
    let v = f.publish(code, "new", "2999-01-01").await.unwrap();
    assert_eq!(v.status, "scheduled");
    let anon = public(GetProcedureRequest {
        code: code.into(),
        version: 0,
    });
    assert_eq!(
        f.svc.get_procedure(anon).await.unwrap_err().code(),
        Code::NotFound,
        "not public before it takes effect"
    );
    assert_eq!(
        f.events("cchc.catalogue.procedure_published.v1").await,
        0,
        "no event before the date"
    );

    let today = cchc_platform::time::today();
    assert_eq!(f.store.promote_scheduled(today).await.unwrap(), 0);
    let day = chrono::NaiveDate::from_ymd_opt(2999, 1, 1).unwrap();
    assert_eq!(f.store.promote_scheduled(day).await.unwrap(), 1);
    assert_eq!(
        f.store.promote_scheduled(day).await.unwrap(),
        0,
        "once only"
    );
    let anon = public(GetProcedureRequest {
        code: code.into(),
        version: 0,
    });
    assert_eq!(
        f.svc.get_procedure(anon).await.unwrap().into_inner().status,
        "published"
    );
    assert_eq!(f.events("cchc.catalogue.procedure_published.v1").await, 1);
}

#[tokio::test]
async fn a_second_save_from_a_stale_revision_conflicts() {
    let f = fixture("stale").await;
    let code = "1.000200.H19";
    f.create(code, "Công nhận tốt nghiệp").await;
    let rev = f
        .svc
        .get_draft(req(GetDraftRequest { code: code.into() }, &f.office))
        .await
        .unwrap()
        .into_inner()
        .draft_revision;
    let save = |name: &str| UpdateDraftRequest {
        code: code.into(),
        revision: rev,
        content: Some(content(name)),
    };
    let first = f
        .svc
        .update_draft(req(save("Bản A"), &f.office))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.draft_revision, rev + 1);
    let second = f
        .svc
        .update_draft(req(save("Bản B"), &f.office))
        .await
        .unwrap_err();
    assert_eq!(second.code(), Code::Aborted);
    assert!(
        second.message().contains("someone else"),
        "{}",
        second.message()
    );
    let draft = f
        .svc
        .get_draft(req(GetDraftRequest { code: code.into() }, &f.office))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        draft.content.unwrap().name,
        "Bản A",
        "the first save stands"
    );
}

#[tokio::test]
async fn postings_go_stale_when_a_new_version_becomes_current() {
    let f = fixture("postings").await;
    let code = "1.000300.H19";
    f.create(code, "Xét tuyển").await;
    f.publish(code, "new", "2020-02-01").await.unwrap();
    let (a, b) = (unit(), unit());
    let confirm = |v: u32| ConfirmPostingRequest {
        code: code.into(),
        version: v,
        location: "Bảng niêm yết, Bộ phận một cửa".into(),
        posted_on: "2020-02-03".into(),
        evidence_url: String::new(),
    };
    for u in [&a, &b] {
        let p = f
            .svc
            .confirm_posting(req(confirm(1), u))
            .await
            .unwrap()
            .into_inner();
        assert!(!p.stale);
    }
    f.publish(code, "amended", "2020-05-01").await.unwrap();
    assert_eq!(
        f.events("cchc.catalogue.posting_stale.v1").await,
        2,
        "one per unit that had posted"
    );

    let list = |caller: &Caller, stale: &str| {
        let r = ListPostingsRequest {
            stale: stale.into(),
            ..Default::default()
        };
        f.svc.list_postings(req(r, caller))
    };
    let stale = list(&f.office, "true").await.unwrap().into_inner().postings;
    assert_eq!(stale.len(), 2);
    assert!(
        stale
            .iter()
            .all(|p| p.version == 1 && p.current_version == 2)
    );

    let e = f
        .svc
        .confirm_posting(req(confirm(1), &a))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert!(
        e.message().contains("not current") && e.message().contains('2'),
        "{}",
        e.message()
    );
    f.svc.confirm_posting(req(confirm(2), &a)).await.unwrap();

    // A unit sees only its own postings; the office sees which are stale.
    let mine = list(&a, "").await.unwrap().into_inner().postings;
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].unit_id, a.unit_id.to_string());
    assert!(!mine[0].stale);
    let stale = list(&f.office, "true").await.unwrap().into_inner().postings;
    assert_eq!(stale.len(), 1);
    assert_eq!(stale[0].unit_id, b.unit_id.to_string());
    assert_eq!(f.events("cchc.catalogue.posting_confirmed.v1").await, 3);
    let history: i64 = sqlx::query_scalar("SELECT count(*) FROM posting_history")
        .fetch_one(&f.pool)
        .await
        .unwrap();
    assert_eq!(history, 3);
    // The whole history of a unit's confirmations: each version it posted, newest
    // first, and a stale filter over them.
    let all = f
        .svc
        .list_postings(req(
            ListPostingsRequest {
                history: true,
                ..Default::default()
            },
            &a,
        ))
        .await
        .unwrap()
        .into_inner()
        .postings;
    let versions: Vec<u32> = all.iter().map(|p| p.version).collect();
    assert_eq!(versions, [2, 1]);
    assert!(all[1].stale && !all[0].stale);
    let first_page = f
        .svc
        .list_postings(req(
            ListPostingsRequest {
                history: true,
                limit: 1,
                ..Default::default()
            },
            &a,
        ))
        .await
        .unwrap()
        .into_inner();
    let next = f
        .svc
        .list_postings(req(
            ListPostingsRequest {
                history: true,
                limit: 1,
                page_token: first_page.next_page_token.clone(),
                ..Default::default()
            },
            &a,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (first_page.postings[0].version, next.postings[0].version),
        (2, 1)
    );
    assert!(next.next_page_token.is_empty());
}

#[tokio::test]
async fn legal_documents_amend_repeal_and_base_procedures_both_ways() {
    let f = fixture("legal").await;
    let code = "1.000400.H19";
    f.create(code, "Cấp bản sao văn bằng").await;
    f.publish(code, "new", "2020-02-01").await.unwrap();
    let doc = |number: &str, amends: Vec<String>, repeals: Vec<String>, codes: Vec<String>| {
        CreateLegalDocumentRequest {
            number_symbol: number.into(),
            r#type: "circular".into(),
            summary: "Ban hành quy chế quản lý bằng tốt nghiệp".into(),
            issuer: "Bộ Giáo dục và Đào tạo".into(),
            signed_date: "2015-08-14".into(),
            effective_date: "2015-10-01".into(),
            amends,
            repeals,
            procedure_codes: codes,
        }
    };
    let base = f
        .svc
        .create_legal_document(req(
            doc("19/2015/TT-BGDĐT", vec![], vec![], vec![code.into()]),
            &f.office,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(base.status, "in_force");
    let amending = f
        .svc
        .create_legal_document(req(
            doc("27/2019/TT-BGDĐT", vec![base.id.clone()], vec![], vec![]),
            &f.office,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(amending.amends[0].number_symbol, "19/2015/TT-BGDĐT");
    let read = |id: &str| {
        f.svc
            .get_legal_document(public(GetLegalDocumentRequest { id: id.into() }))
    };
    let base_now = read(&base.id).await.unwrap().into_inner();
    assert_eq!(base_now.status, "amended");
    assert_eq!(base_now.amended_by[0].id, amending.id);
    assert_eq!(base_now.procedure_codes, [code]);
    f.svc
        .create_legal_document(req(
            doc("21/2019/TT-BGDĐT", vec![], vec![base.id.clone()], vec![]),
            &f.office,
        ))
        .await
        .unwrap();
    assert_eq!(
        read(&base.id).await.unwrap().into_inner().status,
        "repealed"
    );

    let p = f
        .svc
        .get_procedure(public(GetProcedureRequest {
            code: code.into(),
            version: 0,
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(p.legal_documents.len(), 1);
    assert_eq!(p.legal_documents[0].status, "repealed");

    let dup = f
        .svc
        .create_legal_document(req(
            doc("19/2015/TT-BGDĐT", vec![], vec![], vec![]),
            &f.office,
        ))
        .await
        .unwrap_err();
    assert_eq!(dup.code(), Code::AlreadyExists);
    let unknown = f
        .svc
        .create_legal_document(req(
            doc(
                "1/2020/TT",
                vec![Uuid::new_v4().to_string()],
                vec![],
                vec![],
            ),
            &f.office,
        ))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::FailedPrecondition);
    assert_eq!(f.events("cchc.catalogue.legal_document_issued.v1").await, 3);
    assert_eq!(
        f.events("cchc.catalogue.legal_document_changed.v1").await,
        2
    );

    let search = |q: &str| {
        f.svc
            .search_legal_documents(public(SearchLegalDocumentsRequest {
                q: q.into(),
                ..Default::default()
            }))
    };
    assert_eq!(
        search("tt bgddt 2019")
            .await
            .unwrap()
            .into_inner()
            .documents
            .len(),
        2
    );
    assert_eq!(
        search("quy che bang tot nghiep")
            .await
            .unwrap()
            .into_inner()
            .documents
            .len(),
        3
    );
}

#[tokio::test]
async fn search_ignores_diacritics_case_and_unicode_form() {
    let f = fixture("search").await;
    let procedures = [
        ("1.001000.H19", "Cấp bản sao văn bằng, chứng chỉ từ sổ gốc"),
        ("1.001001.H19", "Chỉnh sửa nội dung văn bằng, chứng chỉ"),
        (
            "1.001002.H19",
            "Đăng ký dự thi tốt nghiệp trung học phổ thông",
        ),
        (
            "1.001003.H19",
            "Chuyển trường đối với học sinh trung học phổ thông",
        ),
        ("1.001004.H19", "Công nhận trường đạt chuẩn quốc gia"),
        ("1.001005.H19", "Thành lập trung tâm ngoại ngữ, tin học"),
        (
            "1.001006.H19",
            "Cho phép hoạt động giáo dục đối với cơ sở giáo dục mầm non",
        ),
    ];
    for (code, name) in procedures {
        f.create(code, name).await;
        f.publish(code, "new", "2020-02-01").await.unwrap();
    }
    // A draft never shows in search.
    f.create("1.001007.H19", "Cấp bằng tốt nghiệp (bản nháp)")
        .await;

    let nfd: String = "Chuyển trường".nfd().collect();
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("cap ban sao van bang", vec!["1.001000.H19"]),
        ("Cấp bản sao văn bằng", vec!["1.001000.H19"]),
        ("CAP BAN SAO", vec!["1.001000.H19"]),
        ("van bang chung chi", vec!["1.001000.H19", "1.001001.H19"]),
        ("dang ky du thi", vec!["1.001002.H19"]),
        ("Đăng Ký", vec!["1.001002.H19"]),
        ("ĐĂNG KÝ DỰ THI", vec!["1.001002.H19"]),
        ("chuyen truong", vec!["1.001003.H19"]),
        (nfd.as_str(), vec!["1.001003.H19"]),
        ("trung hoc pho thong", vec!["1.001002.H19", "1.001003.H19"]),
        ("ngoai ngu tin hoc", vec!["1.001005.H19"]),
        ("mam non", vec!["1.001006.H19"]),
        ("tot nghiep", vec!["1.001002.H19"]),
        ("khong co thu tuc nay", vec![]),
    ];
    for (q, want) in cases {
        let mut got = f.search(q).await;
        got.sort();
        assert_eq!(got, want, "query {q:?}");
    }
    // Name matches rank before matches elsewhere: every record's field mentions "giáo
    // dục", but only one has it in its name.
    let ranked = f.search("giao duc").await;
    assert_eq!(ranked.len(), 7);
    assert_eq!(ranked[0], "1.001006.H19");
    // Filters and pagination.
    let r = SearchProceduresRequest {
        q: "trung hoc pho thong".into(),
        limit: 1,
        ..Default::default()
    };
    let page1 = f
        .svc
        .search_procedures(public(r.clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((page1.procedures.len(), page1.total), (1, 2));
    let page2 = SearchProceduresRequest {
        page_token: page1.next_page_token,
        ..r
    };
    let page2 = f
        .svc
        .search_procedures(public(page2))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page2.procedures.len(), 1);
    assert_ne!(page1.procedures[0].code, page2.procedures[0].code);
    let by_field = SearchProceduresRequest {
        field: "giao duc va dao tao".into(),
        level: "province".into(),
        ..Default::default()
    };
    assert_eq!(
        f.svc
            .search_procedures(public(by_field))
            .await
            .unwrap()
            .into_inner()
            .total,
        7
    );
    let by_level = SearchProceduresRequest {
        level: "commune".into(),
        ..Default::default()
    };
    assert_eq!(
        f.svc
            .search_procedures(public(by_level))
            .await
            .unwrap()
            .into_inner()
            .total,
        0
    );
}

/// The fields a refusal names, in order.
fn fields(e: &tonic::Status) -> Vec<String> {
    field_errors(e).into_iter().map(|f| f.field).collect()
}

fn invalid<T: std::fmt::Debug>(r: Result<tonic::Response<T>, tonic::Status>, expected: &[&str]) {
    let e = r.expect_err("refused");
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    assert_eq!(fields(&e), expected, "{e:?}");
}

#[tokio::test]
async fn control_characters_are_refused_naming_the_field_and_lookups_never_fail() {
    let f = fixture("controls").await;
    let code = "1.000500.H19";
    let mut bad = content("Xét\0tuyển");
    bad.steps = vec!["Nộp hồ sơ".into(), "Bước\u{1}2".into()];
    bad.dossier[0].name = "\0Đơn".into();
    bad.fees[0].note = "phí\u{7f}".into();
    bad.legal_basis = vec!["Thông tư\n19/2015".into()];
    invalid(
        f.svc
            .create_procedure(req(
                CreateProcedureRequest {
                    code: code.into(),
                    content: Some(bad.clone()),
                },
                &f.office,
            ))
            .await,
        &[
            "content.name",
            "content.steps[1]",
            "content.legal_basis[0]",
            "content.dossier[0].name",
            "content.fees[0].note",
        ],
    );
    // Steps may run over several lines.
    let mut good = content("Xét tuyển");
    good.steps = vec!["Nộp hồ sơ:\r\n\t- trực tiếp\n\t- qua mạng".into()];
    f.svc
        .create_procedure(req(
            CreateProcedureRequest {
                code: code.into(),
                content: Some(good.clone()),
            },
            &f.office,
        ))
        .await
        .unwrap();
    invalid(
        f.svc
            .update_draft(req(
                UpdateDraftRequest {
                    code: "1.0\0".into(),
                    revision: 1,
                    content: Some(good.clone()),
                },
                &f.office,
            ))
            .await,
        &["code"],
    );
    let mut p = publication(code, "new", "2020-02-01");
    p.decision.as_mut().unwrap().number = "100/QĐ\0".into();
    p.change_note = "ghi\u{0}chú".into();
    invalid(
        f.svc.publish_procedure(req(p, &f.office)).await,
        &["decision.number", "change_note"],
    );
    f.publish(code, "new", "2020-02-01").await.unwrap();

    // Anonymous lookups by a code holding NUL answer 400, not an internal error.
    let lookup = || GetProcedureRequest {
        code: "x\0y".into(),
        version: 0,
    };
    invalid(f.svc.get_procedure(public(lookup())).await, &["code"]);
    invalid(
        f.svc
            .list_versions(public(ListVersionsRequest {
                code: "x\0y".into(),
            }))
            .await,
        &["code"],
    );
    invalid(
        f.svc
            .get_draft(req(
                GetDraftRequest {
                    code: "x\0y".into(),
                },
                &f.office,
            ))
            .await,
        &["code"],
    );
    let e = f
        .svc
        .get_procedure(public(GetProcedureRequest {
            code: "x y".into(),
            version: 0,
        }))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);

    invalid(
        f.svc
            .create_legal_document(req(
                CreateLegalDocumentRequest {
                    number_symbol: "19/2015\0".into(),
                    r#type: "circular".into(),
                    summary: "Ban hành\u{0} quy chế".into(),
                    issuer: "Bộ\tGiáo dục".into(),
                    signed_date: "2015-08-14".into(),
                    effective_date: "2015-10-01".into(),
                    ..Default::default()
                },
                &f.office,
            ))
            .await,
        &["number_symbol", "summary", "issuer"],
    );

    let u = unit();
    invalid(
        f.svc
            .confirm_posting(req(
                ConfirmPostingRequest {
                    code: code.into(),
                    version: 1,
                    location: "Bảng\0niêm yết".into(),
                    posted_on: "2020-02-03".into(),
                    evidence_url: String::new(),
                },
                &u,
            ))
            .await,
        &["location"],
    );
    invalid(
        f.svc
            .list_postings(req(
                ListPostingsRequest {
                    code: "1.0\0".into(),
                    ..Default::default()
                },
                &u,
            ))
            .await,
        &["code"],
    );

    // An imported row with a NUL is rejected alone; the other rows are imported.
    let r = f
        .svc
        .import_procedures(req(
            ImportProceduresRequest {
                rows: vec![
                    ImportRow {
                        row: 2,
                        code: "1.000501.H19".into(),
                        content: Some(content("Chuyển trường")),
                        ..Default::default()
                    },
                    ImportRow {
                        row: 3,
                        code: "1.000502.H19".into(),
                        content: Some(content("Cấp\0bằng")),
                        ..Default::default()
                    },
                ],
                dry_run: false,
            },
            &f.office,
        ))
        .await
        .unwrap()
        .into_inner();
    let outcomes: Vec<(&str, Vec<&str>)> = r
        .results
        .iter()
        .map(|x| {
            (
                x.outcome.as_str(),
                x.errors.iter().map(|e| e.field.as_str()).collect(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [("created", vec![]), ("rejected", vec!["content.name"])]
    );
}

#[tokio::test]
async fn a_fee_is_bounded_like_any_amount_of_money() {
    let f = fixture("fees").await;
    let mut c = content("Xét tuyển");
    // 10^13 VND (10 trillion dong) is the most any amount may state.
    c.fees[0].amount_vnd = 10_000_000_000_001;
    invalid(
        f.svc
            .create_procedure(req(
                CreateProcedureRequest {
                    code: "1.000600.H19".into(),
                    content: Some(c.clone()),
                },
                &f.office,
            ))
            .await,
        &["content.fees[0].amount_vnd"],
    );
    c.fees[0].amount_vnd = 10_000_000_000_000;
    f.svc
        .create_procedure(req(
            CreateProcedureRequest {
                code: "1.000600.H19".into(),
                content: Some(c),
            },
            &f.office,
        ))
        .await
        .unwrap();
}

#[tokio::test]
async fn an_exactly_full_page_is_the_last_and_a_limit_over_500_is_refused() {
    let f = fixture("paging").await;
    let codes = ["1.000700.H19", "1.000701.H19", "1.000702.H19"];
    for code in codes {
        f.create(code, "Xét tuyển sinh").await;
        f.publish(code, "new", "2020-02-01").await.unwrap();
    }
    let search = |limit: u32, page_token: String| {
        f.svc.search_procedures(public(SearchProceduresRequest {
            q: "xet tuyen".into(),
            limit,
            page_token,
            ..Default::default()
        }))
    };
    let all = search(3, String::new()).await.unwrap().into_inner();
    assert_eq!((all.procedures.len(), all.total), (3, 3));
    assert_eq!(all.next_page_token, "", "an exactly full page is the last");
    let first = search(2, String::new()).await.unwrap().into_inner();
    assert_eq!(first.procedures.len(), 2);
    let last = search(2, first.next_page_token).await.unwrap().into_inner();
    assert_eq!(last.procedures.len(), 1);
    assert_eq!(last.next_page_token, "");
    invalid(search(501, String::new()).await, &["limit"]);
    invalid(search(10, "x".into()).await, &["page_token"]);

    // Legal documents page the same way.
    for n in 1..=2 {
        f.svc
            .create_legal_document(req(
                CreateLegalDocumentRequest {
                    number_symbol: format!("{n}/2020/TT-BGDĐT"),
                    r#type: "circular".into(),
                    summary: "Quy chế tuyển sinh".into(),
                    issuer: "Bộ Giáo dục và Đào tạo".into(),
                    signed_date: "2020-01-02".into(),
                    effective_date: "2020-02-01".into(),
                    ..Default::default()
                },
                &f.office,
            ))
            .await
            .unwrap();
    }
    let documents = |limit: u32| {
        f.svc
            .search_legal_documents(public(SearchLegalDocumentsRequest {
                q: "tuyen sinh".into(),
                limit,
                ..Default::default()
            }))
    };
    let full = documents(2).await.unwrap().into_inner();
    assert_eq!(
        (full.documents.len(), full.next_page_token.as_str()),
        (2, "")
    );
    invalid(documents(501).await, &["limit"]);

    // Postings page by their cursor, newest confirmation first, to the end and no
    // further.
    let units: Vec<Caller> = (0..3).map(|_| unit()).collect();
    for u in &units {
        f.svc
            .confirm_posting(req(
                ConfirmPostingRequest {
                    code: codes[0].into(),
                    version: 1,
                    location: "Bảng niêm yết".into(),
                    posted_on: "2020-02-03".into(),
                    evidence_url: String::new(),
                },
                u,
            ))
            .await
            .unwrap();
    }
    let postings = |limit: u32, page_token: String| {
        f.svc.list_postings(req(
            ListPostingsRequest {
                limit,
                page_token,
                ..Default::default()
            },
            &f.office,
        ))
    };
    let first = postings(2, String::new()).await.unwrap().into_inner();
    assert_eq!(first.postings.len(), 2);
    assert_eq!(first.postings[0].unit_id, units[2].unit_id.to_string());
    assert_ne!(first.next_page_token, "");
    let last = postings(2, first.next_page_token)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(last.postings.len(), 1);
    assert_eq!(last.postings[0].unit_id, units[0].unit_id.to_string());
    assert_eq!(last.next_page_token, "");
    let full = postings(3, String::new()).await.unwrap().into_inner();
    assert_eq!(
        (full.postings.len(), full.next_page_token.as_str()),
        (3, "")
    );
    invalid(postings(501, String::new()).await, &["limit"]);
    invalid(postings(10, "2020-01-01".into()).await, &["page_token"]);
}

/// Another person of `caller`'s unit, with its role.
fn colleague(caller: &Caller) -> Caller {
    Caller::new(caller.unit_id, caller.role, Actor::User(Uuid::new_v4()))
}

/// The actors a view names: created, updated, published.
fn attribution(v: &ProcedureView) -> (&str, &str, &str) {
    (&v.created_by, &v.updated_by, &v.published_by)
}

#[tokio::test]
async fn every_write_and_its_event_name_who_made_it() {
    let f = fixture("actors").await;
    let code = "1.000900.H19";
    let a = f.office.clone();
    let b = colleague(&a);
    let (a_text, b_text) = (a.actor.to_string(), b.actor.to_string());

    // A creates and saves the draft; B publishes it.
    let created = f
        .svc
        .create_procedure(req(
            CreateProcedureRequest {
                code: code.into(),
                content: Some(content("Công nhận trường đạt chuẩn")),
            },
            &a,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        attribution(&created),
        (a_text.as_str(), a_text.as_str(), "")
    );
    assert!(!created.created_at.is_empty() && !created.updated_at.is_empty());
    let saved = f
        .svc
        .update_draft(req(
            UpdateDraftRequest {
                code: code.into(),
                revision: 1,
                content: Some(content("Công nhận trường mầm non đạt chuẩn")),
            },
            &a,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(attribution(&saved), (a_text.as_str(), a_text.as_str(), ""));
    let published = f
        .svc
        .publish_procedure(req(publication(code, "new", "2020-02-01"), &b))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        attribution(&published),
        (a_text.as_str(), b_text.as_str(), b_text.as_str())
    );
    assert!(!published.published_at.is_empty());
    assert!(published.updated_at >= saved.updated_at);

    // Every read of the procedure says the same, the public's too.
    let current = f
        .svc
        .get_procedure(public(GetProcedureRequest {
            code: code.into(),
            version: 0,
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        attribution(&current),
        (a_text.as_str(), b_text.as_str(), b_text.as_str())
    );
    let versions = f
        .svc
        .list_versions(public(ListVersionsRequest { code: code.into() }))
        .await
        .unwrap()
        .into_inner()
        .versions;
    assert_eq!(versions[0].published_by, b_text);
    let draft = f
        .svc
        .get_draft(req(GetDraftRequest { code: code.into() }, &a))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(attribution(&draft), (a_text.as_str(), b_text.as_str(), ""));

    // The event is B's.
    let events = f.envelopes("cchc.catalogue.procedure_published.v1").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].actor, b_text);
    assert_eq!(events[0].producer, "catalogue");

    // C confirms the posting; a colleague of C confirms it again later.
    let c = unit();
    let c2 = colleague(&c);
    let confirm = ConfirmPostingRequest {
        code: code.into(),
        version: 1,
        location: "Bảng niêm yết tầng 1".into(),
        posted_on: "2020-02-03".into(),
        evidence_url: String::new(),
    };
    let posting = f
        .svc
        .confirm_posting(req(confirm.clone(), &c))
        .await
        .unwrap()
        .into_inner();
    let c_text = c.actor.to_string();
    assert_eq!(posting.confirmed_by, c_text);
    assert_eq!(
        (posting.created_by.as_str(), posting.updated_by.as_str()),
        (c_text.as_str(), c_text.as_str())
    );
    assert_eq!(posting.updated_at, posting.confirmed_at);
    let events = f.envelopes("cchc.catalogue.posting_confirmed.v1").await;
    assert_eq!(events[0].actor, c_text);
    let again = f
        .svc
        .confirm_posting(req(confirm, &c2))
        .await
        .unwrap()
        .into_inner();
    let c2_text = c2.actor.to_string();
    assert_eq!(
        (
            again.confirmed_by.as_str(),
            again.created_by.as_str(),
            again.updated_by.as_str()
        ),
        (c2_text.as_str(), c_text.as_str(), c2_text.as_str()),
        "the first confirmation stays the posting's creation"
    );
    assert_eq!(again.created_at, posting.created_at);
    let listed = f
        .svc
        .list_postings(req(ListPostingsRequest::default(), &f.office))
        .await
        .unwrap()
        .into_inner()
        .postings;
    assert_eq!(listed[0].confirmed_by, c2_text);
    let history: Vec<Option<String>> =
        sqlx::query_scalar("SELECT confirmed_by FROM posting_history ORDER BY id")
            .fetch_all(&f.pool)
            .await
            .unwrap();
    assert_eq!(history, [Some(c_text.clone()), Some(c2_text.clone())]);

    // A records a legal document; B's amending document changes it.
    let doc = |number: &str, amends: Vec<String>| CreateLegalDocumentRequest {
        number_symbol: number.into(),
        r#type: "circular".into(),
        summary: "Quy định về kiểm định chất lượng giáo dục".into(),
        issuer: "Bộ Giáo dục và Đào tạo".into(),
        signed_date: "2018-08-22".into(),
        effective_date: "2018-10-10".into(),
        amends,
        procedure_codes: vec![code.into()],
        ..Default::default()
    };
    let recorded = f
        .svc
        .create_legal_document(req(doc("19/2018/TT-BGDĐT", vec![]), &a))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (recorded.created_by.as_str(), recorded.updated_by.as_str()),
        (a_text.as_str(), a_text.as_str())
    );
    assert!(!recorded.created_at.is_empty() && !recorded.updated_at.is_empty());
    let read = f
        .svc
        .get_legal_document(public(GetLegalDocumentRequest {
            id: recorded.id.clone(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.created_by, a_text);
    let events = f.envelopes("cchc.catalogue.legal_document_issued.v1").await;
    assert_eq!(events[0].actor, a_text);
    f.svc
        .create_legal_document(req(doc("5/2020/TT-BGDĐT", vec![recorded.id.clone()]), &b))
        .await
        .unwrap();
    let amended = f
        .svc
        .get_legal_document(public(GetLegalDocumentRequest {
            id: recorded.id.clone(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (amended.created_by.as_str(), amended.updated_by.as_str()),
        (a_text.as_str(), b_text.as_str())
    );
    let events = f
        .envelopes("cchc.catalogue.legal_document_changed.v1")
        .await;
    assert_eq!(events[0].actor, b_text);

    // B schedules a version; the system makes it current on its date, so the change
    // and its events are the system's while the version stays B's.
    let scheduled = f
        .svc
        .publish_procedure(req(publication(code, "amended", "2999-01-01"), &b))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(scheduled.status, "scheduled");
    assert_eq!(scheduled.published_by, b_text);
    let day = chrono::NaiveDate::from_ymd_opt(2999, 1, 1).unwrap();
    assert_eq!(f.store.promote_scheduled(day).await.unwrap(), 1);
    let current = f
        .svc
        .get_procedure(public(GetProcedureRequest {
            code: code.into(),
            version: 0,
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(current.version, 2);
    assert_eq!(
        attribution(&current),
        (a_text.as_str(), "system", b_text.as_str())
    );
    let published = f.envelopes("cchc.catalogue.procedure_published.v1").await;
    assert_eq!(published.len(), 2);
    assert_eq!(published[1].actor, "system");
    let stale = f.envelopes("cchc.catalogue.posting_stale.v1").await;
    assert_eq!(stale.len(), 1);
    assert_eq!(stale[0].actor, "system");
}

#[tokio::test]
async fn rows_written_before_attribution_read_as_unknown() {
    let f = fixture("unattributed").await;
    let code = "1.000901.H19";
    f.create(code, "Cấp phép dạy thêm").await;
    f.publish(code, "new", "2020-02-01").await.unwrap();
    for sql in [
        "UPDATE procedures SET created_by = NULL, updated_by = NULL",
        "UPDATE procedure_versions SET published_by = NULL",
    ] {
        sqlx::query(sql).execute(&f.pool).await.unwrap();
    }
    let v = f
        .svc
        .get_procedure(public(GetProcedureRequest {
            code: code.into(),
            version: 0,
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(attribution(&v), ("", "", ""));
    assert!(!v.created_at.is_empty());
}

//! A unit the gateway closed writes nothing more in the catalogue, even with a signed
//! call that got past the gateway: the whole service runs against a real nats-server
//! and PostgreSQL, hears the gateway's `unit_closed` and `unit_merged` events on the
//! gateway's stream, and refuses that unit's postings — and an office whose own unit
//! was closed changes no procedure — while other units go on.

use std::time::{Duration, Instant};

use async_nats::jetstream;
use cchc_platform::config::ServiceSettings;
use cchc_platform::events;
use cchc_platform::{CallerKey, Config, Role};
use cchc_proto::catalogue::v1::catalogue_service_client::CatalogueServiceClient;
use cchc_proto::catalogue::v1::*;
use cchc_proto::events::v1::{UnitClosed, UnitMerged};
use cchc_testkit::{NatsServer, free_port, fresh_database};
use prost::Message;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tonic::Code;
use tonic::transport::Channel;
use uuid::Uuid;

struct Running {
    _nats: NatsServer,
    js: jetstream::Context,
    pool: PgPool,
    client: CatalogueServiceClient<Channel>,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// The secret the gateway signs callers with, in this test.
const INTERNAL_TOKEN: &str = "internal-token-of-the-ended-units-test";

/// The catalogue service as `main` runs it, with callers signed as the gateway signs
/// them.
async fn start() -> Running {
    let nats = NatsServer::start().await;
    // Events are published as the gateway publishes them, and the service signs in as
    // its own NATS user, with only the permissions it is given in production.
    let js = jetstream::new(nats.connect_as("gateway").await.unwrap());
    events::ensure_stream(&js, "gateway").await.unwrap();
    let database_url = fresh_database("catalogue").await;
    let (grpc, http) = (free_port(), free_port());
    let config = Config::from_pairs([
        ("CCHC_CATALOGUE_DATABASE_URL", database_url.clone()),
        ("NATS_URL", nats.url_for("catalogue")),
        ("CCHC_GRPC_ADDR", format!("127.0.0.1:{grpc}")),
        ("CCHC_HTTP_ADDR", format!("127.0.0.1:{http}")),
        ("CCHC_INTERNAL_TOKEN", INTERNAL_TOKEN.to_owned()),
    ]);
    let settings = ServiceSettings::load(&config, "catalogue", 0).unwrap();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(cchc_catalogue::run(settings, config, shutdown.clone()));
    let channel = cchc_platform::grpc::channel(&format!("http://127.0.0.1:{grpc}")).unwrap();
    let mut client = CatalogueServiceClient::new(channel);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let searched = client
            .search_procedures(SearchProceduresRequest::default())
            .await;
        if searched.is_ok() {
            break;
        }
        assert!(!task.is_finished(), "the service stopped");
        assert!(Instant::now() < deadline, "the service did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Running {
        _nats: nats,
        js,
        pool: PgPool::connect_lazy(&database_url).unwrap(),
        client,
        shutdown,
        task,
    }
}

fn from<T>(unit: Uuid, role: Role, message: T) -> tonic::Request<T> {
    CallerKey::new(INTERNAL_TOKEN).request(unit, role, message)
}

fn content(name: &str) -> ProcedureContent {
    ProcedureContent {
        name: name.into(),
        level: "province".into(),
        field: "Giáo dục và Đào tạo".into(),
        implementing_agency: "Sở Giáo dục và Đào tạo".into(),
        applicants: vec!["Cá nhân".into()],
        steps: vec!["Nộp hồ sơ".into(), "Nhận kết quả".into()],
        submission_channels: vec!["in_person".into()],
        dossier: vec![DossierComponent {
            name: "Đơn đề nghị".into(),
            originals: 1,
            required: true,
            ..Default::default()
        }],
        processing_days: Some(5.0),
        result: "Quyết định".into(),
        legal_basis: vec!["Thông tư 19/2015/TT-BGDĐT".into()],
        ..Default::default()
    }
}

fn create(code: &str) -> CreateProcedureRequest {
    CreateProcedureRequest {
        code: code.into(),
        content: Some(content("Xét tuyển")),
    }
}

fn publication(code: &str) -> PublishProcedureRequest {
    PublishProcedureRequest {
        code: code.into(),
        decision: Some(Decision {
            number: "100/QĐ-UBND".into(),
            date: "2020-01-02".into(),
            signer: "Chủ tịch".into(),
        }),
        change_type: "new".into(),
        change_note: String::new(),
        effective_date: "2020-02-01".into(),
    }
}

fn posting(code: &str) -> ConfirmPostingRequest {
    ConfirmPostingRequest {
        code: code.into(),
        version: 1,
        location: "Bảng niêm yết, Bộ phận một cửa".into(),
        posted_on: "2020-02-03".into(),
        evidence_url: String::new(),
    }
}

impl Running {
    /// Publishes `event` as the gateway's relay does: `Nats-Msg-Id` = event id, ack awaited.
    async fn publish_from_gateway<E: events::Event>(&self, event: &E) {
        let env = events::envelope("gateway", &cchc_platform::Actor::System, event);
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(async_nats::header::NATS_MESSAGE_ID, env.id.as_str());
        self.js
            .publish_with_headers(env.r#type.clone(), headers, env.encode_to_vec().into())
            .await
            .unwrap()
            .await
            .unwrap();
    }

    async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    /// Waits until the service has heard of `n` ended units.
    async fn ended_units_known(&self, n: i64) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.count("ended_units").await < n {
            assert!(
                Instant::now() < deadline,
                "the gateway's events were not consumed"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Asserts that a write was refused because the unit no longer acts.
fn refused<T: std::fmt::Debug>(r: Result<tonic::Response<T>, tonic::Status>, says: &str) {
    let e = r.expect_err("a closed or merged unit's write is refused");
    assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");
    assert!(e.message().contains(says), "{:?}", e.message());
}

#[tokio::test]
async fn a_closed_unit_posts_nothing_and_a_closed_office_changes_nothing() {
    let mut s = start().await;
    let (office, closed_office) = (Uuid::new_v4(), Uuid::new_v4());
    let (closed, merged, other) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let c = &mut s.client;
    c.create_procedure(from(office, Role::Office, create("1.000300.H19")))
        .await
        .unwrap();
    c.publish_procedure(from(office, Role::Office, publication("1.000300.H19")))
        .await
        .unwrap();
    c.confirm_posting(from(closed, Role::Unit, posting("1.000300.H19")))
        .await
        .unwrap();

    for unit in [closed, closed_office] {
        s.publish_from_gateway(&UnitClosed {
            unit_id: unit.to_string(),
            effective_date: "2025-07-01".into(),
        })
        .await;
    }
    s.publish_from_gateway(&UnitMerged {
        unit_id: merged.to_string(),
        into_unit_id: other.to_string(),
        effective_date: "2025-07-01".into(),
    })
    .await;
    s.ended_units_known(3).await;

    let c = &mut s.client;
    let says = "was closed on 2025-07-01 and can no longer make changes";
    refused(
        c.confirm_posting(from(closed, Role::Unit, posting("1.000300.H19")))
            .await,
        says,
    );
    refused(
        c.confirm_posting(from(merged, Role::Unit, posting("1.000300.H19")))
            .await,
        &format!("was merged into unit {other} on 2025-07-01"),
    );
    refused(
        c.create_procedure(from(closed_office, Role::Office, create("1.000301.H19")))
            .await,
        says,
    );
    refused(
        c.publish_procedure(from(
            closed_office,
            Role::Office,
            publication("1.000300.H19"),
        ))
        .await,
        says,
    );
    refused(
        c.update_draft(from(
            closed_office,
            Role::Office,
            UpdateDraftRequest {
                code: "1.000300.H19".into(),
                revision: 1,
                content: Some(content("Đổi tên")),
            },
        ))
        .await,
        says,
    );
    refused(
        c.import_procedures(from(
            closed_office,
            Role::Office,
            ImportProceduresRequest {
                rows: vec![ImportRow {
                    row: 2,
                    code: "1.000302.H19".into(),
                    content: Some(content("Nhập từ tệp")),
                    ..Default::default()
                }],
                dry_run: false,
            },
        ))
        .await,
        says,
    );
    refused(
        c.create_legal_document(from(
            closed_office,
            Role::Office,
            CreateLegalDocumentRequest {
                number_symbol: "19/2015/TT-BGDĐT".into(),
                r#type: "circular".into(),
                summary: "Ban hành quy chế".into(),
                issuer: "Bộ Giáo dục và Đào tạo".into(),
                signed_date: "2015-08-14".into(),
                effective_date: "2015-10-01".into(),
                ..Default::default()
            },
        ))
        .await,
        says,
    );

    // Other units and offices go on.
    c.confirm_posting(from(other, Role::Unit, posting("1.000300.H19")))
        .await
        .unwrap();
    c.create_procedure(from(office, Role::Office, create("1.000301.H19")))
        .await
        .unwrap();

    // Nothing of the refused writes was kept.
    assert_eq!(s.count("postings").await, 2);
    assert_eq!(s.count("procedures").await, 2);
    assert_eq!(s.count("legal_documents").await, 0);
    let posted_by_closed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM posting_history WHERE unit_id = $1 OR unit_id = $2",
    )
    .bind(closed)
    .bind(merged)
    .fetch_one(&s.pool)
    .await
    .unwrap();
    assert_eq!(
        posted_by_closed, 1,
        "only the posting made before the closure"
    );

    s.shutdown.cancel();
    s.task.await.unwrap().unwrap();
}

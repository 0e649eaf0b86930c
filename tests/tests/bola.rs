//! Broken object-level authorisation, tried on purpose: unit A's key, and then a session
//! of A's person, on unit B's resources (records, people, the audit log) gets 403/404, a
//! unit id forged in the body is refused, and a call that bypasses the gateway cannot
//! claim to be a unit or a person.

use cchc_e2e::{INTERNAL_TOKEN, System, complete_procedure, publication};
use cchc_platform::caller::{ACTOR_HEADER, ROLE_HEADER, SIGNATURE_HEADER, UNIT_HEADER, signature};
use cchc_proto::activity::v1::activity_service_client::ActivityServiceClient;
use cchc_proto::activity::v1::{
    CorrectActivityRequest, ListActivitiesRequest, RecordActivityRequest,
};
use cchc_proto::catalogue::v1::catalogue_service_client::CatalogueServiceClient;
use cchc_proto::catalogue::v1::{CreateProcedureRequest, ListPostingsRequest};
use reqwest::Method;
use serde_json::{Value, json};

fn activity(title: &str) -> Value {
    json!({"kind": "briefing", "date": "2020-04-02", "title": title, "head_count": 20})
}

fn one_stop() -> Value {
    json!({"received": {"online": 10, "in_person_or_post": 5, "carried_over": 0},
           "resolved": {"early": 3, "on_time": 8, "late": 1}, "pending": {"within_time": 2, "overdue": 0}, "returned_withdrawn": 1})
}

/// `body` claiming `unit` as its unit: no write has such a field (the unit is the key's).
fn forged(mut body: Value, unit: &str) -> Value {
    body["unit_id"] = json!(unit);
    body
}

/// Metadata claiming `unit` and `role`, signed with `secret` (or not at all).
fn claim<T>(msg: T, unit: &str, role: &str, secret: Option<&str>) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.metadata_mut().insert(UNIT_HEADER, unit.parse().unwrap());
    r.metadata_mut().insert(ROLE_HEADER, role.parse().unwrap());
    r.metadata_mut()
        .insert(ACTOR_HEADER, "system".parse().unwrap());
    if let Some(s) = secret {
        r.metadata_mut().insert(
            SIGNATURE_HEADER,
            signature(s, unit, role, "system").parse().unwrap(),
        );
    }
    r
}

/// Credentials of one kind for units A and B, and the people behind them (sessions).
struct Side<'a> {
    unit: &'a str,
    cred: &'a str,
    /// B's person, when the credentials are sessions: A must not reach them either.
    user: Option<&'a str>,
}

#[tokio::test]
async fn unit_a_cannot_touch_unit_b() {
    let sys = System::start("bola").await;
    let (a, a_key) = sys
        .unit_with_key("Trường THPT A", "high_school", "unit")
        .await;
    let (b, b_key) = sys
        .unit_with_key("Trường THPT B", "high_school", "unit")
        .await;
    // Once with the units' keys, once with sessions of their people.
    let b_act_id = matrix(
        &sys,
        "1.009999.H19",
        Side {
            unit: &a,
            cred: &a_key,
            user: None,
        },
        Side {
            unit: &b,
            cred: &b_key,
            user: None,
        },
    )
    .await;
    let (_, a_session) = sys
        .person(&a, "unit", "Văn thư trường A", "van-thu@thpt-a.edu.vn")
        .await;
    let (b_user, b_session) = sys
        .person(&b, "unit", "Văn thư trường B", "van-thu@thpt-b.edu.vn")
        .await;
    matrix(
        &sys,
        "1.009996.H19",
        Side {
            unit: &a,
            cred: &a_session,
            user: None,
        },
        Side {
            unit: &b,
            cred: &b_session,
            user: Some(&b_user),
        },
    )
    .await;

    // Straight to the services' gRPC ports, without the gateway.
    let mut activity_svc = ActivityServiceClient::new(
        cchc_platform::grpc::channel(&sys.grpc_url("activity").unwrap()).unwrap(),
    );
    let correct = CorrectActivityRequest {
        activity_id: b_act_id.clone(),
        reason: "giả mạo".into(),
        activity: Some(RecordActivityRequest {
            kind: "other".into(),
            date: "2020-04-03".into(),
            title: "Giả".into(),
            ..Default::default()
        }),
    };
    // Claiming to be B without the gateway's signature is refused.
    let e = activity_svc
        .correct_activity(claim(correct.clone(), &b, "unit", None))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::Unauthenticated);
    let e = activity_svc
        .correct_activity(claim(
            correct.clone(),
            &b,
            "unit",
            Some("a-guessed-secret-0000"),
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::Unauthenticated);
    // The signature covers the person too: a caller signed as the system cannot pass
    // itself off as someone else.
    let mut other_person = claim(correct.clone(), &a, "unit", Some(INTERNAL_TOKEN));
    other_person.metadata_mut().insert(
        ACTOR_HEADER,
        format!("user:{}", uuid::Uuid::new_v4()).parse().unwrap(),
    );
    let e = activity_svc
        .correct_activity(other_person)
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::Unauthenticated);
    // A properly signed caller A is still checked by the service itself.
    let e = activity_svc
        .correct_activity(claim(correct, &a, "unit", Some(INTERNAL_TOKEN)))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::NotFound);
    let list = ListActivitiesRequest {
        unit_id: b.to_owned(),
        ..Default::default()
    };
    let mine = activity_svc
        .list_activities(claim(list, &a, "unit", Some(INTERNAL_TOKEN)))
        .await
        .unwrap()
        .into_inner();
    assert!(mine.activities.iter().all(|x| x.unit_id == a));
    let mut catalogue = CatalogueServiceClient::new(
        cchc_platform::grpc::channel(&sys.grpc_url("catalogue").unwrap()).unwrap(),
    );
    let e = catalogue
        .list_postings(claim(ListPostingsRequest::default(), &b, "office", None))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::Unauthenticated);
    let create = CreateProcedureRequest {
        code: "1.009997.H19".into(),
        content: None,
    };
    let e = catalogue
        .create_procedure(claim(create.clone(), &a, "office", None))
        .await
        .unwrap_err();
    assert_eq!(
        e.code(),
        tonic::Code::Unauthenticated,
        "an office role cannot be claimed without the gateway"
    );
    let e = catalogue
        .create_procedure(claim(create, &a, "unit", Some(INTERNAL_TOKEN)))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::PermissionDenied);
    sys.stop().await;
}

/// Unit A's credential on unit B's records, and B's records made with B's; returns
/// the id of B's activity. `code` is a procedure of this round, created here.
async fn matrix(sys: &System, code: &str, a_side: Side<'_>, b_side: Side<'_>) -> String {
    let office = &sys.office_key;
    let (a, a_key, b, b_key) = (a_side.unit, a_side.cred, b_side.unit, b_side.cred);
    // B's records.
    let (s, b_act) = sys
        .post("/v1/activities", Some(b_key), &activity("Hoạt động của B"))
        .await;
    assert_eq!(s, 201);
    let b_act_id = b_act["id"].as_str().unwrap().to_owned();
    let (s, _) = sys
        .call(
            Method::PUT,
            "/v1/one-stop-results/2020-H1",
            Some(b_key),
            Some(&one_stop()),
        )
        .await;
    assert_eq!(s, 200);
    sys.post(
        "/v1/procedures",
        Some(office),
        &complete_procedure(code, "Thủ tục thử"),
    )
    .await;
    sys.post(
        &format!("/v1/procedures/{code}/publish"),
        Some(office),
        &publication("2020-02-01"),
    )
    .await;
    let posting =
        json!({"code": code, "version": 1, "location": "Bảng tin", "posted_on": "2020-02-03"});
    assert_eq!(sys.post("/v1/postings", Some(b_key), &posting).await.0, 201);

    // Writes by A claiming B's id in the body are refused, naming the field; without it
    // they land as A's.
    let refused = |(s, p): (u16, Value), field: &str| {
        assert_eq!(s, 400, "{p}");
        assert_eq!(p["errors"][0]["field"], field, "{p}");
    };
    let batch = |item: Value| json!({"items": [item]});
    refused(
        sys.post("/v1/activities", Some(a_key), &forged(activity("Của A"), b))
            .await,
        "unit_id",
    );
    refused(
        sys.call(
            Method::PUT,
            "/v1/one-stop-results/2020-H1",
            Some(a_key),
            Some(&forged(one_stop(), b)),
        )
        .await,
        "unit_id",
    );
    refused(
        sys.post("/v1/postings", Some(a_key), &forged(posting.clone(), b))
            .await,
        "unit_id",
    );
    refused(
        sys.post(
            "/v1/activities:batch",
            Some(a_key),
            &batch(forged(activity("Trong lô"), b)),
        )
        .await,
        "items[0].unit_id",
    );
    let (s, r) = sys
        .post("/v1/activities", Some(a_key), &activity("Hoạt động của A"))
        .await;
    assert_eq!((s, r["unit_id"].as_str()), (201, Some(a)));
    let (s, r) = sys
        .call(
            Method::PUT,
            "/v1/one-stop-results/2020-H1",
            Some(a_key),
            Some(&one_stop()),
        )
        .await;
    assert_eq!((s, r["unit_id"].as_str()), (200, Some(a)), "{r}");
    let (s, r) = sys.post("/v1/postings", Some(a_key), &posting).await;
    assert_eq!((s, r["unit_id"].as_str()), (201, Some(a)));
    let (s, r) = sys
        .post(
            "/v1/activities:batch",
            Some(a_key),
            &batch(activity("Trong lô")),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["results"][0]["activity"]["unit_id"], a, "{r}");

    // A cannot correct B's activity, and cannot tell it exists.
    let mut correction = activity("Sửa của A");
    correction["reason"] = json!("sửa");
    let (s, _) = sys
        .post(
            &format!("/v1/activities/{b_act_id}/corrections"),
            Some(a_key),
            &correction,
        )
        .await;
    assert_eq!(s, 404);
    let (s, _) = sys
        .post(
            &format!("/v1/activities/{}/corrections", uuid::Uuid::new_v4()),
            Some(a_key),
            &correction,
        )
        .await;
    assert_eq!(s, 404);

    // Reads filtered to B still show only A's own records.
    for path in [
        format!("/v1/activities?unit_id={b}"),
        format!("/v1/one-stop-results?unit_id={b}"),
        format!("/v1/satisfaction?unit_id={b}"),
        format!("/v1/budget-lines?unit_id={b}"),
        format!("/v1/postings?unit_id={b}"),
    ] {
        let (s, r) = sys.get(&path, Some(a_key)).await;
        assert_eq!(s, 200, "{path}: {r}");
        let items = r
            .as_object()
            .unwrap()
            .values()
            .filter_map(Value::as_array)
            .flatten()
            .collect::<Vec<_>>();
        assert!(
            items.iter().all(|i| i["unit_id"] == a),
            "{path} leaked another unit's records: {r}"
        );
    }
    let (_, inbox) = sys.get("/v1/notifications", Some(a_key)).await;
    let (_, b_inbox) = sys.get("/v1/notifications", Some(b_key)).await;
    let ids = |v: &Value| {
        v["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].clone())
            .collect::<Vec<_>>()
    };
    assert!(
        ids(&inbox).iter().all(|i| !ids(&b_inbox).contains(i)),
        "inboxes are separate"
    );

    // Office-only writes and keys of other units are out of a unit's reach.
    let b_keys = sys
        .get(&format!("/v1/units/{b}/api-keys"), Some(office))
        .await
        .1;
    let b_key_id = b_keys["api_keys"][0]["id"].as_str().unwrap().to_owned();
    for (method, path, body) in [
        (
            Method::POST,
            "/v1/units".to_owned(),
            json!({"name": "X", "kind": "other"}),
        ),
        (
            Method::POST,
            format!("/v1/units/{b}/api-keys"),
            json!({"role": "unit"}),
        ),
        (Method::GET, format!("/v1/units/{b}/api-keys"), Value::Null),
        (
            Method::DELETE,
            format!("/v1/api-keys/{b_key_id}"),
            Value::Null,
        ),
        (
            Method::POST,
            format!("/v1/units/{b}/rename"),
            json!({"name": "Y", "effective_date": "2025-01-01"}),
        ),
        (
            Method::POST,
            format!("/v1/units/{b}/close"),
            json!({"effective_date": "2025-01-01"}),
        ),
        (
            Method::POST,
            "/v1/procedures".to_owned(),
            complete_procedure("1.009998.H19", "X"),
        ),
        (
            Method::POST,
            format!("/v1/procedures/{code}/publish"),
            publication("2020-03-01"),
        ),
        (
            Method::POST,
            format!("/v1/procedures/{code}/abolish"),
            publication("2020-03-01"),
        ),
        (
            Method::PUT,
            format!("/v1/procedures/{code}/draft"),
            json!({"revision": 1, "content": {}}),
        ),
        (
            Method::POST,
            "/v1/procedures/import".to_owned(),
            json!({"rows": []}),
        ),
        (
            Method::POST,
            "/v1/legal-documents".to_owned(),
            json!({"number_symbol": "1/2020/TT"}),
        ),
        (Method::GET, "/v1/dashboard".to_owned(), Value::Null),
    ] {
        let body = (!body.is_null()).then_some(&body);
        let (s, r) = sys.call(method.clone(), &path, Some(a_key), body).await;
        assert!(
            s == 403 || s == 404,
            "{method} {path} answered {s} to a unit's credential: {r}"
        );
    }
    // One record by id: B's is absent to A; B reads it, with who made it.
    let (s, _) = sys
        .get(&format!("/v1/activities/{b_act_id}"), Some(a_key))
        .await;
    assert_eq!(s, 404);
    let (s, own) = sys
        .get(&format!("/v1/activities/{b_act_id}"), Some(b_key))
        .await;
    assert_eq!(s, 200, "{own}");
    assert!(own["created_by"]["kind"].is_string(), "{own}");
    // People are the office's: a unit's credential neither invites, lists, reads nor
    // changes anyone (B's person included), nor reads the audit log.
    let b_user = b_side
        .user
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    for (method, path, body) in [
        (
            Method::POST,
            "/v1/users".to_owned(),
            json!({"name": "X", "email": "x@thpt-a.edu.vn", "unit_id": a, "role": "unit"}),
        ),
        (Method::GET, "/v1/users".to_owned(), Value::Null),
        (Method::GET, format!("/v1/users/{b_user}"), Value::Null),
        (
            Method::PATCH,
            format!("/v1/users/{b_user}"),
            json!({"status": "disabled"}),
        ),
        (
            Method::POST,
            format!("/v1/users/{b_user}/invitation"),
            Value::Null,
        ),
        (Method::GET, "/v1/audit".to_owned(), Value::Null),
    ] {
        let body = (!body.is_null()).then_some(&body);
        let (s, r) = sys.call(method.clone(), &path, Some(a_key), body).await;
        assert!(
            s == 403 || s == 404,
            "{method} {path} answered {s} to a unit's credential: {r}"
        );
    }
    assert_eq!(
        sys.get("/v1/notifications", Some(b_key)).await.0,
        200,
        "B's credential still works"
    );
    b_act_id
}

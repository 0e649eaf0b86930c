//! People through the real stack: an invitation's one-time link (as the notification
//! service receives it, sealed in the event), a password set once, sign-in alike for a
//! wrong password and an unknown address, sessions used through the API as keys are,
//! CSRF on cookie writes, sign-out, a disabled person stopped at once, the audit log.

use cchc_e2e::{INTERNAL_TOKEN, System};
use cchc_platform::CallerKey;
use cchc_proto::events::v1::{AccountLinkIssued, Envelope};
use prost::Message;
use reqwest::Method;
use serde_json::{Value, json};

/// The newest link sent to `email`, opened as the notification service opens it.
async fn link_for(db: &sqlx::PgPool, email: &str) -> String {
    let bodies: Vec<Vec<u8>> = sqlx::query_scalar(
        "SELECT body FROM cchc_outbox WHERE subject = 'cchc.gateway.account_link_issued.v1' ORDER BY created_at DESC",
    )
    .fetch_all(db)
    .await
    .unwrap();
    for b in bodies {
        let env = Envelope::decode(b.as_slice()).unwrap();
        let e = AccountLinkIssued::decode(env.payload.as_slice()).unwrap();
        if e.email == email {
            assert!(!String::from_utf8_lossy(&e.sealed_link).contains("token="));
            let link = CallerKey::new(INTERNAL_TOKEN)
                .open("account-link", &e.sealed_link)
                .expect("sealed with the internal key");
            return String::from_utf8(link).unwrap();
        }
    }
    panic!("no link for {email}");
}

fn token_of(link: &str) -> String {
    link.split("token=").nth(1).unwrap().to_owned()
}

#[tokio::test]
async fn invitation_sign_in_sessions_and_audit() {
    let sys = System::start("people").await;
    let office = sys.office_key.clone();
    let db = sqlx::PgPool::connect(&sys.database_url("gateway").unwrap())
        .await
        .unwrap();
    let (unit_a, _) = sys
        .unit_with_key("Trường THPT Chu Văn An", "high_school", "unit")
        .await;
    let (_, key_b) = sys
        .unit_with_key("Trường THPT Phan Bội Châu", "high_school", "unit")
        .await;

    // The office invites a clerk; a unit's key may not invite anyone.
    let invite = json!({"name": "Nguyễn Thị Lan", "email": "Lan.Nguyen@thpt-cva.edu.vn", "unit_id": unit_a, "role": "unit"});
    let (s, _) = sys.post("/v1/users", Some(&key_b), &invite).await;
    assert_eq!(s, 403);
    let (s, user) = sys.post("/v1/users", Some(&office), &invite).await;
    assert_eq!(s, 201, "{user}");
    assert_eq!(user["status"], "invited");
    assert_eq!(user["email"], "lan.nguyen@thpt-cva.edu.vn");
    assert_eq!(user["created_by"]["kind"], "api_key", "{user}");
    let (s, _) = sys.post("/v1/users", Some(&office), &invite).await;
    assert_eq!(s, 409, "one account per address, whatever its case");

    // The link opens a Vietnamese page; a weak password is refused; a good one is set,
    // once.
    let link = link_for(&db, "lan.nguyen@thpt-cva.edu.vn").await;
    assert!(link.contains("/account/password?token=cchl_"), "{link}");
    let token = token_of(&link);
    let page = sys
        .http
        .get(sys.url(&format!("/account/password?token={token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["referrer-policy"], "no-referrer");
    assert!(page.text().await.unwrap().contains("Đặt mật khẩu"));
    let (s, weak) = sys
        .post(
            "/v1/account/password",
            None,
            &json!({"token": token, "password": "1234567890"}),
        )
        .await;
    assert_eq!(s, 400, "{weak}");
    let password = "trống đồng Đông Sơn 1975";
    let (s, set) = sys
        .post(
            "/v1/account/password",
            None,
            &json!({"token": token, "password": password}),
        )
        .await;
    assert_eq!(s, 200, "{set}");
    assert_eq!(set["status"], "active");
    let (s, _) = sys
        .post(
            "/v1/account/password",
            None,
            &json!({"token": token, "password": password}),
        )
        .await;
    assert_eq!(s, 410, "a link works once");

    // A wrong password and an unknown address answer alike.
    let (s1, wrong) = sys
        .post(
            "/v1/sessions",
            None,
            &json!({"email": "lan.nguyen@thpt-cva.edu.vn", "password": "not the password"}),
        )
        .await;
    let (s2, unknown) = sys
        .post(
            "/v1/sessions",
            None,
            &json!({"email": "nobody@thpt-cva.edu.vn", "password": "not the password"}),
        )
        .await;
    assert_eq!((s1, s2), (401, 401));
    assert_eq!(wrong, unknown);

    // Signed in, the session works where a key does, as the clerk's unit and person.
    let (s, signed) = sys
        .post(
            "/v1/sessions",
            None,
            &json!({"email": "LAN.NGUYEN@thpt-cva.edu.vn", "password": password}),
        )
        .await;
    assert_eq!(s, 201, "{signed}");
    let session = signed["token"].as_str().unwrap().to_owned();
    let csrf = signed["csrf_token"].as_str().unwrap().to_owned();
    assert!(session.starts_with("cchs_"));
    let (s, me) = sys.get("/v1/me", Some(&session)).await;
    assert_eq!(s, 200, "{me}");
    assert_eq!(me["kind"], "user");
    assert_eq!(me["role"], "unit");
    assert_eq!(me["unit"]["id"], unit_a.as_str());
    assert_eq!(me["user"]["name"], "Nguyễn Thị Lan");
    let activity = json!({"kind": "briefing", "date": "2020-04-02", "title": "Quán triệt kế hoạch CCHC", "head_count": 35});
    let (s, a) = sys.post("/v1/activities", Some(&session), &activity).await;
    assert_eq!(s, 201, "{a}");
    assert_eq!(a["unit_id"], unit_a.as_str());
    // Another unit's key does not see it.
    let (s, _) = sys
        .get(
            &format!("/v1/activities/{}", a["id"].as_str().unwrap()),
            Some(&key_b),
        )
        .await;
    assert_eq!(s, 404);

    // With the cookie, a write needs the CSRF token.
    let cookie = format!("cchc_session={session}");
    let res = sys
        .http
        .post(sys.url("/v1/activities"))
        .header("cookie", &cookie)
        .json(&activity)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = sys
        .http
        .post(sys.url("/v1/activities"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .json(&activity)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);

    // Signing out ends that session only.
    let (s, second) = sys
        .post(
            "/v1/sessions",
            None,
            &json!({"email": "lan.nguyen@thpt-cva.edu.vn", "password": password}),
        )
        .await;
    assert_eq!(s, 201);
    let second = second["token"].as_str().unwrap().to_owned();
    let (s, _) = sys
        .call(Method::DELETE, "/v1/sessions/current", Some(&second), None)
        .await;
    assert_eq!(s, 204);
    assert_eq!(sys.get("/v1/me", Some(&second)).await.0, 401);
    assert_eq!(sys.get("/v1/me", Some(&session)).await.0, 200);

    // Disabled by the office: the session stops at once.
    let uid = user["id"].as_str().unwrap();
    let (s, disabled) = sys
        .call(
            Method::PATCH,
            &format!("/v1/users/{uid}"),
            Some(&office),
            Some(&json!({"status": "disabled"})),
        )
        .await;
    assert_eq!(s, 200, "{disabled}");
    assert_eq!(sys.get("/v1/me", Some(&session)).await.0, 401);

    // An expired invitation does not work.
    let (s, _) = sys
        .post("/v1/users", Some(&office), &json!({"name": "Trần Văn Bình", "email": "binh@thpt-cva.edu.vn", "unit_id": unit_a, "role": "unit"}))
        .await;
    assert_eq!(s, 201);
    let late = token_of(&link_for(&db, "binh@thpt-cva.edu.vn").await);
    sqlx::query("UPDATE account_links SET expires_at = now() - interval '1 second'")
        .execute(&db)
        .await
        .unwrap();
    let (s, _) = sys
        .post(
            "/v1/account/password",
            None,
            &json!({"token": late, "password": password}),
        )
        .await;
    assert_eq!(s, 410);

    // The audit log tells it all, newest first; a unit may not read it.
    assert_eq!(sys.get("/v1/audit", Some(&key_b)).await.0, 403);
    let (s, log) = sys
        .get(&format!("/v1/audit?user_id={uid}&limit=100"), Some(&office))
        .await;
    assert_eq!(s, 200, "{log}");
    let actions: Vec<&str> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for a in [
        "user_invited",
        "invitation_accepted",
        "sign_in_failed",
        "sign_in",
        "sign_out",
        "user_disabled",
    ] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
    assert_eq!(actions[0], "user_disabled");
    let entry: &Value = &log["entries"][0];
    assert_eq!(entry["actor"]["kind"], "api_key", "{entry}");
    // The log is append-only.
    assert!(
        sqlx::query("DELETE FROM audit_log")
            .execute(&db)
            .await
            .is_err()
    );
    sys.stop().await;
}

//! People through the real stack: an invitation e-mailed through a real SMTP server
//! with a one-time link (sealed in the event, so nothing usable sits in the stream), a
//! password set once, sign-in alike for a wrong password and an unknown address and
//! throttled per account, sessions used through the API as keys are, writes attributed
//! to the person in the record and in reporting's read model, CSRF on cookie writes,
//! sign-out, a password reset by e-mail, a disabled person stopped at once, the audit
//! log.

use cchc_e2e::System;
use cchc_proto::events::v1::{AccountLinkIssued, Envelope};
use cchc_testkit::SmtpSink;
use prost::Message;
use reqwest::Method;
use serde_json::{Value, json};

/// The one-time link in the newest e-mail to `email` (at least `n` e-mails in all).
async fn link_for(smtp: &SmtpSink, n: usize, email: &str) -> String {
    let mails = smtp.wait_for(n, 30).await;
    let mail = mails
        .iter()
        .rev()
        .find(|m| m.to.iter().any(|t| t.to_lowercase().contains(email)))
        .unwrap_or_else(|| panic!("no e-mail to {email} among {mails:?}"));
    mail.text
        .split_whitespace()
        .find(|w| w.contains("/account/password?token=cchl_"))
        .unwrap_or_else(|| panic!("no link in {:?}", mail.text))
        .trim_end_matches(['.', ',', ')'])
        .to_owned()
}

/// No link that still works sits in the gateway's stream: events carry it sealed.
async fn assert_links_sealed(db: &sqlx::PgPool) {
    let bodies: Vec<Vec<u8>> = sqlx::query_scalar(
        "SELECT body FROM cchc_outbox WHERE subject = 'cchc.gateway.account_link_issued.v1'",
    )
    .fetch_all(db)
    .await
    .unwrap();
    assert!(!bodies.is_empty());
    for b in bodies {
        let env = Envelope::decode(b.as_slice()).unwrap();
        let e = AccountLinkIssued::decode(env.payload.as_slice()).unwrap();
        assert!(!String::from_utf8_lossy(&b).contains("cchl_"));
        assert!(!e.sealed_link.is_empty());
    }
}

fn token_of(link: &str) -> String {
    link.split("token=").nth(1).unwrap().to_owned()
}

#[tokio::test]
async fn invitation_sign_in_sessions_and_audit() {
    let mut smtp = SmtpSink::start().await;
    let smtp_url = smtp.url();
    let sys = System::start_with(
        "people",
        &[
            ("notification", "CCHC_SMTP_URL", &smtp_url),
            ("gateway", "CCHC_SIGN_IN_FAILURE_BURST_PER_ACCOUNT", "4"),
        ],
    )
    .await;
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
    let link = link_for(&smtp, 1, "lan.nguyen@thpt-cva.edu.vn").await;
    assert_links_sealed(&db).await;
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
            "/v1/invitations/accept",
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
    // Failures are throttled per account (burst 4 here), an unknown one alike, and
    // the refusal says when to try again.
    let mut refused = None;
    for i in 0..8 {
        let res = sys
            .http
            .post(sys.url("/v1/sessions"))
            .json(&json!({"email": "nobody@thpt-cva.edu.vn", "password": "guess"}))
            .send()
            .await
            .unwrap();
        if res.status() == 429 {
            assert!(res.headers().contains_key("retry-after"));
            refused = Some(i);
            break;
        }
        assert_eq!(res.status(), 401);
    }
    assert_eq!(
        refused,
        Some(3),
        "the fifth failure of the account is refused"
    );

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
    // The record says who made it, by name; so does reading it again.
    let uid = user["id"].as_str().unwrap();
    assert_eq!(a["created_by"]["kind"], "user", "{a}");
    assert_eq!(a["created_by"]["id"], uid);
    assert_eq!(a["created_by"]["name"], "Nguyễn Thị Lan");
    assert_eq!(a["updated_by"]["id"], uid);
    let aid = a["id"].as_str().unwrap().to_owned();
    let (s, again) = sys
        .get(&format!("/v1/activities/{aid}"), Some(&office))
        .await;
    assert_eq!(s, 200, "{again}");
    assert_eq!(again["created_by"]["name"], "Nguyễn Thị Lan");
    // The event carried the person to reporting's read model.
    let reporting = sqlx::PgPool::connect(&sys.database_url("reporting").unwrap())
        .await
        .unwrap();
    let recorded_by: String = sys
        .eventually(30, "the activity in reporting's read model", || async {
            sqlx::query_scalar::<_, Option<String>>(
                "SELECT recorded_by FROM rm_activities WHERE activity_id = $1::uuid",
            )
            .bind(&aid)
            .fetch_optional(&reporting)
            .await
            .unwrap()
            .flatten()
        })
        .await;
    assert_eq!(recorded_by, format!("user:{uid}"));
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

    // A forgotten password: a reset link by e-mail (an unknown address answered
    // alike, and sent nothing); setting the new one ends the old sessions.
    let (s, asked) = sys
        .post(
            "/v1/password-resets",
            None,
            &json!({"email": "lan.nguyen@thpt-cva.edu.vn"}),
        )
        .await;
    let (s2, asked_unknown) = sys
        .post(
            "/v1/password-resets",
            None,
            &json!({"email": "khong-co-ai@thpt-cva.edu.vn"}),
        )
        .await;
    assert_eq!((s, s2), (202, 202));
    assert_eq!(asked, asked_unknown);
    let reset = link_for(&smtp, 2, "lan.nguyen@thpt-cva.edu.vn").await;
    assert_ne!(reset, link);
    let new_password = "hoa phượng đỏ sân trường 2020";
    // A reset link does not accept an invitation (and stays usable for its own purpose).
    let (s, _) = sys
        .post(
            "/v1/invitations/accept",
            None,
            &json!({"token": token_of(&reset), "password": new_password}),
        )
        .await;
    assert_eq!(s, 410);
    let (s, _) = sys
        .post(
            "/v1/password-resets/complete",
            None,
            &json!({"token": token_of(&reset), "password": new_password}),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(sys.get("/v1/me", Some(&session)).await.0, 401);
    let (s, _) = sys
        .post(
            "/v1/sessions",
            None,
            &json!({"email": "lan.nguyen@thpt-cva.edu.vn", "password": password}),
        )
        .await;
    assert_eq!(s, 401, "the old password is gone");
    let (s, signed) = sys
        .post(
            "/v1/sessions",
            None,
            &json!({"email": "lan.nguyen@thpt-cva.edu.vn", "password": new_password}),
        )
        .await;
    assert_eq!(s, 201);
    let session = signed["token"].as_str().unwrap().to_owned();
    assert_eq!(sys.get("/v1/me", Some(&session)).await.0, 200);

    // Disabled by the office: the session stops at once.
    let (s, disabled) = sys
        .call(
            Method::POST,
            &format!("/v1/users/{uid}/disable"),
            Some(&office),
            None,
        )
        .await;
    assert_eq!(s, 200, "{disabled}");
    assert_eq!(sys.get("/v1/me", Some(&session)).await.0, 401);

    // An expired invitation does not work.
    let (s, _) = sys
        .post("/v1/users", Some(&office), &json!({"name": "Trần Văn Bình", "email": "binh@thpt-cva.edu.vn", "unit_id": unit_a, "role": "unit"}))
        .await;
    assert_eq!(s, 201);
    let late = token_of(&link_for(&smtp, 3, "binh@thpt-cva.edu.vn").await);
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
    assert_eq!(
        smtp.messages().await.len(),
        3,
        "nothing for the unknown address"
    );
    smtp.stop().await;

    // A unit closed or merged takes its people with it: their sessions end at once.
    let (closing, _) = sys
        .unit_with_key("Trường THCS sắp giải thể", "other", "unit")
        .await;
    let (merging, _) = sys
        .unit_with_key("Trường THCS sáp nhập", "other", "unit")
        .await;
    let (closing_user, closing_session) = sys
        .person(
            &closing,
            "unit",
            "Văn thư trường giải thể",
            "vt@thcs-giai-the.edu.vn",
        )
        .await;
    let (merging_user, merging_session) = sys
        .person(
            &merging,
            "unit",
            "Văn thư trường sáp nhập",
            "vt@thcs-sap-nhap.edu.vn",
        )
        .await;
    let (s, r) = sys
        .post(
            &format!("/v1/units/{closing}/close"),
            Some(&office),
            &json!({"effective_date": "2025-07-01"}),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    let (s, r) = sys
        .post(
            &format!("/v1/units/{merging}/merge"),
            Some(&office),
            &json!({"into_unit_id": unit_a, "effective_date": "2025-07-01"}),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    for (user, session) in [
        (&closing_user, &closing_session),
        (&merging_user, &merging_session),
    ] {
        assert_eq!(sys.get("/v1/me", Some(session)).await.0, 401);
        let (_, u) = sys.get(&format!("/v1/users/{user}"), Some(&office)).await;
        assert_eq!(u["status"], "disabled", "{u}");
    }

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

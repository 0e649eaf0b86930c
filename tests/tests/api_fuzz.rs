//! A schema-driven fuzz run: schemathesis generates requests from the served OpenAPI
//! document and the gateway must never answer 5xx: first every operation with an office
//! key, then the people's operations and a person's own writes with an office person's
//! session (kept signed in; what the run changes must still not fail it).
//! `CCHC_FUZZ_EXAMPLES` sets the examples per operation (`make fuzz-api` runs more).

use cchc_e2e::System;
use cchc_testkit::workspace_root;

/// Runs schemathesis against `sys` with `bearer`, on the operations `filter` selects.
async fn fuzz(sys: &System, bearer: &str, filter: &[&str]) {
    let examples = std::env::var("CCHC_FUZZ_EXAMPLES").unwrap_or_else(|_| "10".into());
    let tools = workspace_root().join(".tools/schemathesis");
    assert!(
        tools.exists(),
        "schemathesis is not installed: run `make tools`"
    );
    let out = tokio::process::Command::new("python3")
        .args(["-m", "schemathesis.cli", "run"])
        .arg(format!("{}/openapi.json", sys.gateway))
        .args([
            "--checks",
            "not_a_server_error",
            "--max-examples",
            &examples,
            "--workers",
            "2",
        ])
        .args([
            "--generation-deterministic",
            "--no-color",
            "--suppress-health-check",
            "all",
        ])
        .args(filter)
        .arg("-H")
        .arg(format!("Authorization: Bearer {bearer}"))
        .env("PYTHONPATH", &tools)
        .env("SCHEMATHESIS_HOOKS", "")
        .output()
        .await
        .expect("running schemathesis");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{report}");
    assert!(
        out.status.success(),
        "schemathesis found server errors:\n{report}"
    );
}

#[tokio::test]
async fn no_server_errors_from_generated_requests() {
    let sys = System::start_with(
        "api-fuzz",
        &[
            ("gateway", "CCHC_RATE_LIMIT_BURST", "100000"),
            ("gateway", "CCHC_AUTH_FAILURE_BURST", "100000"),
            (
                "gateway",
                "CCHC_SIGN_IN_FAILURE_BURST_PER_ACCOUNT",
                "100000",
            ),
        ],
    )
    .await;
    fuzz(&sys, &sys.office_key, &[]).await;
    let (_, me) = sys.get("/v1/me", Some(&sys.office_key)).await;
    let department = me["unit"]["id"]
        .as_str()
        .expect("the key's unit")
        .to_owned();
    let (_, session) = sys
        .person(
            &department,
            "office",
            "Chuyên viên Văn phòng",
            "chuyen-vien@sgddt.example.vn",
        )
        .await;
    fuzz(
        &sys,
        &session,
        &[
            "--include-path-regex",
            "^/v1/(users|sessions|me|audit|password-resets|account|activities)",
            // Signing out would leave the rest of the run nothing but 401s.
            "--exclude-path",
            "/v1/sessions/current",
        ],
    )
    .await;
    sys.stop().await;
}

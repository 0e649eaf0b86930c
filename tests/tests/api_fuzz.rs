//! A schema-driven fuzz run: schemathesis generates requests from the served OpenAPI
//! document, sends them with an office key, and the gateway must never answer 5xx.
//! `CCHC_FUZZ_EXAMPLES` sets the examples per operation (`make fuzz-api` runs more).

use cchc_e2e::System;
use cchc_testkit::workspace_root;

#[tokio::test]
async fn no_server_errors_from_generated_requests() {
    let sys = System::start_with(
        "api-fuzz",
        &[("gateway", "CCHC_RATE_LIMIT_BURST", "100000")],
    )
    .await;
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
        .arg("-H")
        .arg(format!("Authorization: Bearer {}", sys.office_key))
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
    sys.stop().await;
}

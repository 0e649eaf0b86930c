//! `make run` as a supervisor, `timeout` or a person stops it: every signal goes to the
//! whole process group (and make forwards SIGTERM once more), and afterwards nothing it
//! started may still run — above all not its private PostgreSQL, which a later run would
//! otherwise silently reuse with the old data. Runs the already built binaries
//! (`CCHC_SKIP_BUILD`), with private ports and data.

use std::process::Command;
use std::time::{Duration, Instant};

use cchc_e2e::bin_dir;
use cchc_e2e::make_run::{Cluster, OFFICE_KEY, OPERATOR_KEY, Run, alive, curl, postmaster_pid};
use cchc_testkit::workspace_root;

/// `make cluster`: two replicas of every service and gateway on a three-node NATS
/// cluster. SIGKILL one replica of each service and one NATS node while a unit writes
/// through both gateways: every write is acknowledged once, in the source and in
/// reporting's read model, and a version published through one gateway is read through
/// the other. (`make chaos` kills a gateway too.)
#[tokio::test(flavor = "multi_thread")]
async fn make_cluster_goes_on_when_a_replica_of_each_service_and_a_nats_node_die() {
    let mut cluster = Cluster::start().await;
    let unit_key = cluster.unit_key("Trường THPT Cụm Máy").await;
    let code = "1.000900.H19";
    let procedure = cchc_e2e::complete_procedure(code, "Cấp bản sao văn bằng");
    cluster.office_post(1, "/v1/procedures", procedure).await;
    let mut publication = cchc_e2e::publication("2020-02-01");
    let publish = format!("/v1/procedures/{code}/publish");
    cluster.office_post(1, &publish, publication.clone()).await;
    assert_eq!(cluster.version_at(0, code).await, Some(1));
    assert_eq!(
        cluster.version_at(0, code).await,
        Some(1),
        "kept by gateway 1"
    );

    let tally = cchc_e2e::chaos::cluster_killed(&mut cluster, &unit_key, 45, false).await;
    assert!(tally.clean(), "{tally}");

    // A version published through gateway 2 is read through gateway 1 (its copy dropped
    // by the event from the surviving NATS nodes). If gateway 1's consumer of the
    // catalogue's events died with the node, the first may wait for its missed
    // heartbeats and a new consumer; the versions after it travel at the recovered
    // cluster's pace. (`make chaos` times a publication right after a node dies.)
    for version in 2..=4 {
        publication["change_type"] = serde_json::json!("amended");
        cluster.office_post(1, &publish, publication.clone()).await;
        let published = Instant::now();
        let within = Duration::from_secs(if version == 2 { 30 } else { 5 });
        while cluster.version_at(0, code).await != Some(version) {
            assert!(
                published.elapsed() < within,
                "gateway 1 does not show version {version}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        eprintln!(
            "version {version} read through gateway 1 {:?} after its publication",
            published.elapsed()
        );
    }
    cluster.stop().await;
}

/// The first person signs in from what `make run` printed, without SQL.
fn first_person_signs_in(run: &Run) {
    let out = run.seen.join("\n");
    let link = out
        .split_whitespace()
        .find(|w| w.contains("/account/password?token=cchl_"))
        .unwrap_or_else(|| panic!("no first-person link printed:\n{out}"));
    assert!(out.contains("vanphong@sgddt.example.vn"), "{out}");
    assert_eq!(curl(&[link]).0, "200", "the link's page opens");
    let base = link.split("/account/").next().unwrap();
    let token = link.split("token=").nth(1).unwrap();
    let password = "Sở Giáo dục và Đào tạo 2020";
    let json = ["-H", "content-type: application/json", "-d"];
    let set = format!(r#"{{"token":"{token}","password":"{password}"}}"#);
    let (status, body) =
        curl(&[&json[..], &[&set, &format!("{base}/v1/account/password")]].concat());
    assert_eq!(status, "200", "{body}");
    let sign_in = format!(r#"{{"email":"vanphong@sgddt.example.vn","password":"{password}"}}"#);
    let (status, body) = curl(&[&json[..], &[&sign_in, &format!("{base}/v1/sessions")]].concat());
    assert_eq!(status, "201", "{body}");
    assert!(body.contains(r#""role":"office""#), "{body}");
    let console = out
        .split_whitespace()
        .find(|w| w.starts_with("http://") && out.contains(&format!("console:      {w}")))
        .unwrap_or_else(|| panic!("no console URL printed:\n{out}"));
    let (status, page) = curl(&[&format!("{console}/")]);
    assert_eq!(status, "200");
    assert!(page.contains("Tra cứu thủ tục hành chính"), "{page}");
    // The operator key it printed works for the operator's steps.
    let operator = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("operator key: "))
        .unwrap_or_else(|| panic!("no operator key printed:\n{out}"))
        .trim();
    let auth = format!("Authorization: Bearer {operator}");
    let (status, body) = curl(&[
        "-H",
        &auth,
        &format!("{base}/v1/notifications/dead-letters"),
    ]);
    assert_eq!(status, "200", "{body}");
    // This start's logs, kept apart from the next start's.
    let latest = run.dir.path().join("data/logs/latest/gateway.log");
    assert!(latest.exists(), "{}", latest.display());
}

#[test]
fn make_run_stopped_by_sigterm_twice_leaves_nothing_running() {
    let mut run = Run::start(&["make", "--no-print-directory", "run"]);
    run.wait_for("cchc is up", Duration::from_secs(120));
    run.wait_for("Press Ctrl-C", Duration::from_secs(10));
    first_person_signs_in(&run);
    let postmaster = postmaster_pid(&run.pg_data());
    assert!(alive(postmaster));
    // As a supervisor does: TERM to the group, and again while it is stopping.
    run.signal_group("TERM");
    std::thread::sleep(Duration::from_millis(300));
    run.signal_group("TERM");
    let status = run.wait_exit(Duration::from_secs(90));
    let out = run.seen.join("\n");
    assert!(
        out.contains("stopped"),
        "the cleanup did not finish:\n{out}"
    );
    // GNU make always ends by re-raising the signal it got; what it must not do is
    // report its recipe failed.
    assert!(!out.contains("Error"), "{out}");
    assert!(
        status.success() || std::os::unix::process::ExitStatusExt::signal(&status) == Some(15),
        "{status:?}:\n{out}"
    );
    run.assert_nothing_left(postmaster);
}

#[test]
fn run_script_stops_cleanly_and_exits_0_on_ctrl_c_and_sigterm() {
    for signal in ["INT", "TERM"] {
        let mut run = Run::start(&["deploy/local/run.sh"]);
        run.wait_for("cchc is up", Duration::from_secs(120));
        let postmaster = postmaster_pid(&run.pg_data());
        // Again while it is stopping, as a second Ctrl-C or a supervisor's retry does.
        run.signal_group(signal);
        std::thread::sleep(Duration::from_millis(50));
        run.signal_group(signal);
        let status = run.wait_exit(Duration::from_secs(90));
        assert_eq!(
            status.code(),
            Some(0),
            "SIG{signal}:\n{}",
            run.seen.join("\n")
        );
        run.assert_nothing_left(postmaster);
    }
}

/// The README's walk-through: every code block that follows a `<!-- walk-through -->`
/// line, in order, as one script.
fn readme_walk_through() -> String {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).expect("README.md");
    let mut script = String::new();
    let mut blocks = readme.split("<!-- walk-through -->\n").skip(1).peekable();
    assert!(blocks.peek().is_some(), "the README marks no walk-through");
    for block in blocks {
        let body = block
            .strip_prefix("```sh\n")
            .and_then(|b| b.split_once("\n```").map(|(code, _)| code))
            .expect("a ```sh block right after the mark");
        script.push_str(body);
        script.push('\n');
    }
    script
}

/// The README's walk-through, pasted into a shell at the top of the repository while
/// `make run` runs, works: every call answers 2xx (curl fails the script otherwise),
/// the ids each step needs are captured by the steps before it, and what it makes is
/// there afterwards. Only the addresses and keys of this run are put in place of the
/// defaults the README names (port 8080, the key files, target/debug).
#[test]
fn the_readme_walk_through_runs_as_pasted() {
    let mut run = Run::start(&["make", "--no-print-directory", "run"]);
    run.wait_for("cchc is up", Duration::from_secs(120));
    let gateway = format!("http://127.0.0.1:{}", run.port("gateway"));
    let bin = bin_dir().display().to_string();
    let mut script = readme_walk_through();
    for (default, here) in [
        ("$(cat .cchc-bootstrap-token)", format!("'{OFFICE_KEY}'")),
        ("$(cat .cchc-operator-token)", format!("'{OPERATOR_KEY}'")),
        ("http://127.0.0.1:8080", gateway.clone()),
        ("$PWD/target/debug", bin),
    ] {
        assert!(
            script.contains(default),
            "the walk-through no longer says {default}"
        );
        script = script.replace(default, &here);
    }
    let work = tempfile::tempdir().unwrap();
    let path = work.path().join("walk-through.sh");
    std::fs::write(
        &path,
        format!(
            "set -euo pipefail\n\
             trap 'echo \"walk-through failed at line $LINENO: $BASH_COMMAND\" >&2' ERR\n\
             # Any answer but 2xx fails the step, its body shown.\n\
             curl() {{ command curl --fail-with-body --max-time 60 \"$@\"; }}\n\
             {script}\n\
             echo; echo \"unit=$UNIT_ID plan=$PLAN_ID report=$REPORT_ID message=$MESSAGE_ID recipient=$RID\"\n"
        ),
    )
    .unwrap();
    // `cchc` reads its address and key from the environment here (the README's
    // defaults are 8080 and ./.cchc-bootstrap-token).
    let out = Command::new("timeout")
        .args(["600", "bash"])
        .arg(&path)
        .current_dir(work.path())
        .env("CCHC_URL", &gateway)
        .env("CCHC_KEY", OFFICE_KEY)
        .output()
        .expect("bash");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    let all = format!(
        "{stdout}\n{stderr}\n--- the run ---\n{}",
        run.seen.join("\n")
    );
    assert!(out.status.success(), "{}\n{all}", out.status);
    // The public read shows the procedure the walk-through published, half a day's limit.
    assert!(
        stdout.contains(r#""name":"Cấp bản sao văn bằng, chứng chỉ từ sổ gốc""#)
            && stdout.contains(r#""processing_days":0.5"#),
        "{all}"
    );
    // Every captured id is one.
    let ids = stdout.lines().last().unwrap_or("");
    for part in ids.split_whitespace() {
        let (name, id) = part.split_once('=').unwrap();
        assert!(id.len() >= 8, "{name} was not captured: {ids}\n{all}");
    }
    // The report made by the API and by `cchc`, the workbook, and its round trip.
    let docx = std::fs::read(work.path().join("bao-cao.docx")).expect("bao-cao.docx");
    assert!(docx.starts_with(b"PK"), "{all}");
    assert!(work.path().join("danh-muc.xlsx").exists(), "{all}");
    assert!(stdout.contains("unchanged 1"), "{all}");
    // The preview saved nothing: the live template is still the default, version 1.
    let (status, body) = curl(&[
        "-H",
        &format!("Authorization: Bearer {OFFICE_KEY}"),
        &format!("{gateway}/v1/templates?key=procedure_changed"),
    ]);
    assert_eq!(status, "200", "{body}");
    assert!(
        body.contains(r#""version":1"#) && !body.contains(r#""version":2"#),
        "{body}"
    );
    run.signal_group("TERM");
    run.wait_exit(Duration::from_secs(90));
}

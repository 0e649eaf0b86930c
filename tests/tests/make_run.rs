//! `make run` as a supervisor, `timeout` or a person stops it: every signal goes to the
//! whole process group (and make forwards SIGTERM once more), and afterwards nothing it
//! started may still run — above all not its private PostgreSQL, which a later run would
//! otherwise silently reuse with the old data. Runs the already built binaries
//! (`CCHC_SKIP_BUILD`), with private ports and data.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use cchc_e2e::bin_dir;
use cchc_testkit::{free_port, free_ports, workspace_root};

/// The keys the runs are given, so that none writes the repository's key files.
const OFFICE_KEY: &str = "cchc_make_run_test_0123456789";
const OPERATOR_KEY: &str = "cchc_make_run_test_operator_0123456789";

/// A `make run` (or `run.sh`) in its own process group with its own ports and data.
struct Run {
    child: Child,
    dir: tempfile::TempDir,
    ports: Vec<(&'static str, u16)>,
    output: mpsc::Receiver<String>,
    seen: Vec<String>,
}

fn listening(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(300))
        .is_ok()
}

fn alive(pid: u32) -> bool {
    // A zombie has exited; only a running process counts.
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        !s.rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

impl Run {
    fn start(program: &[&str]) -> Self {
        Self::start_with(program, 1)
    }

    /// `replicas` of every service and gateway on a three-node NATS cluster when more
    /// than one (as `make cluster` runs them), each on ports of its own.
    fn start_with(program: &[&str], replicas: u16) -> Self {
        let nodes = if replicas > 1 { 3 } else { 1 };
        let dir = tempfile::tempdir().expect("temporary directory");
        // PostgreSQL runs as its own user, which must reach the data folder.
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        // Replica r is moved 10 ports up from the first's.
        let block = 10 * (replicas - 1) + 5;
        let (pg, nats, gateway, console, grpc, health) = (
            free_port(),
            free_ports(nodes),
            free_ports(replicas),
            free_port(),
            free_ports(block),
            free_ports(block),
        );
        let (routes, monitors) = (free_ports(nodes), free_ports(nodes));
        let mut cmd = Command::new(program[0]);
        cmd.args(&program[1..])
            .current_dir(workspace_root())
            .env_remove("DATABASE_URL")
            .env_remove("NATS_URL")
            .env_remove("CCHC_PROFILE")
            .env_remove("MAKEFLAGS")
            .env("CCHC_SKIP_BUILD", "1")
            .env("CCHC_BIN_DIR", bin_dir())
            .env("CCHC_DATA_DIR", dir.path().join("data"))
            .env("CCHC_PG_DATA", dir.path().join("pg"))
            .env("CCHC_PG_PORT", pg.to_string())
            .env("CCHC_PG_FSYNC", "off")
            .env("CCHC_NATS_PORT", nats.to_string())
            .env("CCHC_GATEWAY_PORT", gateway.to_string())
            .env("CCHC_CONSOLE_PORT", console.to_string())
            .env("CCHC_GRPC_PORT_BASE", grpc.to_string())
            .env("CCHC_HEALTH_PORT_BASE", health.to_string())
            .env("CCHC_BOOTSTRAP_TOKEN", OFFICE_KEY)
            .env("CCHC_OPERATOR_TOKEN", OPERATOR_KEY)
            .env("CCHC_REPLICAS", replicas.to_string())
            .env("CCHC_NATS_NODES", nodes.to_string())
            .env("CCHC_NATS_CLUSTER_PORT", routes.to_string())
            .env("CCHC_NATS_MONITOR_PORT", monitors.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let mut child = cmd.spawn().expect("starting make run");
        let (tx, output) = mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            });
        }
        let mut ports = vec![("postgres", pg), ("console", console)];
        for i in 0..nodes {
            ports.push(("nats", nats + i));
        }
        for r in 0..replicas {
            ports.push(("gateway", gateway + r));
            for i in 1..=4 {
                ports.push(("grpc", grpc + 10 * r + i));
                ports.push(("health", health + 10 * r + i));
            }
        }
        Self {
            child,
            dir,
            ports,
            output,
            seen: Vec::new(),
        }
    }

    fn port(&self, what: &str) -> u16 {
        self.ports
            .iter()
            .find(|(w, _)| *w == what)
            .map(|(_, p)| *p)
            .expect("a port of the run")
    }

    fn pg_data(&self) -> PathBuf {
        self.dir.path().join("pg")
    }

    /// Reads output until a line contains `text`.
    fn wait_for(&mut self, text: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(line) = self.output.recv_timeout(Duration::from_millis(200)) {
                let found = line.contains(text);
                self.seen.push(line);
                if found {
                    return;
                }
            }
        }
        panic!("no {text:?} within {limit:?}:\n{}", self.seen.join("\n"));
    }

    fn signal_group(&self, signal: &str) {
        let status = Command::new("kill")
            .args([
                &format!("-{signal}"),
                "--",
                &format!("-{}", self.child.id()),
            ])
            .status()
            .expect("kill");
        assert!(status.success(), "signalling the process group");
    }

    fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            while let Ok(line) = self.output.try_recv() {
                self.seen.push(line);
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(200));
                while let Ok(line) = self.output.try_recv() {
                    self.seen.push(line);
                }
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "still running after {limit:?}:\n{}",
                self.seen.join("\n")
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Asserts that nothing the run started is still running or listening.
    fn assert_nothing_left(&self, postmaster: u32) {
        let out = self.seen.join("\n");
        assert!(
            !alive(postmaster),
            "the private PostgreSQL (pid {postmaster}) still runs:\n{out}"
        );
        for (what, port) in &self.ports {
            assert!(!listening(*port), "{what} still listens on {port}:\n{out}");
        }
        // A process that was told to exit may need a moment to be reaped.
        let group_alive = || {
            Command::new("kill")
                .args(["-0", "--", &format!("-{}", self.child.id())])
                .stderr(Stdio::null())
                .status()
                .unwrap()
                .success()
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        while group_alive() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        let group = self.child.id().to_string();
        let left: String = Command::new("ps")
            .args(["-eo", "pid=,pgid=,stat=,args="])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
            .lines()
            .filter(|l| l.split_whitespace().nth(1) == Some(group.as_str()))
            .map(|l| format!("{l}\n"))
            .collect();
        assert!(
            !group_alive(),
            "processes of the run are left:\n{left}\n{out}"
        );
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        // A failed test must not leave its servers behind either.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
        let _ = Command::new(workspace_root().join("deploy/local/postgres.sh"))
            .arg("stop")
            .env("CCHC_PG_DATA", self.pg_data())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn postmaster_pid(data: &Path) -> u32 {
    std::fs::read_to_string(data.join("postmaster.pid"))
        .expect("the private PostgreSQL's pid file")
        .lines()
        .next()
        .and_then(|l| l.trim().parse().ok())
        .expect("a pid")
}

/// `curl` with `args`: (status, body).
fn curl(args: &[&str]) -> (String, String) {
    let out = Command::new("curl")
        .args(["-sS", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').unwrap_or(("", ""));
    (status.to_owned(), body.to_owned())
}

impl Run {
    /// The process of this run whose command line contains `args` and, when given,
    /// whose environment holds `env` (a replica is told apart by its address).
    fn pid_of(&self, args: &str, env: Option<&str>) -> u32 {
        let group = self.child.id().to_string();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let in_group = stat
                .rsplit(')')
                .next()
                .and_then(|rest| rest.split_whitespace().nth(2))
                == Some(group.as_str());
            let read = |what: &str| {
                std::fs::read(format!("/proc/{pid}/{what}"))
                    .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
                    .unwrap_or_default()
            };
            if in_group
                && read("cmdline").contains(args)
                && env.is_none_or(|e| read("environ").split(' ').any(|v| v == e))
            {
                return pid;
            }
        }
        panic!("no process of the run runs {args:?} with {env:?}");
    }
}

/// `make cluster`: two replicas of every service and gateway on a three-node NATS
/// cluster. SIGKILL one replica of each service and one NATS node while units write
/// through both gateways: every write is acknowledged once, and a version published
/// through one gateway is read through the other.
#[test]
fn make_cluster_goes_on_when_a_replica_of_each_service_and_a_nats_node_die() {
    let mut run = Run::start_with(&["make", "--no-print-directory", "cluster"], 2);
    run.wait_for("cchc is up", Duration::from_secs(240));
    let gateways =
        [run.port("gateway"), run.port("gateway") + 1].map(|p| format!("http://127.0.0.1:{p}"));
    let auth = format!("Authorization: Bearer {OFFICE_KEY}");
    let json = "Content-Type: application/json";
    let post = |g: &str, path: &str, key: &str, body: &str, idem: Option<&str>| {
        let auth = format!("Authorization: Bearer {key}");
        let mut args = vec!["-X", "POST", "-H", &auth, "-H", json, "-d", body];
        let idem = idem.map(|k| format!("Idempotency-Key: {k}"));
        if let Some(h) = &idem {
            args.extend(["-H", h]);
        }
        let url = format!("{g}{path}");
        args.push(&url);
        curl(&args)
    };
    let (status, unit) = post(
        &gateways[0],
        "/v1/units",
        OFFICE_KEY,
        r#"{"name": "Trường THPT Cụm Máy", "kind": "high_school"}"#,
        None,
    );
    assert_eq!(status, "201", "{unit}");
    let unit: serde_json::Value = serde_json::from_str(&unit).unwrap();
    let path = format!("/v1/units/{}/api-keys", unit["id"].as_str().unwrap());
    let (status, key) = post(&gateways[0], &path, OFFICE_KEY, r#"{"role": "unit"}"#, None);
    assert_eq!(status, "201", "{key}");
    let key: serde_json::Value = serde_json::from_str(&key).unwrap();
    let unit_key = key["key"].as_str().unwrap().to_owned();
    let procedure =
        cchc_e2e::complete_procedure("1.000900.H19", "Cấp bản sao văn bằng").to_string();
    let (status, body) = post(&gateways[1], "/v1/procedures", OFFICE_KEY, &procedure, None);
    assert_eq!(status, "201", "{body}");
    let mut publication = cchc_e2e::publication("2020-02-01");
    let publish = |publication: &serde_json::Value| {
        let (status, body) = post(
            &gateways[1],
            "/v1/procedures/1.000900.H19/publish",
            OFFICE_KEY,
            &publication.to_string(),
            None,
        );
        assert_eq!(status, "200", "{body}");
    };
    publish(&publication);
    let version_at = |g: &str| {
        let (_, body) = curl(&["-H", &auth, &format!("{g}/v1/procedures/1.000900.H19")]);
        serde_json::from_str::<serde_json::Value>(&body).unwrap_or_default()["version"].as_u64()
    };
    assert_eq!(version_at(&gateways[0]), Some(1));
    assert_eq!(version_at(&gateways[0]), Some(1), "kept by gateway 1");

    // Writes through both gateways, each retried with its key until acknowledged.
    const WRITES: usize = 45;
    let write = |i: usize| {
        let body = format!(
            r#"{{"kind": "news_post", "date": "2020-05-01", "title": "cụm {i}", "head_count": 1}}"#
        );
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let (status, body) = post(
                &gateways[i % 2],
                "/v1/activities",
                &unit_key,
                &body,
                Some(&format!("cluster-{i}")),
            );
            if status == "201" {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "write {i} never acknowledged: {status} {body}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    (0..WRITES / 3).for_each(write);
    let nats = run.port("nats");
    let mut killed = vec![run.pid_of(&format!("-p {nats} "), None)];
    let grpc = run.port("grpc") - 1;
    for (i, svc) in ["catalogue", "activity", "notification", "reporting"]
        .iter()
        .enumerate()
    {
        let addr = format!("CCHC_GRPC_ADDR=127.0.0.1:{}", grpc + i as u16 + 1);
        killed.push(run.pid_of(&format!("cchc-{svc}"), Some(&addr)));
    }
    let status = Command::new("kill")
        .arg("-KILL")
        .args(killed.iter().map(u32::to_string))
        .status()
        .unwrap();
    assert!(status.success());
    (WRITES / 3..WRITES).for_each(write);

    // Each write once, in the activity service's answer to the unit.
    let (status, list) = curl(&[
        "-H",
        &format!("Authorization: Bearer {unit_key}"),
        &format!("{}/v1/activities?limit=100", gateways[0]),
    ]);
    assert_eq!(status, "200", "{list}");
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    let mut titles: Vec<&str> = list["activities"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["title"].as_str())
        .filter(|t| t.starts_with("cụm "))
        .collect();
    let all = titles.len();
    titles.sort();
    titles.dedup();
    assert_eq!(
        (all, titles.len()),
        (WRITES, WRITES),
        "acknowledged, once each"
    );

    // A version published through gateway 2 is read through gateway 1 (its copy dropped
    // by the event from the surviving NATS nodes). The first event after the node died
    // may wait for the streams' new leaders and the clients' reconnection (the writes
    // above are acknowledged by PostgreSQL, not NATS, so they can finish sooner); the
    // versions after it travel at the recovered cluster's pace.
    for version in 2..=4 {
        publication["change_type"] = serde_json::json!("amended");
        publish(&publication);
        let published = Instant::now();
        let within = Duration::from_secs(if version == 2 { 30 } else { 5 });
        while version_at(&gateways[0]) != Some(version) {
            assert!(
                published.elapsed() < within,
                "gateway 1 does not show version {version}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!(
            "version {version} read through gateway 1 {:?} after its publication",
            published.elapsed()
        );
    }
    let postmaster = postmaster_pid(&run.pg_data());
    run.signal_group("TERM");
    run.wait_exit(Duration::from_secs(90));
    run.assert_nothing_left(postmaster);
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

//! `make run` and `make cluster` as a person or a supervisor runs them: in a process
//! group of their own, with private ports and data, the already built binaries
//! (`CCHC_SKIP_BUILD`), their output read line by line.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use cchc_testkit::{free_port, free_ports, workspace_root};

use crate::bin_dir;

/// The keys the runs are given, so that none writes the repository's key files.
pub const OFFICE_KEY: &str = "cchc_make_run_test_0123456789";
pub const OPERATOR_KEY: &str = "cchc_make_run_test_operator_0123456789";

/// A `make run` (or `run.sh`) in its own process group with its own ports and data.
pub struct Run {
    pub child: Child,
    pub dir: tempfile::TempDir,
    pub ports: Vec<(&'static str, u16)>,
    pub output: mpsc::Receiver<String>,
    pub seen: Vec<String>,
}

pub fn listening(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(300))
        .is_ok()
}

pub fn alive(pid: u32) -> bool {
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
    pub fn start(program: &[&str]) -> Self {
        Self::start_with(program, 1)
    }

    /// `replicas` of every service and gateway on a three-node NATS cluster when more
    /// than one (as `make cluster` runs them), each on ports of its own.
    pub fn start_with(program: &[&str], replicas: u16) -> Self {
        Self::start_env(program, replicas, &[])
    }

    /// [`Run::start_with`] with more environment for every process it starts.
    pub fn start_env(program: &[&str], replicas: u16, env: &[(&str, &str)]) -> Self {
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
            .envs(env.iter().copied())
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

    pub fn port(&self, what: &str) -> u16 {
        self.ports
            .iter()
            .find(|(w, _)| *w == what)
            .map(|(_, p)| *p)
            .expect("a port of the run")
    }

    pub fn pg_data(&self) -> PathBuf {
        self.dir.path().join("pg")
    }

    /// Reads output until a line contains `text`.
    pub fn wait_for(&mut self, text: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        let mut ended = None;
        while Instant::now() < deadline {
            match self.output.recv_timeout(Duration::from_millis(200)) {
                Ok(line) => {
                    let found = line.contains(text);
                    self.seen.push(line);
                    if found {
                        return;
                    }
                }
                // Its output is all read once it has ended: waiting on says nothing more.
                Err(_) if ended.is_some() => break,
                Err(_) => ended = self.child.try_wait().expect("the run's status"),
            }
        }
        let why = match ended {
            Some(status) => format!("before the run ended ({status})"),
            None => format!("within {limit:?}"),
        };
        panic!("no {text:?} {why}:\n{}", self.seen.join("\n"));
    }

    pub fn signal_group(&self, signal: &str) {
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

    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
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
    pub fn assert_nothing_left(&self, postmaster: u32) {
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

pub fn postmaster_pid(data: &Path) -> u32 {
    std::fs::read_to_string(data.join("postmaster.pid"))
        .expect("the private PostgreSQL's pid file")
        .lines()
        .next()
        .and_then(|l| l.trim().parse().ok())
        .expect("a pid")
}

/// `curl` with `args`: (status, body).
pub fn curl(args: &[&str]) -> (String, String) {
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
    pub fn pid_of(&self, args: &str, env: Option<&str>) -> u32 {
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

/// `make cluster` (two replicas of every service and gateway, three NATS nodes) with
/// the client's view of it: both gateways' addresses and an HTTP client.
pub struct Cluster {
    pub run: Run,
    pub gateways: Vec<String>,
    pub http: reqwest::Client,
}

impl Cluster {
    pub async fn start() -> Self {
        Self::start_env(&[]).await
    }

    /// With more environment for every process (`(variable, value)`).
    pub async fn start_env(env: &[(&str, &str)]) -> Self {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let run = tokio::task::spawn_blocking(move || {
            let env: Vec<(&str, &str)> =
                env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let program = ["make", "--no-print-directory", "cluster"];
            let mut run = Run::start_env(&program, 2, &env);
            run.wait_for("cchc is up", Duration::from_secs(240));
            run
        })
        .await
        .expect("starting make cluster");
        let port = run.port("gateway");
        Self {
            gateways: (port..port + 2)
                .map(|p| format!("http://127.0.0.1:{p}"))
                .collect(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("http client"),
            run,
        }
    }

    /// A service's database in the cluster's PostgreSQL (both replicas share it).
    pub fn database_url(&self, service: &str) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/cchc_{service}?sslmode=disable",
            self.run.port("postgres")
        )
    }

    /// A new unit's key (made with the office key through gateway 1).
    pub async fn unit_key(&self, name: &str) -> String {
        let unit = self
            .office_post(
                0,
                "/v1/units",
                serde_json::json!({"name": name, "kind": "high_school"}),
            )
            .await;
        let path = format!("/v1/units/{}/api-keys", unit["id"].as_str().unwrap());
        let key = self
            .office_post(0, &path, serde_json::json!({"role": "unit"}))
            .await;
        key["key"].as_str().unwrap().to_owned()
    }

    /// `POST path` through gateway `gateway` (0 or 1) with the office key; its answer,
    /// which must be a success.
    pub async fn office_post(
        &self,
        gateway: usize,
        path: &str,
        body: serde_json::Value,
    ) -> serde_json::Value {
        self.http
            .post(format!("{}{path}", self.gateways[gateway]))
            .bearer_auth(OFFICE_KEY)
            .json(&body)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .unwrap_or_else(|e| panic!("POST {path}: {e}"))
            .json()
            .await
            .unwrap_or_default()
    }

    /// The version of procedure `code` a public read through gateway `gateway` answers
    /// (none while it answers anything else).
    pub async fn version_at(&self, gateway: usize, code: &str) -> Option<u64> {
        let r = self
            .http
            .get(format!("{}/v1/procedures/{code}", self.gateways[gateway]))
            .send()
            .await
            .ok()?;
        r.json::<serde_json::Value>().await.ok()?["version"].as_u64()
    }

    /// SIGKILLs these processes of the cluster, as a machine that dies does.
    pub fn sigkill(&self, pids: &[u32]) {
        let status = Command::new("kill")
            .arg("-KILL")
            .args(pids.iter().map(u32::to_string))
            .status()
            .expect("kill");
        assert!(status.success(), "killing {pids:?}");
    }

    /// SIGKILLs NATS node 0 and replica 1 of the four services, and with `gateway` also
    /// gateway 1: one of each, as a machine that dies takes its processes with it.
    pub fn kill_one_of_each(&self, gateway: bool) {
        let mut killed = vec![self.nats_node(0)];
        let grpc = self.run.port("grpc") - 1;
        for (i, svc) in ["catalogue", "activity", "notification", "reporting"]
            .iter()
            .enumerate()
        {
            let addr = format!("CCHC_GRPC_ADDR=127.0.0.1:{}", grpc + i as u16 + 1);
            killed.push(self.run.pid_of(&format!("cchc-{svc}"), Some(&addr)));
        }
        if gateway {
            let addr = format!("CCHC_GATEWAY_ADDR=127.0.0.1:{}", self.run.port("gateway"));
            killed.push(self.run.pid_of("cchc-gateway", Some(&addr)));
        }
        self.sigkill(&killed);
    }

    /// The pid of NATS node `node` (0, 1 or 2).
    pub fn nats_node(&self, node: u16) -> u32 {
        let port = self.run.port("nats") + node;
        self.run.pid_of(&format!("-p {port} "), None)
    }

    /// Stops it as a supervisor does (TERM to its group) and checks nothing is left.
    pub async fn stop(self) {
        let mut run = self.run;
        tokio::task::spawn_blocking(move || {
            let postmaster = postmaster_pid(&run.pg_data());
            run.signal_group("TERM");
            run.wait_exit(Duration::from_secs(90));
            run.assert_nothing_left(postmaster);
        })
        .await
        .expect("stopping make cluster");
    }
}

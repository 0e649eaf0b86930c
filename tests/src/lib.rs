//! Starts the real cchc binaries against a real nats-server and real PostgreSQL, each
//! test with its own NATS store and databases, and talks to the gateway over HTTP.
//! NATS refuses clients without credentials and each binary signs in as its own user
//! (`deploy/nats/auth.conf`), as in `make run` and compose; tests that read the streams
//! connect as `admin` ([`NatsServer::connect`]).
//!
//! The binaries must be built first (`cargo build --bins`; `make test` does it).

pub mod browser;
pub mod chaos;
pub mod fanout;
pub mod load;
pub mod make_run;
pub mod report_bench;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use cchc_testkit::{NatsServer, free_port, unique_database_url};
use serde_json::Value;

/// The secret the gateway signs callers with, in every test system.
pub const INTERNAL_TOKEN: &str = "internal-token-of-the-test-system";

pub const SERVICES: [&str; 4] = ["catalogue", "activity", "notification", "reporting"];

/// Where the built binaries are: beside this executable, or one level up when this is a
/// test binary in `<target>/<profile>/deps`.
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("executable path");
    let dir = exe.parent().expect("executable directory");
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir.parent().expect("target directory").to_path_buf()
    } else {
        dir.to_path_buf()
    }
}

struct Proc {
    child: Option<tokio::process::Child>,
    env: Vec<(String, String)>,
    ready_url: String,
}

/// One running system: NATS, the four services and the gateway.
pub struct System {
    pub nats: NatsServer,
    procs: HashMap<&'static str, Proc>,
    pub gateway: String,
    pub office_key: String,
    /// The first operator key (`CCHC_OPERATOR_TOKEN`).
    pub operator_key: String,
    pub http: reqwest::Client,
    logs: PathBuf,
}

impl System {
    pub async fn start(name: &str) -> Self {
        Self::start_with(name, &[]).await
    }

    /// Starts the system with extra environment for some processes:
    /// `(process, variable, value)`, e.g. `("notification", "CCHC_SMTP_URL", url)`;
    /// process `"*"` means every process.
    pub async fn start_with(name: &str, extra: &[(&str, &str, &str)]) -> Self {
        let nats = NatsServer::start_secured().await;
        let logs = bin_dir()
            .join("e2e-logs")
            .join(format!("{name}-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&logs).expect("log directory");
        let office_key = format!("cchc_test_{}", uuid::Uuid::new_v4().simple());
        let operator_key = format!("cchc_test_op_{}", uuid::Uuid::new_v4().simple());
        let mut procs = HashMap::new();
        let mut urls = Vec::new();
        for svc in SERVICES {
            let (grpc, http) = (free_port(), free_port());
            urls.push((
                format!("CCHC_{}_URL", svc.to_uppercase()),
                format!("http://127.0.0.1:{grpc}"),
            ));
            let env = vec![
                (
                    format!("CCHC_{}_DATABASE_URL", svc.to_uppercase()),
                    unique_database_url(svc),
                ),
                ("NATS_URL".into(), nats.url_for(svc)),
                ("CCHC_GRPC_ADDR".into(), format!("127.0.0.1:{grpc}")),
                ("CCHC_HTTP_ADDR".into(), format!("127.0.0.1:{http}")),
                // The tests' webhook receivers are on loopback, which notification refuses.
                ("CCHC_WEBHOOK_ALLOW_NETWORKS".into(), "127.0.0.1/32".into()),
            ];
            procs.insert(
                svc,
                Proc {
                    child: None,
                    env,
                    ready_url: format!("http://127.0.0.1:{http}/readyz"),
                },
            );
        }
        let port = free_port();
        let mut env = vec![
            (
                "CCHC_GATEWAY_DATABASE_URL".into(),
                unique_database_url("gateway"),
            ),
            ("NATS_URL".into(), nats.url_for("gateway")),
            ("CCHC_GATEWAY_ADDR".into(), format!("127.0.0.1:{port}")),
            ("CCHC_BOOTSTRAP_TOKEN".into(), office_key.clone()),
            ("CCHC_OPERATOR_TOKEN".into(), operator_key.clone()),
        ];
        env.extend(urls);
        let gateway = format!("http://127.0.0.1:{port}");
        procs.insert(
            "gateway",
            Proc {
                child: None,
                env,
                ready_url: format!("{gateway}/readyz"),
            },
        );
        for (process, k, v) in extra {
            let mut matched = false;
            for (_, p) in procs
                .iter_mut()
                .filter(|(name, _)| *process == "*" || **name == *process)
            {
                p.env.push(((*k).to_owned(), (*v).to_owned()));
                matched = true;
            }
            assert!(matched, "no process {process}");
        }
        let mut system = Self {
            nats,
            procs,
            gateway,
            office_key,
            operator_key,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("http client"),
            logs,
        };
        for svc in SERVICES.into_iter().chain(["gateway"]) {
            system.spawn(svc);
        }
        for svc in SERVICES.into_iter().chain(["gateway"]) {
            system.wait_ready(svc).await;
        }
        system
    }

    fn spawn(&mut self, name: &'static str) {
        let p = self.procs.get_mut(name).expect("known process");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.logs.join(format!("{name}.log")))
            .expect("log file");
        let exe = bin_dir().join(format!("cchc-{name}"));
        let child = tokio::process::Command::new(&exe)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("RUST_LOG", "info")
            .env("CCHC_INTERNAL_TOKEN", INTERNAL_TOKEN)
            .envs(p.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::from(log.try_clone().expect("log file")))
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "starting {} failed ({e}); build the binaries with `cargo build --bins`",
                    exe.display()
                )
            });
        p.child = Some(child);
    }

    async fn wait_ready(&mut self, name: &'static str) {
        let url = self.procs[name].ready_url.clone();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(r) = self.http.get(&url).send().await
                && r.status().is_success()
            {
                return;
            }
            if let Some(Ok(Some(status))) = self
                .procs
                .get_mut(name)
                .and_then(|p| p.child.as_mut())
                .map(|c| c.try_wait())
            {
                panic!("{name} exited with {status}; see {}", self.logs.display());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "{name} was not ready within 60 s; see {}",
            self.logs.display()
        );
    }

    /// Starts the console (web pages) against this system's gateway; returns its URL.
    pub async fn start_console(&mut self) -> String {
        let (port, gateway) = (free_port(), self.gateway.clone());
        let url = format!("http://127.0.0.1:{port}");
        self.procs.insert(
            "console",
            Proc {
                child: None,
                env: vec![
                    ("CCHC_CONSOLE_ADDR".into(), format!("127.0.0.1:{port}")),
                    ("CCHC_GATEWAY_URL".into(), gateway),
                ],
                ready_url: format!("{url}/readyz"),
            },
        );
        self.spawn("console");
        self.wait_ready("console").await;
        url
    }

    /// The operating-system process id of a running process.
    pub fn pid(&self, name: &str) -> Option<u32> {
        self.procs.get(name)?.child.as_ref()?.id()
    }

    /// The database URL a process was given (`CCHC_<NAME>_DATABASE_URL`).
    pub fn database_url(&self, name: &str) -> Option<String> {
        let key = format!("CCHC_{}_DATABASE_URL", name.to_uppercase());
        self.procs
            .get(name)?
            .env
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.clone())
    }

    /// The gRPC address of a service ("http://127.0.0.1:port"), to call it directly.
    pub fn grpc_url(&self, name: &str) -> Option<String> {
        let addr = self
            .procs
            .get(name)?
            .env
            .iter()
            .find(|(k, _)| k == "CCHC_GRPC_ADDR")?
            .1
            .clone();
        Some(format!("http://{addr}"))
    }

    /// Log lines in which NATS refused a process an operation: each is a permission
    /// `deploy/nats/auth.conf` lacks (a consumer or stream it does not know of).
    pub fn nats_refusals(&self) -> Vec<String> {
        let mut out = Vec::new();
        for name in self.procs.keys() {
            let log =
                std::fs::read_to_string(self.logs.join(format!("{name}.log"))).unwrap_or_default();
            out.extend(
                log.lines()
                    .filter(|l| l.contains("Permissions Violation"))
                    .map(|l| format!("{name}: {l}")),
            );
        }
        out
    }

    /// The `/readyz` address of a process, to ask it directly what it reports.
    pub fn ready_url(&self, name: &str) -> Option<String> {
        Some(self.procs.get(name)?.ready_url.clone())
    }

    /// The names of every process of the system.
    pub fn names(&self) -> Vec<&'static str> {
        let mut v: Vec<&'static str> = self.procs.keys().copied().collect();
        v.sort();
        v
    }

    /// SIGKILL one process, as a crash would.
    pub async fn kill(&mut self, name: &'static str) {
        if let Some(mut c) = self.procs.get_mut(name).and_then(|p| p.child.take()) {
            let _ = c.kill().await;
        }
    }

    /// Starts a killed process again with the same configuration and waits until ready.
    pub async fn restart(&mut self, name: &'static str) {
        self.kill(name).await;
        self.spawn(name);
        self.wait_ready(name).await;
    }

    /// SIGTERM every process and wait for each to exit; returns each exit status.
    pub async fn stop(mut self) -> Vec<(&'static str, Option<i32>)> {
        let mut out = Vec::new();
        for (name, p) in self.procs.iter_mut() {
            if let Some(c) = &p.child
                && let Some(pid) = c.id()
            {
                let _ = std::process::Command::new("kill")
                    .args(["-TERM", &pid.to_string()])
                    .status();
            }
            if let Some(mut c) = p.child.take() {
                let status = tokio::time::timeout(Duration::from_secs(20), c.wait()).await;
                out.push((
                    *name,
                    status.ok().and_then(|s| s.ok()).and_then(|s| s.code()),
                ));
            }
        }
        out
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.gateway)
    }

    /// Sends a request; returns the status and the JSON body (Null when empty).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        key: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut req = self.http.request(method, self.url(path));
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let res = req.send().await.expect("gateway answers");
        let status = res.status().as_u16();
        let text = res.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str, key: Option<&str>) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, key, None).await
    }

    pub async fn post(&self, path: &str, key: Option<&str>, body: &Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, key, Some(body))
            .await
    }

    /// The gateway's `/metrics`, as text.
    pub async fn metrics(&self) -> String {
        let res = self.http.get(self.url("/metrics")).send().await.unwrap();
        res.text().await.unwrap()
    }

    /// Creates a unit of `kind` and issues it a key of `role`; returns (unit id, key).
    /// Creates a complete procedure `code` and publishes it as version 1, effective
    /// 1 February 2020, with the office's key.
    pub async fn published(&self, code: &str, name: &str) {
        let office = Some(self.office_key.as_str());
        let (s, r) = self
            .post("/v1/procedures", office, &complete_procedure(code, name))
            .await;
        assert_eq!(s, 201, "{r}");
        let (s, r) = self
            .post(
                &format!("/v1/procedures/{code}/publish"),
                office,
                &publication("2020-02-01"),
            )
            .await;
        assert_eq!(s, 200, "{r}");
    }

    pub async fn unit_with_key(&self, name: &str, kind: &str, role: &str) -> (String, String) {
        let (s, unit) = self
            .post(
                "/v1/units",
                Some(&self.office_key),
                &serde_json::json!({"name": name, "kind": kind}),
            )
            .await;
        assert_eq!(s, 201, "{unit}");
        let id = unit["id"].as_str().expect("unit id").to_owned();
        let (s, key) = self
            .post(
                &format!("/v1/units/{id}/api-keys"),
                Some(&self.office_key),
                &serde_json::json!({"role": role}),
            )
            .await;
        assert_eq!(s, 201, "{key}");
        (id, key["key"].as_str().expect("key shown once").to_owned())
    }

    /// A person of unit `unit` in `role`, invited by the office, their password set from
    /// the one-time link (opened from the gateway's event as the notification service
    /// opens it) and signed in; returns (user id, session token).
    pub async fn person(
        &self,
        unit: &str,
        role: &str,
        name: &str,
        email: &str,
    ) -> (String, String) {
        let (id, password) = self.person_with_password(unit, role, name, email).await;
        let (s, r) = self
            .post(
                "/v1/sessions",
                None,
                &serde_json::json!({"email": email, "password": password}),
            )
            .await;
        assert_eq!(s, 201, "{r}");
        (id, r["token"].as_str().expect("session token").to_owned())
    }

    /// Like [`System::person`], without signing in: returns (user id, password).
    pub async fn person_with_password(
        &self,
        unit: &str,
        role: &str,
        name: &str,
        email: &str,
    ) -> (String, String) {
        use cchc_proto::events::v1::{AccountLinkIssued, Envelope};
        use prost::Message;
        let inviter = if role == "operator" {
            &self.operator_key
        } else {
            &self.office_key
        };
        let (s, user) = self
            .post(
                "/v1/users",
                Some(inviter),
                &serde_json::json!({"name": name, "email": email, "unit_id": unit, "role": role}),
            )
            .await;
        assert_eq!(s, 201, "{user}");
        let db = sqlx::PgPool::connect(&self.database_url("gateway").expect("gateway database"))
            .await
            .expect("gateway database");
        let bodies: Vec<Vec<u8>> = sqlx::query_scalar(
            "SELECT body FROM cchc_outbox WHERE subject = 'cchc.gateway.account_link_issued.v1' ORDER BY created_at DESC",
        )
        .fetch_all(&db)
        .await
        .expect("the gateway's outbox");
        db.close().await;
        let link = bodies
            .iter()
            .map(|b| {
                let env = Envelope::decode(b.as_slice()).expect("an envelope");
                AccountLinkIssued::decode(env.payload.as_slice()).expect("a link event")
            })
            .find(|e| e.email == email.to_lowercase())
            .map(|e| {
                cchc_platform::CallerKey::new(INTERNAL_TOKEN)
                    .open("account-link", &e.sealed_link)
                    .expect("sealed with the internal key")
            })
            .expect("a link for the invited person");
        let link = String::from_utf8(link).expect("a link is text");
        let token = link.split("token=").nth(1).expect("a token in the link");
        let password = format!("sen nở {} ao làng", uuid::Uuid::new_v4().simple());
        let (s, r) = self
            .post(
                "/v1/account/password",
                None,
                &serde_json::json!({"token": token, "password": password}),
            )
            .await;
        assert_eq!(s, 200, "{r}");
        (user["id"].as_str().expect("user id").to_owned(), password)
    }

    /// Polls `f` until it returns `Some`, for at most `secs` seconds.
    pub async fn eventually<T, F, Fut>(&self, secs: u64, what: &str, mut f: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(v) = f().await {
                return v;
            }
            if Instant::now() > deadline {
                panic!(
                    "{what} did not happen within {secs} s; logs in {}",
                    self.logs.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A procedure record complete enough to publish.
pub fn complete_procedure(code: &str, name: &str) -> Value {
    serde_json::json!({
        "code": code,
        "content": {
            "name": name,
            "level": "province",
            "field": "Văn bằng, chứng chỉ",
            "implementing_agency": "Sở Giáo dục và Đào tạo",
            "applicants": ["Cá nhân"],
            "steps": ["Nộp hồ sơ tại Bộ phận một cửa", "Xử lý hồ sơ", "Trả kết quả"],
            "submission_channels": ["in_person", "online", "post"],
            "dossier": [{"name": "Đơn đề nghị", "originals": 1, "copies": 0, "required": true}],
            "processing_days": 5,
            "result": "Bản sao văn bằng",
            "fees": [{"channel": "in_person", "amount_vnd": 0}],
            "legal_basis": ["Nghị định số 23/2015/NĐ-CP"]
        }
    })
}

pub fn publication(effective_date: &str) -> Value {
    serde_json::json!({
        "decision": {"number": "1234/QĐ-UBND", "date": "2020-01-15", "signer": "Phó Chủ tịch UBND"},
        "change_type": "new",
        "effective_date": effective_date
    })
}

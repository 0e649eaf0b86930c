//! Test support against real parts: a `nats-server` process with JetStream per test
//! (its store deleted on drop), a fresh PostgreSQL database per test, a real SMTP server
//! ([`mail::SmtpSink`]) and a real webhook receiver ([`webhook::WebhookReceiver`]).
//!
//! `CCHC_NATS_SERVER` names the nats-server binary (default: the project's
//! `.tools/bin/nats-server`, then `PATH`); `CCHC_TEST_DATABASE_URL` names a server where
//! tests may create databases (`make test` provides both).

pub mod mail;
pub mod webhook;

pub use mail::{ReceivedMail, SmtpSink};
pub use webhook::WebhookReceiver;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use sqlx::{Connection, PgConnection};

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root exists")
}

/// A port free at the time of asking.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

pub fn nats_server_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("CCHC_NATS_SERVER") {
        return p.into();
    }
    let local = workspace_root().join(".tools/bin/nats-server");
    if local.exists() {
        local
    } else {
        "nats-server".into()
    }
}

/// A running nats-server with JetStream on a private port and store.
pub struct NatsServer {
    child: Option<tokio::process::Child>,
    port: u16,
    store: tempfile::TempDir,
}

impl NatsServer {
    pub async fn start() -> Self {
        let store = tempfile::tempdir().expect("temporary directory");
        let mut s = Self {
            child: None,
            port: free_port(),
            store,
        };
        s.spawn().await;
        s
    }

    async fn spawn(&mut self) {
        let child = tokio::process::Command::new(nats_server_bin())
            .args([
                "-js",
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-sd",
            ])
            .arg(self.store.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "starting {} failed ({e}); run `make tools` or set CCHC_NATS_SERVER",
                    nats_server_bin().display()
                )
            });
        self.child = Some(child);
        wait_for_port(self.port).await;
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// SIGKILL, as a crash would.
    pub async fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill().await;
        }
    }

    /// Starts again on the same port and store.
    pub async fn restart(&mut self) {
        self.kill().await;
        self.spawn().await;
    }
}

/// Waits until something listens on `port` (at most 20 s).
pub async fn wait_for_port(port: u16) {
    for _ in 0..400 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("nothing listens on port {port}");
}

/// The server URL tests create databases on.
pub fn admin_database_url() -> String {
    std::env::var("CCHC_TEST_DATABASE_URL")
        .or_else(|_| std::env::var("DATABASE_URL"))
        .expect("CCHC_TEST_DATABASE_URL is not set; run tests with `make test`")
}

/// `url` with its database replaced (the services' own rule).
fn with_database(url: &str, db: &str) -> String {
    cchc_platform::db::with_database(url, db).expect("a postgres:// URL")
}

/// A URL naming a database that does not exist yet (services create their own).
pub fn unique_database_url(prefix: &str) -> String {
    let name = format!("t_{prefix}_{}", uuid::Uuid::new_v4().simple());
    with_database(&admin_database_url(), &name)
}

/// A freshly created, empty database.
pub async fn fresh_database(prefix: &str) -> String {
    let url = unique_database_url(prefix);
    let name = url
        .rsplit('/')
        .next()
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let mut admin = PgConnection::connect(&with_database(&admin_database_url(), "postgres"))
        .await
        .expect("connecting to the test PostgreSQL server");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut admin)
        .await
        .expect("creating a test database");
    url
}

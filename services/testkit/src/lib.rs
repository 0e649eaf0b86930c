//! Test support against real parts: a `nats-server` process with JetStream per test
//! (its store deleted on drop) with the users and permissions of `deploy/nats/auth.conf`,
//! a fresh PostgreSQL database per test, a real SMTP server ([`mail::SmtpSink`]) and a
//! real webhook receiver ([`webhook::WebhookReceiver`]).
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
/// A loopback port for a test's server to bind. Taken below Linux's ephemeral range
/// (32768–60999): a port the kernel hands out there is free again as soon as it is
/// checked, and an outgoing connection of the browser or a client could take it before
/// the server binds. Ports are handed out in turn across the test processes through a
/// locked counter file, so two tests starting together never choose the same one.
pub fn free_port() -> u16 {
    free_ports(1)
}

/// `n` consecutive free loopback ports, the first returned (for a server that takes
/// a base port and the ones after it), reserved as [`free_port`] reserves one.
pub fn free_ports(count: u16) -> u16 {
    use std::io::{Read, Seek, SeekFrom, Write};
    const FIRST: u32 = 20_000;
    const COUNT: u32 = 12_000;
    let block = u32::from(count.max(1));
    let path = std::env::temp_dir().join("cchc-test-ports");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .expect("the test ports' counter file");
    file.lock().expect("locking the test ports' counter");
    let mut text = String::new();
    let _ = file.read_to_string(&mut text);
    // The next free block after the last one handed out (wrapping round the range).
    let mut next: u32 = text
        .trim()
        .parse()
        .unwrap_or_else(|_| std::process::id() % COUNT);
    for _ in 0..COUNT {
        if next + block > COUNT {
            next = 0;
        }
        let port = (FIRST + next) as u16;
        let free = (0..block as u16).all(|i| TcpListener::bind(("127.0.0.1", port + i)).is_ok());
        next += block;
        if free {
            file.seek(SeekFrom::Start(0))
                .expect("rewinding the counter");
            file.set_len(0).expect("clearing the counter");
            write!(file, "{next}").expect("writing the counter");
            return port;
        }
    }
    panic!(
        "no free loopback ports from {FIRST} to {}",
        FIRST + COUNT - 1
    )
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

/// The users of `deploy/nats/auth.conf`: one per service, plus `admin` (everything).
pub const NATS_USERS: [&str; 6] = [
    "admin",
    "gateway",
    "catalogue",
    "activity",
    "notification",
    "reporting",
];

/// The permissions `make run` and compose give NATS, compiled in so every test server
/// runs with exactly them.
const NATS_AUTH_CONF: &str = include_str!("../../../deploy/nats/auth.conf");

/// A running nats-server with JetStream on a private port and store, with the users and
/// permissions of `deploy/nats/auth.conf` and fresh passwords.
pub struct NatsServer {
    child: Option<tokio::process::Child>,
    port: u16,
    store: tempfile::TempDir,
    passwords: Vec<(&'static str, String)>,
    anonymous_is_admin: bool,
}

impl NatsServer {
    /// A server where a client without credentials acts as `admin`, so tests of one
    /// service in process can connect with plain `async_nats::connect(url)`. The
    /// services' own users are there too ([`NatsServer::url_for`]).
    pub async fn start() -> Self {
        Self::start_with(true).await
    }

    /// A server that refuses clients without credentials, as `make run` and compose do:
    /// the system tests run every binary against it with its own user.
    pub async fn start_secured() -> Self {
        Self::start_with(false).await
    }

    async fn start_with(anonymous_is_admin: bool) -> Self {
        let store = tempfile::tempdir().expect("temporary directory");
        let passwords = NATS_USERS
            .iter()
            .map(|u| (*u, uuid::Uuid::new_v4().simple().to_string()))
            .collect();
        let conf = store.path().join("conf");
        std::fs::create_dir_all(&conf).expect("config directory");
        std::fs::write(conf.join("auth.conf"), NATS_AUTH_CONF).expect("writing auth.conf");
        let mut main = String::from("include \"auth.conf\"\n");
        if anonymous_is_admin {
            main.push_str("no_auth_user: admin\n");
        }
        std::fs::write(conf.join("nats.conf"), main).expect("writing nats.conf");
        let mut s = Self {
            child: None,
            port: free_port(),
            store,
            passwords,
            anonymous_is_admin,
        };
        s.spawn().await;
        s
    }

    async fn spawn(&mut self) {
        let dir = self.store.path();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("nats.log"))
            .expect("nats log file");
        let child = tokio::process::Command::new(nats_server_bin())
            .arg("-c")
            .arg(dir.join("conf/nats.conf"))
            .args([
                "-js",
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-sd",
            ])
            .arg(dir.join("js"))
            .envs(
                self.passwords
                    .iter()
                    .map(|(u, p)| (password_variable(u), p)),
            )
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "starting {} failed ({e}); run `make tools` or set CCHC_NATS_SERVER",
                    nats_server_bin().display()
                )
            });
        self.child = Some(child);
        if !port_answers_within(self.port, Duration::from_secs(20)).await {
            let log = std::fs::read_to_string(dir.join("nats.log")).unwrap_or_default();
            panic!("nats-server did not start on port {}:\n{log}", self.port);
        }
    }

    /// The URL of the `admin` user (credentials in it). With [`NatsServer::start`] a plain
    /// `async_nats::connect` of it works too (it ignores URL credentials, and anonymous
    /// clients act as `admin` there); services and [`NatsServer::connect`] sign in.
    pub fn url(&self) -> String {
        self.url_for("admin")
    }

    /// The URL of one user of `deploy/nats/auth.conf`, e.g. `url_for("catalogue")`.
    pub fn url_for(&self, user: &str) -> String {
        format!(
            "nats://{user}:{}@127.0.0.1:{}",
            self.password(user),
            self.port
        )
    }

    /// The URL without credentials, as an outsider would use it.
    pub fn anonymous_url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn password(&self, user: &str) -> &str {
        self.passwords
            .iter()
            .find(|(u, _)| *u == user)
            .map(|(_, p)| p.as_str())
            .unwrap_or_else(|| panic!("no NATS user {user} in deploy/nats/auth.conf"))
    }

    /// Whether a client without credentials is let in (as `admin`).
    pub fn anonymous_is_admin(&self) -> bool {
        self.anonymous_is_admin
    }

    /// A client signed in as `admin`.
    pub async fn connect(&self) -> async_nats::Client {
        self.connect_as("admin").await.expect("connecting as admin")
    }

    /// A client signed in as `user`, with that user's inbox.
    pub async fn connect_as(&self, user: &str) -> anyhow::Result<async_nats::Client> {
        cchc_platform::nats::connect_once(&self.url_for(user)).await
    }

    /// SIGKILL, as a crash would.
    pub async fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill().await;
        }
    }

    /// Starts again on the same port, store and passwords.
    pub async fn restart(&mut self) {
        self.kill().await;
        self.spawn().await;
    }
}

/// The environment variable `deploy/nats/auth.conf` reads `user`'s password from.
pub fn password_variable(user: &str) -> String {
    format!("CCHC_NATS_{}_PASSWORD", user.to_uppercase())
}

async fn port_answers_within(port: u16, limit: Duration) -> bool {
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
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

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
/// permissions of `deploy/nats/auth.conf` and fresh passwords; or a cluster of them
/// ([`NatsServer::start_cluster`]), each node with its own port and store.
pub struct NatsServer {
    children: Vec<Option<tokio::process::Child>>,
    ports: Vec<u16>,
    /// The nodes' route ports, when a cluster.
    routes: Vec<u16>,
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

    /// A secured cluster of `nodes` servers routed to each other (JetStream clustered:
    /// streams may keep replicas on several nodes). Returns once JetStream has a leader.
    pub async fn start_cluster(nodes: usize) -> Self {
        let mut s = Self::prepare(false);
        s.ports = (0..nodes).map(|_| free_port()).collect();
        s.routes = (0..nodes).map(|_| free_port()).collect();
        s.children = (0..nodes).map(|_| None).collect();
        for node in 0..nodes {
            s.spawn(node).await;
        }
        let js = async_nats::jetstream::new(s.connect().await);
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while js.query_account().await.is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "the NATS cluster elected no JetStream leader in 30 s"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        s
    }

    async fn start_with(anonymous_is_admin: bool) -> Self {
        let mut s = Self::prepare(anonymous_is_admin);
        s.spawn(0).await;
        s
    }

    fn prepare(anonymous_is_admin: bool) -> Self {
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
        Self {
            children: vec![None],
            ports: vec![free_port()],
            routes: Vec::new(),
            store,
            passwords,
            anonymous_is_admin,
        }
    }

    async fn spawn(&mut self, node: usize) {
        let dir = self.store.path();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(format!("nats-{node}.log")))
            .expect("nats log file");
        let mut cmd = tokio::process::Command::new(nats_server_bin());
        cmd.arg("-c")
            .arg(dir.join("conf/nats.conf"))
            .args([
                "-js",
                "-a",
                "127.0.0.1",
                "-p",
                &self.ports[node].to_string(),
                "-n",
                &format!("node-{node}"),
                "-sd",
            ])
            .arg(dir.join(format!("js-{node}")));
        if !self.routes.is_empty() {
            let others: Vec<String> = (self.routes.iter().enumerate())
                .filter(|(i, _)| *i != node)
                .map(|(_, p)| format!("nats://127.0.0.1:{p}"))
                .collect();
            cmd.args([
                "--cluster_name",
                "cchc",
                "--cluster",
                &format!("nats://127.0.0.1:{}", self.routes[node]),
                "--routes",
                &others.join(","),
            ]);
        }
        let child = cmd
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
        self.children[node] = Some(child);
        let port = self.ports[node];
        if !port_answers_within(port, Duration::from_secs(20)).await {
            let log =
                std::fs::read_to_string(dir.join(format!("nats-{node}.log"))).unwrap_or_default();
            panic!("nats-server did not start on port {port}:\n{log}");
        }
    }

    /// The URL of the `admin` user (credentials in it). With [`NatsServer::start`] a plain
    /// `async_nats::connect` of it works too (it ignores URL credentials, and anonymous
    /// clients act as `admin` there); services and [`NatsServer::connect`] sign in.
    pub fn url(&self) -> String {
        self.url_for("admin")
    }

    /// The URL of one user of `deploy/nats/auth.conf`, e.g. `url_for("catalogue")`.
    /// A cluster's URL lists every node, separated by commas.
    pub fn url_for(&self, user: &str) -> String {
        let password = self.password(user);
        let urls: Vec<String> = (self.ports.iter())
            .map(|port| format!("nats://{user}:{password}@127.0.0.1:{port}"))
            .collect();
        urls.join(",")
    }

    /// The URL without credentials, as an outsider would use it (the first node's).
    pub fn anonymous_url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.ports[0])
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

    /// SIGKILL of every node, as a crash would.
    pub async fn kill(&mut self) {
        for node in 0..self.children.len() {
            self.kill_node(node).await;
        }
    }

    /// Starts every node again on the same ports, stores and passwords.
    pub async fn restart(&mut self) {
        self.kill().await;
        for node in 0..self.children.len() {
            self.spawn(node).await;
        }
    }

    /// SIGKILL of one node of a cluster.
    pub async fn kill_node(&mut self, node: usize) {
        if let Some(mut c) = self.children[node].take() {
            let _ = c.kill().await;
        }
    }

    /// Starts one node again, on its port and store.
    pub async fn restart_node(&mut self, node: usize) {
        self.kill_node(node).await;
        self.spawn(node).await;
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

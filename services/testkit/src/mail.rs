//! A real SMTP server for tests: `aiosmtpd` (installed into `.tools/py` by
//! `deploy/local/tools.sh`) on a free loopback port, storing what it receives in a
//! maildir that the test reads back, headers decoded the way a mail client would.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::{free_port, wait_for_port, workspace_root};

/// Where aiosmtpd is installed: `CCHC_PY_TOOLS`, else the project's `.tools/py`.
pub fn python_tools() -> PathBuf {
    std::env::var_os("CCHC_PY_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".tools/py"))
}

/// One message as received.
#[derive(Debug, Clone, Deserialize)]
pub struct ReceivedMail {
    pub message_id: String,
    pub from: String,
    pub to: Vec<String>,
    /// The Subject header decoded (RFC 2047), as a reader sees it.
    pub subject: String,
    /// The Subject header as it travelled.
    pub raw_subject: String,
    pub content_type: String,
    pub text: String,
    pub html: String,
}

/// A running SMTP server that keeps every message it accepts.
pub struct SmtpSink {
    child: Option<tokio::process::Child>,
    port: u16,
    dir: tempfile::TempDir,
}

// Reads the maildir with Python's own e-mail parser and prints one JSON object per message.
const READ_MAILDIR: &str = r#"
import json, mailbox, re, sys
from email import policy
from email.parser import BytesParser
box = mailbox.Maildir(sys.argv[1], factory=None, create=False)
# Keys are "<seconds>.M<microseconds>P<pid>Q<counter>.<host>", the microseconds not
# zero-padded: as text they do not sort in arrival order.
def arrival(key):
    m = re.match(r"(\d+)\.M(\d+)P(\d+)Q(\d+)", key)
    return tuple(int(g) for g in m.groups()) if m else (0, 0, 0, 0)
out = []
for key in sorted(box.keys(), key=lambda k: (arrival(k), k)):
    raw = box.get_bytes(key)
    m = BytesParser(policy=policy.default).parsebytes(raw)
    raw_m = BytesParser(policy=policy.compat32).parsebytes(raw)
    text = m.get_body(preferencelist=("plain",))
    html = m.get_body(preferencelist=("html",))
    out.append({
        "message_id": str(m["Message-ID"] or ""),
        "from": str(m["From"] or ""),
        "to": [str(a) for a in (m["To"].addresses if m["To"] else [])],
        "subject": str(m["Subject"] or ""),
        "raw_subject": str(raw_m["Subject"] or ""),
        "content_type": m.get_content_type(),
        "text": text.get_content() if text is not None else "",
        "html": html.get_content() if html is not None else "",
    })
print(json.dumps(out))
"#;

impl SmtpSink {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let port = free_port();
        let tools = python_tools();
        assert!(
            tools.join("aiosmtpd").exists(),
            "aiosmtpd is not installed in {}; run `make tools`",
            tools.display()
        );
        let child = tokio::process::Command::new("python3")
            .env("PYTHONPATH", &tools)
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(dir.path().join("maildir"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("starting python3 -m aiosmtpd");
        wait_for_port(port).await;
        Self {
            child: Some(child),
            port,
            dir,
        }
    }

    /// The URL the notification service is given (`CCHC_SMTP_URL`).
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received so far, in arrival order.
    pub async fn messages(&self) -> Vec<ReceivedMail> {
        let maildir = self.dir.path().join("maildir");
        if !maildir.join("new").exists() {
            return Vec::new();
        }
        let out = tokio::process::Command::new("python3")
            .arg("-c")
            .arg(READ_MAILDIR)
            .arg(&maildir)
            .output()
            .await
            .expect("python3 reads the maildir");
        assert!(
            out.status.success(),
            "reading the maildir failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("the reader prints JSON")
    }

    /// Waits until at least `n` messages arrived (at most `secs` seconds).
    pub async fn wait_for(&self, n: usize, secs: u64) -> Vec<ReceivedMail> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let m = self.messages().await;
            if m.len() >= n {
                return m;
            }
            assert!(
                Instant::now() < deadline,
                "{n} e-mails did not arrive within {secs} s; {} did",
                m.len()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops the server (connections are then refused), keeping what it received.
    pub async fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill().await;
        }
    }
}

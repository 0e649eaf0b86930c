//! A real headless Chromium, driven over WebDriver (Debian's `chromium` and
//! `chromium-driver`, which `.ci/run` installs), for the console's pages. Missing
//! browsers fail the test: a browser test that skips proves nothing.

use std::path::PathBuf;
use std::process::Stdio;

use cchc_testkit::{free_port, wait_for_port};
use fantoccini::{Client, ClientBuilder, Locator};

/// `CCHC_CHROMEDRIVER` / `CCHC_CHROMIUM`, or Debian's paths.
fn tool(var: &str, default: &str) -> PathBuf {
    let p = std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default));
    assert!(
        p.exists(),
        "{} is missing: install Debian's chromium and chromium-driver (`.ci/run` does), or set {var}",
        p.display()
    );
    p
}

pub struct Browser {
    pub client: Client,
    _driver: tokio::process::Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// A fresh browser (empty profile) `width` CSS pixels wide.
    pub async fn start(width: u32) -> Self {
        let driver = tool("CCHC_CHROMEDRIVER", "/usr/bin/chromedriver");
        let chromium = tool("CCHC_CHROMIUM", "/usr/bin/chromium");
        let port = free_port();
        let child = tokio::process::Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("starting chromedriver");
        wait_for_port(port).await;
        let profile = tempfile::tempdir().expect("a browser profile");
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": chromium,
                // Headless, as root in CI, and with nothing that reaches out of this
                // machine (its network is closed).
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--lang=vi",
                    format!("--user-data-dir={}", profile.path().display()),
                    format!("--window-size={width},900"),
                ],
                // A browser set up in Vietnamese, as the Department's people have.
                "prefs": {"intl.accept_languages": "vi-VN,vi"},
            }),
        );
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a WebDriver session in Chromium");
        Self {
            client,
            _driver: child,
            _profile: profile,
        }
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("navigating");
    }

    /// The visible text of the page.
    pub async fn text(&self) -> String {
        self.client
            .find(Locator::Css("body"))
            .await
            .expect("a body")
            .text()
            .await
            .expect("the body's text")
    }

    /// The visible text of the element `#id`.
    pub async fn text_of(&self, id: &str) -> String {
        self.client
            .find(Locator::Id(id))
            .await
            .unwrap_or_else(|e| panic!("no #{id} on the page: {e}"))
            .text()
            .await
            .expect("the element's text")
    }

    /// The value of the input `#id`.
    pub async fn value_of(&self, id: &str) -> String {
        self.client
            .find(Locator::Id(id))
            .await
            .unwrap_or_else(|e| panic!("no field #{id}: {e}"))
            .prop("value")
            .await
            .expect("the field's value")
            .unwrap_or_default()
    }

    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.expect("the URL");
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        }
    }

    /// Types `value` into the field `#id` (cleared first).
    pub async fn fill(&self, id: &str, value: &str) {
        let e = self
            .client
            .find(Locator::Id(id))
            .await
            .unwrap_or_else(|e| panic!("no field #{id}: {e}"));
        e.clear().await.expect("clearing a field");
        e.send_keys(value).await.expect("typing");
    }

    /// Picks the option `value` of the select `#id`.
    pub async fn select(&self, id: &str, value: &str) {
        let e = self
            .client
            .find(Locator::Id(id))
            .await
            .unwrap_or_else(|e| panic!("no select #{id}: {e}"));
        e.select_by_value(value).await.expect("choosing an option");
    }

    /// Clicks the first element matching `css` and waits for the page it leads to (a
    /// click returns before the next document has loaded).
    pub async fn click(&self, css: &str) {
        self.client
            .execute("window.__cchc_before_click = true;", vec![])
            .await
            .expect("marking the page");
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("nothing matches {css}: {e}"))
            .click()
            .await
            .expect("clicking");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let loaded = self
                .client
                .execute(
                    "return window.__cchc_before_click === undefined && document.readyState === 'complete';",
                    vec![],
                )
                .await
                .ok()
                .and_then(|v| v.as_bool())
                .unwrap_or(false);
            if loaded {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "clicking {css} led to no new page"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// The value of the browser's cookie `name`.
    pub async fn cookie(&self, name: &str) -> Option<String> {
        self.client
            .get_named_cookie(name)
            .await
            .ok()
            .map(|c| c.value().to_owned())
    }

    /// A download at `url` (a file the browser would save), fetched as this browser's
    /// signed-in person: checked to be `content_type` and an attachment, its bytes.
    pub async fn download(&self, url: &str, content_type: &str) -> Vec<u8> {
        let cookie = self
            .cookie("cchc_session")
            .await
            .expect("a signed-in session");
        let answer = reqwest::Client::new()
            .get(url)
            .header("cookie", format!("cchc_session={cookie}"))
            .send()
            .await
            .expect("the download answers");
        assert_eq!(answer.status(), 200, "{url}");
        let headers = answer.headers();
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .contains(content_type),
            "{headers:?}"
        );
        assert!(headers.contains_key("content-disposition"), "{headers:?}");
        answer.bytes().await.expect("the file").to_vec()
    }

    /// Saves a PNG of the page to `dir/name.png`.
    pub async fn screenshot(&self, dir: &std::path::Path, name: &str) {
        let png = self.client.screenshot().await.expect("a screenshot");
        std::fs::create_dir_all(dir).expect("the screenshot folder");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("writing a screenshot");
    }

    /// The page printed to PDF on A4 paper, as the browser's print command does.
    pub async fn print_a4(&self) -> Vec<u8> {
        let config = fantoccini::wd::PrintConfiguration::builder()
            .size(fantoccini::wd::PrintSize::A4)
            .build()
            .expect("a print configuration");
        self.client.print(config).await.expect("printing to PDF")
    }

    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}

//! The gateway's HTTP API, as the console calls it on a person's behalf: the person's
//! session travels as the gateway's own cookie, so every write needs the CSRF token the
//! page's form carried, and the gateway itself refuses a write without it.

use reqwest::Method;
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// The gateway's session cookie; the console keeps the same one on its own origin.
pub const SESSION_COOKIE: &str = "cchc_session";

#[derive(Clone)]
pub struct Gateway {
    http: reqwest::Client,
    base: String,
}

/// Who a call is made for: the person's session and the form's CSRF token (writes), and
/// the browser's address (the gateway throttles sign-in failures per address).
#[derive(Clone, Copy, Default)]
pub struct On<'a> {
    pub session: Option<&'a str>,
    pub csrf: Option<&'a str>,
    pub client: Option<&'a str>,
}

/// One field's refusal, as the gateway names it.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct FieldError {
    pub field: String,
    /// The rule broken, by its stable code; said in Vietnamese by [`crate::text`].
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub params: std::collections::BTreeMap<String, String>,
    pub message: String,
}

/// A problem+json answer, or the gateway out of reach (status 0).
#[derive(Debug, Clone, Deserialize, Default)]
pub struct Problem {
    /// The problem type's URL; its last segment names the rule (`unit-ended`, …).
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub status: u16,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub detail: String,
    #[serde(default)]
    pub errors: Vec<FieldError>,
}

/// A file as the gateway served it.
pub struct Download {
    pub content_type: String,
    pub disposition: String,
    pub bytes: Vec<u8>,
}

impl Problem {
    /// The problem type's last segment: `unit-ended` of `…/problems/unit-ended`.
    pub fn slug(&self) -> &str {
        self.kind.rsplit('/').next().unwrap_or("")
    }

    fn unreachable(e: impl std::fmt::Display) -> Self {
        tracing::warn!(error = %e, "the gateway is out of reach");
        Self {
            kind: String::new(),
            status: 0,
            title: "unreachable".into(),
            detail: e.to_string(),
            errors: Vec::new(),
        }
    }
}

impl Gateway {
    pub fn new(base: &str) -> Self {
        Self {
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .build()
                .expect("an HTTP client"),
            base: base.trim_end_matches('/').to_owned(),
        }
    }

    async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        on: On<'_>,
        body: Option<&serde_json::Value>,
    ) -> Result<T, Problem> {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(s) = on.session {
            req = req.header(reqwest::header::COOKIE, format!("{SESSION_COOKIE}={s}"));
        }
        if let Some(c) = on.csrf {
            req = req.header("x-csrf-token", c);
        }
        if let Some(a) = on.client {
            req = req.header("x-forwarded-for", a);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let res = req.send().await.map_err(Problem::unreachable)?;
        let status = res.status().as_u16();
        let bytes = res.bytes().await.map_err(Problem::unreachable)?;
        if (200..300).contains(&status) {
            let text: &[u8] = if bytes.is_empty() { b"null" } else { &bytes };
            return serde_json::from_slice(text).map_err(Problem::unreachable);
        }
        let mut p: Problem = serde_json::from_slice(&bytes).unwrap_or_default();
        p.status = status;
        Err(p)
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str, on: On<'_>) -> Result<T, Problem> {
        self.send(Method::GET, path, on, None).await
    }

    pub async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        on: On<'_>,
        body: &serde_json::Value,
    ) -> Result<T, Problem> {
        self.send(Method::POST, path, on, Some(body)).await
    }

    pub async fn put<T: DeserializeOwned>(
        &self,
        path: &str,
        on: On<'_>,
        body: &serde_json::Value,
    ) -> Result<T, Problem> {
        self.send(Method::PUT, path, on, Some(body)).await
    }

    pub async fn delete(&self, path: &str, on: On<'_>) -> Result<(), Problem> {
        self.send::<serde_json::Value>(Method::DELETE, path, on, None)
            .await
            .map(|_| ())
    }

    /// A file the gateway serves (a report's export): its type, its name for saving
    /// and its bytes.
    pub async fn download(&self, path: &str, on: On<'_>) -> Result<Download, Problem> {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(s) = on.session {
            req = req.header(reqwest::header::COOKIE, format!("{SESSION_COOKIE}={s}"));
        }
        let res = req.send().await.map_err(Problem::unreachable)?;
        let status = res.status().as_u16();
        let header = |name| {
            res.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        let content_type = header(reqwest::header::CONTENT_TYPE);
        let disposition = header(reqwest::header::CONTENT_DISPOSITION);
        let bytes = res.bytes().await.map_err(Problem::unreachable)?;
        if !(200..300).contains(&status) {
            let mut p: Problem = serde_json::from_slice(&bytes).unwrap_or_default();
            p.status = status;
            return Err(p);
        }
        Ok(Download {
            content_type,
            disposition,
            bytes: bytes.to_vec(),
        })
    }

    /// Whether the gateway is ready (the console's own readiness).
    pub async fn ready(&self) -> Result<(), String> {
        let res = self
            .http
            .get(format!("{}/readyz", self.base))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if res.status().is_success() {
            Ok(())
        } else {
            Err(format!("the gateway answers {}", res.status()))
        }
    }
}

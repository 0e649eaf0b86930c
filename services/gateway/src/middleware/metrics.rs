//! Request metrics in the Prometheus text format: counts by route, method and status,
//! and a latency histogram by route.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Default)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

#[derive(Default)]
struct Inner {
    requests: BTreeMap<(String, String, u16), u64>,
    latency: BTreeMap<(String, String), Histogram>,
}

/// Shared by the middleware (which records) and `/metrics` (which renders).
#[derive(Clone, Default)]
pub struct Metrics(Arc<Mutex<Inner>>);

impl Metrics {
    fn record(&self, route: String, method: String, status: u16, seconds: f64) {
        let mut m = self.0.lock().expect("metrics lock");
        *m.requests
            .entry((route.clone(), method.clone(), status))
            .or_default() += 1;
        let h = m.latency.entry((route, method)).or_default();
        if h.counts.is_empty() {
            h.counts = vec![0; BUCKETS.len()];
        }
        for (i, b) in BUCKETS.iter().enumerate() {
            if seconds <= *b {
                h.counts[i] += 1;
            }
        }
        h.sum += seconds;
        h.count += 1;
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let m = self.0.lock().expect("metrics lock");
        let mut out = String::new();
        out.push_str("# HELP cchc_http_requests_total HTTP requests answered, by route, method and status.\n");
        out.push_str("# TYPE cchc_http_requests_total counter\n");
        for ((route, method, status), n) in &m.requests {
            out.push_str(&format!("cchc_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {n}\n"));
        }
        out.push_str(
            "# HELP cchc_http_errors_total HTTP requests answered with a 5xx status, by route.\n",
        );
        out.push_str("# TYPE cchc_http_errors_total counter\n");
        let mut errors: BTreeMap<(&str, &str), u64> = BTreeMap::new();
        for ((route, method, status), n) in &m.requests {
            if *status >= 500 {
                *errors.entry((route, method)).or_default() += n;
            }
        }
        for ((route, method), n) in errors {
            out.push_str(&format!(
                "cchc_http_errors_total{{route=\"{route}\",method=\"{method}\"}} {n}\n"
            ));
        }
        out.push_str(
            "# HELP cchc_http_request_duration_seconds Time to answer HTTP requests, by route.\n",
        );
        out.push_str("# TYPE cchc_http_request_duration_seconds histogram\n");
        for ((route, method), h) in &m.latency {
            for (b, n) in BUCKETS.iter().zip(&h.counts) {
                out.push_str(&format!(
                    "cchc_http_request_duration_seconds_bucket{{route=\"{route}\",method=\"{method}\",le=\"{b}\"}} {n}\n"
                ));
            }
            out.push_str(&format!(
                "cchc_http_request_duration_seconds_bucket{{route=\"{route}\",method=\"{method}\",le=\"+Inf\"}} {}\n",
                h.count
            ));
            out.push_str(&format!("cchc_http_request_duration_seconds_sum{{route=\"{route}\",method=\"{method}\"}} {}\n", h.sum));
            out.push_str(&format!("cchc_http_request_duration_seconds_count{{route=\"{route}\",method=\"{method}\"}} {}\n", h.count));
        }
        out
    }
}

pub async fn record(State(metrics): State<Metrics>, req: Request, next: Next) -> Response {
    let route = super::route_of(&req);
    let method = req.method().to_string();
    let start = Instant::now();
    let res = next.run(req).await;
    metrics.record(
        route,
        method,
        res.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histograms() {
        let m = Metrics::default();
        m.record("/v1/units".into(), "GET".into(), 200, 0.003);
        m.record("/v1/units".into(), "GET".into(), 503, 0.2);
        let text = m.render();
        assert!(text.contains(
            "cchc_http_requests_total{route=\"/v1/units\",method=\"GET\",status=\"200\"} 1"
        ));
        assert!(text.contains("cchc_http_errors_total{route=\"/v1/units\",method=\"GET\"} 1"));
        assert!(text.contains("cchc_http_request_duration_seconds_bucket{route=\"/v1/units\",method=\"GET\",le=\"0.005\"} 1"));
        assert!(text.contains(
            "cchc_http_request_duration_seconds_count{route=\"/v1/units\",method=\"GET\"} 2"
        ));
    }
}

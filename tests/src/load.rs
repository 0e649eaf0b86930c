//! A small load generator: closed-loop (N workers, each sends its next request when
//! the previous one answers) and open-loop (requests start on a fixed schedule whatever
//! the answers do, and latency counts from the scheduled start, so stalls are not
//! hidden). Both are bounded in time and count.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Latency figures of one run.
#[derive(Debug, Clone)]
pub struct Stats {
    pub requests: usize,
    pub errors: usize,
    pub seconds: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Stats {
    pub fn rate(&self) -> f64 {
        self.requests as f64 / self.seconds
    }

    /// Figures from latencies in microseconds.
    pub fn from_micros(mut micros: Vec<u64>, errors: usize, elapsed: Duration) -> Self {
        micros.sort_unstable();
        let pct = |p: f64| {
            if micros.is_empty() {
                0.0
            } else {
                micros[((micros.len() - 1) as f64 * p).round() as usize] as f64 / 1000.0
            }
        };
        Stats {
            requests: micros.len(),
            errors,
            seconds: elapsed.as_secs_f64(),
            p50_ms: pct(0.50),
            p90_ms: pct(0.90),
            p99_ms: pct(0.99),
            max_ms: micros.last().copied().unwrap_or(0) as f64 / 1000.0,
        }
    }
}

/// `workers` loops, each calling `op(i)` back to back for `duration`.
pub async fn closed_loop<F, Fut>(workers: usize, duration: Duration, op: F) -> Stats
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send,
{
    let op = Arc::new(op);
    let start = Instant::now();
    let mut handles = Vec::new();
    for w in 0..workers {
        let op = op.clone();
        handles.push(tokio::spawn(async move {
            let (mut lat, mut errors, mut i) = (Vec::new(), 0, w);
            while start.elapsed() < duration {
                let t = Instant::now();
                if op(i).await {
                    lat.push(t.elapsed().as_micros() as u64);
                } else {
                    errors += 1;
                }
                i += workers;
            }
            (lat, errors)
        }));
    }
    let (mut all, mut errors) = (Vec::new(), 0);
    for h in handles {
        let (l, e) = h.await.expect("worker");
        all.extend(l);
        errors += e;
    }
    Stats::from_micros(all, errors, start.elapsed())
}

/// Starts `op(i)` at `rate` per second for `duration`; each latency runs from the
/// request's scheduled time.
pub async fn open_loop<F, Fut>(rate: f64, duration: Duration, op: F) -> Stats
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send + 'static,
{
    let op = Arc::new(op);
    let total = (rate * duration.as_secs_f64()) as usize;
    let start = Instant::now();
    let mut handles = Vec::with_capacity(total);
    for i in 0..total {
        let due = start + Duration::from_secs_f64(i as f64 / rate);
        tokio::time::sleep_until(due.into()).await;
        let op = op.clone();
        handles.push(tokio::spawn(async move {
            let ok = op(i).await;
            (ok, due.elapsed().as_micros() as u64)
        }));
    }
    let (mut all, mut errors) = (Vec::new(), 0);
    for h in handles {
        let (ok, l) = h.await.expect("request task");
        if ok {
            all.push(l);
        } else {
            errors += 1;
        }
    }
    Stats::from_micros(all, errors, start.elapsed())
}

/// Resident memory of a process in MiB (Linux).
pub fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let s = Stats::from_micros(
            (1..=100).map(|v| v * 1000).collect(),
            2,
            Duration::from_secs(2),
        );
        assert_eq!((s.requests, s.errors), (100, 2));
        assert_eq!(s.p50_ms, 51.0);
        assert_eq!(s.p99_ms, 99.0);
        assert_eq!(s.max_ms, 100.0);
        assert_eq!(s.rate(), 50.0);
    }
}

//! The service's counters, rendered as Prometheus text (version 0.0.4):
//! requests by endpoint and status, latency histograms by endpoint,
//! decisions (identities evaluated), reloads by outcome, and the policy
//! hash being served.
//!
//! It only counts: it never decides anything and never blocks a request
//! for longer than one uncontended lock.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
pub const LATENCY_BUCKETS: [f64; 12] = [0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.1, 0.5, 2.5, 10.0];

/// A latency histogram.
#[derive(Debug, Default, Clone)]
struct Histogram {
    buckets: [u64; LATENCY_BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// The service's metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    latency: Mutex<BTreeMap<&'static str, Histogram>>,
    decisions: AtomicU64,
    reloads_ok: AtomicU64,
    reloads_failed: AtomicU64,
}

impl Metrics {
    /// Counts a request to `endpoint` answered with `status` after `elapsed`.
    pub fn request(&self, endpoint: &'static str, status: u16, elapsed: Duration) {
        if let Ok(mut requests) = self.requests.lock() {
            *requests.entry((endpoint, status)).or_default() += 1;
        }
        let seconds = elapsed.as_secs_f64();
        if let Ok(mut latency) = self.latency.lock() {
            let h = latency.entry(endpoint).or_default();
            if let Some(i) = LATENCY_BUCKETS.iter().position(|b| seconds <= *b) {
                h.buckets[i] += 1;
            }
            h.count += 1;
            h.sum += seconds;
        }
    }

    /// Counts `n` identities evaluated.
    pub fn decisions(&self, n: u64) {
        self.decisions.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts a reload.
    pub fn reload(&self, ok: bool) {
        if ok { &self.reloads_ok } else { &self.reloads_failed }.fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition, with the policy hash served.
    pub fn render(&self, policy_sha256: &str) -> String {
        let mut out = String::new();
        out.push_str("# HELP entitle_requests_total HTTP requests answered, by endpoint and status.\n");
        out.push_str("# TYPE entitle_requests_total counter\n");
        if let Ok(requests) = self.requests.lock() {
            for ((endpoint, status), n) in requests.iter() {
                let _ = writeln!(out, "entitle_requests_total{{endpoint=\"{endpoint}\",status=\"{status}\"}} {n}");
            }
        }
        out.push_str("# HELP entitle_request_duration_seconds Time from a request's arrival to its answer, by endpoint.\n");
        out.push_str("# TYPE entitle_request_duration_seconds histogram\n");
        if let Ok(latency) = self.latency.lock() {
            for (endpoint, h) in latency.iter() {
                let mut cumulative = 0;
                for (bound, n) in LATENCY_BUCKETS.iter().zip(h.buckets) {
                    cumulative += n;
                    let _ = writeln!(
                        out,
                        "entitle_request_duration_seconds_bucket{{endpoint=\"{endpoint}\",le=\"{bound}\"}} {cumulative}"
                    );
                }
                let _ = writeln!(
                    out,
                    "entitle_request_duration_seconds_bucket{{endpoint=\"{endpoint}\",le=\"+Inf\"}} {}",
                    h.count
                );
                let _ = writeln!(out, "entitle_request_duration_seconds_sum{{endpoint=\"{endpoint}\"}} {}", h.sum);
                let _ = writeln!(out, "entitle_request_duration_seconds_count{{endpoint=\"{endpoint}\"}} {}", h.count);
            }
        }
        out.push_str("# HELP entitle_decisions_total Identities evaluated.\n# TYPE entitle_decisions_total counter\n");
        let _ = writeln!(out, "entitle_decisions_total {}", self.decisions.load(Ordering::Relaxed));
        out.push_str("# HELP entitle_reloads_total Reloads of the definitions, by result.\n# TYPE entitle_reloads_total counter\n");
        let _ = writeln!(
            out,
            "entitle_reloads_total{{result=\"ok\"}} {}",
            self.reloads_ok.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "entitle_reloads_total{{result=\"failed\"}} {}",
            self.reloads_failed.load(Ordering::Relaxed)
        );
        out.push_str("# HELP entitle_policy_info The policy being served (its SHA-256 as a label).\n# TYPE entitle_policy_info gauge\n");
        let _ = writeln!(out, "entitle_policy_info{{policy_sha256=\"{policy_sha256}\"}} 1");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_buckets_are_cumulative() {
        let m = Metrics::default();
        m.request("desired", 200, Duration::from_micros(300));
        m.request("desired", 200, Duration::from_millis(3));
        m.request("desired", 400, Duration::from_micros(50));
        m.decisions(5);
        m.reload(false);
        let text = m.render("abc");
        assert!(
            text.contains("entitle_requests_total{endpoint=\"desired\",status=\"200\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("entitle_requests_total{endpoint=\"desired\",status=\"400\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("entitle_request_duration_seconds_bucket{endpoint=\"desired\",le=\"0.0005\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("entitle_request_duration_seconds_bucket{endpoint=\"desired\",le=\"0.005\"} 3\n"),
            "{text}"
        );
        assert!(text.contains("entitle_decisions_total 5\n"), "{text}");
        assert!(text.contains("entitle_reloads_total{result=\"failed\"} 1\n"), "{text}");
        assert!(text.contains("entitle_policy_info{policy_sha256=\"abc\"} 1\n"), "{text}");
    }
}

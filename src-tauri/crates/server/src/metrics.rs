//! Counters for `/metrics`, in Prometheus text format.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Metrics {
    /// Requests by route pattern, then status.
    requests: Mutex<BTreeMap<String, BTreeMap<u16, u64>>>,
    pub device_flows_started: AtomicU64,
    pub device_flows_approved: AtomicU64,
    pub device_flows_denied: AtomicU64,
    pub device_flows_redeemed: AtomicU64,
    pub tokens_issued: AtomicU64,
    pub tokens_revoked: AtomicU64,
    /// Connections answered 503 at the connection cap.
    pub connections_refused: AtomicU64,
    /// Event streams and long polls refused at a per-token or per-address cap.
    pub holds_refused: AtomicU64,
}

impl Metrics {
    pub fn request(&self, route: &str, status: u16) {
        let mut map = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        // Allocates only for a route's first request.
        let by_status = match map.get_mut(route) {
            Some(by_status) => by_status,
            None => map.entry(route.to_string()).or_default(),
        };
        *by_status.entry(status).or_default() += 1;
    }

    pub fn inc(counter: &AtomicU64, by: u64) {
        counter.fetch_add(by, Ordering::Relaxed);
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP devauth_http_requests_total HTTP requests by route and status.\n");
        out.push_str("# TYPE devauth_http_requests_total counter\n");
        let map = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        for (route, by_status) in map.iter() {
            let route = route.replace('\\', "\\\\").replace('"', "\\\"");
            for (status, count) in by_status {
                let _ = writeln!(
                    out,
                    "devauth_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {count}"
                );
            }
        }
        drop(map);
        let counters = [
            (
                "devauth_device_flows_started_total",
                "Device authorizations started.",
                &self.device_flows_started,
            ),
            (
                "devauth_device_flows_approved_total",
                "Device authorizations approved.",
                &self.device_flows_approved,
            ),
            (
                "devauth_device_flows_denied_total",
                "Device authorizations denied.",
                &self.device_flows_denied,
            ),
            (
                "devauth_device_flows_redeemed_total",
                "Device codes exchanged for a token.",
                &self.device_flows_redeemed,
            ),
            (
                "devauth_tokens_issued_total",
                "Tokens issued (device, personal, service, rotation).",
                &self.tokens_issued,
            ),
            (
                "devauth_tokens_revoked_total",
                "Tokens revoked.",
                &self.tokens_revoked,
            ),
            (
                "devauth_connections_refused_total",
                "Connections turned away at the connection cap (DEVAUTH_MAX_CONNECTIONS).",
                &self.connections_refused,
            ),
            (
                "devauth_holds_refused_total",
                "Event streams and long polls refused at a per-token or per-address cap.",
                &self.holds_refused,
            ),
        ];
        for (name, help, value) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                value.load(Ordering::Relaxed)
            );
        }
        out
    }
}

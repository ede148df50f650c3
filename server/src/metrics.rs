//! Prometheus metrics. [`Metrics`] lives in `AppState`; recording is a few relaxed atomic adds
//! (no lock, no allocation per request): route labels are the OpenAPI templates, fixed at
//! start, and statuses fall into a fixed table. The text format is written by hand.
//!
//! What feeds it:
//! - [`track`], a middleware around the whole app: requests by route template and status,
//!   latency histograms (time to the response head; streamed bodies are not included),
//!   requests and uploads in flight;
//! - [`CountingAcceptor`], wrapped around the HTTP listener: bytes in and out on the wire;
//! - other protocols call [`Metrics::add_bytes`] (`Proto::Ftp`, `Direction::In/Out`) and hold
//!   a [`Metrics::ftp_session`] / [`Metrics::upload`] guard while a session or upload lasts;
//! - logins and bans are counted from the audit events ([`crate::audit::AuditCounters`]);
//! - the resource figures come from the latest [`crate::stats::Snapshot`].

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::IoSlice;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use poem::Response;
use poem::listener::Acceptor;
use poem::web::{LocalAddr, RemoteAddr};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::files::Proto;

/// Direction of transferred bytes, seen from Nook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Received by Nook (uploads, requests).
    In,
    /// Sent by Nook (downloads, responses).
    Out,
}

/// Status codes with a series of their own; anything else is counted as `other`.
const STATUSES: &[u16] = &[
    101, 200, 201, 204, 206, 207, 301, 302, 304, 307, 308, 400, 401, 403, 404, 405, 406, 409, 412, 413, 415, 416, 422,
    429, 500, 501, 502, 503, 504, 507,
];
/// Histogram bucket bounds in seconds.
const BUCKETS: &[f64] = &[0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Route labels for requests that are no API operation.
const DOCS: &str = "docs";
const WEB: &str = "web";
const UNKNOWN: &str = "unknown";

struct RouteStats {
    label: String,
    statuses: Vec<AtomicU64>,
    buckets: Vec<AtomicU64>,
    sum_micros: AtomicU64,
    count: AtomicU64,
}

impl RouteStats {
    fn new(label: String) -> Self {
        Self {
            label,
            statuses: (0..=STATUSES.len()).map(|_| AtomicU64::new(0)).collect(),
            buckets: (0..=BUCKETS.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_micros: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }
}

/// Counters and gauges, shared by every request and protocol.
pub struct Metrics {
    routes: Vec<RouteStats>,
    index: HashMap<String, usize>,
    uploads: Vec<bool>,
    /// `[http in, http out, ftp in, ftp out]`
    bytes: [AtomicU64; 6],
    in_flight: AtomicI64,
    uploads_in_flight: AtomicI64,
    ftp_sessions: AtomicI64,
}

/// Decrements a gauge when dropped.
pub struct GaugeGuard<'a>(&'a AtomicI64);

impl Drop for GaugeGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Metrics {
    /// `routes`: every operation template (the OpenAPI paths); `uploads`: those whose body is
    /// an upload.
    pub fn new(routes: impl IntoIterator<Item = String>, uploads: &[&str]) -> Self {
        let mut labels: Vec<String> = routes.into_iter().collect();
        labels.sort();
        labels.dedup();
        labels.extend([DOCS, WEB, UNKNOWN].map(String::from));
        let index = labels.iter().enumerate().map(|(i, l)| (l.clone(), i)).collect();
        let is_upload = labels.iter().map(|l| uploads.contains(&l.as_str())).collect();
        Self {
            routes: labels.into_iter().map(RouteStats::new).collect(),
            index,
            uploads: is_upload,
            bytes: Default::default(),
            in_flight: AtomicI64::new(0),
            uploads_in_flight: AtomicI64::new(0),
            ftp_sessions: AtomicI64::new(0),
        }
    }

    fn label_index(&self, label: &str) -> usize {
        self.index.get(label).copied().unwrap_or(self.routes.len() - 1)
    }

    /// Counts `n` bytes transferred over `proto` in `dir`.
    #[inline]
    pub fn add_bytes(&self, proto: Proto, dir: Direction, n: u64) {
        let i = bytes_slot(proto, dir);
        self.bytes[i].fetch_add(n, Ordering::Relaxed);
    }

    /// Bytes transferred so far over `proto` in `dir`.
    pub fn bytes(&self, proto: Proto, dir: Direction) -> u64 {
        let i = bytes_slot(proto, dir);
        self.bytes[i].load(Ordering::Relaxed)
    }

    /// Counts an upload in flight until the guard is dropped (FTP STOR calls this; HTTP
    /// uploads are counted by the middleware).
    pub fn upload(&self) -> GaugeGuard<'_> {
        self.uploads_in_flight.fetch_add(1, Ordering::Relaxed);
        GaugeGuard(&self.uploads_in_flight)
    }

    /// Counts an FTP session until the guard is dropped.
    pub fn ftp_session(&self) -> GaugeGuard<'_> {
        self.ftp_sessions.fetch_add(1, Ordering::Relaxed);
        GaugeGuard(&self.ftp_sessions)
    }

    fn observe(&self, route: usize, status: u16, elapsed: Duration) {
        let Some(r) = self.routes.get(route) else { return };
        let s = STATUSES.iter().position(|c| *c == status).unwrap_or(STATUSES.len());
        r.statuses[s].fetch_add(1, Ordering::Relaxed);
        let secs = elapsed.as_secs_f64();
        let b = BUCKETS.iter().position(|le| secs <= *le).unwrap_or(BUCKETS.len());
        r.buckets[b].fetch_add(1, Ordering::Relaxed);
        r.sum_micros.fetch_add(u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX), Ordering::Relaxed);
        r.count.fetch_add(1, Ordering::Relaxed);
    }

    /// The whole exposition in Prometheus text format 0.0.4.
    pub fn render(&self, from: Sources<'_>) -> String {
        let mut o = String::with_capacity(16 * 1024);
        let started = from.started_at;
        header(&mut o, "nook_build_info", "gauge", "Version, git commit and build date of the running binary.");
        let _ = writeln!(
            o,
            "nook_build_info{{version=\"{}\",commit=\"{}\",build_date=\"{}\"}} 1",
            escape(env!("CARGO_PKG_VERSION")),
            escape(env!("NOOK_GIT_COMMIT")),
            escape(env!("NOOK_BUILD_DATE"))
        );
        header(&mut o, "nook_start_time_seconds", "gauge", "When this process started serving (Unix time).");
        let _ = writeln!(o, "nook_start_time_seconds {started}");

        header(&mut o, "nook_http_requests_total", "counter", "HTTP requests by route template and status.");
        for r in &self.routes {
            for (i, c) in r.statuses.iter().enumerate() {
                let n = c.load(Ordering::Relaxed);
                if n == 0 {
                    continue;
                }
                let status = STATUSES.get(i).map_or_else(|| "other".to_string(), u16::to_string);
                let _ =
                    writeln!(o, "nook_http_requests_total{{route=\"{}\",status=\"{status}\"}} {n}", escape(&r.label));
            }
        }
        header(
            &mut o,
            "nook_http_request_duration_seconds",
            "histogram",
            "Time from request to response head, by route template.",
        );
        for r in &self.routes {
            let count = r.count.load(Ordering::Relaxed);
            if count == 0 {
                continue;
            }
            let label = escape(&r.label);
            let mut cumulative = 0;
            for (i, le) in BUCKETS.iter().enumerate() {
                cumulative += r.buckets[i].load(Ordering::Relaxed);
                let _ = writeln!(
                    o,
                    "nook_http_request_duration_seconds_bucket{{route=\"{label}\",le=\"{le}\"}} {cumulative}"
                );
            }
            let _ = writeln!(o, "nook_http_request_duration_seconds_bucket{{route=\"{label}\",le=\"+Inf\"}} {count}");
            let sum = r.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
            let _ = writeln!(o, "nook_http_request_duration_seconds_sum{{route=\"{label}\"}} {sum}");
            let _ = writeln!(o, "nook_http_request_duration_seconds_count{{route=\"{label}\"}} {count}");
        }
        gauge(
            &mut o,
            "nook_http_requests_in_flight",
            "HTTP requests being handled.",
            self.in_flight.load(Ordering::Relaxed),
        );
        gauge(
            &mut o,
            "nook_uploads_in_flight",
            "Uploads being received (HTTP and FTP).",
            self.uploads_in_flight.load(Ordering::Relaxed),
        );
        gauge(&mut o, "nook_ftp_sessions", "Open FTP sessions.", self.ftp_sessions.load(Ordering::Relaxed));

        header(&mut o, "nook_transfer_bytes_total", "counter", "Bytes transferred by protocol and direction.");
        for p in [Proto::Http, Proto::Ftp, Proto::WebDav] {
            let proto = p.as_str();
            for (dir, d) in [("in", Direction::In), ("out", Direction::Out)] {
                let _ = writeln!(
                    o,
                    "nook_transfer_bytes_total{{proto=\"{proto}\",direction=\"{dir}\"}} {}",
                    self.bytes(p, d)
                );
            }
        }

        let c = from.audit;
        header(&mut o, "nook_logins_total", "counter", "Logins by outcome (all protocols).");
        for (outcome, n) in [("ok", &c.logins_ok), ("failed", &c.logins_failed), ("banned", &c.logins_banned)] {
            let _ = writeln!(o, "nook_logins_total{{outcome=\"{outcome}\"}} {}", n.load(Ordering::Relaxed));
        }
        header(&mut o, "nook_bans_total", "counter", "IP addresses banned for failed logins.");
        let _ = writeln!(o, "nook_bans_total {}", c.bans.load(Ordering::Relaxed));
        header(
            &mut o,
            "nook_audit_dropped_total",
            "counter",
            "Audit events dropped: the writer fell too far behind, or the database still refused them at a stop.",
        );
        let _ = writeln!(o, "nook_audit_dropped_total {}", c.dropped.load(Ordering::Relaxed));

        if let Some(s) = from.stats {
            render_snapshot(&mut o, s);
        }
        o
    }
}

/// What the exposition reports besides the counters kept here.
pub struct Sources<'a> {
    /// When this process started serving (Unix time).
    pub started_at: i64,
    pub audit: &'a crate::audit::AuditCounters,
    /// The latest system sample, once there is one.
    pub stats: Option<&'a crate::stats::Snapshot>,
}

fn render_snapshot(o: &mut String, s: &crate::stats::Snapshot) {
    let g = |o: &mut String, name: &str, help: &str, v: f64| {
        header(o, name, "gauge", help);
        let _ = writeln!(o, "{name} {v}");
    };
    g(o, "nook_cpu_usage_percent", "Busy share of all CPUs over the last sample interval.", f64::from(s.cpu));
    g(o, "nook_cpus", "Logical CPUs.", f64::from(s.cpu_count));
    g(o, "nook_memory_total_bytes", "Total memory.", s.memory_total as f64);
    g(o, "nook_memory_used_bytes", "Memory in use (total - available).", s.memory_used as f64);
    g(o, "nook_swap_total_bytes", "Total swap.", s.swap_total as f64);
    g(o, "nook_swap_used_bytes", "Swap in use.", s.swap_used as f64);
    g(o, "nook_storage_total_bytes", "Size of the storage root's file system.", s.disk_total as f64);
    g(o, "nook_storage_used_bytes", "Bytes in use on the storage root's file system.", s.disk_used as f64);
    g(o, "nook_storage_available_bytes", "Bytes available on the storage root's file system.", s.disk_available as f64);
    header(o, "nook_load_average", "gauge", "System load average.");
    for (period, v) in [("1m", s.load_average.one), ("5m", s.load_average.five), ("15m", s.load_average.fifteen)] {
        let _ = writeln!(o, "nook_load_average{{period=\"{period}\"}} {v}");
    }
    g(o, "nook_process_resident_memory_bytes", "Nook's resident memory.", s.process_rss as f64);
    g(o, "nook_process_cpu_percent", "Nook's CPU use, percent of one CPU.", f64::from(s.process_cpu));
    g(
        o,
        "nook_network_receive_bytes_per_second",
        "Bytes received per second, all interfaces but loopback.",
        s.network.rx_bytes_per_sec as f64,
    );
    g(
        o,
        "nook_network_transmit_bytes_per_second",
        "Bytes sent per second, all interfaces but loopback.",
        s.network.tx_bytes_per_sec as f64,
    );
    g(o, "nook_system_uptime_seconds", "Seconds since the machine booted.", s.uptime as f64);
    if let Some(c) = &s.cgroup {
        if let Some(l) = c.memory_limit {
            g(o, "nook_cgroup_memory_limit_bytes", "Memory limit of Nook's control group.", l as f64);
        }
        if let Some(l) = c.cpu_limit {
            g(o, "nook_cgroup_cpu_limit", "CPU limit of Nook's control group, in CPUs.", l);
        }
    }
}

fn header(o: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn gauge(o: &mut String, name: &str, help: &str, v: i64) {
    header(o, name, "gauge", help);
    let _ = writeln!(o, "{name} {v}");
}

/// Escapes a label value (`\`, `"` and newlines).
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

impl Metrics {
    /// Counts one request under its route `label` (see [`label_for`]) while `call` runs: in
    /// flight (and as an upload in flight when it writes to an upload route), then its status
    /// and latency.
    pub async fn track_call<F>(&self, label: &str, is_write: bool, call: F) -> poem::Result<Response>
    where
        F: std::future::Future<Output = poem::Result<Response>>,
    {
        let route = self.label_index(label);
        let is_upload = self.uploads.get(route).copied().unwrap_or(false) && is_write;
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        let _in_flight = GaugeGuard(&self.in_flight);
        let _upload = is_upload.then(|| self.upload());
        let start = Instant::now();
        let result = call.await;
        let status = match &result {
            Ok(r) => r.status(),
            Err(e) => e.status(),
        };
        self.observe(route, status.as_u16(), start.elapsed());
        result
    }
}

/// The route label of a request to `path`, given its API route template if it has one.
pub fn label_for<'a>(template: Option<&'a str>, path: &str) -> &'a str {
    match template {
        Some(t) => t,
        None if path == "/api/openapi.json" || path == "/api/docs" || path.starts_with("/api/docs/") => DOCS,
        None if path == "/api" || path.starts_with("/api/") => UNKNOWN,
        None => WEB,
    }
}

/// Wraps the HTTP listener so every byte read and written on a connection is counted, and
/// turns Nagle's algorithm off on each connection (see [`Tune`]).
pub struct CountingAcceptor<A> {
    inner: A,
    metrics: Arc<Metrics>,
}

impl<A> CountingAcceptor<A> {
    pub fn new(inner: A, metrics: Arc<Metrics>) -> Self {
        Self { inner, metrics }
    }
}

/// Socket options set on every accepted HTTP connection.
pub trait Tune {
    fn tune(&self);
}

impl Tune for tokio::net::TcpStream {
    /// `TCP_NODELAY`: a response whose last segment is small (most JSON answers, any small
    /// file) otherwise waits for the client's delayed ACK on a kept-alive connection — tens of
    /// milliseconds per request, or a few dozen requests per second on one connection.
    fn tune(&self) {
        if let Err(e) = self.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    }
}

impl<A: Acceptor> Acceptor for CountingAcceptor<A>
where
    A::Io: Tune,
{
    type Io = CountingIo<A::Io>;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.inner.local_addr()
    }

    async fn accept(&mut self) -> std::io::Result<(Self::Io, LocalAddr, RemoteAddr, poem::http::uri::Scheme)> {
        let (io, local, remote, scheme) = self.inner.accept().await?;
        io.tune();
        Ok((CountingIo { inner: io, metrics: self.metrics.clone() }, local, remote, scheme))
    }
}

/// A connection that counts its bytes as HTTP traffic.
pub struct CountingIo<T> {
    inner: T,
    metrics: Arc<Metrics>,
}

impl<T: AsyncRead + Unpin> AsyncRead for CountingIo<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let res = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len().saturating_sub(before);
        if n > 0 {
            self.metrics.add_bytes(Proto::Http, Direction::In, n as u64);
        }
        res
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for CountingIo<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<std::io::Result<usize>> {
        let res = Pin::new(&mut self.inner).poll_write(cx, data);
        if let Poll::Ready(Ok(n)) = &res {
            self.metrics.add_bytes(Proto::Http, Direction::Out, *n as u64);
        }
        res
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let res = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = &res {
            self.metrics.add_bytes(Proto::Http, Direction::Out, *n as u64);
        }
        res
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Where the byte counter of `proto` in `dir` is.
fn bytes_slot(proto: Proto, dir: Direction) -> usize {
    let p = match proto {
        Proto::Http => 0,
        Proto::Ftp => 2,
        Proto::WebDav => 4,
    };
    p + usize::from(matches!(dir, Direction::Out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_latencies_land_in_their_series() {
        let m = Metrics::new(["/api/finder".to_string(), "/api/upload".to_string()], &["/api/upload"]);
        let r = m.label_index("/api/finder");
        m.observe(r, 200, Duration::from_millis(3));
        m.observe(r, 200, Duration::from_millis(300));
        m.observe(r, 599, Duration::from_secs(60));
        let stats = &m.routes[r];
        assert_eq!(stats.statuses[STATUSES.iter().position(|c| *c == 200).expect("200")].load(Ordering::Relaxed), 2);
        assert_eq!(stats.statuses[STATUSES.len()].load(Ordering::Relaxed), 1, "unknown status is `other`");
        assert_eq!(stats.buckets[1].load(Ordering::Relaxed), 1, "3 ms is in le=0.005");
        assert_eq!(stats.buckets[BUCKETS.len()].load(Ordering::Relaxed), 1, "60 s is only in +Inf");
        assert_eq!(m.label_index("nope"), m.label_index(UNKNOWN));
        assert!(m.uploads[m.label_index("/api/upload")]);
        {
            let _g = m.upload();
            assert_eq!(m.uploads_in_flight.load(Ordering::Relaxed), 1);
        }
        assert_eq!(m.uploads_in_flight.load(Ordering::Relaxed), 0);
        m.add_bytes(Proto::Ftp, Direction::Out, 7);
        assert_eq!(m.bytes(Proto::Ftp, Direction::Out), 7);
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}

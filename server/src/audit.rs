//! The audit log. Events go through a bounded channel to one batch writer, so recording costs a
//! request almost nothing; readers call [`Audit::flush`] first, so they see every event recorded
//! before their request. Control characters in recorded text are escaped.

use std::net::IpAddr;

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::Utc;
use sea_orm::DatabaseConnection;
use tokio::sync::{mpsc, oneshot};

use crate::db::{self, AuditRow};

/// One thing that happened.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub action: &'static str,
    pub actor: String,
    pub ip: String,
    pub outcome: &'static str,
    pub detail: String,
}

impl AuditEvent {
    pub fn new(action: &'static str) -> Self {
        Self { action, actor: String::new(), ip: String::new(), outcome: "ok", detail: String::new() }
    }
    pub fn actor(mut self, actor: &str) -> Self {
        self.actor = actor.to_string();
        self
    }
    pub fn ip(mut self, ip: Option<IpAddr>) -> Self {
        self.ip = ip.map(|i| i.to_string()).unwrap_or_default();
        self
    }
    pub fn outcome(mut self, outcome: &'static str) -> Self {
        self.outcome = outcome;
        self
    }
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }
}

enum Msg {
    Event(AuditRow),
    Flush(oneshot::Sender<()>),
}

/// Handle to the audit writer; cheap to clone.
#[derive(Clone)]
pub struct Audit {
    tx: mpsc::Sender<Msg>,
    counters: std::sync::Arc<AuditCounters>,
}

/// Counts of security events, taken from the events themselves as they are recorded, so the
/// metrics can never disagree with the audit log. Read by `/metrics`.
#[derive(Debug, Default)]
pub struct AuditCounters {
    /// Successful logins (any protocol).
    pub logins_ok: AtomicU64,
    /// Failed logins (wrong credentials).
    pub logins_failed: AtomicU64,
    /// Logins refused because the IP was banned.
    pub logins_banned: AtomicU64,
    /// IPs banned.
    pub bans: AtomicU64,
    /// Events waiting for room in the writer's queue (see [`Audit::record`]).
    pub overflow: AtomicU64,
    /// Events dropped because the writer fell [`OVERFLOW_MAX`] events behind.
    pub dropped: AtomicU64,
}

impl AuditCounters {
    fn count(&self, ev: &AuditEvent) {
        let counter = match (ev.action, ev.outcome) {
            ("login", "ok") => &self.logins_ok,
            ("login", "failed") => &self.logins_failed,
            ("login", "banned") => &self.logins_banned,
            ("ban", _) => &self.bans,
            _ => return,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

const CHANNEL: usize = 4096;
/// Most events waiting beyond the full queue. A writer that falls this far behind (the
/// database stalled, or a flood of requests) costs at most this many events of memory
/// (about 30 MiB); later events are dropped, counted and logged instead of growing the heap
/// without bound.
const OVERFLOW_MAX: u64 = 65_536;
const BATCH: usize = 512;
/// How long the writer waits for more events after the first of a batch. Without it, a busy
/// server (thousands of downloads a second, each audited) writes a transaction per handful of
/// events and spends a fifth of its CPU in SQLite (measured with `bench/run`); with it, a
/// batch holds what arrives in this window. A flush request ends the wait at once.
const LINGER: std::time::Duration = std::time::Duration::from_millis(20);

impl Audit {
    /// Starts the writer task; it ends when every handle is dropped, after writing what is queued.
    pub fn start(db: DatabaseConnection) -> (Audit, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(CHANNEL);
        let task = tokio::spawn(writer(db, rx));
        (Audit { tx, counters: Default::default() }, task)
    }

    /// Queues an event. Never blocks: if the queue is full the event is handed to a task that
    /// waits for room, up to [`OVERFLOW_MAX`] such events; past that it is dropped and counted.
    pub fn record(&self, ev: AuditEvent) {
        self.counters.count(&ev);
        let row = AuditRow {
            id: 0,
            timestamp: Utc::now(),
            action: ev.action.to_string(),
            ip: escape_control(&ev.ip),
            actor: escape_control(&ev.actor),
            outcome: ev.outcome.to_string(),
            detail: escape_control(&ev.detail),
        };
        if let Err(mpsc::error::TrySendError::Full(msg)) = self.tx.try_send(Msg::Event(row)) {
            let c = &self.counters;
            if c.overflow.fetch_add(1, Ordering::Relaxed) >= OVERFLOW_MAX {
                c.overflow.fetch_sub(1, Ordering::Relaxed);
                let dropped = c.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                if dropped.is_power_of_two() {
                    tracing::error!(dropped, "audit writer is {OVERFLOW_MAX} events behind: dropping audit events");
                }
                return;
            }
            let tx = self.tx.clone();
            let counters = self.counters.clone();
            tokio::spawn(async move {
                let _ = tx.send(msg).await;
                counters.overflow.fetch_sub(1, Ordering::Relaxed);
            });
        }
    }

    /// Security event counts since start.
    pub fn counters(&self) -> &AuditCounters {
        &self.counters
    }

    /// Waits until everything recorded so far is in the database.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Msg::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

async fn writer(db: DatabaseConnection, mut rx: mpsc::Receiver<Msg>) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut waiters = Vec::new();
    while let Some(first) = rx.recv().await {
        let deadline = tokio::time::Instant::now() + LINGER;
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            match msg {
                Msg::Event(row) => batch.push(row),
                Msg::Flush(done) => waiters.push(done),
            }
            if batch.len() >= BATCH {
                break;
            }
            next = match rx.try_recv() {
                Ok(msg) => Some(msg),
                // Nothing queued: wait for more until the deadline, unless someone waits for
                // the events to be written.
                Err(mpsc::error::TryRecvError::Empty) if waiters.is_empty() => {
                    tokio::time::timeout_at(deadline, rx.recv()).await.ok().flatten()
                }
                Err(_) => None,
            };
        }
        if !batch.is_empty() {
            let rows = std::mem::take(&mut batch);
            let n = rows.len();
            if let Err(e) = db::insert_audit(&db, rows).await {
                tracing::error!(error = %e, events = n, "audit write failed");
            }
        }
        for w in waiters.drain(..) {
            let _ = w.send(());
        }
    }
}

/// Escapes control characters so a recorded name or path cannot forge log lines.
pub fn escape_control(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_string();
    }
    s.chars().map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() }).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(super::escape_control("a\nb\u{1b}[2J"), "a\\nb\\u{1b}[2J");
        assert_eq!(super::escape_control("plain/path"), "plain/path");
    }

    #[tokio::test]
    async fn a_writer_that_falls_far_behind_costs_bounded_memory_and_drops_are_counted() {
        use std::sync::atomic::Ordering;
        // A queue nobody reads: the writer is stalled.
        let (tx, _rx) = tokio::sync::mpsc::channel(super::CHANNEL);
        let audit = super::Audit { tx, counters: Default::default() };
        let extra = 10;
        for _ in 0..super::CHANNEL as u64 + super::OVERFLOW_MAX + extra {
            audit.record(super::AuditEvent::new("download"));
        }
        let c = audit.counters();
        assert_eq!(c.overflow.load(Ordering::Relaxed), super::OVERFLOW_MAX);
        assert_eq!(c.dropped.load(Ordering::Relaxed), extra);
    }
}

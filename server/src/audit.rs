//! The audit log. Events go through a bounded channel to one batch writer, so recording costs a
//! request almost nothing; readers call [`Audit::flush`] first, so they see every event recorded
//! before their request. Control characters in recorded text are escaped.
//!
//! No event is lost without a trace: a batch the database refuses (a full disk, a database
//! that went away) is kept and retried with backoff until it is written. Meanwhile new events
//! wait in the queue and its overflow, at most [`OVERFLOW_MAX`] of them beyond the queue; what
//! exceeds that, or is still unwritten when the server stops, is counted in
//! `nook_audit_dropped_total` and logged.

use std::net::IpAddr;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::Utc;
use sea_orm::DatabaseConnection;
use tokio::sync::{mpsc, oneshot, watch};

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
    /// For reading the log back ([`Audit::query`]).
    db: DatabaseConnection,
    counters: std::sync::Arc<AuditCounters>,
    /// True while the writer cannot write (it retries): flushes do not wait for it then.
    failing: watch::Receiver<bool>,
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
    /// Events dropped: the writer fell [`OVERFLOW_MAX`] events behind, or the server stopped
    /// while the database still refused them.
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
const LINGER: Duration = Duration::from_millis(20);
/// First and longest wait between two tries of a batch the database refused.
const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(2);
/// How long a stopping server keeps trying to write what is left (the caller waits 5 s).
const RETRY_AT_STOP: Duration = Duration::from_secs(3);

impl Audit {
    /// Starts the writer task; it ends when every handle is dropped, after writing what is queued.
    pub fn start(db: DatabaseConnection) -> (Audit, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(CHANNEL);
        let (failing_tx, failing) = watch::channel(false);
        let counters = std::sync::Arc::<AuditCounters>::default();
        let task = tokio::spawn(writer(db.clone(), rx, Writer { counters: counters.clone(), failing: failing_tx }));
        (Audit { tx, db, counters, failing }, task)
    }

    /// Events matching `filter`, newest first, including everything recorded before this call
    /// (the queue is flushed first, unless the database is refusing writes).
    pub async fn query(&self, filter: &crate::db::AuditFilter) -> crate::error::AppResult<Vec<AuditRow>> {
        self.flush().await;
        crate::db::query_audit(&self.db, filter).await
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

    /// Waits until everything recorded so far is in the database, or, while the database
    /// refuses writes, not at all (the events stay queued and are written once it takes them).
    pub async fn flush(&self) {
        let mut failing = self.failing.clone();
        let written = async {
            let (done, wait) = oneshot::channel();
            if self.tx.send(Msg::Flush(done)).await.is_ok() {
                let _ = wait.await;
            }
        };
        tokio::select! {
            _ = written => {}
            _ = failing.wait_for(|f| *f) => {}
        }
    }
}

/// What the writer task shares with the handles.
struct Writer {
    counters: std::sync::Arc<AuditCounters>,
    failing: watch::Sender<bool>,
}

async fn writer(db: DatabaseConnection, mut rx: mpsc::Receiver<Msg>, w: Writer) {
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
            write_batch(&db, &mut rx, &w, &batch, &mut waiters).await;
            batch.clear();
        }
        for w in waiters.drain(..) {
            let _ = w.send(());
        }
    }
}

/// Writes `batch`, retrying with backoff for as long as the database refuses it. Only when the
/// server stops (every handle gone) does it give up, after [`RETRY_AT_STOP`], and count what
/// is lost: this batch and everything still queued.
async fn write_batch(
    db: &DatabaseConnection,
    rx: &mut mpsc::Receiver<Msg>,
    w: &Writer,
    batch: &[AuditRow],
    waiters: &mut Vec<oneshot::Sender<()>>,
) {
    let mut delay = RETRY_FIRST;
    let mut tries = 0u64;
    let mut stopping_since = None;
    loop {
        let Err(e) = db::insert_audit(db, batch).await else { break };
        tries += 1;
        if tries == 1 {
            tracing::error!(error = %e, events = batch.len(), "audit write failed; keeping the events and retrying");
            w.failing.send_replace(true);
            // Whoever waits for a flush is answered now instead of when the database recovers.
            for w in waiters.drain(..) {
                let _ = w.send(());
            }
        }
        if rx.is_closed() {
            let since = *stopping_since.get_or_insert_with(tokio::time::Instant::now);
            if since.elapsed() >= RETRY_AT_STOP {
                let mut lost = batch.len() as u64;
                while let Ok(msg) = rx.try_recv() {
                    lost += u64::from(matches!(msg, Msg::Event(_)));
                }
                w.counters.dropped.fetch_add(lost, Ordering::Relaxed);
                tracing::error!(error = %e, lost, "stopping with audit events the database would not take: dropped");
                return;
            }
            // Stopping: try often within the little time left.
            delay = delay.min(RETRY_FIRST * 5);
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(RETRY_MAX);
    }
    if tries > 0 {
        tracing::info!(events = batch.len(), tries, "audit write succeeded again");
        w.failing.send_replace(false);
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
        let (_failing_tx, failing) = tokio::sync::watch::channel(false);
        let audit = super::Audit { tx, db: Default::default(), counters: Default::default(), failing };
        let extra = 10;
        for _ in 0..super::CHANNEL as u64 + super::OVERFLOW_MAX + extra {
            audit.record(super::AuditEvent::new("download"));
        }
        let c = audit.counters();
        assert_eq!(c.overflow.load(Ordering::Relaxed), super::OVERFLOW_MAX);
        assert_eq!(c.dropped.load(Ordering::Relaxed), extra);
    }

    /// A database whose audit table can be taken away (every insert fails) and given back.
    async fn database(dir: &std::path::Path) -> sea_orm::DatabaseConnection {
        let db = crate::db::connect(&format!("sqlite://{}", dir.join("nook.db").display())).await.expect("connect");
        crate::db::migrate(&db).await.expect("migrate");
        db
    }

    async fn sql(db: &sea_orm::DatabaseConnection, sql: &str) {
        use sea_orm::ConnectionTrait;
        db.execute_unprepared(sql).await.expect(sql);
    }

    async fn rows(db: &sea_orm::DatabaseConnection) -> usize {
        let filter = crate::db::AuditFilter { limit: 1000, ..Default::default() };
        crate::db::query_audit(db, &filter).await.expect("query").len()
    }

    #[tokio::test]
    async fn a_batch_the_database_refuses_is_kept_and_written_once_it_takes_it_again() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = database(dir.path()).await;
        sql(&db, "ALTER TABLE audit_log RENAME TO audit_log_away").await;
        let (audit, _task) = super::Audit::start(db.clone());
        for _ in 0..10 {
            audit.record(super::AuditEvent::new("download"));
        }
        // The write fails: the flush does not hang on it.
        tokio::time::timeout(std::time::Duration::from_secs(10), audit.flush()).await.expect("flush returns");
        assert!(*audit.failing.borrow(), "the writer reports that it is failing");
        audit.record(super::AuditEvent::new("upload"));
        sql(&db, "ALTER TABLE audit_log_away RENAME TO audit_log").await;
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
        while rows(&db).await < 11 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        audit.flush().await;
        assert_eq!(rows(&db).await, 11, "every event written once, none twice");
        assert!(!*audit.failing.borrow());
        assert_eq!(audit.counters().dropped.load(std::sync::atomic::Ordering::Relaxed), 0);
    }

    #[tokio::test]
    async fn events_the_database_still_refuses_when_the_server_stops_are_counted_as_dropped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = database(dir.path()).await;
        sql(&db, "ALTER TABLE audit_log RENAME TO audit_log_away").await;
        let (audit, task) = super::Audit::start(db.clone());
        let counters = audit.counters.clone();
        for _ in 0..7 {
            audit.record(super::AuditEvent::new("download"));
        }
        drop(audit);
        tokio::time::timeout(std::time::Duration::from_secs(5), task).await.expect("the writer stops in time").ok();
        assert_eq!(counters.dropped.load(std::sync::atomic::Ordering::Relaxed), 7);
    }
}

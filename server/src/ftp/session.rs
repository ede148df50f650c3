//! Live FTP connections: what `/api/v1/connection` lists and closes, what `max_sessions` and
//! the connection caps count, and what a stop tears down.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::Utc;
use tokio::sync::watch;

/// Resolves once the flag is true (never, if its sender is gone while false).
pub async fn raised(rx: &mut watch::Receiver<bool>) {
    loop {
        if *rx.borrow_and_update() {
            return;
        }
        if rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// One transfer in progress.
pub struct Transfer {
    pub id: u64,
    /// `upload` or `download`.
    pub operation: &'static str,
    pub path: String,
    pub start_time: i64,
    pub bytes: AtomicU64,
    pub last_activity: AtomicI64,
}

/// One control connection.
pub struct Conn {
    pub id: String,
    pub remote: SocketAddr,
    pub connected_at: i64,
    pub last_activity: AtomicI64,
    pub username: Mutex<Option<String>>,
    pub tls: AtomicBool,
    pub transfers: Mutex<Vec<Arc<Transfer>>>,
    next_transfer: AtomicU64,
    /// The socket, kept to shut it down from outside (close, stop).
    socket: Mutex<Option<std::net::TcpStream>>,
    /// Flips to true when the connection must end; transfers watch it.
    closed: watch::Sender<bool>,
}

impl Conn {
    pub fn touch(&self) {
        self.last_activity.store(now_ms(), Ordering::Relaxed);
    }

    pub fn username(&self) -> Option<String> {
        self.username.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Registers a transfer; it is removed when the guard drops.
    pub fn begin_transfer(self: &Arc<Self>, operation: &'static str, path: String) -> TransferGuard {
        let t = Arc::new(Transfer {
            id: self.next_transfer.fetch_add(1, Ordering::Relaxed),
            operation,
            path,
            start_time: now_ms(),
            bytes: AtomicU64::new(0),
            last_activity: AtomicI64::new(now_ms()),
        });
        self.transfers.lock().unwrap_or_else(|p| p.into_inner()).push(t.clone());
        self.touch();
        TransferGuard { conn: self.clone(), transfer: t }
    }

    /// Resolves when the connection is being closed.
    pub fn closed(&self) -> watch::Receiver<bool> {
        self.closed.subscribe()
    }

    /// Ends the connection now: transfers abort (no partial files) and the socket closes.
    pub fn close(&self) {
        // `send_replace`, not `send`: `send` drops the value when no transfer is subscribed
        // yet, and a transfer starting a moment later would then miss the close.
        self.closed.send_replace(true);
        if let Some(s) = self.socket.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }
}

/// Keeps a transfer listed while it runs.
pub struct TransferGuard {
    conn: Arc<Conn>,
    transfer: Arc<Transfer>,
}

impl TransferGuard {
    pub fn add(&self, n: u64) {
        self.transfer.bytes.fetch_add(n, Ordering::Relaxed);
        let now = now_ms();
        self.transfer.last_activity.store(now, Ordering::Relaxed);
        self.conn.last_activity.store(now, Ordering::Relaxed);
    }

    pub fn bytes(&self) -> u64 {
        self.transfer.bytes.load(Ordering::Relaxed)
    }
}

impl Drop for TransferGuard {
    fn drop(&mut self) {
        let id = self.transfer.id;
        self.conn.transfers.lock().unwrap_or_else(|p| p.into_inner()).retain(|t| t.id != id);
        self.conn.touch();
    }
}

/// Every live connection.
#[derive(Default)]
pub struct Registry {
    conns: Mutex<HashMap<String, Arc<Conn>>>,
}

impl Registry {
    /// Registers a new connection; `socket` is a clone of its stream used to close it.
    pub fn add(&self, remote: SocketAddr, socket: Option<std::net::TcpStream>) -> Arc<Conn> {
        let id = format!("{:032x}", rand::random::<u128>());
        let (closed, _) = watch::channel(false);
        let conn = Arc::new(Conn {
            id: id.clone(),
            remote,
            connected_at: now_ms(),
            last_activity: AtomicI64::new(now_ms()),
            username: Mutex::new(None),
            tls: AtomicBool::new(false),
            transfers: Mutex::new(Vec::new()),
            next_transfer: AtomicU64::new(0),
            socket: Mutex::new(socket),
            closed,
        });
        self.conns.lock().unwrap_or_else(|p| p.into_inner()).insert(id, conn.clone());
        conn
    }

    pub fn remove(&self, id: &str) {
        self.conns.lock().unwrap_or_else(|p| p.into_inner()).remove(id);
    }

    pub fn all(&self) -> Vec<Arc<Conn>> {
        let mut v: Vec<Arc<Conn>> = self.conns.lock().unwrap_or_else(|p| p.into_inner()).values().cloned().collect();
        v.sort_by_key(|c| c.connected_at);
        v
    }

    pub fn get(&self, id: &str) -> Option<Arc<Conn>> {
        self.conns.lock().unwrap_or_else(|p| p.into_inner()).get(id).cloned()
    }

    pub fn count(&self) -> usize {
        self.conns.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn count_ip(&self, ip: IpAddr) -> usize {
        self.conns.lock().unwrap_or_else(|p| p.into_inner()).values().filter(|c| c.remote.ip() == ip).count()
    }

    /// Logged-in sessions of `username`.
    pub fn count_user(&self, username: &str) -> usize {
        self.all().iter().filter(|c| c.username().as_deref() == Some(username)).count()
    }

    /// Closes every connection.
    pub fn close_all(&self) {
        for c in self.all() {
            c.close();
        }
    }
}

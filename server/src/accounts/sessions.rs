//! Live FTP connections: what `/api/v1/connection` lists and closes, what `max_sessions` and
//! the connection caps count, and what a stop tears down. A session lives only as long as the
//! rules it logged in with: an edit of its FTP account, or a change to its web user's paths,
//! role, password or disabled flag, closes it (the client logs in again under the new rules).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::Utc;
use tokio::sync::watch;

use crate::auth::AuthService;
use crate::db::UserRow;

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

/// What a web user's FTP rules are built from: a change to any of it ends their sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebUserStamp {
    username: String,
    role: String,
    paths: Vec<String>,
    paths_write: Vec<String>,
    password_hash: String,
    disabled: bool,
}

impl WebUserStamp {
    pub fn of(u: &UserRow) -> Self {
        Self {
            username: u.username.clone(),
            role: u.role.clone(),
            paths: u.paths.clone(),
            paths_write: u.paths_write.clone(),
            password_hash: u.password_hash.clone(),
            disabled: u.disabled,
        }
    }

    /// Whether user `id` in the current snapshot still has these rules.
    pub fn holds(&self, auth: &AuthService, id: i64) -> bool {
        auth.user(id).is_some_and(|u| Self::of(&u) == *self)
    }
}

/// Who a connection logged in as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Login {
    /// An FTP account (by id): any edit of it ends the session.
    Account(i64),
    /// A web user (by id), with what their rules were built from.
    WebUser(i64, WebUserStamp),
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
    username: Mutex<Option<String>>,
    /// Set by a successful login.
    login: Mutex<Option<Login>>,
    pub tls: AtomicBool,
    pub transfers: Mutex<Vec<Arc<Transfer>>>,
    next_transfer: AtomicU64,
    /// The socket, kept to shut it down from outside (close, stop).
    socket: Mutex<Option<std::net::TcpStream>>,
    /// Set first when the connection must end, before its socket is shut down.
    closing: AtomicBool,
    /// Flips to true, once the socket is shut down, when the connection must end; transfers
    /// watch it.
    closed: watch::Sender<bool>,
}

impl Conn {
    pub fn touch(&self) {
        self.last_activity.store(now_ms(), Ordering::Relaxed);
    }

    pub fn username(&self) -> Option<String> {
        self.username.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn login(&self) -> Option<Login> {
        self.login.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Records a successful login (`None`: the login was withdrawn before it was answered).
    pub fn set_login(&self, username: Option<String>, login: Option<Login>) {
        *self.username.lock().unwrap_or_else(|p| p.into_inner()) = username;
        *self.login.lock().unwrap_or_else(|p| p.into_inner()) = login;
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
        self.close_with(None);
    }

    /// Like [`close`](Self::close), first sending `reply` (one control line) when the socket
    /// takes it at once.
    pub fn close_with(&self, reply: Option<&str>) {
        // In this order: `closing` before the client can see anything (an upload whose data
        // ends after this is the client giving up, not a complete file); the socket shut down
        // before transfers are woken (a transfer cut off now cannot answer `426` on a control
        // connection that is going away: the client just sees it close).
        self.closing.store(true, Ordering::SeqCst);
        // Taken, not borrowed: the second handle is closed too, so the socket's descriptor
        // does not outlive the session in whatever still holds this `Conn`.
        if let Some(mut s) = self.socket.lock().unwrap_or_else(|p| p.into_inner()).take() {
            if let Some(reply) = reply {
                // Non-blocking (the handle shares tokio's socket): a full buffer skips it.
                let _ = std::io::Write::write(&mut s, reply.as_bytes());
            }
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
        // `send_replace`, not `send`: `send` drops the value when no transfer is subscribed
        // yet, and a transfer starting a moment later would then miss the close.
        self.closed.send_replace(true);
    }

    /// Whether the connection is being closed (true from the start of [`close`](Self::close)).
    pub fn is_closing(&self) -> bool {
        self.closing.load(Ordering::SeqCst)
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
            login: Mutex::new(None),
            tls: AtomicBool::new(false),
            transfers: Mutex::new(Vec::new()),
            next_transfer: AtomicU64::new(0),
            socket: Mutex::new(socket),
            closing: AtomicBool::new(false),
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

    /// Closes the sessions of FTP account `id` (edited or deleted).
    pub fn close_account(&self, id: i64) {
        for c in self.all() {
            if c.login() == Some(Login::Account(id)) {
                c.close();
            }
        }
    }

    /// Closes the sessions of web users whose rules changed since they logged in (or who are
    /// gone); call after the user snapshot was reloaded.
    pub fn revalidate_web_users(&self, auth: &AuthService) {
        for c in self.all() {
            if let Some(Login::WebUser(id, stamp)) = c.login()
                && !stamp.holds(auth, id)
            {
                tracing::info!(user = %stamp.username, conn = %c.id, "web user changed; FTP session closed");
                c.close();
            }
        }
    }
}

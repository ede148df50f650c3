//! What one session may do, whatever protocol it came in on: its path [`Rules`], its quota
//! ([`QuotaBook`]) and its bandwidth. `accounts` builds an [`Access`] at login (for web users
//! and transfer accounts alike); [`UserFs`](super::UserFs) enforces all of it itself, so a
//! protocol adapter adds no policy of its own.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use tokio::io::{AsyncRead, ReadBuf};

use super::{FileResult, Rules};

/// Space left to an account with a quota, read when a write starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Bytes that may still be added (None: no size limit).
    pub bytes_left: Option<u64>,
    /// Files that may still be created (None: no count limit).
    pub files_left: Option<u64>,
}

/// Where a session's quota stands and where its usage is recorded: the account's row (see
/// `accounts`). Read at the start of every write, so a change to the quota or to the usage by
/// another session counts at once.
pub trait QuotaBook: Send + Sync {
    /// What may still be added now (None: no limit at all).
    fn left(&self) -> BoxFuture<'_, FileResult<Option<Quota>>>;
    /// Records a change in used bytes and files (best effort: a failure is logged).
    fn record(&self, bytes: i64, files: i64) -> BoxFuture<'_, ()>;
}

/// Transfer rates of a session in KiB/s (0: unlimited).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Bandwidth {
    pub upload_kbps: u64,
    pub download_kbps: u64,
}

/// Everything a session may do: built once at login.
#[derive(Clone)]
pub struct Access {
    /// The name audit events carry.
    pub actor: String,
    pub rules: Rules,
    pub quota: Option<Arc<dyn QuotaBook>>,
    pub bandwidth: Bandwidth,
}

impl Access {
    /// Rules only: no quota, no bandwidth limit (web users, system work).
    pub fn rules(actor: &str, rules: Rules) -> Access {
        Access { actor: actor.to_string(), rules, quota: None, bandwidth: Bandwidth::default() }
    }
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access")
            .field("actor", &self.actor)
            .field("quota", &self.quota.is_some())
            .field("bandwidth", &self.bandwidth)
            .finish()
    }
}

/// Paces a transfer to `kbps` KiB/s (0: unlimited) by saying how long to wait.
#[derive(Debug)]
pub struct Throttle {
    bytes_per_sec: u64,
    start: Instant,
    total: u64,
}

impl Throttle {
    pub fn new(kbps: u64) -> Self {
        Self { bytes_per_sec: kbps.saturating_mul(1024), start: Instant::now(), total: 0 }
    }

    /// Counts `n` bytes; returns how long to pause so the average stays under the limit.
    pub fn after(&mut self, n: u64) -> Option<Duration> {
        if self.bytes_per_sec == 0 {
            return None;
        }
        self.total += n;
        let due = Duration::from_secs_f64(self.total as f64 / self.bytes_per_sec as f64);
        due.checked_sub(self.start.elapsed()).filter(|d| !d.is_zero())
    }
}

/// A reader paced by a [`Throttle`] (a download of a session with a bandwidth limit).
pub struct Paced<R> {
    inner: R,
    throttle: Throttle,
    pause: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<R> Paced<R> {
    pub fn new(inner: R, kbps: u64) -> Self {
        Self { inner, throttle: Throttle::new(kbps), pause: None }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for Paced<R> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if let Some(pause) = this.pause.as_mut() {
            if pause.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            this.pause = None;
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let n = (buf.filled().len() - before) as u64;
                this.pause = this.throttle.after(n).map(|wait| Box::pin(tokio::time::sleep(wait)));
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_throttle_asks_for_the_pause_that_keeps_the_average() {
        let mut t = Throttle::new(1); // 1 KiB/s
        let wait = t.after(2048).expect("ahead of the limit");
        assert!(wait > Duration::from_millis(1900) && wait <= Duration::from_secs(2), "{wait:?}");
        assert_eq!(Throttle::new(0).after(1 << 30), None, "0 is unlimited");
    }
}

//! The HTTP server loop. poem's `Server` accepts without limit, drops accept errors without a
//! pause (out of file descriptors it spins a core on `EMFILE`) and gives hyper no timer, so a
//! client holds a connection for ever by sending nothing, or a byte now and then. [`serve`]
//! runs poem endpoints on hyper itself, under these rules:
//! - at most `max_connections` connections are open; more wait in the kernel's listen queue
//!   (not accepted, so they cost no descriptor) until one closes;
//! - a failed accept is retried after a pause doubling from 5 ms to 1 s, never in a busy loop;
//! - a connection with no request in flight must complete a request head (request line and
//!   headers) within `header_read_timeout` of its first byte — a new connection, within that
//!   long of connecting — and is closed once idle for `keep_alive_timeout` after a response;
//! - while a request is in flight, from its parsed head to the end of its response body, no
//!   timer runs: slow uploads, long downloads and event streams are never cut.
//!
//! Shutdown stops accepting, closes connections with no request in flight at once, lets the
//! others finish their requests for the grace period, then drops what is left.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use poem::http::StatusCode;
use poem::http::uri::Scheme;
use poem::listener::Acceptor;
use poem::web::{LocalAddr, RemoteAddr};
use poem::{Endpoint, Request};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::{Instant, Sleep};

use crate::config::HttpConfig;

/// First pause after a failed accept; it doubles with each failure in a row.
const MIN_ACCEPT_PAUSE: Duration = Duration::from_millis(5);
/// Longest pause between accept attempts.
const MAX_ACCEPT_PAUSE: Duration = Duration::from_secs(1);
/// Accept failures are logged as warnings at most this often (the rest at debug level).
const ACCEPT_WARN_EVERY: Duration = Duration::from_secs(10);

/// The pause before the next accept attempt, and when a failure was last logged as a warning.
#[derive(Default)]
struct AcceptBackoff {
    pause: Duration,
    warned: Option<Instant>,
}

/// The limits [`serve`] applies to every connection.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub header_read_timeout: Duration,
    pub keep_alive_timeout: Duration,
    pub max_connections: usize,
}

impl Limits {
    pub fn of(http: &HttpConfig) -> Self {
        Self {
            header_read_timeout: http.header_read_timeout.0,
            keep_alive_timeout: http.keep_alive_timeout.0,
            max_connections: http.max_connections.max(1) as usize,
        }
    }
}

type ResponseBody = http_body_util::combinators::BoxBody<Bytes, io::Error>;

/// Serves `ep` on the connections `acceptor` yields until `signal` completes, then shuts down
/// gracefully: idle connections close at once, requests in flight get `grace` to finish.
pub async fn serve<A, E>(
    mut acceptor: A,
    ep: E,
    limits: Limits,
    signal: impl Future<Output = ()>,
    grace: Duration,
) -> io::Result<()>
where
    A: Acceptor + 'static,
    E: Endpoint + 'static,
{
    let ep = Arc::new(ep);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut backoff = AcceptBackoff::default();
    tokio::pin!(signal);
    loop {
        tokio::select! {
            biased;
            _ = &mut signal => break,
            Some(done) = connections.join_next(), if !connections.is_empty() => {
                if let Err(e) = done
                    && e.is_panic()
                {
                    tracing::error!(error = %e, "HTTP connection task panicked");
                }
            }
            next = next_connection(&mut acceptor, &slots, &mut backoff) => {
                let Some((slot, (io, local, remote, scheme))) = next else { break };
                let conn = Connection { ep: ep.clone(), local, remote, scheme, limits };
                connections.spawn(conn.run(io, stop_rx.clone(), slot));
            }
        }
    }
    drop(acceptor);
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(grace, async { while connections.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::info!(open = connections.len(), "grace period over; closing the remaining HTTP connections");
        connections.shutdown().await;
    }
    Ok(())
}

/// Waits for a free slot, then for a connection. Accept errors (`EMFILE`, `ENFILE`,
/// `ECONNABORTED`, ...) leave the pending connection in the queue, so retrying at once would
/// spin: each failure in a row doubles the pause. `None` when no slot can be had any more.
async fn next_connection<A: Acceptor>(
    acceptor: &mut A,
    slots: &Arc<Semaphore>,
    backoff: &mut AcceptBackoff,
) -> Option<(OwnedSemaphorePermit, (A::Io, LocalAddr, RemoteAddr, Scheme))> {
    let slot = slots.clone().acquire_owned().await.ok()?;
    loop {
        match acceptor.accept().await {
            Ok(accepted) => {
                backoff.pause = Duration::ZERO;
                return Some((slot, accepted));
            }
            Err(e) => {
                backoff.pause = (backoff.pause * 2).clamp(MIN_ACCEPT_PAUSE, MAX_ACCEPT_PAUSE);
                let now = Instant::now();
                if backoff.warned.is_none_or(|t| now.duration_since(t) >= ACCEPT_WARN_EVERY) {
                    backoff.warned = Some(now);
                    tracing::warn!(error = %e, "cannot accept HTTP connections; retrying with a pause");
                } else {
                    tracing::debug!(error = %e, pause = ?backoff.pause, "accept failed again");
                }
                tokio::time::sleep(backoff.pause).await;
            }
        }
    }
}

/// What serving one connection needs.
struct Connection<E> {
    ep: Arc<E>,
    local: LocalAddr,
    remote: RemoteAddr,
    scheme: Scheme,
    limits: Limits,
}

impl<E: Endpoint + 'static> Connection<E> {
    /// Serves the connection until it closes, times out or the server stops; `_slot` frees
    /// its place under `max_connections` when this returns.
    async fn run<Io>(self, io: Io, mut stop: watch::Receiver<bool>, _slot: OwnedSemaphorePermit)
    where
        Io: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        let clock = Arc::new(Clock::new(self.limits));
        let Connection { ep, local, remote, scheme, .. } = self;
        let peer = remote.clone();
        let service = hyper::service::service_fn({
            let clock = clock.clone();
            move |req: poem::http::Request<Incoming>| {
                // Called as soon as the head is parsed: the request is in flight from here.
                let in_flight = clock.begin();
                let (ep, local, remote, scheme) = (ep.clone(), local.clone(), remote.clone(), scheme.clone());
                async move {
                    let resp = ep.get_response(Request::from((req, local, remote, scheme))).await;
                    if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
                        in_flight.upgraded();
                    }
                    let resp: hyper::Response<ResponseBody> = resp.into();
                    Ok::<_, Infallible>(resp.map(|inner| InFlightBody { inner, _in_flight: in_flight }))
                }
            }
        });
        let mut builder = auto::Builder::new(TokioExecutor::new());
        // poem's settings for HTTP/2.
        builder.http2().max_pending_accept_reset_streams(Some(20)).max_header_list_size(16384);
        let conn = builder.serve_connection_with_upgrades(TokioIo::new(TimedIo::new(io, clock.clone())), service);
        tokio::pin!(conn);
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(remote = %peer, error = %e, "HTTP connection ended");
                }
                return;
            }
            _ = stop.wait_for(|stopping| *stopping) => {}
        }
        // Between requests there is nothing to finish: a half-sent head must not hold up the
        // stop for the grace period.
        if clock.is_idle() {
            return;
        }
        conn.as_mut().graceful_shutdown();
        let _ = conn.await;
    }
}

/// One connection's timing: whether a request is in flight, and since when it has been idle
/// or reading a head.
struct Clock {
    limits: Limits,
    state: Mutex<ClockState>,
}

struct ClockState {
    /// Requests whose head was parsed and whose response body has not ended.
    in_flight: usize,
    /// The connection was handed to another protocol (HTTP 101): no timers any more.
    upgraded: bool,
    /// No request yet on this connection.
    fresh: bool,
    /// When the connection opened or its last response ended.
    idle_since: Instant,
    /// When the first byte of the next request head arrived.
    head_since: Option<Instant>,
    /// The task waiting to read, woken when the last request ends so its timer starts.
    reader: Option<Waker>,
}

impl Clock {
    fn new(limits: Limits) -> Self {
        let state = ClockState {
            in_flight: 0,
            upgraded: false,
            fresh: true,
            idle_since: Instant::now(),
            head_since: None,
            reader: None,
        };
        Self { limits, state: Mutex::new(state) }
    }

    fn lock(&self) -> MutexGuard<'_, ClockState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `n` bytes arrived; between requests, the first of them starts a request head.
    fn on_read(&self, n: usize) {
        if n == 0 {
            return;
        }
        let mut s = self.lock();
        if s.in_flight == 0 && s.head_since.is_none() {
            s.head_since = Some(Instant::now());
        }
    }

    /// When the connection must be closed if no more of a request arrives; remembers
    /// `reader` to wake when that changes.
    fn deadline(&self, reader: &Waker) -> Option<Instant> {
        let mut s = self.lock();
        if !s.reader.as_ref().is_some_and(|w| w.will_wake(reader)) {
            s.reader = Some(reader.clone());
        }
        if s.upgraded || s.in_flight > 0 {
            return None;
        }
        Some(match s.head_since {
            Some(head) => head + self.limits.header_read_timeout,
            None if s.fresh => s.idle_since + self.limits.header_read_timeout,
            None => s.idle_since + self.limits.keep_alive_timeout,
        })
    }

    /// No request is in flight.
    fn is_idle(&self) -> bool {
        let s = self.lock();
        s.in_flight == 0 && !s.upgraded
    }

    /// A request head was parsed.
    fn begin(self: &Arc<Self>) -> InFlight {
        let mut s = self.lock();
        s.in_flight += 1;
        s.fresh = false;
        s.head_since = None;
        InFlight(self.clone())
    }
}

/// Held from a request's parsed head to the end of its response body.
struct InFlight(Arc<Clock>);

impl InFlight {
    fn upgraded(&self) {
        self.0.lock().upgraded = true;
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut s = self.0.lock();
        s.in_flight = s.in_flight.saturating_sub(1);
        if s.in_flight == 0 {
            s.idle_since = Instant::now();
            s.head_since = None;
            // The reader may be parked without a timer; let it start the idle one.
            if let Some(w) = s.reader.take() {
                w.wake();
            }
        }
    }
}

/// A response body that keeps its request in flight until hyper is done with it.
struct InFlightBody {
    inner: ResponseBody,
    _in_flight: InFlight,
}

impl Body for InFlightBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The connection's stream: a read that waits past the [`Clock`]'s deadline fails with
/// `TimedOut`, which makes hyper close the connection.
struct TimedIo<Io> {
    io: Io,
    clock: Arc<Clock>,
    timer: Option<Pin<Box<Sleep>>>,
}

impl<Io> TimedIo<Io> {
    fn new(io: Io, clock: Arc<Clock>) -> Self {
        Self { io, clock, timer: None }
    }
}

impl<Io: AsyncRead + Unpin> AsyncRead for TimedIo<Io> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                this.clock.on_read(buf.filled().len().saturating_sub(before));
                return Poll::Ready(Ok(()));
            }
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => {}
        }
        let Some(deadline) = this.clock.deadline(cx.waker()) else { return Poll::Pending };
        let timer = match &mut this.timer {
            Some(t) => {
                if t.deadline() != deadline {
                    t.as_mut().reset(deadline);
                }
                t
            }
            None => this.timer.insert(Box::pin(tokio::time::sleep_until(deadline))),
        };
        if timer.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "HTTP client too slow or idle")));
        }
        Poll::Pending
    }
}

impl<Io: AsyncWrite + Unpin> AsyncWrite for TimedIo<Io> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, data)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

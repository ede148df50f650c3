//! The HTTP server under hostile connections: idle and byte-a-second clients (slowloris), more
//! connections than the cap, and a process out of file descriptors.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::*;

fn addr(app: &TestApp) -> String {
    app.url.trim_start_matches("http://").to_string()
}

/// Open file descriptors of the server process.
fn fds(app: &TestApp) -> usize {
    std::fs::read_dir(format!("/proc/{}/fd", app.pid())).map(|d| d.count()).unwrap_or(0)
}

/// CPU time (user + system) the server has used so far, in clock ticks.
fn cpu_ticks(app: &TestApp) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", app.pid())).expect("stat");
    // Fields after the `(comm)`, which may hold spaces: state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')').expect("comm") + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    f[11].parse::<u64>().expect("utime") + f[12].parse::<u64>().expect("stime")
}

fn ticks_per_second() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

/// A fresh client (no pooled connection), so each request is a new connection.
fn fresh_client() -> reqwest::Client {
    reqwest::Client::builder().pool_max_idle_per_host(0).build().expect("client")
}

/// Holds a connection open the way a slowloris client does: sends nothing (`drip: None`), or a
/// request head one byte every `drip`, never finishing it. Returns how long after connecting
/// the server closed it, or `None` if it was still open after `give_up`.
async fn slow_client(addr: String, drip: Option<Duration>, give_up: Duration) -> Option<Duration> {
    let mut s = TcpStream::connect(&addr).await.expect("connect");
    let start = Instant::now();
    let head =
        b"GET /api/is_up HTTP/1.1\r\nHost: nook\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let mut sent = 0;
    let mut buf = [0u8; 1024];
    while start.elapsed() < give_up {
        let wait = drip.unwrap_or(Duration::from_millis(200));
        tokio::select! {
            r = s.read(&mut buf) => match r {
                Ok(0) | Err(_) => return Some(start.elapsed()),
                Ok(_) => {}
            },
            _ = tokio::time::sleep(wait) => {
                if drip.is_some() {
                    let byte = head[sent % head.len()];
                    if s.write_all(&[byte]).await.is_err() {
                        return Some(start.elapsed());
                    }
                    sent += 1;
                }
            }
        }
    }
    None
}

#[tokio::test]
async fn slowloris_connections_are_closed_by_the_header_timeout_while_normal_requests_are_served() {
    let app =
        TestApp::builder().config("[http]\nheader_read_timeout = \"2s\"\nkeep_alive_timeout = \"5s\"\n").start().await;
    let clients: Vec<_> = (0..80)
        .map(|i| {
            let drip = (i % 2 == 1).then_some(Duration::from_millis(300));
            tokio::spawn(slow_client(addr(&app), drip, Duration::from_secs(12)))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Meanwhile a normal request is answered at once.
    let t = Instant::now();
    let r = fresh_client().get(format!("{}/api/is_up", app.url)).send().await.expect("is_up");
    assert_eq!(r.status(), StatusCode::OK);
    assert!(t.elapsed() < Duration::from_secs(2), "a normal request took {:?} beside 80 slow clients", t.elapsed());
    for (i, c) in clients.into_iter().enumerate() {
        let closed = c.await.expect("client");
        let kind = if i % 2 == 1 { "a byte-a-0.3s" } else { "an idle" };
        let closed = closed.unwrap_or_else(|| panic!("{kind} connection was still open after 12 s"));
        assert!(
            closed >= Duration::from_millis(1500) && closed < Duration::from_secs(8),
            "{kind} connection was closed after {closed:?}; header_read_timeout is 2 s"
        );
    }
}

#[tokio::test]
async fn idle_kept_alive_connections_are_closed_after_the_keep_alive_timeout() {
    let app =
        TestApp::builder().config("[http]\nheader_read_timeout = \"1s\"\nkeep_alive_timeout = \"3s\"\n").start().await;
    let mut s = TcpStream::connect(addr(&app)).await.expect("connect");
    s.write_all(b"GET /api/is_up HTTP/1.1\r\nHost: nook\r\n\r\n").await.expect("request");
    let mut buf = vec![0u8; 4096];
    let n = s.read(&mut buf).await.expect("response");
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"), "{}", String::from_utf8_lossy(&buf[..n]));
    let answered = Instant::now();
    // Kept alive past the header timeout (idle between requests is not a slow request) ...
    let r = tokio::time::timeout(Duration::from_secs(12), s.read(&mut buf)).await;
    let closed = answered.elapsed();
    assert!(matches!(r, Ok(Ok(0)) | Ok(Err(_))), "the idle connection was not closed within 12 s: {r:?}");
    // ... and closed once idle for keep_alive_timeout.
    assert!(
        closed >= Duration::from_millis(2500) && closed < Duration::from_secs(7),
        "an idle kept-alive connection was closed after {closed:?}; keep_alive_timeout is 3 s"
    );
}

#[tokio::test]
async fn slow_but_flowing_transfers_and_event_streams_outlive_the_idle_timeouts() {
    use futures_util::StreamExt;
    let app =
        TestApp::builder().config("[http]\nheader_read_timeout = \"1s\"\nkeep_alive_timeout = \"1s\"\n").start().await;
    let token = app.admin().await;
    // Each transfer on a connection of its own: a pooled one may be closed (after 1 s idle)
    // just as a request is sent on it.
    let client = fresh_client();

    // A download read slowly, with a pause longer than both timeouts: too big to sit in the
    // socket buffers, so the server is mid-response the whole time.
    let data: Vec<u8> = (0..48u32 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    std::fs::write(app.data_dir().join("files/big.bin"), &data).expect("big file");
    let t = Instant::now();
    let resp = client
        .get(format!("{}/api/download?file_path=/big.bin", app.url))
        .bearer_auth(&token)
        .send()
        .await
        .expect("download");
    assert_eq!(resp.status(), StatusCode::OK);
    let mut stream = resp.bytes_stream();
    let mut got = Vec::with_capacity(data.len());
    let mut paused = false;
    while let Some(chunk) = stream.next().await {
        got.extend_from_slice(&chunk.expect("download cut off"));
        if !paused && got.len() > 4 * 1024 * 1024 {
            paused = true;
            tokio::time::sleep(Duration::from_millis(2500)).await;
        }
    }
    assert!(t.elapsed() > Duration::from_secs(2), "the download was not slow");
    assert!(got == data, "the slow download came back with {} of {} bytes", got.len(), data.len());

    // An upload whose body trickles in over 3 s.
    let body = futures_util::stream::unfold(0u32, |i| async move {
        if i == 6 {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        Some((Ok::<_, std::io::Error>(vec![b'a' + i as u8; 1000]), i + 1))
    });
    let r = client
        .request(Method::PUT, format!("{}/api/put_file?path=/slow.txt", app.url))
        .bearer_auth(&token)
        .body(reqwest::Body::wrap_stream(body))
        .send()
        .await
        .expect("slow upload");
    let (status, body) = json_of(r).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let stored = std::fs::read(app.data_dir().join("files/slow.txt")).expect("uploaded file");
    assert_eq!(stored.len(), 6000);

    // Server-sent events keep coming for longer than the timeouts.
    let resp =
        client.get(format!("{}/api/resources/stream", app.url)).bearer_auth(&token).send().await.expect("stream");
    assert_eq!(resp.status(), StatusCode::OK);
    let mut events = resp.bytes_stream();
    let t = Instant::now();
    let mut seen = 0;
    while t.elapsed() < Duration::from_millis(4500) {
        match tokio::time::timeout(Duration::from_secs(5), events.next()).await {
            Ok(Some(Ok(chunk))) => seen += chunk.windows(5).filter(|w| w == b"data:").count(),
            other => panic!("the event stream ended after {:?}: {other:?}", t.elapsed()),
        }
    }
    assert!(seen >= 2, "only {seen} events in 4.5 s");
}

#[tokio::test]
async fn connections_beyond_max_connections_wait_without_a_descriptor_until_one_closes() {
    let app = TestApp::builder()
        .config("[http]\nmax_connections = 8\nheader_read_timeout = \"60s\"\nkeep_alive_timeout = \"60s\"\n")
        .start()
        .await;
    // Settle the server's own descriptors (database pool, ...) before counting.
    assert_eq!(fresh_client().get(format!("{}/api/is_up", app.url)).send().await.expect("up").status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let base = fds(&app);
    let mut idle = Vec::new();
    for _ in 0..40 {
        idle.push(TcpStream::connect(addr(&app)).await.expect("connect"));
    }
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let held = fds(&app);
    assert!(held <= base + 8 + 3, "40 idle connections took the server from {base} to {held} descriptors; cap is 8");

    // A request now waits in line ...
    let url = app.url.clone();
    let waiting = tokio::spawn(async move { fresh_client().get(format!("{url}/api/is_up")).send().await });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!waiting.is_finished(), "a connection past the cap was served while 8 were open");
    // ... and is served as soon as the idle ones go.
    drop(idle);
    let t = Instant::now();
    let r = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("the waiting request was not served after the idle connections closed")
        .expect("join")
        .expect("request");
    assert_eq!(r.status(), StatusCode::OK);
    assert!(t.elapsed() < Duration::from_secs(5));
    assert_eq!(fresh_client().get(format!("{}/api/is_up", app.url)).send().await.expect("up").status(), StatusCode::OK);
}

#[tokio::test]
async fn running_out_of_file_descriptors_does_not_spin_the_accept_loop_and_service_resumes() {
    let app = TestApp::builder()
        .config("[http]\nmax_connections = 4096\nheader_read_timeout = \"60s\"\nkeep_alive_timeout = \"60s\"\n")
        .start()
        .await;
    assert_eq!(fresh_client().get(format!("{}/api/is_up", app.url)).send().await.expect("up").status(), StatusCode::OK);
    let limit = rustix::process::Rlimit { current: Some(256), maximum: Some(256) };
    let pid = rustix::process::Pid::from_raw(app.pid() as i32).expect("pid");
    rustix::process::prlimit(Some(pid), rustix::process::Resource::Nofile, limit).expect("prlimit");

    let mut conns = Vec::new();
    for _ in 0..400 {
        // Past the limit the kernel still completes the handshake into the listen queue.
        match tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(addr(&app))).await {
            Ok(Ok(s)) => conns.push(s),
            _ => break,
        }
    }
    assert!(conns.len() > 300, "only {} connections opened", conns.len());
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(fds(&app) >= 240, "the server did not run out of descriptors ({} open)", fds(&app));

    let (ticks, t) = (cpu_ticks(&app), Instant::now());
    tokio::time::sleep(Duration::from_secs(3)).await;
    let used = (cpu_ticks(&app) - ticks) as f64 / ticks_per_second() as f64 / t.elapsed().as_secs_f64();
    assert!(used < 0.3, "out of descriptors, the server used {:.0} % of a core doing nothing", used * 100.0);

    drop(conns);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let r = fresh_client().get(format!("{}/api/is_up", app.url)).timeout(Duration::from_secs(3)).send().await;
        if matches!(&r, Ok(r) if r.status() == StatusCode::OK) {
            break;
        }
        assert!(Instant::now() < deadline, "service did not resume after the connections closed: {r:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn half_sent_request_heads_do_not_hold_up_a_stop() {
    let mut app = TestApp::builder().config("[http]\nheader_read_timeout = \"60s\"\n").start().await;
    let mut slow = Vec::new();
    for _ in 0..5 {
        let mut s = TcpStream::connect(addr(&app)).await.expect("connect");
        s.write_all(b"GET /api/is_up HTTP/1.1\r\nHost: no").await.expect("half a head");
        slow.push(s);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let t = Instant::now();
    let status = app.stop().expect("exit status");
    assert!(status.success(), "{status:?}");
    assert!(t.elapsed() < Duration::from_secs(5), "the stop waited {:?} for half-sent heads", t.elapsed());
}

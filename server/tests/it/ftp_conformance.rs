//! FTP as real clients expect it (compared with vsftpd): Python's ftplib (plain and `FTP_TLS`
//! with `prot_p()`), curl and lftp against the real binary. Parse errors are replies, TLS data
//! connections end with close_notify, MKD/PWD quote their path, relative paths and `..` behave,
//! FEAT/OPTS MLST/STAT say what they should, overlong lines get `500`, log lines stay short, and
//! a full disk and an exceeded quota answer the same code.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::*;
use crate::ftp::{create_account, ftp_app, py, start_ftp};

/// An FTP account `conf` (password `conf-password`, all permissions) at `/conf`, holding
/// `rawdir/x.txt` (5 bytes).
async fn conf_account(app: &TestApp, admin: &str) {
    let home = app.data_dir().join("files/conf");
    std::fs::create_dir_all(home.join("rawdir")).expect("home");
    std::fs::write(home.join("rawdir/x.txt"), "hello").expect("write");
    create_account(
        app,
        admin,
        json!({"username": "conf", "password": "conf-password", "path": "/conf", "permissions": "elradfmw"}),
    )
    .await;
}

/// A self-signed certificate and key for FTPS, made with the openssl command line.
fn make_cert(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let o = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl is needed to make the FTPS test certificate");
    assert!(o.status.success(), "openssl: {}", String::from_utf8_lossy(&o.stderr));
    (cert, key)
}

/// An FTP app with FTPS on, and the `conf` account.
async fn ftps_app() -> (TestApp, u16, tempfile::TempDir) {
    let certs = tempfile::tempdir().expect("tempdir");
    let (cert, key) = make_cert(certs.path());
    let (app, admin, port) =
        ftp_app(&format!("ftps_cert = \"{}\"\nftps_key = \"{}\"\n", cert.display(), key.display())).await;
    conf_account(&app, &admin).await;
    (app, port, certs)
}

/// Runs a Python ftplib script with `ftp` an `FTP_TLS` client logged in as `conf` with a
/// protected data channel (`prot_p()`); returns (ok, output).
fn py_tls(port: u16, script: &str) -> (bool, String) {
    py_tls_as(port, "conf", script)
}

/// [`py_tls`] as `user` (password `<user>-password`).
fn py_tls_as(port: u16, user: &str, script: &str) -> (bool, String) {
    py(
        port,
        &format!(
            "import ssl\nctx = ssl.create_default_context()\nctx.check_hostname = False\nctx.verify_mode = ssl.CERT_NONE\n\
             ftp.close()\nftp = ftplib.FTP_TLS(context=ctx)\nftp.connect('127.0.0.1', {port}, timeout=20)\n\
             ftp.login('{user}', '{user}-password')\nftp.prot_p()\n{script}"
        ),
    )
}

/// lftp, which the tests need: `.ci/run` installs it. Missing, it fails the test, unless
/// `NOOK_TEST_NO_LFTP=1` says to skip it (then the caller returns).
pub(crate) fn lftp() -> Option<Command> {
    if Command::new("lftp").arg("--version").output().is_ok() {
        return Some(Command::new("lftp"));
    }
    assert_eq!(
        std::env::var("NOOK_TEST_NO_LFTP").as_deref(),
        Ok("1"),
        "lftp is not installed (apt-get install lftp; NOOK_TEST_NO_LFTP=1 skips the lftp tests)"
    );
    eprintln!("SKIPPED: lftp is not installed and NOOK_TEST_NO_LFTP=1");
    None
}

/// Runs lftp commands as `conf` on the port; FTPS when `tls`.
fn run_lftp(mut lftp: Command, port: u16, tls: bool, commands: &str) -> Output {
    let settings = if tls {
        "set ftp:ssl-force true; set ftp:ssl-protect-data true; set ssl:verify-certificate no; "
    } else {
        "set ftp:ssl-allow no; "
    };
    lftp.args(["-u", "conf,conf-password", "-p", &port.to_string(), "-e"])
        .arg(format!("set net:max-retries 1; set net:timeout 10; {settings}{commands}; bye"))
        .arg("127.0.0.1")
        .stdin(Stdio::null())
        .output()
        .expect("lftp")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn curl(args: &[&str]) -> Output {
    Command::new("curl")
        .args(["-sS", "--max-time", "30", "--user", "conf:conf-password"])
        .args(args)
        .output()
        .expect("curl")
}

/// A control connection spoken by hand: sends lines and reads whole replies.
struct Raw {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Raw {
    fn connect(port: u16) -> Self {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        let mut raw = Self { reader: BufReader::new(s.try_clone().expect("clone")), writer: s };
        let greeting = raw.reply();
        assert!(greeting.starts_with("220"), "{greeting}");
        raw
    }

    /// The next reply (all its lines), or what ended it: `<closed>`, `<error …>`.
    fn reply(&mut self) -> String {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            match self.reader.read_line(&mut line) {
                Ok(0) => return all + "<closed>",
                Ok(_) => {}
                Err(e) => return all + &format!("<error {:?}>", e.kind()),
            }
            all.push_str(&line);
            let b = line.as_bytes();
            if b.len() >= 4 && b[..3].iter().all(u8::is_ascii_digit) && b[3] == b' ' {
                return all;
            }
        }
    }

    fn send(&mut self, line: &[u8]) {
        let _ = self.writer.write_all(line);
    }

    fn cmd(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n").as_bytes());
        self.reply()
    }

    fn login(port: u16) -> Self {
        let mut raw = Self::connect(port);
        assert!(raw.cmd("USER conf").starts_with("331"));
        let r = raw.cmd("PASS conf-password");
        assert!(r.starts_with("230"), "{r}");
        raw
    }
}

// ---------------------------------------------------------------- 1: parse errors are replies

/// A syntax error in a command is a `501` reply and nothing more: the session goes on, as
/// with vsftpd (upstream libunftp hung up after every parse error, because the control
/// channel's decoder error ended the command stream).
#[tokio::test]
async fn ftp_parse_errors_are_replies_and_the_session_goes_on() {
    let (app, admin, port) = ftp_app("").await;
    conf_account(&app, &admin).await;
    let mut raw = Raw::login(port);
    for bad in ["REST abc", "SIZE", "OPTS", "OPTS FOO BAR", "MDTM", "MODE Z", "STRU X", "PROT X", "PBSZ 7", "RNFR"] {
        let r = raw.cmd(bad);
        assert!(r.starts_with("501 "), "{bad}: {r}");
        let r = raw.cmd("NOOP");
        assert!(r.starts_with("200"), "NOOP after {bad}: {r}");
    }
    // Invalid UTF-8 in the command name is a 500, and the session goes on too.
    raw.send(b"\xff\xfeXY\r\n");
    let r = raw.reply();
    assert!(r.starts_with("500 "), "{r}");
    assert!(raw.cmd("NOOP").starts_with("200"));
    assert!(raw.cmd("PWD").starts_with("257"));

    // ftplib: the same session keeps working after each refusal.
    let (ok, out) = py(
        port,
        "ftp.login('conf', 'conf-password')\n\
         for bad in ['REST abc', 'SIZE', 'OPTS', 'OPTS MLST type;size;']:\n    \
             try:\n        out('reply', bad, ftp.sendcmd(bad)[:3])\n    \
             except ftplib.error_perm as e:\n        out('refused', bad, str(e)[:3])\n    \
             out('noop', ftp.voidcmd('NOOP')[:3])\n\
         out('size', ftp.size('rawdir/x.txt'))",
    );
    assert!(ok, "{out}");
    assert_eq!(out.matches("noop 200").count(), 4, "{out}");
    assert!(out.contains("refused REST abc 501") && out.contains("refused SIZE 501"), "{out}");
    assert!(out.contains("size 5"), "{out}");
    // curl: a failing quote command marked `*` may fail; the transfer after it must work.
    let o = curl(&["-Q", "*REST abc", "-Q", "*SIZE", "-Q", "NOOP", &format!("ftp://127.0.0.1:{port}/rawdir/x.txt")]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(o.stdout, b"hello");
}

// ---------------------------------------------------------------- 2: TLS data connections

/// With `PROT P`, every data connection ends with a TLS close_notify in both directions, so
/// ftplib's `FTP_TLS` (which unwraps the TLS layer and then reads the `226`) stays in step:
/// upstream dropped the upload's TLS stream without close_notify, `storbinary` failed with
/// `SSLEOFError`, and every later reply in the session was off by one.
#[tokio::test]
async fn ftps_protected_uploads_and_downloads_close_tls_properly_and_replies_stay_in_step() {
    let (app, port, _certs) = ftps_app().await;
    let up = app.dir.path().join("up.bin");
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(&up, &data).expect("write");
    let (ok, out) = py_tls(
        port,
        &format!(
            "for i in range(4):\n    \
                 out('stor', i, ftp.storbinary('STOR t%d.bin' % i, io.BytesIO(b'x' * (1000 * (i + 1)) if i else open('{up}', 'rb').read())))\n    \
                 buf = io.BytesIO()\n    \
                 out('retr', i, ftp.retrbinary('RETR t%d.bin' % i, buf.write), len(buf.getvalue()))\n\
             out('appe', ftp.storbinary('APPE t1.bin', io.BytesIO(b'y' * 10)))\n\
             out('size', ftp.size('t1.bin'))\n\
             out('nlst', sorted(ftp.nlst()))\n\
             out('mlsd', sorted(n for n, f in ftp.mlsd()))\n\
             out('noop', ftp.voidcmd('NOOP'))\n\
             out('pwd', ftp.pwd())",
            up = up.display()
        ),
    );
    assert!(ok, "{out}");
    for i in 0..4 {
        let len = if i == 0 { 200_000 } else { 1000 * (i + 1) };
        assert!(out.contains(&format!("stor {i} 226")), "{out}");
        assert!(out.contains(&format!("retr {i} 226")) && out.contains(&format!(" {len}\n")), "{out}");
    }
    assert!(out.contains("appe 226") && out.contains("size 2010"), "{out}");
    assert!(out.contains("nlst ['rawdir', 't0.bin', 't1.bin', 't2.bin', 't3.bin']"), "{out}");
    assert!(out.contains("mlsd ['rawdir', 't0.bin'"), "{out}");
    assert!(out.contains("noop 200") && out.contains("pwd /"), "{out}");
    let home = app.data_dir().join("files/conf");
    assert_eq!(std::fs::read(home.join("t0.bin")).expect("t0"), data);

    // A refused upload (quota, permission) drains and closes the TLS data connection too, so
    // the refusal is the reply ftplib reads, and the next command gets its own.
    let admin = app.admin().await;
    for (name, body) in [
        ("qt", json!({"home_dir": "/qt", "permissions": ["*"], "quota_size": 100000})),
        ("ro", json!({"home_dir": "/conf/rawdir", "permissions": ["list", "download"]})),
    ] {
        let mut body = body;
        body["username"] = json!(name);
        body["password"] = json!(format!("{name}-password"));
        let r = app.req(Method::POST, "/api/v1/user").bearer_auth(&admin).json(&body).send().await.expect("add");
        assert_eq!(r.status(), StatusCode::OK);
    }
    let refusals = "for n in [200000, 5000000, 10]:\n    \
             try:\n        out('stored', n, ftp.storbinary('STOR q.bin', io.BytesIO(b'q' * n)))\n    \
             except ftplib.all_errors as e:\n        out('refused', n, type(e).__name__, str(e)[:3])\n    \
             out('noop', ftp.voidcmd('NOOP')[:3])";
    let (ok, out) = py_tls_as(port, "qt", refusals);
    assert!(ok, "{out}");
    assert!(out.contains("refused 200000 error_perm 552") && out.contains("refused 5000000 error_perm 552"), "{out}");
    assert!(out.contains("stored 10 226"), "{out}");
    assert_eq!(out.matches("noop 200").count(), 3, "{out}");
    let (ok, out) = py_tls_as(port, "ro", refusals);
    assert!(ok, "{out}");
    assert_eq!(out.matches("error_perm 550").count(), 3, "{out}");
    assert_eq!(out.matches("noop 200").count(), 3, "{out}");

    // curl over explicit FTPS with a protected data channel.
    let url = format!("ftp://127.0.0.1:{port}/");
    let o = curl(&["--ssl-reqd", "-k", "-T", &up.display().to_string(), &format!("{url}c.bin")]);
    assert!(o.status.success(), "curl upload: {}", text(&o));
    let o = curl(&["--ssl-reqd", "-k", &format!("{url}c.bin")]);
    assert!(o.status.success(), "curl download: {}", text(&o));
    assert_eq!(o.stdout, data, "curl download");
    assert_eq!(std::fs::read(home.join("c.bin")).expect("c"), data);

    // lftp over FTPS: put, get, listing in one session.
    let Some(l) = lftp() else { return };
    let down = app.dir.path().join("l-down.bin");
    let o = run_lftp(
        l,
        port,
        true,
        &format!("put {} -o l.bin; get l.bin -o {}; cls -1; quote NOOP", up.display(), down.display()),
    );
    assert!(o.status.success(), "lftp: {}", text(&o));
    assert_eq!(std::fs::read(home.join("l.bin")).expect("l"), data);
    assert_eq!(std::fs::read(&down).expect("down"), data);
    assert!(String::from_utf8_lossy(&o.stdout).contains("l.bin"), "{}", text(&o));
}

// ---------------------------------------------------------------- 3: MKD and PWD quote the path

/// `257` replies carry the path in double quotes, a `"` inside doubled (RFC 959 appendix II),
/// so ftplib's `mkd()` and `pwd()` return the folder (upstream said `257 /rawdir`, and
/// `ftplib.mkd()` returned `''`).
#[tokio::test]
async fn mkd_and_pwd_reply_257_with_the_quoted_path_and_doubled_quotes() {
    let (app, admin, port) = ftp_app("").await;
    conf_account(&app, &admin).await;
    let mut raw = Raw::login(port);
    assert_eq!(raw.cmd("MKD newdir"), "257 \"/newdir\" created\r\n");
    assert_eq!(raw.cmd("MKD say \"hi\""), "257 \"/say \"\"hi\"\"\" created\r\n");
    assert_eq!(raw.cmd("CWD say \"hi\"").get(..3), Some("250"));
    assert_eq!(raw.cmd("PWD"), "257 \"/say \"\"hi\"\"\" is the current directory\r\n");
    assert_eq!(raw.cmd("MKD ../rawdir/sub"), "257 \"/rawdir/sub\" created\r\n");
    let (ok, out) = py(
        port,
        "ftp.login('conf', 'conf-password')\n\
         out('mkd', repr(ftp.mkd('made')))\n\
         ftp.cwd('made')\n\
         out('mkd', repr(ftp.mkd('in \"q\"')))\n\
         out('pwd', repr(ftp.pwd()))",
    );
    assert!(ok, "{out}");
    assert!(out.contains("mkd '/made'") && out.contains("mkd '/made/in \"q\"'"), "{out}");
    assert!(out.contains("pwd '/made'"), "{out}");
    let home = app.data_dir().join("files/conf");
    assert!(
        home.join("say \"hi\"").is_dir() && home.join("rawdir/sub").is_dir() && home.join("made/in \"q\"").is_dir()
    );
    let Some(l) = lftp() else { return };
    let o = run_lftp(l, port, false, "mkdir lf; cd lf; quote PWD");
    assert!(o.status.success() && text(&o).contains("257 \"/lf\""), "{}", text(&o));
}

// ---------------------------------------------------------------- 4: MLST relative paths

/// `MLST x.txt` after `CWD rawdir` describes `/rawdir/x.txt`: relative paths are relative to
/// the current folder, as for every other command (upstream looked `x.txt` up in the home, 550).
#[tokio::test]
async fn mlst_paths_are_relative_to_the_current_folder() {
    let (app, admin, port) = ftp_app("").await;
    conf_account(&app, &admin).await;
    let mut raw = Raw::login(port);
    assert!(raw.cmd("CWD rawdir").starts_with("250"));
    let r = raw.cmd("MLST x.txt");
    assert!(r.starts_with("250-") && r.contains("type=file;size=5;") && r.contains(" /rawdir/x.txt\r\n"), "{r}");
    let r = raw.cmd("MLST ../rawdir/./x.txt");
    assert!(r.contains("type=file;size=5;") && r.contains(" /rawdir/x.txt\r\n"), "{r}");
    let r = raw.cmd("MLST");
    assert!(r.contains("type=dir;") && r.contains(" /rawdir\r\n"), "{r}");
    let r = raw.cmd("MLST /rawdir/x.txt");
    assert!(r.contains("size=5;"), "{r}");
    assert!(raw.cmd("MLST nope.txt").starts_with("550"));
    // Other commands agree on the same relative path.
    assert!(raw.cmd("SIZE x.txt").starts_with("213 5"));
    assert!(raw.cmd("MDTM x.txt").starts_with("213 "));
}

// ---------------------------------------------------------------- 5: CWD .. at the root

/// The current folder is kept normalised: `CWD ..` at the top stays at `/` and `PWD` says so
/// (upstream said `257 "/.."`), and `.`/`..` inside a path are resolved.
#[tokio::test]
async fn cwd_dot_dot_at_the_root_stays_at_the_root_and_pwd_says_so() {
    let (app, admin, port) = ftp_app("").await;
    conf_account(&app, &admin).await;
    let mut raw = Raw::login(port);
    assert!(raw.cmd("CWD ..").starts_with("250"));
    assert_eq!(raw.cmd("PWD"), "257 \"/\" is the current directory\r\n");
    assert!(raw.cmd("CWD ../../rawdir/./").starts_with("250"));
    assert_eq!(raw.cmd("PWD"), "257 \"/rawdir\" is the current directory\r\n");
    assert!(raw.cmd("CDUP").starts_with("250"));
    assert!(raw.cmd("CDUP").starts_with("250"));
    assert_eq!(raw.cmd("PWD"), "257 \"/\" is the current directory\r\n");
    let (ok, out) = py(
        port,
        "ftp.login('conf', 'conf-password')\nftp.cwd('..')\nout('pwd', ftp.pwd())\n\
         ftp.cwd('rawdir/..//rawdir')\nout('pwd', ftp.pwd())\nout('nlst', ftp.nlst())",
    );
    assert!(ok && out.contains("pwd /\n") && out.contains("pwd /rawdir\n") && out.contains("nlst ['x.txt']"), "{out}");
    let Some(l) = lftp() else { return };
    let o = run_lftp(l, port, false, "cd ..; quote PWD; cd rawdir; quote PWD");
    let t = text(&o);
    assert!(o.status.success() && t.contains("257 \"/\" ") && t.contains("257 \"/rawdir\" "), "{t}");
}

// ---------------------------------------------------------------- 6: FEAT, OPTS MLST, STAT

/// FEAT lists MLST with its facts (RFC 3659: `*` marks the ones in use), `OPTS MLST` chooses
/// them (ftplib's `mlsd(facts=…)` sends it), and MLST/MLSD then show only those.
#[tokio::test]
async fn feat_lists_the_mlst_facts_and_opts_mlst_selects_them() {
    let (app, admin, port) = ftp_app("").await;
    conf_account(&app, &admin).await;
    let mut raw = Raw::login(port);
    let feat = raw.cmd("FEAT");
    assert!(feat.contains("\r\n MLST type*;size*;modify*;\r\n"), "{feat}");
    assert_eq!(raw.cmd("OPTS MLST type;"), "200 MLST OPTS type;\r\n");
    assert!(raw.cmd("FEAT").contains(" MLST type*;size;modify;\r\n"));
    let r = raw.cmd("MLST rawdir/x.txt");
    assert!(r.contains("\r\n type=file; /rawdir/x.txt\r\n"), "{r}");
    // Unknown facts are dropped, case does not matter, an empty list selects none.
    assert_eq!(raw.cmd("OPTS MLST Size;perm;MODIFY;"), "200 MLST OPTS size;modify;\r\n");
    assert_eq!(raw.cmd("OPTS MLST"), "200 MLST OPTS\r\n");
    let r = raw.cmd("MLST rawdir/x.txt");
    assert!(r.contains("\r\n  /rawdir/x.txt\r\n"), "{r}");
    let (ok, out) = py(
        port,
        "ftp.login('conf', 'conf-password')\n\
         out('mlsd', list(ftp.mlsd('rawdir', facts=['size'])))\n\
         out('all', [sorted(f) for n, f in ftp.mlsd('rawdir', facts=['type', 'size', 'modify'])])",
    );
    assert!(ok, "{out}");
    assert!(out.contains("mlsd [('x.txt', {'size': '5'})]"), "{out}");
    assert!(out.contains("all [['modify', 'size', 'type']]"), "{out}");
}

/// `STAT` describes the session in words, like vsftpd's, not with the server's internal type
/// names (upstream printed `sbe: nook::ftp::storage::NookStorage`, `rename from path: None`).
#[tokio::test]
async fn stat_describes_the_session_without_internal_type_names() {
    let (app, admin, port) = ftp_app("").await;
    conf_account(&app, &admin).await;
    let mut raw = Raw::login(port);
    assert!(raw.cmd("CWD rawdir").starts_with("250"));
    let r = raw.cmd("STAT");
    assert!(r.starts_with("211-") && r.ends_with("211 End of status\r\n"), "{r}");
    for want in ["Logged in as conf", "Current folder: /rawdir", "Control connection is plain text"] {
        assert!(r.contains(want), "{want}: {r}");
    }
    for internal in ["::", "Nook Storage", "NookStorage", "Authenticator", "None", "Some(", "sbe:"] {
        assert!(!r.contains(internal), "{internal}: {r}");
    }
    // STAT with a folder lists it over the control connection, relative to the current one.
    let r = raw.cmd("STAT .");
    assert!(r.starts_with("213-Status follows:\r\n") && r.ends_with("213 End of status\r\n"), "{r}");
    assert!(r.contains(" x.txt\r\n"), "{r}");
}

/// A control line over the 4 KiB limit, or a megabyte without any CRLF, is answered
/// `500 Line too long` and the connection is closed, as vsftpd does (upstream answered
/// `451 Unknown internal server error`); the server goes on serving.
#[tokio::test]
async fn an_overlong_control_line_is_500_line_too_long() {
    let (app, admin, port) = ftp_app("").await;
    conf_account(&app, &admin).await;
    let mut raw = Raw::login(port);
    let line = format!("CWD {}\r\n", "d".repeat(5000));
    raw.send(line.as_bytes());
    let r = raw.reply();
    assert!(r.starts_with("500 Line too long"), "{r}");
    assert!(raw.reply().ends_with("<closed>"));

    let mut raw = Raw::connect(port);
    raw.send(&vec![b'A'; 1024 * 1024]);
    let r = raw.reply();
    assert!(r.starts_with("500 Line too long"), "{r}");
    let mut raw = Raw::login(port);
    assert!(raw.cmd("NOOP").starts_with("200"));
}

// ---------------------------------------------------------------- 6: log lines stay short

/// The server restarted by hand with its log (stderr) captured; FTP comes back on, as it was.
struct Captured {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
}

impl Drop for Captured {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn restart_capturing_log(app: &mut TestApp) -> Captured {
    app.stop();
    let mut child = app
        .command()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("NOOK_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("nook");
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut stderr = child.stderr.take().expect("stderr");
    let sink = log.clone();
    std::thread::spawn(move || {
        let mut all = Vec::new();
        let _ = stderr.read_to_end(&mut all);
        let mut l = sink.lock().expect("log");
        l.extend(String::from_utf8_lossy(&all).lines().map(str::to_string));
    });
    let stdout = child.stdout.take().expect("stdout");
    let url = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find_map(|l| l.strip_prefix("Nook listening on ").map(|u| u.trim().to_string()))
        .expect("nook did not start");
    app.url = url;
    Captured { child, log }
}

/// libunftp's log lines stay under 1 KiB whatever the client sends: control lines, paths and
/// user names are cut short, and its tracing spans (which printed the whole session, about
/// 4 KiB per WARN line and up to 50 KiB with a long path) are no longer in the line.
#[tokio::test]
async fn ftp_log_lines_stay_short_whatever_the_client_sends() {
    let (mut app, admin, _) = ftp_app("").await;
    conf_account(&app, &admin).await;
    let mut captured = restart_capturing_log(&mut app).await;
    let admin = app.admin().await;
    let (_, st) = json_of(app.get("/api/ftp/status", &admin).send().await.expect("status")).await;
    assert_eq!(st["running"], true, "{st}");
    let port: u16 = st["listen"].as_str().expect("listen").rsplit(':').next().expect("port").parse().expect("port");
    let long = "d".repeat(4000);
    let mut raw = Raw::connect(port);
    raw.cmd(&format!("USER {long}"));
    raw.cmd("PASS wrong");
    let mut raw = Raw::login(port);
    for c in ["MKD", "CWD", "DELE", "RMD", "SIZE", "MDTM", "MLST", "RNFR", "SITE", "REST", "XYZ", "OPTS"] {
        let r = raw.cmd(&format!("{c} {long}"));
        assert!(r.len() < 300 && !r.ends_with("<closed>"), "{c}: {r}");
    }
    raw.send(format!("NOOP {long}{long}\r\n").as_bytes());
    raw.reply();
    drop(raw);
    tokio::time::sleep(Duration::from_millis(500)).await;
    app.stop();
    let _ = captured.child.kill();
    let _ = captured.child.wait();
    let deadline = Instant::now() + Duration::from_secs(10);
    let log = loop {
        let log = captured.log.lock().expect("log").clone();
        if !log.is_empty() || Instant::now() > deadline {
            break log;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(log.iter().any(|l| l.contains("MKD") && l.contains("ddd")), "the failed MKD was not logged: {log:#?}");
    let long_lines: Vec<String> =
        log.iter().filter(|l| l.len() > 1024).map(|l| format!("{} bytes: {}…", l.len(), &l[..300])).collect();
    assert!(long_lines.is_empty(), "{long_lines:#?}");
}

// ---------------------------------------------------------------- 6: disk full and quota

/// A small tmpfs mounted for a test (tests run as root in CI); unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Self {
        std::fs::create_dir_all(dir).expect("mount point");
        let o = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .expect("mount");
        assert!(
            o.status.success(),
            "this test mounts a {size} tmpfs and must run as root: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        Self(dir.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = Command::new("umount").arg(&self.0).status().is_ok_and(|s| s.success());
        if !ok {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// A full disk and an exceeded quota are both `552` (exceeded storage allocation: permanent,
/// so ftplib raises `error_perm` and lftp does not retry), the one code the README documents;
/// neither leaves a file or a staging file, and the space comes back (upstream answered a full
/// disk with `452`).
#[tokio::test]
async fn a_full_disk_and_an_exceeded_quota_both_answer_552_and_leave_no_file() {
    let work = tempfile::tempdir().expect("tempdir");
    let root = work.path().join("root");
    let _tmpfs = Tmpfs::mount(&root, "2m");
    let base = 40000 + (rand::random::<u16>() % 2000) * 10;
    let app = TestApp::builder()
        .config(&format!(
            "root = \"{}\"\n[ftp]\nlisten = \"127.0.0.1:0\"\npassive_ports = \"{base}-{}\"\n",
            root.display(),
            base + 9
        ))
        .start()
        .await;
    let admin = app.admin().await;
    let port = start_ftp(&app, &admin).await;
    std::fs::create_dir_all(root.join("conf")).expect("home");
    create_account(
        &app,
        &admin,
        json!({"username": "conf", "password": "conf-password", "path": "/conf", "permissions": "elradfmw"}),
    )
    .await;
    let (s, q) = json_of(
        app.req(Method::POST, "/api/v1/user")
            .bearer_auth(&admin)
            .json(&json!({"username": "quota", "password": "quota-password", "home_dir": "/q", "permissions": ["*"], "quota_size": 100000}))
            .send()
            .await
            .expect("add"),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{q}");
    let big = work.path().join("big.bin");
    std::fs::write(&big, vec![7u8; 3 * 1024 * 1024]).expect("write");
    let small = work.path().join("small.bin");
    std::fs::write(&small, vec![1u8; 150_000]).expect("write");

    // Disk full, with ftplib: 552, nothing left, and the space is back for the next upload.
    let script = format!(
        "ftp.login('conf', 'conf-password')\n\
         try:\n    ftp.storbinary('STOR big.bin', open('{big}', 'rb'))\n    out('STORED')\n\
         except ftplib.all_errors as e:\n    out('refused', type(e).__name__, str(e))\n\
         out('noop', ftp.voidcmd('NOOP')[:3])\n\
         out('small', ftp.storbinary('STOR small.bin', open('{small}', 'rb'))[:3])",
        big = big.display(),
        small = small.display()
    );
    let (ok, out) = py(port, &script);
    assert!(ok, "{out}");
    assert!(out.contains("refused error_perm 552"), "a full disk: {out}");
    assert!(out.contains("noop 200") && out.contains("small 226"), "{out}");
    assert_eq!(names(&root.join("conf")), vec!["small.bin"], "no partial or staging file");
    // curl sees the same code: 552 is its exit code 70, "remote disk full or allocation
    // exceeded".
    let o = curl(&["-T", &big.display().to_string(), &format!("ftp://127.0.0.1:{port}/big2.bin")]);
    assert_eq!(o.status.code(), Some(70), "curl: {}", text(&o));
    assert_eq!(names(&root.join("conf")), vec!["small.bin"]);
    // lftp gives up at once on a 552, with retries allowed (after a 452 it sent STOR again
    // and again, and once its data connection closed early the short file was kept).
    if let Some(l) = lftp() {
        let o = run_lftp(
            l,
            port,
            false,
            &format!(
                "debug 9; set net:max-retries 5; set net:reconnect-interval-base 1; put {} -o big3.bin",
                big.display()
            ),
        );
        let t = text(&o);
        assert!(t.contains("552 Exceeded storage allocation"), "lftp: {t}");
        assert_eq!(t.matches("---> STOR").count(), 1, "lftp retried: {t}");
        assert_eq!(names(&root.join("conf")), vec!["small.bin"]);
    }

    // Quota exceeded: the same code.
    let (ok, out) = py(
        port,
        &format!(
            "ftp.login('quota', 'quota-password')\n\
             try:\n    ftp.storbinary('STOR small.bin', open('{}', 'rb'))\n    out('STORED')\n\
             except ftplib.all_errors as e:\n    out('refused', type(e).__name__, str(e))",
            small.display()
        ),
    );
    assert!(ok && out.contains("refused error_perm 552"), "a quota: {out}");
    assert!(names(&root.join("q")).is_empty());
    drop(app);
}

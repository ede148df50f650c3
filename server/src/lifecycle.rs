//! Stopping and restarting the server. Every way to stop — SIGINT/SIGTERM, `/api/shutdown`,
//! `/api/restart`, `/update_start_exit_program`, an installed update — calls
//! [`Lifecycle::request`]; `serve()` then drains HTTP, runs the registered shutdown hooks (the
//! FTP server registers one), flushes the audit log and closes the database, in that order.
//! A restart finally replaces the process image with the same binary, arguments and
//! environment ([`exec_self`]), so the PID stays and no supervisor is needed.

use std::ffi::OsString;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::watch;

/// Why the server stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Stop and exit 0.
    Shutdown,
    /// Stop, then run the binary again in the same process.
    Restart,
}

type Hook = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// The shared stop switch and the list of things to stop on the way out.
pub struct Lifecycle {
    exit: watch::Sender<Option<Exit>>,
    hooks: Mutex<Vec<(&'static str, Hook)>>,
    exe: Option<PathBuf>,
}

/// How long one shutdown hook may take before it is abandoned.
const HOOK_TIMEOUT: Duration = Duration::from_secs(5);

impl Default for Lifecycle {
    fn default() -> Self {
        Self::new()
    }
}

impl Lifecycle {
    pub fn new() -> Self {
        let (exit, _) = watch::channel(None);
        Self { exit, hooks: Mutex::new(Vec::new()), exe: current_exe() }
    }

    /// Asks the server to stop. The first request wins: a restart asked for while a shutdown
    /// is under way does not turn it into a restart.
    pub fn request(&self, exit: Exit) {
        self.exit.send_if_modified(|current| {
            if current.is_none() {
                *current = Some(exit);
                true
            } else {
                false
            }
        });
    }

    /// What was asked for, if anything.
    pub fn requested(&self) -> Option<Exit> {
        *self.exit.borrow()
    }

    /// Resolves once a stop was requested. Long-lived responses (event streams) end on it, so
    /// they do not hold the HTTP drain open.
    pub fn stopping(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.exit.subscribe();
        async move {
            let _ = rx.wait_for(Option::is_some).await;
        }
    }

    /// Registers work to do after HTTP has drained and before the audit log and database
    /// close, e.g. stopping the FTP server. Hooks run in registration order, each for at
    /// most 5 seconds.
    pub fn on_shutdown<F, Fut>(&self, name: &'static str, hook: F)
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let hook: Hook = Box::new(move || Box::pin(hook()));
        self.hooks.lock().unwrap_or_else(|p| p.into_inner()).push((name, hook));
    }

    /// Runs and removes every registered hook.
    pub async fn run_hooks(&self) {
        let hooks = std::mem::take(&mut *self.hooks.lock().unwrap_or_else(|p| p.into_inner()));
        for (name, hook) in hooks {
            if tokio::time::timeout(HOOK_TIMEOUT, hook()).await.is_err() {
                tracing::warn!(hook = name, "shutdown hook timed out");
            }
        }
    }

    /// The executable this process was started from (resolved at start, before an update can
    /// rename anything).
    pub fn exe(&self) -> Option<&PathBuf> {
        self.exe.as_ref()
    }
}

/// The running executable's path. When the file was replaced under us (a package upgrade),
/// Linux reports `<path> (deleted)`; the path itself then holds the new binary.
fn current_exe() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    if exe.exists() {
        return Some(exe);
    }
    let text = exe.to_str()?;
    text.strip_suffix(" (deleted)").map(PathBuf::from)
}

/// The arguments to run again with: this process's own, except that a listen address with
/// port 0 becomes the address actually bound, so clients find the server where it was.
pub fn restart_args(mut args: Vec<OsString>, keep_listen: Option<&str>) -> Vec<OsString> {
    let Some(addr) = keep_listen else { return args };
    let mut replaced = false;
    let mut i = 0;
    while i < args.len() {
        if args[i] == "--listen" && i + 1 < args.len() {
            args[i + 1] = OsString::from(addr);
            replaced = true;
            i += 1;
        } else if args[i].to_str().is_some_and(|a| a.starts_with("--listen=")) {
            args[i] = OsString::from(format!("--listen={addr}"));
            replaced = true;
        }
        i += 1;
    }
    if !replaced {
        args.push("--listen".into());
        args.push(addr.into());
    }
    args
}

/// Replaces this process with `exe` run with `args` (the first is argv[0]) and the current
/// environment. Returns only on failure. Every descriptor Nook opens is close-on-exec, so the
/// listening socket (already closed by the drain) and the database do not leak into the new
/// image.
#[cfg(unix)]
pub fn exec_self(exe: &std::path::Path, args: Vec<OsString>) -> std::io::Error {
    use std::os::unix::process::CommandExt;
    let mut args = args.into_iter();
    let arg0 = args.next().unwrap_or_else(|| exe.as_os_str().to_owned());
    let rest: Vec<OsString> = args.collect();
    let mut last = std::io::Error::other("exec did not run");
    // A freshly written binary can be briefly busy (ETXTBSY) if a child forked while its
    // descriptor was open; that clears in milliseconds.
    for _ in 0..20 {
        last = std::process::Command::new(exe).arg0(&arg0).args(&rest).exec();
        if last.kind() != std::io::ErrorKind::ExecutableFileBusy {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    last
}

#[cfg(not(unix))]
pub fn exec_self(_exe: &std::path::Path, _args: Vec<OsString>) -> std::io::Error {
    std::io::Error::other("restart in place needs a Unix system")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<OsString> {
        a.iter().map(OsString::from).collect()
    }

    #[test]
    fn restart_keeps_the_bound_port_only_when_port_zero_was_asked_for() {
        let a = args(&["nook", "serve", "--listen", "127.0.0.1:0"]);
        assert_eq!(restart_args(a.clone(), None), a);
        assert_eq!(restart_args(a, Some("127.0.0.1:4242")), args(&["nook", "serve", "--listen", "127.0.0.1:4242"]));
        assert_eq!(restart_args(args(&["nook", "--listen=:0"]), Some("[::]:7")), args(&["nook", "--listen=[::]:7"]));
        assert_eq!(restart_args(args(&["nook"]), Some("1.2.3.4:5")), args(&["nook", "--listen", "1.2.3.4:5"]));
    }

    #[tokio::test]
    async fn first_stop_request_wins_and_wakes_waiters() {
        let l = Lifecycle::new();
        let stopping = l.stopping();
        l.request(Exit::Shutdown);
        l.request(Exit::Restart);
        tokio::time::timeout(Duration::from_secs(1), stopping).await.expect("woken");
        assert_eq!(l.requested(), Some(Exit::Shutdown));
    }

    #[tokio::test]
    async fn hooks_run_once_in_order() {
        let l = Lifecycle::new();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        for name in ["ftp", "other"] {
            let tx = tx.clone();
            l.on_shutdown(name, move || async move {
                let _ = tx.send(name);
            });
        }
        l.run_hooks().await;
        l.run_hooks().await;
        drop(tx);
        let mut seen = Vec::new();
        while let Some(n) = rx.recv().await {
            seen.push(n);
        }
        assert_eq!(seen, ["ftp", "other"]);
    }
}

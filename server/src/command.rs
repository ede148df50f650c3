//! The command runner behind `/api/command`. It is off unless the config file says
//! `[command] enabled = true` (no API or setting can turn it on). A command string is split
//! into argv with shell-word rules and run directly, never through a shell, so `;`, `|`,
//! `$( )`, backticks and `&&` are plain arguments. argv[0] must equal, byte for byte, one of
//! the absolute paths on `[command] allow` (relative names and `..` never match). The program
//! runs with an empty environment, stdin closed, the storage root as working directory, in a
//! process group of its own that is killed whole at the timeout; output beyond the cap is
//! dropped and marked `truncated`. The API layer audits every attempt.

use std::future::Future;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::Semaphore;

use crate::config::CommandConfig;
use crate::error::{AppError, AppResult, Code};

/// Runs at once; more get 429.
const MAX_CONCURRENT: usize = 4;

/// What a run produced.
#[derive(Debug, Clone)]
pub struct CommandOutcome {
    /// stdout and stderr, interleaved as they arrived, at most `max_output` bytes (lossy UTF-8).
    pub output: String,
    /// The exit code; `None` when the program was killed by a signal (or at the timeout).
    pub exit_code: Option<i32>,
    /// The run was killed at the timeout.
    pub timed_out: bool,
    /// Output was cut at `max_output` bytes.
    pub truncated: bool,
    /// How long it ran.
    pub duration: Duration,
}

pub struct CommandRunner {
    cfg: CommandConfig,
    root: PathBuf,
    slots: Semaphore,
}

impl CommandRunner {
    pub fn new(cfg: CommandConfig, root: PathBuf) -> Self {
        Self { cfg, root, slots: Semaphore::new(MAX_CONCURRENT) }
    }

    /// Whether the config file enabled the runner.
    pub fn is_enabled(&self) -> bool {
        self.cfg.enabled
    }

    /// The runner's configuration (what `/api/command/info` reports).
    pub fn config(&self) -> &CommandConfig {
        &self.cfg
    }

    /// Splits `command` into argv and checks it against the allowlist.
    pub fn parse(&self, command: &str) -> AppResult<Vec<String>> {
        if !self.cfg.enabled {
            return Err(AppError::new(
                Code::CommandDisabled,
                "The command runner is disabled; an administrator enables it in the config file",
            ));
        }
        let argv = shell_words::split(command)
            .map_err(|e| AppError::new(Code::CommandInvalid, format!("Cannot parse the command: {e}")))?;
        let Some(program) = argv.first() else {
            return Err(AppError::new(Code::CommandMissing, "No command provided"));
        };
        if !self.cfg.allow.iter().any(|a| a == program) {
            return Err(AppError::new(
                Code::CommandNotAllowed,
                "That program is not on the allowlist (absolute paths in [command] allow)",
            ));
        }
        Ok(argv)
    }

    /// Runs an argv returned by [`parse`](Self::parse). When `stop` resolves first (the server
    /// is stopping) the program is killed like at the timeout, so it never holds up a restart.
    pub async fn run(&self, argv: &[String], stop: impl Future<Output = ()>) -> AppResult<CommandOutcome> {
        let Some((program, args)) = argv.split_first() else {
            return Err(AppError::new(Code::CommandMissing, "No command provided"));
        };
        let _slot = self.slots.try_acquire().map_err(|_| {
            AppError::rate_limited(
                Code::CommandBusy,
                format!("{MAX_CONCURRENT} commands are already running"),
                Duration::from_secs(1),
            )
        })?;
        let started = Instant::now();
        let mut cmd = tokio::process::Command::new(program);
        cmd.args(args)
            .env_clear()
            .current_dir(&self.root)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        #[cfg(unix)]
        cmd.process_group(0);
        let mut child = cmd.spawn().map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => AppError::new(Code::ProgramNotFound, "The program does not exist"),
            std::io::ErrorKind::PermissionDenied => {
                AppError::new(Code::ProgramNotExecutable, "The program cannot be executed")
            }
            _ => AppError::internal(format!("spawn {program}: {e}")),
        })?;
        // If this future is dropped mid-run (client gone, server stopping), the guard kills the
        // whole group; kill_on_drop alone would reach only the direct child.
        let mut group = GroupGuard(child.id());
        let mut stdout = child.stdout.take();
        let mut stderr = child.stderr.take();
        let cap = usize::try_from(self.cfg.max_output).unwrap_or(usize::MAX);
        let mut out = Output { bytes: Vec::new(), cap, truncated: false };

        let work = tokio::time::timeout(self.cfg.timeout.0, async {
            let (mut a, mut b) = ([0u8; 8192], [0u8; 8192]);
            while stdout.is_some() || stderr.is_some() {
                tokio::select! {
                    n = read_some(&mut stdout, &mut a) => out.push(&a[..n]),
                    n = read_some(&mut stderr, &mut b) => out.push(&b[..n]),
                }
            }
            child.wait().await
        });
        let (finished, stopped) = tokio::select! {
            r = work => (r.ok(), false),
            () = stop => (None, true),
        };

        let (exit_code, timed_out) = match finished {
            Some(Ok(status)) => {
                // Reaped: the id may be reused from now on, so never signal it again.
                group.0 = None;
                (status.code(), false)
            }
            Some(Err(e)) => return Err(AppError::internal(format!("wait for {program}: {e}"))),
            None => {
                // Not reaped yet, so the group id is still ours: kill everything it started.
                group.kill();
                let _ = child.kill().await;
                group.0 = None;
                (None, !stopped)
            }
        };
        Ok(CommandOutcome {
            output: String::from_utf8_lossy(&out.bytes).into_owned(),
            exit_code,
            timed_out,
            truncated: out.truncated,
            duration: started.elapsed(),
        })
    }
}

struct Output {
    bytes: Vec<u8>,
    cap: usize,
    truncated: bool,
}

impl Output {
    fn push(&mut self, data: &[u8]) {
        let room = self.cap.saturating_sub(self.bytes.len());
        if data.len() > room {
            self.truncated = true;
        }
        self.bytes.extend_from_slice(&data[..data.len().min(room)]);
    }
}

/// Reads from a pipe; at end of file (or error) the pipe is dropped and 0 returned. A pipe
/// already gone never completes, so `select!` waits on the other one.
async fn read_some<R: AsyncRead + Unpin>(pipe: &mut Option<R>, buf: &mut [u8]) -> usize {
    let Some(r) = pipe.as_mut() else { return std::future::pending().await };
    match r.read(buf).await {
        Ok(0) | Err(_) => {
            *pipe = None;
            0
        }
        Ok(n) => n,
    }
}

/// The process group of a running (not yet reaped) program; killed when dropped while set.
struct GroupGuard(Option<u32>);

impl GroupGuard {
    #[cfg(unix)]
    fn kill(&self) {
        let pid = self.0.and_then(|p| i32::try_from(p).ok()).and_then(rustix::process::Pid::from_raw);
        if let Some(pid) = pid {
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
    }

    #[cfg(not(unix))]
    fn kill(&self) {}
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Dur;

    fn runner(allow: &[&str]) -> CommandRunner {
        let cfg = CommandConfig {
            enabled: true,
            allow: allow.iter().map(|s| s.to_string()).collect(),
            timeout: Dur(Duration::from_secs(5)),
            max_output: 16,
        };
        CommandRunner::new(cfg, std::env::temp_dir())
    }

    fn code(e: AppError) -> &'static str {
        match e {
            e if matches!(e.status(), 400 | 403) => e.code().as_str(),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn shell_syntax_is_plain_arguments_and_only_exact_paths_run() {
        let r = runner(&["/bin/echo"]);
        assert_eq!(
            r.parse("/bin/echo a;b | c $(d) `e` && f").expect("ok"),
            ["/bin/echo", "a;b", "|", "c", "$(d)", "`e`", "&&", "f"]
        );
        assert_eq!(code(r.parse("echo hi").expect_err("relative")), "command_not_allowed");
        assert_eq!(code(r.parse("/bin/../bin/echo hi").expect_err("dotdot")), "command_not_allowed");
        assert_eq!(code(r.parse("").expect_err("empty")), "command_missing");
        assert_eq!(code(r.parse("/bin/echo 'open").expect_err("quote")), "command_invalid");
        let off = CommandRunner::new(CommandConfig::default(), std::env::temp_dir());
        assert_eq!(code(off.parse("/bin/echo").expect_err("off")), "command_disabled");
    }

    #[tokio::test]
    async fn output_is_capped_and_marked() {
        let r = runner(&["/bin/echo"]);
        let argv = r.parse("/bin/echo 0123456789abcdefXYZ").expect("ok");
        let out = r.run(&argv, std::future::pending()).await.expect("run");
        assert_eq!(out.output, "0123456789abcdef");
        assert!(out.truncated);
        assert_eq!(out.exit_code, Some(0));
    }
}

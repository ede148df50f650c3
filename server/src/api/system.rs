//! Server status, resources, the command runner, stop/restart, version, self-update and
//! metrics. Every operation but `/api/is_up` is gated; new ones are admin-only in the role map
//! until an administrator grants them.

use super::Caller;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use poem::Request;
use poem::web::Data;
use poem_openapi::payload::{EventStream, Json, PlainText};
use poem_openapi::{Object, OpenApi};

use super::field::Required;
use super::{ApiResult, Auth, StatusBody, Tag, ip_of};
use crate::audit::AuditEvent;
use crate::error::{AppError, Code};
use crate::lifecycle::Exit;
use crate::state::AppState;
use crate::stats::{HistoryPoint, Snapshot};
use crate::update::UpdateStatus;

#[derive(Default)]
pub struct SystemApi;

/// Public facts about this installation.
#[derive(Debug, Object)]
pub struct SiteView {
    /// Name of the site (setting `site_name`), shown in the web app's title bar and login page.
    pub site_name: String,
}

/// Version and build of the running server.
#[derive(Debug, Object)]
pub struct VersionView {
    /// Nook's version.
    pub version: String,
    /// Git commit the binary was built from (`unknown` outside a checkout).
    pub commit: String,
    /// When the binary was built (RFC 3339).
    pub build_date: String,
}

/// The last hour of resource samples.
#[derive(Debug, Object)]
pub struct ResourceHistory {
    /// Seconds between samples.
    pub interval_seconds: u64,
    /// Samples, oldest first.
    pub points: Vec<HistoryPoint>,
}

/// A command to run.
#[derive(Debug, Object)]
pub struct RunCommand {
    /// Program and arguments, split with shell-word rules (quotes group words; nothing is
    /// interpreted by a shell). The program must be an absolute path on the allowlist.
    pub command: Required<String>,
}

/// What a command did.
#[derive(Debug, Object)]
pub struct CommandResult {
    /// `Command executed`.
    pub status: String,
    /// stdout and stderr as they arrived, cut at the output cap.
    pub output: String,
    /// Exit code; absent when the program was killed (timeout or signal).
    #[oai(nullable)]
    pub exit_code: Option<i32>,
    /// The program ran past the timeout and was killed.
    pub timed_out: bool,
    /// The output was cut at the cap.
    pub truncated: bool,
    /// Run time in milliseconds.
    pub duration_ms: u64,
}

/// Whether the command runner is on and what it may run, so a client knows without trying.
#[derive(Debug, Object)]
pub struct CommandInfo {
    /// Whether the config file enables `/api/command` (`[command] enabled`).
    pub enabled: bool,
    /// Absolute paths of the programs it may run (empty when disabled).
    pub allow: Vec<String>,
    /// Seconds a run may take before it is killed.
    pub timeout_seconds: u64,
    /// Most bytes of output a run returns.
    pub max_output: u64,
}

/// An update that started.
#[derive(Debug, Object)]
pub struct UpdateStarted {
    /// `Update started`.
    pub status: String,
    /// The version being installed.
    pub version: String,
}

#[OpenApi(tag = "Tag::System")]
impl SystemApi {
    /// Check that the server is running (no authentication; 1 request per second per IP).
    #[oai(path = "/api/is_up", method = "get", operation_id = "is_up")]
    async fn is_up(&self) -> Json<StatusBody> {
        StatusBody::new("Server is up")
    }

    /// What a page shows before anyone signs in: the site's name (no authentication).
    #[oai(path = "/api/site", method = "get", operation_id = "get_site")]
    async fn site(&self, state: Data<&Arc<AppState>>) -> Json<SiteView> {
        Json(SiteView { site_name: state.settings.text("site_name").unwrap_or_else(|| "Nook".into()) })
    }

    /// Get the server version.
    #[oai(path = "/api/get_version", method = "get", operation_id = "get_version")]
    async fn get_version(&self, _auth: Auth) -> Json<VersionView> {
        Json(VersionView {
            version: env!("CARGO_PKG_VERSION").to_string(),
            commit: env!("NOOK_GIT_COMMIT").to_string(),
            build_date: env!("NOOK_BUILD_DATE").to_string(),
        })
    }

    /// System resource usage: `cpu`, `memory` and `disk` (the storage root's file system) as
    /// integer percentages, plus totals, disks, load, uptime, Nook's memory, network rates and
    /// container limits. Sampled every 2 s (disks every 30 s); reading it costs nothing.
    #[oai(path = "/api/resources", method = "get", operation_id = "get_resources")]
    async fn resources(&self, state: Data<&Arc<AppState>>, _auth: Auth) -> ApiResult<Json<Snapshot>> {
        Ok(Json((*state.stats.current().await?).clone()))
    }

    /// The last hour of resource samples, for charts.
    #[oai(path = "/api/resources/history", method = "get", operation_id = "get_resources_history")]
    async fn resources_history(&self, state: Data<&Arc<AppState>>, _auth: Auth) -> ApiResult<Json<ResourceHistory>> {
        Ok(Json(ResourceHistory {
            interval_seconds: crate::stats::SAMPLE_INTERVAL.as_secs(),
            points: state.stats.history(),
        }))
    }

    /// Server-sent events: the current resource snapshot, then each new one as it is sampled.
    #[oai(path = "/api/resources/stream", method = "get", operation_id = "stream_resources")]
    async fn resources_stream(
        &self,
        caller: Caller,
    ) -> ApiResult<EventStream<futures_util::stream::BoxStream<'static, Snapshot>>> {
        let mut rx = caller.state.stats.subscribe();
        rx.mark_changed();
        let snapshots = futures_util::stream::unfold(rx, |mut rx| async move {
            loop {
                rx.changed().await.ok()?;
                let latest = rx.borrow_and_update().clone();
                if let Some(s) = latest {
                    return Some(((*s).clone(), rx));
                }
            }
        });
        // Ends when the server stops, so an open stream never holds up a restart.
        let stream = snapshots.take_until(caller.state.lifecycle.stopping()).boxed();
        Ok(EventStream::new(stream).keep_alive(Duration::from_secs(15)))
    }

    /// Run an allowlisted program (off unless the config file enables it). Arguments are
    /// split with shell-word rules and passed directly: no shell, an empty environment, the
    /// storage root as working directory, a timeout and an output cap. Every attempt is
    /// audited.
    #[oai(path = "/api/command", method = "post", operation_id = "run_command")]
    async fn command(&self, caller: Caller, body: Json<RunCommand>) -> ApiResult<Json<CommandResult>> {
        let event = AuditEvent::new("command").actor(&caller.principal().username).ip(caller.ip());
        let raw = body.0.command.0.unwrap_or_default();
        let argv = match caller.state.commands.parse(&raw) {
            Ok(argv) => argv,
            Err(e) => {
                caller.state.audit.record(event.outcome("denied").detail(format!("{raw:?}: {}", code_of(&e))));
                return Err(e.into());
            }
        };
        let argv_json = serde_json::to_string(&argv).unwrap_or_default();
        let out = match caller.state.commands.run(&argv, caller.state.lifecycle.stopping()).await {
            Ok(out) => out,
            Err(e) => {
                caller.state.audit.record(event.outcome("error").detail(format!("{argv_json}: {}", code_of(&e))));
                return Err(e.into());
            }
        };
        let (outcome, how) = match (out.timed_out, out.exit_code) {
            (true, _) => ("timed_out", "killed at the timeout".to_string()),
            (false, Some(0)) => ("ok", "exit 0".to_string()),
            (false, Some(c)) => ("failed", format!("exit {c}")),
            (false, None) if caller.state.lifecycle.requested().is_some() => {
                ("stopped", "killed: server stopping".to_string())
            }
            (false, None) => ("failed", "killed by a signal".to_string()),
        };
        caller.state.audit.record(event.outcome(outcome).detail(format!("{argv_json}: {how}")));
        Ok(Json(CommandResult {
            status: "Command executed".into(),
            output: out.output,
            exit_code: out.exit_code,
            timed_out: out.timed_out,
            truncated: out.truncated,
            duration_ms: u64::try_from(out.duration.as_millis()).unwrap_or(u64::MAX),
        }))
    }

    /// Whether the command runner is enabled, its allowlist, timeout and output cap.
    #[oai(path = "/api/command/info", method = "get", operation_id = "command_info")]
    async fn command_info(&self, state: Data<&Arc<AppState>>, _auth: Auth) -> Json<CommandInfo> {
        let cfg = state.commands.config();
        Json(CommandInfo {
            enabled: cfg.enabled,
            allow: if cfg.enabled { cfg.allow.clone() } else { Vec::new() },
            timeout_seconds: cfg.timeout.0.as_secs(),
            max_output: cfg.max_output,
        })
    }

    /// Stop the server: answers first, then drains HTTP, stops FTP, flushes the audit log,
    /// closes the database and exits 0.
    #[oai(path = "/api/shutdown", method = "post", operation_id = "shutdown")]
    async fn shutdown(&self, state: Data<&Arc<AppState>>, req: &Request, auth: Auth) -> ApiResult<Json<StatusBody>> {
        state.audit.record(AuditEvent::new("shutdown").actor(&auth.principal().username).ip(ip_of(req)));
        state.lifecycle.request(Exit::Shutdown);
        Ok(StatusBody::new("Shutting down"))
    }

    /// Restart the server in place: stops like `/api/shutdown`, then runs the same binary with
    /// the same arguments and environment in the same process (same PID). Tokens stay valid.
    #[oai(path = "/api/restart", method = "post", operation_id = "restart")]
    async fn restart(&self, state: Data<&Arc<AppState>>, req: &Request, auth: Auth) -> ApiResult<Json<StatusBody>> {
        if state.lifecycle.exe().is_none() {
            return Err(AppError::new(Code::RestartUnavailable, "Cannot tell which binary to run again").into());
        }
        state.audit.record(AuditEvent::new("restart").actor(&auth.principal().username).ip(ip_of(req)));
        state.lifecycle.request(Exit::Restart);
        Ok(StatusBody::new("Restarting"))
    }

    /// Install the newest release from the configured source if it is newer and correctly
    /// signed: verifies the manifest now, then downloads, checks the hash, replaces the binary
    /// (keeping `<binary>.previous`) and restarts in the background. Follow it with
    /// `/api/update/status`.
    #[oai(path = "/api/update", method = "post", operation_id = "update")]
    async fn update(&self, state: Data<&Arc<AppState>>, req: &Request, auth: Auth) -> ApiResult<Json<UpdateStarted>> {
        let actor = auth.principal().username.clone();
        let event = AuditEvent::new("update").actor(&actor).ip(ip_of(req));
        match state.updater.start(state.lifecycle.clone(), state.audit.clone(), actor.clone()).await {
            Ok(version) => {
                state.audit.record(event.outcome("started").detail(version.clone()));
                Ok(Json(UpdateStarted { status: "Update started".into(), version }))
            }
            Err(e) => {
                state.audit.record(event.outcome("refused").detail(code_of(&e)));
                Err(e.into())
            }
        }
    }

    /// Progress of the last update: state, bytes downloaded, and the error code when it failed.
    #[oai(path = "/api/update/status", method = "get", operation_id = "update_status")]
    async fn update_status(&self, state: Data<&Arc<AppState>>, _auth: Auth) -> ApiResult<Json<UpdateStatus>> {
        Ok(Json(state.updater.status()))
    }

    /// Stop the server so an external updater can replace it (seed 002): answers, then stops
    /// gracefully like `/api/shutdown` and exits 0; the updater starts it again.
    #[oai(path = "/update_start_exit_program", method = "post", operation_id = "update_start_exit_program")]
    async fn update_start_exit_program(&self, caller: Caller) -> ApiResult<Json<StatusBody>> {
        caller.state.audit.record(
            AuditEvent::new("shutdown")
                .actor(&caller.principal().username)
                .ip(caller.ip())
                .detail("for an external update"),
        );
        caller.state.lifecycle.request(Exit::Shutdown);
        Ok(StatusBody::new("Update started"))
    }

    /// Prometheus metrics (text format): HTTP requests by route and status with latency
    /// histograms, bytes transferred, logins, bans, uploads in flight, build info and the
    /// resource snapshot.
    #[oai(path = "/metrics", method = "get", operation_id = "get_metrics")]
    async fn metrics(&self, state: Data<&Arc<AppState>>, _auth: Auth) -> ApiResult<PlainText<String>> {
        Ok(PlainText(state.render_metrics()))
    }
}

/// The stable code of an error, for audit details.
fn code_of(e: &AppError) -> &'static str {
    e.code().as_str()
}

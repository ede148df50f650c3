//! The audit log (seed 002 `/api/get_logs`).

use super::Caller;

use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::{ApiResult, Tag};
use crate::db::AuditFilter;
use crate::error::{AppError, Code};

#[derive(Default)]
pub struct LogsApi;

/// One audit event.
#[derive(Debug, Object)]
pub struct LogEntry {
    /// Event id (grows with time).
    pub id: i64,
    /// When it happened (RFC 3339, UTC).
    pub timestamp: String,
    /// What happened, e.g. `login`, `user_create`, `upload`.
    pub action: String,
    /// The client's address.
    pub ip: String,
    /// Who did it (username), empty when unknown.
    pub actor: String,
    /// `ok`, `failed`, `denied` or `banned`.
    pub outcome: String,
    /// Details: target, path, bytes (control characters escaped).
    pub detail: String,
}

#[OpenApi(tag = "Tag::Logs")]
impl LogsApi {
    /// Audit log entries, newest first.
    #[oai(path = "/api/get_logs", method = "get", operation_id = "get_logs")]
    #[allow(clippy::too_many_arguments)]
    async fn get_logs(
        &self,
        caller: Caller,
        /// Most entries to return (1–1000, default 100).
        #[oai(validator(minimum(value = "1"), maximum(value = "1000")))]
        limit: Query<Option<u64>>,
        /// Entries to skip.
        #[oai(validator(minimum(value = "0")))]
        offset: Query<Option<u64>>,
        /// Only this action.
        action: Query<Option<String>>,
        /// Only this user.
        actor: Query<Option<String>>,
        /// Only this client address.
        ip: Query<Option<String>>,
        /// Only entries at or after this time (RFC 3339).
        since: Query<Option<String>>,
    ) -> ApiResult<Json<Vec<LogEntry>>> {
        let limit = limit.0.unwrap_or(100);
        let since = match since.0.filter(|s| !s.is_empty()) {
            Some(s) => Some(
                chrono::DateTime::parse_from_rfc3339(&s)
                    .map_err(|_| AppError::new(Code::SinceInvalid, "since must be an RFC 3339 time"))?
                    .with_timezone(&chrono::Utc),
            ),
            None => None,
        };
        let filter = AuditFilter {
            action: action.0.filter(|s| !s.is_empty()),
            actor: actor.0.filter(|s| !s.is_empty()),
            ip: ip.0.filter(|s| !s.is_empty()),
            since,
            limit,
            offset: offset.0.unwrap_or(0),
        };
        let rows = caller.state.audit.query(&filter).await?;
        Ok(Json(
            rows.into_iter()
                .map(|r| LogEntry {
                    id: r.id,
                    timestamp: r.timestamp.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    action: r.action,
                    ip: r.ip,
                    actor: r.actor,
                    outcome: r.outcome,
                    detail: r.detail,
                })
                .collect(),
        ))
    }
}

//! Run-time settings (seed 002 `/api/get_settings`, `/api/update_settings`).

use super::Caller;
use std::sync::Arc;

use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use serde_json::Value;

use super::{ApiResult, Auth, StatusBody, Tag};
use crate::audit::AuditEvent;
use crate::error::{AppError, Code};
use crate::settings::{DEFS, Kind};
use crate::state::AppState;

#[derive(Default)]
pub struct SettingsApi;

/// One setting with its type and help, for forms.
#[derive(Debug, Object)]
pub struct SettingInfo {
    /// Setting key.
    pub key: String,
    /// Current value.
    pub value: Value,
    /// Value when never set.
    pub default: Value,
    /// `text`, `integer` or `boolean`.
    pub kind: String,
    /// Smallest allowed integer (integers only).
    #[oai(nullable)]
    pub min: Option<i64>,
    /// Largest allowed integer, or longest text.
    #[oai(nullable)]
    pub max: Option<i64>,
    /// What the setting does.
    pub help: String,
    /// The value in force now: `value` when set, else what `source` names.
    pub effective: Value,
    /// Where `effective` comes from: `setting` (set here), `config` (unset: the config file,
    /// a `NOOK_*` variable or the config's built-in value applies) or `default` (unset: the
    /// setting's own default).
    pub source: String,
}

#[OpenApi(tag = "Tag::Settings")]
impl SettingsApi {
    /// Every setting as one object of key → value.
    #[oai(path = "/api/get_settings", method = "get", operation_id = "get_settings")]
    async fn get_settings(&self, caller: Caller) -> Json<std::collections::BTreeMap<String, Value>> {
        Json((*caller.state.settings.all()).clone())
    }

    /// Change settings: an object of key → new value; unknown keys and bad values are refused
    /// and nothing is changed.
    #[oai(path = "/api/update_settings", method = "post", operation_id = "update_settings")]
    async fn update_settings(&self, caller: Caller, body: Json<Value>) -> ApiResult<Json<StatusBody>> {
        let Value::Object(changes) = body.0 else {
            return Err(AppError::new(Code::SettingsMissing, "No settings provided").into());
        };
        let detail = Value::Object(changes.clone()).to_string();
        caller.state.settings.update(changes).await?;
        caller.state.audit.record(
            AuditEvent::new("settings_update").actor(&caller.principal().username).ip(caller.ip()).detail(detail),
        );
        Ok(StatusBody::new("Settings updated"))
    }

    /// Every setting with its type, limits, default and help text.
    #[oai(path = "/api/settings/info", method = "get", operation_id = "get_settings_info")]
    async fn info(&self, state: Data<&Arc<AppState>>, _auth: Auth) -> Json<Vec<SettingInfo>> {
        let values = state.settings.all();
        Json(
            DEFS.iter()
                .map(|d| {
                    let (kind, min, max) = match d.kind {
                        Kind::Text(max) => ("text", None, i64::try_from(max).ok()),
                        Kind::Int(lo, hi) => ("integer", Some(lo), Some(hi)),
                        Kind::Bool => ("boolean", None, None),
                        Kind::Addr => ("address", None, None),
                        Kind::PortRange => ("port_range", None, None),
                        Kind::Host => ("text", None, Some(253)),
                    };
                    let value = values.get(d.key).cloned().unwrap_or(Value::Null);
                    let (effective, source) = match d.fallback {
                        _ if state.settings.is_set(d.key) => (value.clone(), "setting"),
                        Some(from_config) => (from_config(&state.config), "config"),
                        None => ((d.default)(), "default"),
                    };
                    SettingInfo {
                        key: d.key.to_string(),
                        value,
                        effective,
                        source: source.to_string(),
                        default: (d.default)(),
                        kind: kind.to_string(),
                        min,
                        max,
                        help: d.help.to_string(),
                    }
                })
                .collect(),
        )
    }
}

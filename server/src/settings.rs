//! Run-time settings an administrator edits through the API (`/api/get_settings`,
//! `/api/update_settings`). Each setting is declared once in [`DEFS`] with its type, default
//! and help; values live in the `settings` table and are cached in memory. Settings are not
//! configuration: what the config file says about listen addresses, secrets and the command
//! runner is never editable through the API.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use sea_orm::DatabaseConnection;
use serde_json::Value;

use crate::db;
use crate::error::{AppError, AppResult};

/// The type of a setting's value.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// Text of at most this many characters.
    Text(usize),
    /// An integer within the bounds.
    Int(i64, i64),
    Bool,
}

/// One editable setting.
#[derive(Debug, Clone, Copy)]
pub struct SettingDef {
    pub key: &'static str,
    pub kind: Kind,
    pub default: fn() -> Value,
    pub help: &'static str,
}

/// Every editable setting.
pub const DEFS: &[SettingDef] = &[
    SettingDef {
        key: "site_name",
        kind: Kind::Text(64),
        default: || Value::from("Nook"),
        help: "Name shown in the web app's title bar and login page.",
    },
    SettingDef {
        key: "audit_retention_days",
        kind: Kind::Int(0, 36500),
        default: || Value::from(0),
        help: "Days to keep audit log entries; 0 keeps them forever.",
    },
];

pub struct SettingsService {
    db: DatabaseConnection,
    values: RwLock<Arc<BTreeMap<String, Value>>>,
}

impl SettingsService {
    pub async fn new(db: DatabaseConnection) -> AppResult<Self> {
        let svc = Self { db, values: RwLock::new(Arc::new(BTreeMap::new())) };
        svc.reload().await?;
        Ok(svc)
    }

    async fn reload(&self) -> AppResult<()> {
        let mut map: BTreeMap<String, Value> = DEFS.iter().map(|d| (d.key.to_string(), (d.default)())).collect();
        for (k, v) in db::load_settings(&self.db).await? {
            if map.contains_key(&k)
                && let Ok(v) = serde_json::from_str::<Value>(&v)
            {
                map.insert(k, v);
            }
        }
        *self.values.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(map);
        Ok(())
    }

    /// Every setting with its current value.
    pub fn all(&self) -> Arc<BTreeMap<String, Value>> {
        self.values.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn get(&self, key: &str) -> Option<Value> {
        self.all().get(key).cloned()
    }

    /// Validates every change first, then writes them in one transaction.
    pub async fn update(&self, changes: serde_json::Map<String, Value>) -> AppResult<Vec<String>> {
        if changes.is_empty() {
            return Err(AppError::bad_request("settings_missing", "No settings provided"));
        }
        let mut plan = Vec::new();
        for (k, v) in changes {
            let def = DEFS.iter().find(|d| d.key == k).ok_or_else(|| {
                AppError::bad_request(
                    "unknown_setting",
                    format!("Unknown setting `{}`", crate::audit::escape_control(&k)),
                )
            })?;
            check(def, &v)?;
            plan.push((k, v.to_string()));
        }
        let keys: Vec<String> = plan.iter().map(|(k, _)| k.clone()).collect();
        db::in_transaction(&self.db, move |txn| {
            Box::pin(async move {
                for (k, v) in &plan {
                    db::put_setting(txn, k, v).await?;
                }
                Ok(())
            })
        })
        .await?;
        self.reload().await?;
        Ok(keys)
    }
}

fn check(def: &SettingDef, v: &Value) -> AppResult<()> {
    let ok = match def.kind {
        Kind::Text(max) => v.as_str().is_some_and(|s| s.chars().count() <= max && !s.chars().any(char::is_control)),
        Kind::Int(lo, hi) => v.as_i64().is_some_and(|n| (lo..=hi).contains(&n)),
        Kind::Bool => v.is_boolean(),
    };
    if ok {
        return Ok(());
    }
    let expect = match def.kind {
        Kind::Text(max) => format!("text of at most {max} characters"),
        Kind::Int(lo, hi) => format!("an integer from {lo} to {hi}"),
        Kind::Bool => "true or false".to_string(),
    };
    Err(AppError::bad_request("setting_invalid", format!("Setting `{}` must be {expect}", def.key)))
}

//! Run-time settings an administrator edits through the API (`/api/get_settings`,
//! `/api/update_settings`). Each setting is declared once in [`DEFS`] with its type, default
//! and help; values live in the `settings` table and are cached in memory. Settings are not
//! configuration: what the config file says about listen addresses, secrets and the command
//! runner is never editable through the API.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, RwLock};

use sea_orm::DatabaseConnection;
use serde_json::Value;

use crate::config::Config;
use crate::db;
use crate::error::{AppError, AppResult, Code};

/// The type of a setting's value.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// Text of at most this many characters.
    Text(usize),
    /// An integer within the bounds.
    Int(i64, i64),
    Bool,
    /// A socket address such as `0.0.0.0:2121`.
    Addr,
    /// A port range such as `30000-30009`.
    PortRange,
    /// An IPv4 address or a DNS name (shown to clients as text of at most 253 characters).
    Host,
}

/// One editable setting.
#[derive(Debug, Clone, Copy)]
pub struct SettingDef {
    pub key: &'static str,
    pub kind: Kind,
    pub default: fn() -> Value,
    /// Where the value in force comes from while the setting is unset: the configuration
    /// (file, environment or its built-in value). `None`: the setting's own `default`.
    pub fallback: Option<fn(&Config) -> Value>,
    pub help: &'static str,
}

/// Every editable setting.
pub const DEFS: &[SettingDef] = &[
    SettingDef {
        key: "site_name",
        kind: Kind::Text(64),
        default: || Value::from("Nook"),
        fallback: None,
        help: "Name shown in the web app's title bar and login page.",
    },
    SettingDef {
        key: "audit_retention_days",
        kind: Kind::Int(0, 36500),
        default: || Value::from(0),
        fallback: None,
        help: "Days to keep audit log entries; 0 keeps them forever.",
    },
    SettingDef {
        key: "ftp.listen",
        kind: Kind::Addr,
        default: || Value::Null,
        fallback: Some(|c| Value::from(c.ftp.listen.clone())),
        help: "FTP control address, e.g. 0.0.0.0:2121; empty uses the config file's [ftp] listen. Applies at the next FTP start.",
    },
    SettingDef {
        key: "ftp.passive_ports",
        kind: Kind::PortRange,
        default: || Value::Null,
        fallback: Some(|c| Value::from(c.ftp.passive_ports.clone())),
        help: "Passive data ports, e.g. 30000-30009; empty uses the config file. Applies at the next FTP start.",
    },
    SettingDef {
        key: "ftp.passive_host",
        kind: Kind::Host,
        default: || Value::Null,
        fallback: Some(|c| Value::from(c.ftp.passive_host.clone())),
        help: "Address announced in PASV replies (IPv4 or DNS name); empty uses the config file, else the address clients connect to.",
    },
    SettingDef {
        key: "ftp.greeting",
        kind: Kind::Text(200),
        default: || Value::Null,
        fallback: Some(|c| Value::from(c.ftp.greeting.clone())),
        help: "Text of the FTP greeting; empty uses the config file.",
    },
    SettingDef {
        key: "ftp.idle_timeout_seconds",
        kind: Kind::Int(10, 86400),
        default: || Value::Null,
        fallback: Some(|c| Value::from(c.ftp.idle_timeout.0.as_secs())),
        help: "Close FTP sessions idle this many seconds; empty uses the config file.",
    },
    SettingDef {
        key: "ftp.login_timeout_seconds",
        kind: Kind::Int(1, 3600),
        default: || Value::Null,
        fallback: Some(|c| Value::from(c.ftp.login_timeout.0.as_secs())),
        help: "Close FTP connections that have not logged in this many seconds after connecting; empty uses the config file.",
    },
    SettingDef {
        key: "ftp.max_connections",
        kind: Kind::Int(1, 10000),
        default: || Value::Null,
        fallback: Some(|c| Value::from(c.ftp.max_connections)),
        help: "Most FTP control connections at once; empty uses the config file.",
    },
    SettingDef {
        key: "ftp.max_connections_per_ip",
        kind: Kind::Int(1, 10000),
        default: || Value::Null,
        fallback: Some(|c| Value::from(c.ftp.max_connections_per_ip)),
        help: "Most FTP control connections from one address; empty uses the config file.",
    },
    SettingDef {
        key: "ftp.ftps_required",
        kind: Kind::Bool,
        default: || Value::Null,
        fallback: Some(|c| Value::from(c.ftp.ftps_required)),
        help: "Refuse FTP logins and transfers without TLS (needs ftps_cert and ftps_key in the config file).",
    },
    SettingDef {
        key: "ftp.allow_web_users",
        kind: Kind::Bool,
        default: || Value::Null,
        fallback: Some(|c| Value::from(c.ftp.allow_web_users)),
        help: "Let web users log in over FTP with their own credentials and folders.",
    },
];

pub struct SettingsService {
    db: DatabaseConnection,
    values: RwLock<Arc<BTreeMap<String, Value>>>,
    /// Keys an administrator has set (stored, not null, not empty text).
    set: RwLock<Arc<BTreeSet<String>>>,
}

impl SettingsService {
    pub async fn new(db: DatabaseConnection) -> AppResult<Self> {
        let svc =
            Self { db, values: RwLock::new(Arc::new(BTreeMap::new())), set: RwLock::new(Arc::new(BTreeSet::new())) };
        svc.reload().await?;
        Ok(svc)
    }

    async fn reload(&self) -> AppResult<()> {
        let mut map: BTreeMap<String, Value> = DEFS.iter().map(|d| (d.key.to_string(), (d.default)())).collect();
        let mut set = BTreeSet::new();
        for (k, v) in db::load_settings(&self.db).await? {
            if map.contains_key(&k)
                && let Ok(v) = serde_json::from_str::<Value>(&v)
            {
                if !(v.is_null() || v.as_str() == Some("")) {
                    set.insert(k.clone());
                }
                map.insert(k, v);
            }
        }
        *self.values.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(map);
        *self.set.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(set);
        Ok(())
    }

    /// Every setting with its current value.
    pub fn all(&self) -> Arc<BTreeMap<String, Value>> {
        self.values.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Whether an administrator set `key` (a stored value that is not null or empty text);
    /// otherwise the setting's fallback or default is in force.
    pub fn is_set(&self, key: &str) -> bool {
        self.set.read().unwrap_or_else(|p| p.into_inner()).contains(key)
    }

    pub fn get(&self, key: &str) -> Option<Value> {
        self.all().get(key).cloned()
    }

    /// A text setting when set (not null, not empty).
    pub fn text(&self, key: &str) -> Option<String> {
        self.get(key).and_then(|v| v.as_str().map(str::to_string)).filter(|s| !s.is_empty())
    }

    /// An integer setting when set.
    pub fn int(&self, key: &str) -> Option<i64> {
        self.get(key).and_then(|v| v.as_i64())
    }

    /// A boolean setting when set.
    pub fn bool(&self, key: &str) -> Option<bool> {
        self.get(key).and_then(|v| v.as_bool())
    }

    /// Validates every change first, then writes them in one transaction.
    pub async fn update(&self, changes: serde_json::Map<String, Value>) -> AppResult<Vec<String>> {
        if changes.is_empty() {
            return Err(AppError::new(Code::SettingsMissing, "No settings provided"));
        }
        let mut plan = Vec::new();
        for (k, v) in changes {
            let def = DEFS.iter().find(|d| d.key == k).ok_or_else(|| {
                AppError::new(Code::UnknownSetting, format!("Unknown setting `{}`", crate::audit::escape_control(&k)))
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
    // null resets a setting to its default.
    if v.is_null() {
        return Ok(());
    }
    let ok = match def.kind {
        Kind::Text(max) => v.as_str().is_some_and(|s| s.chars().count() <= max && !s.chars().any(char::is_control)),
        Kind::Int(lo, hi) => v.as_i64().is_some_and(|n| (lo..=hi).contains(&n)),
        Kind::Bool => v.is_boolean(),
        Kind::Addr => v.as_str().is_some_and(|s| s.parse::<std::net::SocketAddr>().is_ok()),
        Kind::PortRange => v.as_str().is_some_and(|s| crate::config::parse_port_range(s).is_some()),
        Kind::Host => v.as_str().is_some_and(crate::config::is_host),
    };
    if ok {
        return Ok(());
    }
    let expect = match def.kind {
        Kind::Text(max) => format!("text of at most {max} characters"),
        Kind::Int(lo, hi) => format!("an integer from {lo} to {hi}"),
        Kind::Bool => "true or false".to_string(),
        Kind::Addr => "an address like 0.0.0.0:2121".to_string(),
        Kind::PortRange => "a port range like 30000-30009".to_string(),
        Kind::Host => "an IPv4 address or a DNS name like nas.example.org".to_string(),
    };
    Err(AppError::new(Code::SettingInvalid, format!("Setting `{}` must be {expect}", def.key)))
}

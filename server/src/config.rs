//! Configuration: one [`Config`] struct built from layers, lowest first — defaults, a TOML file
//! (`--config` or `NOOK_CONFIG`), `NOOK_*` environment variables (`__` nests: `NOOK_AUTH__BAN_TIME`),
//! then command-line flags. Secrets may also come from files: `<key>_file` in TOML or
//! `NOOK_<KEY>_FILE` in the environment. Nothing else in Nook reads the environment.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use toml::Value;

/// Keys whose value may be read from a file named by `<key>_file`.
const SECRET_KEYS: &[&str] = &["admin_password", "jwt_secret", "database_url"];

/// Longest lifetime a download ticket may have: a URL with a ticket ends up in browser
/// history and proxy logs, so it must die soon.
pub const MAX_TICKET_TTL: Duration = Duration::from_secs(5 * 60);

/// Top-level keys without a default value (absent from the serialised defaults).
const OPTIONAL_KEYS: &[&str] = &["root", "database_url", "admin_password", "jwt_secret"];

/// Nook's whole configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP server binds, e.g. `127.0.0.1:8080` (`:0` picks a free port).
    pub listen: String,
    /// Folder for the database, the JWT secret and generated files.
    pub data_dir: PathBuf,
    /// Storage root that users browse; default `<data_dir>/files`.
    pub root: Option<PathBuf>,
    /// `sqlite://path` (default `<data_dir>/nook.db`) or `postgres://user:pass@host/db`.
    pub database_url: Option<String>,
    /// Name of the admin created on first start.
    pub admin_user: String,
    /// Password of the admin created on first start; random and printed once when unset.
    pub admin_password: Option<String>,
    /// HS256 secret for tokens; generated and stored in `<data_dir>/jwt_secret` when unset.
    pub jwt_secret: Option<String>,
    /// Lifetime of login tokens, e.g. `24h`.
    pub token_ttl: Dur,
    /// Proxies whose `X-Forwarded-For` is believed (IPs or CIDRs).
    pub trusted_proxies: Vec<String>,
    /// Log filter, e.g. `info` or `nook=debug,info`.
    pub log: String,
    /// Login, password hashing and brute-force defence.
    pub auth: AuthConfig,
    /// HTTP limits and headers.
    pub http: HttpConfig,
    /// File transfer limits.
    pub files: FilesConfig,
    /// The FTP(S) server (started and stopped at run time through the API).
    pub ftp: FtpConfig,
    /// The command runner (`/api/command`): off unless the config file turns it on.
    pub command: CommandConfig,
    /// Self-update from a signed release manifest (`/api/update`).
    pub update: UpdateConfig,
    /// Prometheus metrics (`/metrics`).
    pub metrics: MetricsConfig,
    /// WebDAV at `/dav/`.
    pub webdav: WebDavConfig,
}

/// `[webdav]`: the WebDAV server at `/dav/` (same accounts, folders, quotas and audit log as
/// the web app and FTP).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebDavConfig {
    /// Serve WebDAV at `/dav/`; off: `/dav/` answers 404.
    pub enabled: bool,
}

impl Default for WebDavConfig {
    fn default() -> Self {
        Self { enabled: true }
    }
}

/// `[command]`: the command runner. Read from the config file only: `NOOK_COMMAND__*`
/// variables are refused, and no API or setting can change it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CommandConfig {
    /// Allow `/api/command` at all.
    pub enabled: bool,
    /// Absolute paths of the programs it may run, e.g. `["/usr/bin/df", "/usr/bin/uptime"]`.
    pub allow: Vec<String>,
    /// A run still going after this long is killed (with everything it started).
    pub timeout: Dur,
    /// Bytes of output (stdout and stderr together) returned; the rest is dropped and the
    /// response says `truncated`.
    pub max_output: u64,
}

impl Default for CommandConfig {
    fn default() -> Self {
        Self { enabled: false, allow: Vec::new(), timeout: Dur(Duration::from_secs(10)), max_output: 64 * 1024 }
    }
}

/// `[update]`: where releases come from and the key they must be signed with.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UpdateConfig {
    /// Release source: an `http(s)://` URL or a local directory holding `manifest.json` and
    /// `manifest.json.minisig` (or the URL/path of the manifest itself). Unset: updates are off.
    pub url: Option<String>,
    /// The minisign public key releases are signed with (the `RW...` line of `minisign.pub`).
    pub public_key: Option<String>,
}

/// `[metrics]`: the Prometheus endpoint.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Extra address serving `/metrics` WITHOUT authentication, e.g. `127.0.0.1:9100`; unset:
    /// only the authenticated `/metrics` on the main address.
    pub listen: Option<String>,
}

/// `[auth]`: password hashing and the login defender.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Argon2id memory cost in KiB (OWASP: 19456).
    pub argon2_memory_kib: u32,
    /// Argon2id iterations.
    pub argon2_iterations: u32,
    /// Argon2id lanes.
    pub argon2_parallelism: u32,
    /// Delay added to a failed login. It doubles with each recent failure of the same account
    /// (from any address), up to `failure_delay_max`, and the account's next attempt waits
    /// for it: guesses from many addresses queue up instead of running in parallel.
    pub failure_delay: Dur,
    /// Longest delay a failed login gets (see `failure_delay`).
    pub failure_delay_max: Dur,
    /// Failed logins from one IP within `failure_window` before that IP is banned.
    pub max_failures_per_ip: u32,
    /// Failed logins for one account within `failure_window` before the IP trying is banned.
    pub max_failures_per_user: u32,
    /// Window in which failures are counted.
    pub failure_window: Dur,
    /// How long a ban lasts.
    pub ban_time: Dur,
    /// Requests per second per IP allowed on `/api/user/login` and `/api/is_up`.
    pub rate_per_second: u32,
    /// Burst allowed above that rate.
    pub rate_burst: u32,
}

/// `[http]`: limits and headers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Largest JSON request body in bytes.
    pub json_body_limit: u64,
    /// CSP `frame-ancestors` value for the web app.
    pub frame_ancestors: String,
    /// A request's line and headers must arrive within this long of their first byte (a new
    /// connection's first request, within this long of connecting); slower clients are
    /// disconnected.
    pub header_read_timeout: Dur,
    /// A connection with no request in flight is closed after this long idle. Requests in
    /// flight (slow uploads, long downloads, event streams) are never cut.
    pub keep_alive_timeout: Dur,
    /// Most HTTP connections open at once; more wait in the listen queue until one closes.
    pub max_connections: u32,
}

/// `[files]`: transfer limits.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FilesConfig {
    /// Largest single upload in bytes; 0 means no limit (the disk is the limit).
    pub max_upload_size: u64,
    /// Largest file `/api/get_file` returns inline; bigger ones get 413 and go through `/api/download`.
    pub get_file_max_size: u64,
    /// How long an unfinished resumable (tus) upload is kept.
    pub upload_expiry: Dur,
    /// fsync each uploaded file and its folder before it appears (slower, survives power loss).
    pub fsync: bool,
    /// Lifetime of a download ticket (`/api/download_ticket`): at least 1s, at most 5m.
    pub ticket_ttl: Dur,
    /// Most entries (files and folders) in one zip download; a zip that reaches it is aborted.
    /// The zip's central directory stays in memory until the end (about 0.6 KiB per entry).
    pub zip_max_entries: u64,
}

impl Default for FilesConfig {
    fn default() -> Self {
        Self {
            max_upload_size: 0,
            get_file_max_size: 10 * 1024 * 1024,
            upload_expiry: Dur(Duration::from_secs(24 * 3600)),
            fsync: false,
            ticket_ttl: Dur(MAX_TICKET_TTL),
            zip_max_entries: 1_000_000,
        }
    }
}

/// `[ftp]`: the FTP(S) server. Each of these except the FTPS files can be overridden at run
/// time through the settings API (`ftp.listen`, ...); a change applies at the next start.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FtpConfig {
    /// Start FTP on boot until an administrator starts or stops it once (then that choice is kept).
    pub enabled: bool,
    /// Control connection address.
    pub listen: String,
    /// Passive data ports, `first-last`.
    pub passive_ports: String,
    /// Address announced in PASV replies (an IPv4 address or a DNS name); default: the address the client connected to.
    pub passive_host: String,
    /// PEM certificate chain for FTPS (AUTH TLS); FTPS is off without it.
    pub ftps_cert: Option<PathBuf>,
    /// PEM private key for FTPS.
    pub ftps_key: Option<PathBuf>,
    /// Refuse logins and transfers that do not use TLS (needs the FTPS files).
    pub ftps_required: bool,
    /// Close sessions idle for this long.
    pub idle_timeout: Dur,
    /// Close control connections that have not logged in this long after connecting.
    pub login_timeout: Dur,
    /// Text of the 220 greeting.
    pub greeting: String,
    /// Most control connections at once.
    pub max_connections: u32,
    /// Most control connections at once from one IP.
    pub max_connections_per_ip: u32,
    /// Let web users log in over FTP with their own credentials and path rules.
    pub allow_web_users: bool,
}

impl Default for FtpConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            listen: "0.0.0.0:2121".into(),
            passive_ports: "30000-30009".into(),
            passive_host: String::new(),
            ftps_cert: None,
            ftps_key: None,
            ftps_required: false,
            idle_timeout: Dur(Duration::from_secs(600)),
            login_timeout: Dur(Duration::from_secs(30)),
            greeting: "Nook FTP ready".into(),
            max_connections: 64,
            max_connections_per_ip: 8,
            allow_web_users: true,
        }
    }
}

/// Parses `30000-30009` into an inclusive range.
pub fn parse_port_range(s: &str) -> Option<std::ops::RangeInclusive<u16>> {
    let (a, b) = s.trim().split_once('-')?;
    let (a, b): (u16, u16) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
    (a > 0 && a <= b).then_some(a..=b)
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./nook-data"),
            root: None,
            database_url: None,
            admin_user: "admin".into(),
            admin_password: None,
            jwt_secret: None,
            token_ttl: Dur(Duration::from_secs(24 * 3600)),
            trusted_proxies: Vec::new(),
            log: "info".into(),
            auth: AuthConfig::default(),
            http: HttpConfig::default(),
            files: FilesConfig::default(),
            ftp: FtpConfig::default(),
            command: CommandConfig::default(),
            update: UpdateConfig::default(),
            metrics: MetricsConfig::default(),
            webdav: WebDavConfig::default(),
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            argon2_memory_kib: 19456,
            argon2_iterations: 2,
            argon2_parallelism: 1,
            failure_delay: Dur(Duration::from_millis(500)),
            failure_delay_max: Dur(Duration::from_secs(5)),
            max_failures_per_ip: 10,
            max_failures_per_user: 5,
            failure_window: Dur(Duration::from_secs(15 * 60)),
            ban_time: Dur(Duration::from_secs(15 * 60)),
            rate_per_second: 1,
            rate_burst: 1,
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            json_body_limit: 1024 * 1024,
            frame_ancestors: "'self'".into(),
            header_read_timeout: Dur(Duration::from_secs(15)),
            keep_alive_timeout: Dur(Duration::from_secs(75)),
            max_connections: 1024,
        }
    }
}

/// Values given on the command line; they win over every other layer.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub config: Option<PathBuf>,
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub root: Option<PathBuf>,
}

/// A configuration that could not be loaded; the message says which key or file.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

impl Config {
    /// Builds the configuration from every layer, reading the real process environment.
    pub fn load(flags: &Overrides) -> Result<Config, ConfigError> {
        Self::load_from(flags, std::env::vars())
    }

    /// Builds the configuration from the given environment (tests pass their own).
    pub fn load_from(
        flags: &Overrides,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let env: BTreeMap<String, String> = env.into_iter().collect();
        if let Some(key) = env.keys().find(|k| k.starts_with("NOOK_COMMAND__")) {
            return Err(ConfigError(format!(
                "{key}: the command runner is configured in the config file only ([command] section)"
            )));
        }
        let defaults = Value::try_from(Config::default()).map_err(|e| ConfigError(e.to_string()))?;
        let mut merged = defaults.clone();

        let file = flags.config.clone().or_else(|| env.get("NOOK_CONFIG").map(PathBuf::from));
        if let Some(file) = file {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| ConfigError(format!("cannot read {}: {e}", file.display())))?;
            let layer: Value = toml::from_str(&text).map_err(|e| ConfigError(format!("{}: {e}", file.display())))?;
            merge(&mut merged, layer);
        }
        merge(&mut merged, env_layer(&env, &defaults));

        let mut cli = toml::Table::new();
        if let Some(v) = &flags.listen {
            cli.insert("listen".into(), Value::String(v.clone()));
        }
        if let Some(v) = &flags.data_dir {
            cli.insert("data_dir".into(), Value::String(v.display().to_string()));
        }
        if let Some(v) = &flags.root {
            cli.insert("root".into(), Value::String(v.display().to_string()));
        }
        merge(&mut merged, Value::Table(cli));

        resolve_secret_files(&mut merged)?;
        let config: Config = merged.try_into().map_err(|e: toml::de::Error| ConfigError(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        for p in &self.trusted_proxies {
            parse_cidr(p).ok_or_else(|| ConfigError(format!("trusted_proxies: `{p}` is not an IP or CIDR")))?;
        }
        if self.auth.rate_per_second == 0 {
            return Err(ConfigError("auth.rate_per_second must be at least 1".into()));
        }
        if parse_port_range(&self.ftp.passive_ports).is_none() {
            return Err(ConfigError("ftp.passive_ports must look like 30000-30009".into()));
        }
        if self.ftp.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(ConfigError("ftp.listen must be an address like 0.0.0.0:2121".into()));
        }
        if !self.ftp.passive_host.is_empty() && !is_host(&self.ftp.passive_host) {
            return Err(ConfigError(
                "ftp.passive_host must be an IPv4 address or a DNS name like nas.example.org".into(),
            ));
        }
        if self.token_ttl.0 < Duration::from_secs(60) {
            return Err(ConfigError("token_ttl must be at least 1m".into()));
        }
        for p in &self.command.allow {
            if !is_normal_absolute(p) {
                return Err(ConfigError(format!(
                    "command.allow: `{p}` must be an absolute path without `.`, `..` or empty segments"
                )));
            }
        }
        if self.command.timeout.0.is_zero() {
            return Err(ConfigError("command.timeout must be more than 0".into()));
        }
        match (&self.update.url, &self.update.public_key) {
            (Some(_), None) => {
                return Err(ConfigError(
                    "update.url is set but update.public_key is not: updates must be signed".into(),
                ));
            }
            (_, Some(key)) => {
                parse_public_key(key).map_err(|e| ConfigError(format!("update.public_key: {e}")))?;
            }
            (None, None) => {}
        }
        if self.http.header_read_timeout.0.is_zero() || self.http.keep_alive_timeout.0.is_zero() {
            return Err(ConfigError("http.header_read_timeout and http.keep_alive_timeout must be more than 0".into()));
        }
        if self.http.max_connections == 0 {
            return Err(ConfigError("http.max_connections must be at least 1".into()));
        }
        let ticket = self.files.ticket_ttl.0;
        if ticket < Duration::from_secs(1) || ticket > MAX_TICKET_TTL {
            return Err(ConfigError("files.ticket_ttl must be between 1s and 5m".into()));
        }
        Ok(())
    }

    /// The storage root users browse.
    pub fn root_dir(&self) -> PathBuf {
        self.root.clone().unwrap_or_else(|| self.data_dir.join("files"))
    }

    /// The database URL, defaulting to a SQLite file in the data dir.
    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("nook.db").display()))
    }

    /// Trusted proxy networks, parsed.
    pub fn trusted_networks(&self) -> Vec<ipnet::IpNet> {
        self.trusted_proxies.iter().filter_map(|p| parse_cidr(p)).collect()
    }
}

/// Turns `NOOK_A__B=v` into `{a: {b: v}}`, typed like the default at that key (so a numeric
/// password stays a string and a numeric limit becomes a number).
fn env_layer(env: &BTreeMap<String, String>, defaults: &Value) -> Value {
    let mut root = toml::Table::new();
    for (key, raw) in env {
        let Some(rest) = key.strip_prefix("NOOK_") else { continue };
        if rest == "CONFIG" || rest.is_empty() {
            continue;
        }
        let path: Vec<String> = rest.split("__").map(|s| s.to_ascii_lowercase()).collect();
        // Other tools share the NOOK_ prefix (NOOK_SKIP_WEB_BUILD, NOOK_TEST_*): only keys that
        // name a configuration field are taken; the config file stays strict.
        let top = path[0].as_str();
        let known = defaults.get(top).is_some()
            || OPTIONAL_KEYS.contains(&top)
            || SECRET_KEYS.iter().any(|k| top.strip_suffix("_file") == Some(k));
        if !known {
            continue;
        }
        let default_at = path.iter().try_fold(defaults, |v, k| v.get(k));
        let value = match default_at {
            Some(Value::Integer(_)) => raw.parse::<i64>().map(Value::Integer).unwrap_or(Value::String(raw.clone())),
            Some(Value::Boolean(_)) => match raw.to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => Value::Boolean(true),
                "0" | "false" | "no" | "off" => Value::Boolean(false),
                _ => Value::String(raw.clone()),
            },
            Some(Value::Array(_)) => {
                let parsed: Option<Value> = toml::from_str::<toml::Table>(&format!("v = {raw}"))
                    .ok()
                    .and_then(|mut t| t.remove("v"))
                    .filter(Value::is_array);
                parsed.unwrap_or_else(|| {
                    Value::Array(
                        raw.split(',')
                            .map(str::trim)
                            .filter(|s| !s.is_empty())
                            .map(|s| Value::String(s.into()))
                            .collect(),
                    )
                })
            }
            _ => Value::String(raw.clone()),
        };
        let mut table = &mut root;
        for (i, seg) in path.iter().enumerate() {
            if i + 1 == path.len() {
                table.insert(seg.clone(), value.clone());
            } else {
                let entry = table.entry(seg.clone()).or_insert_with(|| Value::Table(toml::Table::new()));
                if !entry.is_table() {
                    *entry = Value::Table(toml::Table::new());
                }
                let Value::Table(t) = entry else { break };
                table = t;
            }
        }
    }
    Value::Table(root)
}

fn merge(base: &mut Value, layer: Value) {
    match (base, layer) {
        (Value::Table(b), Value::Table(l)) => {
            for (k, v) in l {
                match b.get_mut(&k) {
                    Some(existing) if existing.is_table() && v.is_table() => merge(existing, v),
                    _ => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, l) => *b = l,
    }
}

/// Replaces `<secret>_file` keys by the file's content (one trailing newline trimmed).
fn resolve_secret_files(v: &mut Value) -> Result<(), ConfigError> {
    let Value::Table(t) = v else { return Ok(()) };
    for key in SECRET_KEYS {
        let file_key = format!("{key}_file");
        if let Some(path) = t.remove(&file_key) {
            let Value::String(path) = path else {
                return Err(ConfigError(format!("{file_key} must be a path")));
            };
            let text = std::fs::read_to_string(&path)
                .map_err(|e| ConfigError(format!("{file_key}: cannot read {path}: {e}")))?;
            let text = text.strip_suffix('\n').unwrap_or(&text);
            let text = text.strip_suffix('\r').unwrap_or(text);
            t.insert((*key).to_string(), Value::String(text.to_string()));
        }
    }
    Ok(())
}

/// An absolute path in normal form: `/a/b`, never `a/b`, `/a/../b`, `/a/./b`, `/a//b` or `/a/`.
fn is_normal_absolute(p: &str) -> bool {
    p.len() > 1 && p.starts_with('/') && p[1..].split('/').all(|s| !s.is_empty() && s != "." && s != "..")
}

/// An address or a network (`10.0.0.1`, `10.0.0.0/8`, `fd00::/8`).
pub fn parse_cidr(s: &str) -> Option<ipnet::IpNet> {
    let s = s.trim();
    s.parse::<ipnet::IpNet>().ok().or_else(|| s.parse::<IpAddr>().ok().map(ipnet::IpNet::from))
}

/// Whether `ip` lies in `net`; an IPv4 address mapped into IPv6 (`::ffff:10.0.0.1`, what a
/// dual-stack socket reports) counts as the IPv4 address.
pub fn cidr_contains(net: ipnet::IpNet, ip: IpAddr) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    net.contains(&ip)
}

/// A duration written as `90`, `30s`, `15m`, `24h` or `7d` (a bare number is seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dur(pub Duration);

impl Dur {
    pub fn parse(s: &str) -> Option<Dur> {
        let s = s.trim();
        let (num, unit) = s.find(|c: char| !c.is_ascii_digit()).map_or((s, ""), |i| s.split_at(i));
        let n: u64 = num.parse().ok()?;
        let secs = match unit.trim() {
            "" | "s" => Some(n),
            "ms" => return Some(Dur(Duration::from_millis(n))),
            "m" => n.checked_mul(60),
            "h" => n.checked_mul(3600),
            "d" => n.checked_mul(86400),
            _ => None,
        }?;
        Some(Dur(Duration::from_secs(secs)))
    }
}

impl std::fmt::Display for Dur {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = self.0.as_millis();
        let s = self.0.as_secs();
        if !ms.is_multiple_of(1000) {
            write!(f, "{ms}ms")
        } else if s != 0 && s.is_multiple_of(86400) {
            write!(f, "{}d", s / 86400)
        } else if s != 0 && s.is_multiple_of(3600) {
            write!(f, "{}h", s / 3600)
        } else if s != 0 && s.is_multiple_of(60) {
            write!(f, "{}m", s / 60)
        } else {
            write!(f, "{s}s")
        }
    }
}

impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Secs(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Secs(n) => Ok(Dur(Duration::from_secs(n))),
            Raw::Text(t) => Dur::parse(&t)
                .ok_or_else(|| serde::de::Error::custom(format!("`{t}` is not a duration (e.g. 30s, 15m, 24h)"))),
        }
    }
}

/// Creates `dir` (and parents) if missing.
pub fn ensure_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

/// A minisign public key: the `RW…` line of `minisign.pub`, or the whole file.
pub fn parse_public_key(text: &str) -> Result<minisign_verify::PublicKey, String> {
    let text = text.trim();
    let parsed = if text.contains('\n') {
        minisign_verify::PublicKey::decode(text)
    } else {
        minisign_verify::PublicKey::from_base64(text)
    };
    parsed.map_err(|e| format!("not a minisign public key ({e})"))
}

/// An IPv4 address or a DNS name (letters, digits and `-` in dot-separated labels of at most
/// 63 characters, 253 in all): what FTP may announce in PASV replies.
pub fn is_host(s: &str) -> bool {
    if s.parse::<std::net::Ipv4Addr>().is_ok() {
        return true;
    }
    let s = s.strip_suffix('.').unwrap_or(s);
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// Whether log lines may carry ANSI colours: only when they go to a terminal, and never when
/// `NO_COLOR` is set (<https://no-color.org>). A file, a pipe or journald gets plain text.
pub fn color_logs() -> bool {
    use std::io::IsTerminal as _;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn layers_apply_lowest_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("nook.toml");
        std::fs::write(&file, "listen = \"0.0.0.0:1\"\nlog = \"debug\"\n[auth]\nban_time = \"1h\"\n").expect("write");
        let flags = Overrides { config: Some(file), listen: Some("127.0.0.1:9".into()), ..Default::default() };
        let c = Config::load_from(&flags, env(&[("NOOK_LOG", "warn"), ("NOOK_AUTH__MAX_FAILURES_PER_IP", "3")]))
            .expect("load");
        assert_eq!(c.listen, "127.0.0.1:9");
        assert_eq!(c.log, "warn");
        assert_eq!(c.auth.max_failures_per_ip, 3);
        assert_eq!(c.auth.ban_time, Dur(Duration::from_secs(3600)));
    }

    #[test]
    fn numeric_secret_from_env_stays_a_string_and_file_secrets_are_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let secret = dir.path().join("s");
        std::fs::write(&secret, "from-file\n").expect("write");
        let c = Config::load_from(
            &Overrides::default(),
            env(&[("NOOK_ADMIN_PASSWORD", "12345678"), ("NOOK_JWT_SECRET_FILE", secret.to_str().expect("utf8"))]),
        )
        .expect("load");
        assert_eq!(c.admin_password.as_deref(), Some("12345678"));
        assert_eq!(c.jwt_secret.as_deref(), Some("from-file"));
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("nook.toml");
        std::fs::write(&file, "lissen = \"x\"\n").expect("write");
        let flags = Overrides { config: Some(file), ..Default::default() };
        assert!(Config::load_from(&flags, env(&[])).is_err());
        assert!(Config::load_from(&Overrides::default(), env(&[("NOOK_TOKEN_TTL", "soon")])).is_err());
        assert!(Config::load_from(&Overrides::default(), env(&[("NOOK_SKIP_WEB_BUILD", "1")])).is_ok());
        assert!(Config::load_from(&Overrides::default(), env(&[("NOOK_TRUSTED_PROXIES", "10.0.0.0/99")])).is_err());
    }

    #[test]
    fn command_runner_is_configured_in_the_file_only_with_absolute_paths() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("nook.toml");
        std::fs::write(&file, "[command]\nenabled = true\nallow = [\"/usr/bin/df\"]\n").expect("write");
        let flags = Overrides { config: Some(file.clone()), ..Default::default() };
        let c = Config::load_from(&flags, env(&[])).expect("load");
        assert!(c.command.enabled);
        assert!(Config::load_from(&Overrides::default(), env(&[("NOOK_COMMAND__ENABLED", "true")])).is_err());
        for bad in ["df", "/usr/bin/../bin/df", "/usr//bin/df", "/usr/bin/./df", "/usr/bin/"] {
            std::fs::write(&file, format!("[command]\nallow = [\"{bad}\"]\n")).expect("write");
            assert!(Config::load_from(&flags, env(&[])).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn update_source_needs_a_valid_public_key() {
        let url = ("NOOK_UPDATE__URL", "http://127.0.0.1:1/releases");
        assert!(Config::load_from(&Overrides::default(), env(&[url])).is_err());
        assert!(Config::load_from(&Overrides::default(), env(&[url, ("NOOK_UPDATE__PUBLIC_KEY", "RWnope")])).is_err());
    }

    #[test]
    fn cidr_matching_is_by_bits() {
        let net = parse_cidr("10.1.0.0/16").expect("cidr");
        assert!(cidr_contains(net, "10.1.200.3".parse().expect("ip")));
        assert!(!cidr_contains(net, "10.2.0.1".parse().expect("ip")));
        assert!(cidr_contains(parse_cidr("127.0.0.1").expect("ip"), "::ffff:127.0.0.1".parse().expect("ip")));
    }
}

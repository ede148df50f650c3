//! Signed self-update. A release source (`[update] url`: an `http(s)://` URL or a local
//! directory) holds `manifest.json` and its minisign signature `manifest.json.minisig`. The
//! manifest names a version and, per platform (`x86_64-linux`, `aarch64-linux`, ...), an
//! artifact URL and its SHA-256:
//!
//! ```json
//! {"version": "0.2.0", "artifacts": {"x86_64-linux": {"url": "nook-x86_64-linux", "sha256": "…"}}}
//! ```
//!
//! Order, and nothing is touched on disk before step 5:
//! 1. fetch the manifest and its signature; refuse a missing signature (`update_unsigned`) or
//!    one that does not verify against `[update] public_key` (`update_bad_signature`) —
//!    prehashed (default) minisign signatures only;
//! 2. refuse a version not newer than the running one (`update_not_newer`) and a manifest
//!    without this platform (`update_no_artifact`);
//! 3. (in the background) download the artifact to a temporary file next to the executable,
//!    hashing while writing; refuse a hash mismatch (`update_hash_mismatch`);
//! 4. run the new file with `--version` to prove it executes here (`update_artifact_broken`);
//! 5. hard-link the running binary to `<exe>.previous`, rename the new file over `<exe>`
//!    (atomic), record the install in `<data_dir>/update.json`, and restart in place.
//!
//! The signature covers the manifest, the manifest covers the artifact's hash: a plain-HTTP
//! source cannot inject code, only withhold updates.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use minisign_verify::{PublicKey, Signature};
use poem_openapi::Object;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::audit::{Audit, AuditEvent};
use crate::config::{UpdateConfig, parse_public_key};
use crate::error::{AppError, AppResult, Code};
use crate::lifecycle::{Exit, Lifecycle};

const MANIFEST: &str = "manifest.json";
const MAX_MANIFEST: u64 = 256 * 1024;
const MAX_SIGNATURE: u64 = 16 * 1024;
const MAX_ARTIFACT: u64 = 1024 * 1024 * 1024;

/// This build's platform key in manifests, e.g. `x86_64-linux`.
pub fn platform() -> String {
    format!("{}-{}", std::env::consts::ARCH, std::env::consts::OS)
}

/// The release manifest.
#[derive(Debug, Clone, Deserialize)]
pub struct Manifest {
    /// Release version (`MAJOR.MINOR.PATCH`, optionally `-pre`).
    pub version: String,
    /// Artifacts by platform key.
    pub artifacts: BTreeMap<String, Artifact>,
}

/// One downloadable binary.
#[derive(Debug, Clone, Deserialize)]
pub struct Artifact {
    /// Absolute `http(s)://` URL, or a path relative to the manifest.
    pub url: String,
    /// Hex SHA-256 of the file.
    pub sha256: String,
}

/// A verified release, ready to download.
#[derive(Debug, Clone)]
pub struct Release {
    pub version: String,
    pub artifact: Location,
    pub sha256: String,
}

/// Where a file comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Http(reqwest::Url),
    File(PathBuf),
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Http(u) => write!(f, "{u}"),
            Location::File(p) => write!(f, "{}", p.display()),
        }
    }
}

impl Location {
    /// The manifest named by the configured source.
    fn manifest(source: &str) -> AppResult<Location> {
        if source.starts_with("http://") || source.starts_with("https://") {
            let mut url = reqwest::Url::parse(source)
                .map_err(|e| AppError::new(Code::UpdateSourceInvalid, format!("update.url: {e}")))?;
            if !url.path().ends_with(".json") {
                if !url.path().ends_with('/') {
                    url.set_path(&format!("{}/", url.path()));
                }
                url = url.join(MANIFEST).map_err(|e| AppError::internal(format!("join url: {e}")))?;
            }
            return Ok(Location::Http(url));
        }
        let path = PathBuf::from(source.strip_prefix("file://").unwrap_or(source));
        if path.extension().is_some_and(|e| e == "json") {
            Ok(Location::File(path))
        } else {
            Ok(Location::File(path.join(MANIFEST)))
        }
    }

    fn signature(&self) -> Location {
        match self {
            Location::Http(u) => {
                let mut u = u.clone();
                u.set_path(&format!("{}.minisig", u.path()));
                Location::Http(u)
            }
            Location::File(p) => {
                let mut s = p.clone().into_os_string();
                s.push(".minisig");
                Location::File(s.into())
            }
        }
    }

    /// Resolves an artifact URL from the manifest against the manifest's location.
    fn join(&self, rel: &str) -> AppResult<Location> {
        let invalid = |e: String| AppError::new(Code::UpdateManifestInvalid, e);
        if rel.starts_with("http://") || rel.starts_with("https://") {
            return reqwest::Url::parse(rel).map(Location::Http).map_err(|e| invalid(format!("artifact url: {e}")));
        }
        match self {
            Location::Http(base) => {
                base.join(rel).map(Location::Http).map_err(|e| invalid(format!("artifact url: {e}")))
            }
            Location::File(base) => {
                let rel = rel.strip_prefix("file://").unwrap_or(rel);
                let dir = base.parent().unwrap_or(Path::new("/"));
                Ok(Location::File(dir.join(rel)))
            }
        }
    }
}

/// A `MAJOR.MINOR.PATCH[-pre][+build]` version, ordered the semver way (a pre-release comes
/// before its release; pre-release identifiers compare as text).
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Version {
    core: (u64, u64, u64),
    /// `None` (a release) sorts after every `Some(pre)`.
    release: Option<()>,
    pre: String,
}

impl Version {
    fn parse(s: &str) -> Option<Version> {
        let s = s.trim().trim_start_matches('v');
        let s = s.split('+').next()?;
        let (core, pre) = match s.split_once('-') {
            Some((c, p)) => (c, Some(p)),
            None => (s, None),
        };
        let mut nums = core.split('.').map(|n| n.parse::<u64>().ok());
        let v = (nums.next()??, nums.next()??, nums.next()??);
        if nums.next().is_some() {
            return None;
        }
        Some(Version { core: v, release: pre.is_none().then_some(()), pre: pre.unwrap_or("").to_string() })
    }
}

/// Progress of the last update attempt.
#[derive(Debug, Clone, Object)]
pub struct UpdateStatus {
    /// `idle`, `downloading`, `installing`, `restarting`, `failed` or `installed` (the last
    /// install, as recorded before the restart that ran it).
    pub state: String,
    /// The version running now.
    pub current_version: String,
    /// The version being (or last) installed.
    #[oai(nullable)]
    pub target_version: Option<String>,
    /// Bytes downloaded so far.
    pub downloaded: u64,
    /// Stable code of the last failure (e.g. `update_hash_mismatch`).
    #[oai(nullable)]
    pub code: Option<String>,
    /// What went wrong, for people.
    #[oai(nullable)]
    pub error: Option<String>,
    /// When the attempt started.
    #[oai(nullable)]
    pub started_at: Option<DateTime<Utc>>,
    /// When it finished (installed or failed).
    #[oai(nullable)]
    pub finished_at: Option<DateTime<Utc>>,
    /// Whether updates are configured (`[update] url` and `public_key`).
    pub configured: bool,
    /// This build's platform key in manifests.
    pub platform: String,
}

/// What `<data_dir>/update.json` records about the last install.
#[derive(Debug, Serialize, Deserialize)]
struct InstallRecord {
    from: String,
    to: String,
    sha256: String,
    at: DateTime<Utc>,
}

pub struct Updater {
    cfg: UpdateConfig,
    key: Option<PublicKey>,
    exe: Option<PathBuf>,
    record: PathBuf,
    client: reqwest::Client,
    busy: AtomicBool,
    status: Mutex<UpdateStatus>,
}

fn current_version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

fn gateway(code: Code, message: impl Into<String>) -> AppError {
    AppError::new(code, message)
}

impl Updater {
    /// `exe`: the running binary (what gets replaced); `data_dir`: where the install record goes.
    pub fn new(cfg: UpdateConfig, exe: Option<PathBuf>, data_dir: &Path) -> Result<Updater, String> {
        let key = cfg.public_key.as_deref().map(parse_public_key).transpose()?;
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(60))
            .user_agent(concat!("nook/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("http client: {e}"))?;
        let record = data_dir.join("update.json");
        let mut status = UpdateStatus {
            state: "idle".into(),
            current_version: current_version(),
            target_version: None,
            downloaded: 0,
            code: None,
            error: None,
            started_at: None,
            finished_at: None,
            configured: cfg.url.is_some() && key.is_some(),
            platform: platform(),
        };
        if let Some(r) = std::fs::read(&record).ok().and_then(|b| serde_json::from_slice::<InstallRecord>(&b).ok()) {
            status.state = "installed".into();
            status.target_version = Some(r.to);
            status.finished_at = Some(r.at);
        }
        Ok(Updater { cfg, key, exe, record, client, busy: AtomicBool::new(false), status: Mutex::new(status) })
    }

    pub fn status(&self) -> UpdateStatus {
        self.status.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set(&self, f: impl FnOnce(&mut UpdateStatus)) {
        f(&mut self.status.lock().unwrap_or_else(|p| p.into_inner()));
    }

    /// Checks the source and, when it offers a valid newer release, starts installing it in
    /// the background; returns the version being installed.
    pub async fn start(self: &Arc<Self>, lifecycle: Arc<Lifecycle>, audit: Audit, actor: String) -> AppResult<String> {
        if self.busy.swap(true, Ordering::SeqCst) {
            return Err(AppError::new(Code::UpdateInProgress, "An update is already running"));
        }
        let release = match self.check().await {
            Ok(r) => r,
            Err(e) => {
                self.busy.store(false, Ordering::SeqCst);
                return Err(e);
            }
        };
        let version = release.version.clone();
        self.set(|s| {
            s.state = "downloading".into();
            s.target_version = Some(version.clone());
            s.downloaded = 0;
            s.code = None;
            s.error = None;
            s.started_at = Some(Utc::now());
            s.finished_at = None;
        });
        let me = self.clone();
        tokio::spawn(async move {
            let from = current_version();
            match me.install(&release).await {
                Ok(()) => {
                    audit.record(
                        AuditEvent::new("update").actor(&actor).detail(format!("{from} -> {}", release.version)),
                    );
                    me.set(|s| s.state = "restarting".into());
                    tracing::info!(version = %release.version, "update installed; restarting");
                    lifecycle.request(Exit::Restart);
                }
                Err(e) => {
                    let (code, message) = describe(&e);
                    tracing::warn!(code, error = %e, "update failed");
                    audit.record(
                        AuditEvent::new("update")
                            .actor(&actor)
                            .outcome("failed")
                            .detail(format!("{from} -> {}: {code}", release.version)),
                    );
                    me.set(|s| {
                        s.state = "failed".into();
                        s.code = Some(code.to_string());
                        s.error = Some(message);
                        s.finished_at = Some(Utc::now());
                    });
                    me.busy.store(false, Ordering::SeqCst);
                }
            }
        });
        Ok(version)
    }

    /// Steps 1 and 2: fetch, verify and judge the manifest.
    pub async fn check(&self) -> AppResult<Release> {
        let (Some(url), Some(key)) = (&self.cfg.url, &self.key) else {
            return Err(AppError::new(
                Code::UpdateNotConfigured,
                "Updates are not configured: set [update] url and public_key in the config file",
            ));
        };
        self.exe_dir_writable()?;
        let manifest_at = Location::manifest(url)?;
        let manifest = self.fetch(&manifest_at, MAX_MANIFEST, "manifest").await.map_err(|e| match e {
            e if e.status() == 404 => {
                gateway(Code::UpdateSourceUnreachable, format!("No release manifest at {manifest_at}"))
            }
            e => e,
        })?;
        let signature = match self.fetch(&manifest_at.signature(), MAX_SIGNATURE, "signature").await {
            Ok(s) => s,
            Err(e) if e.status() == 404 => {
                return Err(gateway(
                    Code::UpdateUnsigned,
                    "The release manifest has no signature (manifest.json.minisig)",
                ));
            }
            Err(e) => return Err(e),
        };
        let signature = std::str::from_utf8(&signature)
            .ok()
            .and_then(|s| Signature::decode(s).ok())
            .ok_or_else(|| gateway(Code::UpdateBadSignature, "The manifest signature is not a minisign signature"))?;
        key.verify(&manifest, &signature, false).map_err(|e| {
            gateway(
                Code::UpdateBadSignature,
                format!("The manifest signature does not verify with the configured key ({e})"),
            )
        })?;
        let manifest: Manifest = serde_json::from_slice(&manifest)
            .map_err(|e| gateway(Code::UpdateManifestInvalid, format!("The release manifest is not valid: {e}")))?;
        let offered = Version::parse(&manifest.version)
            .ok_or_else(|| gateway(Code::UpdateManifestInvalid, format!("`{}` is not a version", manifest.version)))?;
        let running = Version::parse(env!("CARGO_PKG_VERSION"))
            .ok_or_else(|| AppError::internal("own version does not parse"))?;
        if offered <= running {
            return Err(AppError::new(
                Code::UpdateNotNewer,
                format!("The offered version {} is not newer than {}", manifest.version, current_version()),
            ));
        }
        let artifact = manifest.artifacts.get(&platform()).ok_or_else(|| {
            gateway(Code::UpdateNoArtifact, format!("Release {} has no artifact for {}", manifest.version, platform()))
        })?;
        let sha256 = artifact.sha256.trim().to_ascii_lowercase();
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(gateway(Code::UpdateManifestInvalid, "The artifact's sha256 is not 64 hex digits"));
        }
        Ok(Release { version: manifest.version, artifact: manifest_at.join(&artifact.url)?, sha256 })
    }

    fn exe(&self) -> AppResult<&PathBuf> {
        self.exe.as_ref().ok_or_else(|| AppError::internal("cannot tell which file is the running executable"))
    }

    /// Refuses early when the binary's folder cannot take the new file.
    fn exe_dir_writable(&self) -> AppResult<()> {
        let exe = self.exe()?;
        let dir = exe.parent().unwrap_or(Path::new("/"));
        let probe = dir.join(format!(".nook-update-probe-{}", std::process::id()));
        match std::fs::File::create(&probe) {
            Ok(_) => {
                let _ = std::fs::remove_file(&probe);
                Ok(())
            }
            Err(e) => Err(AppError::new(
                Code::UpdateNotWritable,
                format!("Nook cannot write next to its binary ({e}); update it with the system's package tools"),
            )),
        }
    }

    /// Reads a small file (manifest, signature). A missing file is `NotFound`.
    async fn fetch(&self, at: &Location, limit: u64, what: &str) -> AppResult<Vec<u8>> {
        let too_big = || gateway(Code::UpdateManifestInvalid, format!("The {what} is larger than {limit} bytes"));
        match at {
            Location::File(p) => {
                let data = tokio::fs::read(p).await.map_err(|e| match e.kind() {
                    std::io::ErrorKind::NotFound => AppError::new(Code::NotFound, format!("{} not found", p.display())),
                    _ => gateway(Code::UpdateSourceUnreachable, format!("Cannot read {}: {e}", p.display())),
                })?;
                if data.len() as u64 > limit {
                    return Err(too_big());
                }
                Ok(data)
            }
            Location::Http(url) => {
                let unreachable = |e: reqwest::Error| {
                    gateway(Code::UpdateSourceUnreachable, format!("Cannot fetch the {what} from {url}: {e}"))
                };
                let mut resp =
                    self.client.get(url.clone()).timeout(Duration::from_secs(30)).send().await.map_err(unreachable)?;
                if resp.status() == reqwest::StatusCode::NOT_FOUND {
                    return Err(AppError::new(Code::NotFound, format!("{url} not found")));
                }
                if !resp.status().is_success() {
                    return Err(gateway(
                        Code::UpdateSourceUnreachable,
                        format!("The update source answered {} for the {what}", resp.status()),
                    ));
                }
                let mut data = Vec::new();
                while let Some(chunk) = resp.chunk().await.map_err(unreachable)? {
                    data.extend_from_slice(&chunk);
                    if data.len() as u64 > limit {
                        return Err(too_big());
                    }
                }
                Ok(data)
            }
        }
    }

    /// Steps 3 to 5.
    async fn install(&self, release: &Release) -> AppResult<()> {
        let exe = self.exe()?.clone();
        let dir = exe.parent().unwrap_or(Path::new("/")).to_path_buf();
        let name = exe.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "nook".into());
        let tmp = dir.join(format!(".{name}.update-{}", std::process::id()));
        let result = self.download_and_swap(release, &exe, &tmp).await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        result
    }

    async fn download_and_swap(&self, release: &Release, exe: &Path, tmp: &Path) -> AppResult<()> {
        let io = |what: &str, e: std::io::Error| AppError::internal(format!("update: {what}: {e}"));
        let mut file = tokio::fs::File::create(tmp).await.map_err(|e| io("create temp file", e))?;
        let mut hasher = Sha256::new();
        let mut total = 0u64;
        let mut write = |chunk: &[u8]| {
            hasher.update(chunk);
            total += chunk.len() as u64;
            total
        };
        match &release.artifact {
            Location::File(p) => {
                use tokio::io::AsyncReadExt;
                let mut src = tokio::fs::File::open(p)
                    .await
                    .map_err(|e| gateway(Code::UpdateSourceUnreachable, format!("Cannot read {}: {e}", p.display())))?;
                let mut buf = vec![0u8; 256 * 1024];
                loop {
                    let n = src.read(&mut buf).await.map_err(|e| io("read artifact", e))?;
                    if n == 0 {
                        break;
                    }
                    let so_far = write(&buf[..n]);
                    if so_far > MAX_ARTIFACT {
                        return Err(gateway(Code::UpdateArtifactBroken, "The artifact is too large"));
                    }
                    file.write_all(&buf[..n]).await.map_err(|e| io("write", e))?;
                    self.set(|s| s.downloaded = so_far);
                }
            }
            Location::Http(url) => {
                let unreachable =
                    |e: reqwest::Error| gateway(Code::UpdateSourceUnreachable, format!("Cannot download {url}: {e}"));
                let mut resp = self.client.get(url.clone()).send().await.map_err(unreachable)?;
                if !resp.status().is_success() {
                    return Err(gateway(
                        Code::UpdateSourceUnreachable,
                        format!("The update source answered {} for the artifact", resp.status()),
                    ));
                }
                while let Some(chunk) = resp.chunk().await.map_err(unreachable)? {
                    let so_far = write(&chunk);
                    if so_far > MAX_ARTIFACT {
                        return Err(gateway(Code::UpdateArtifactBroken, "The artifact is too large"));
                    }
                    file.write_all(&chunk).await.map_err(|e| io("write", e))?;
                    self.set(|s| s.downloaded = so_far);
                }
            }
        }
        let got = hex::encode(hasher.finalize());
        if got != release.sha256 {
            return Err(gateway(
                Code::UpdateHashMismatch,
                format!("The downloaded artifact's SHA-256 is {got}, the signed manifest says {}", release.sha256),
            ));
        }
        file.sync_all().await.map_err(|e| io("sync", e))?;
        drop(file);
        self.set(|s| s.state = "installing".into());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(exe).map(|m| m.permissions().mode() & 0o7777).unwrap_or(0o755) | 0o100;
            tokio::fs::set_permissions(tmp, std::fs::Permissions::from_mode(mode)).await.map_err(|e| io("chmod", e))?;
        }
        smoke_test(tmp).await?;
        let exe = exe.to_path_buf();
        let tmp = tmp.to_path_buf();
        let record = self.record.clone();
        let rec = InstallRecord { from: current_version(), to: release.version.clone(), sha256: got, at: Utc::now() };
        tokio::task::spawn_blocking(move || swap(&exe, &tmp, &record, &rec)).await?.map_err(|e| io("replace binary", e))
    }
}

/// The new binary must run here: `--version` exits 0 within 10 seconds.
async fn smoke_test(bin: &Path) -> AppResult<()> {
    let run = tokio::process::Command::new(bin)
        .arg("--version")
        .env_clear()
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .status();
    match tokio::time::timeout(Duration::from_secs(10), run).await {
        Ok(Ok(s)) if s.success() => Ok(()),
        Ok(Ok(s)) => {
            Err(gateway(Code::UpdateArtifactBroken, format!("The new binary failed to run (`--version`: {s})")))
        }
        Ok(Err(e)) => Err(gateway(Code::UpdateArtifactBroken, format!("The new binary cannot run here: {e}"))),
        Err(_) => Err(gateway(Code::UpdateArtifactBroken, "The new binary did not answer `--version` in 10 s")),
    }
}

/// Keeps the running binary as `<exe>.previous`, moves the new one into place and records it.
fn swap(exe: &Path, new: &Path, record: &Path, rec: &InstallRecord) -> std::io::Result<()> {
    let mut previous = exe.as_os_str().to_owned();
    previous.push(".previous");
    let previous = PathBuf::from(previous);
    let mut staged = previous.as_os_str().to_owned();
    staged.push(".tmp");
    let staged = PathBuf::from(staged);
    let _ = std::fs::remove_file(&staged);
    if std::fs::hard_link(exe, &staged).is_err() {
        std::fs::copy(exe, &staged)?;
    }
    std::fs::rename(&staged, &previous)?;
    std::fs::rename(new, exe)?;
    if let Some(dir) = exe.parent()
        && let Ok(d) = std::fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
    let json = serde_json::to_vec_pretty(rec).map_err(std::io::Error::other)?;
    std::fs::write(record, json)?;
    Ok(())
}

/// The code and message of an update error, for the status.
fn describe(e: &AppError) -> (&'static str, String) {
    if e.is_internal() {
        ("update_failed", e.message().to_string())
    } else {
        (e.code().as_str(), e.message().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_order_like_semver() {
        let v = |s| Version::parse(s).expect(s);
        assert!(v("0.2.0") > v("0.1.9"));
        assert!(v("1.0.0") > v("1.0.0-rc.1"));
        assert!(v("v1.2.3+build.5") == v("1.2.3"));
        assert!(v("0.10.0") > v("0.9.0"));
        assert!(Version::parse("1.2").is_none());
        assert!(Version::parse("1.2.3.4").is_none());
    }

    #[test]
    fn sources_name_a_manifest_and_artifacts_resolve_against_it() {
        let m = Location::manifest("http://h:1/rel").expect("http");
        assert_eq!(m.to_string(), "http://h:1/rel/manifest.json");
        assert_eq!(m.signature().to_string(), "http://h:1/rel/manifest.json.minisig");
        assert_eq!(m.join("nook-x").expect("join").to_string(), "http://h:1/rel/nook-x");
        assert_eq!(Location::manifest("https://h/x/m.json").expect("json").to_string(), "https://h/x/m.json");
        let f = Location::manifest("/srv/releases").expect("dir");
        assert_eq!(f, Location::File("/srv/releases/manifest.json".into()));
        assert_eq!(f.join("nook-x").expect("join"), Location::File("/srv/releases/nook-x".into()));
        assert_eq!(f.signature(), Location::File("/srv/releases/manifest.json.minisig".into()));
    }
}

//! Files and folders (seed 002 `/api/finder`, `/api/new_file`, … plus Nook's `/api/stat`,
//! `/api/move`, `/api/copy`, `/api/search`). Handlers parse, call [`UserFs`], and map.

use base64::Engine;
use poem::Request;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{Enum, Object, OpenApi};
use tokio::io::AsyncReadExt;

use super::field::Required;
use super::json::SerdeJson;
use super::{ApiResult, Auth, Caller, StatusBody, Tag};
use crate::error::{AppError, Code};
use crate::files::{EntryInfo, UserFs};
use crate::state::AppState;
use crate::vfs::VPath;

#[derive(Default)]
pub struct FilesApi;

/// Opens the caller's file session.
pub fn session(state: &AppState, req: &Request, auth: &Auth) -> UserFs {
    super::files_of(state, req, auth.principal())
}

/// Parses a path from a request; a missing one is `missing` (400 with the seed's message).
pub fn parse_path(raw: Option<&str>, missing: &str) -> Result<VPath, AppError> {
    match raw {
        Some(p) if !p.trim().is_empty() => Ok(VPath::parse(p)?),
        _ => Err(AppError::new(Code::PathMissing, missing.to_string())),
    }
}

/// A directory path that defaults to the root when absent.
fn dir_or_root(raw: Option<&str>) -> Result<VPath, AppError> {
    Ok(VPath::parse(raw.unwrap_or("/"))?)
}

/// A single name inside a folder (no `/`).
fn child(dir: &VPath, name: Option<&str>, missing: &str) -> Result<VPath, AppError> {
    match name {
        Some(n) if !n.is_empty() => Ok(dir.child(n)?),
        _ => Err(AppError::new(Code::NameMissing, missing.to_string())),
    }
}

/// Renames `name` to `new_name` inside `dir`. Seed 002 has one endpoint for files and one for
/// folders: the other kind is refused, pointing to the right one.
async fn rename_within(
    fs: &UserFs,
    dir: &VPath,
    name: Option<&str>,
    new_name: Option<&str>,
    folder: bool,
) -> Result<VPath, AppError> {
    let missing = if folder { "No folder name provided" } else { "No file name provided" };
    let (from, to) = (child(dir, name, missing)?, child(dir, new_name, missing)?);
    match (folder, fs.stat(&from).await?.entry.is_dir) {
        (false, true) => Err(AppError::new(Code::IsADirectory, "Is a folder; use /api/rename_folder")),
        (true, false) => Err(AppError::new(Code::NotADirectory, "Not a folder; use /api/rename_file")),
        _ => fs.rename(&from, &to, false).await.map(|()| to),
    }
}

/// One file or folder.
#[derive(Debug, Object, serde::Serialize)]
pub struct FileEntry {
    /// Name (last path component).
    pub name: String,
    /// Full virtual path, e.g. `/photos/a.jpg`.
    pub path: String,
    /// A folder (or a symlink to a folder inside the storage).
    pub is_dir: bool,
    /// The entry is a symlink.
    pub is_symlink: bool,
    /// Size in bytes (0 for folders).
    pub size: u64,
    /// Last modification time (RFC 3339), when known.
    #[oai(nullable)]
    pub modified: Option<String>,
    /// MIME type guessed from the name (`inode/directory` for folders).
    pub mime: String,
    /// Whether the caller may change or delete it.
    pub writable: bool,
}

/// `2026-12-01T21:33:49Z`, as `to_rfc3339_opts(Secs, true)` writes it, without going through
/// `fmt` (a listing formats one per entry).
fn rfc3339_secs(t: &chrono::DateTime<chrono::Utc>) -> String {
    use chrono::{Datelike, Timelike};
    let Ok(year) = u32::try_from(t.year()) else {
        return t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    };
    if year > 9999 {
        return t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    }
    let mut out = String::with_capacity(20);
    let digits = |out: &mut String, n: u32, width: u32| {
        for i in (0..width).rev() {
            out.push(char::from(b'0' + (n / 10u32.pow(i) % 10) as u8));
        }
    };
    digits(&mut out, year, 4);
    for (sep, n) in [('-', t.month()), ('-', t.day()), ('T', t.hour()), (':', t.minute()), (':', t.second())] {
        out.push(sep);
        digits(&mut out, n, 2);
    }
    out.push('Z');
    out
}

impl From<EntryInfo> for FileEntry {
    /// Moves the strings instead of copying them: a listing of 100,000 entries holds each
    /// name once.
    fn from(e: EntryInfo) -> Self {
        Self {
            path: e.path.to_string(),
            modified: e.entry.modified.as_ref().map(rfc3339_secs),
            name: e.entry.name,
            is_dir: e.entry.is_dir,
            is_symlink: e.entry.is_symlink,
            size: e.entry.size,
            mime: e.entry.mime,
            writable: e.writable,
        }
    }
}

impl From<&EntryInfo> for FileEntry {
    fn from(e: &EntryInfo) -> Self {
        Self {
            name: e.entry.name.clone(),
            path: e.path.to_string(),
            is_dir: e.entry.is_dir,
            is_symlink: e.entry.is_symlink,
            size: e.entry.size,
            modified: e.entry.modified.as_ref().map(rfc3339_secs),
            mime: e.entry.mime.clone(),
            writable: e.writable,
        }
    }
}

/// Sort key for listings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum SortKey {
    Name,
    Size,
    Modified,
    Type,
}

/// Sort order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum SortOrder {
    Asc,
    Desc,
}

/// A folder's contents.
#[derive(Debug, Object, serde::Serialize)]
pub struct Listing {
    /// Names of the entries on this page (seed 002).
    pub items: Vec<String>,
    /// The entries on this page, with metadata.
    pub entries: Vec<FileEntry>,
    /// The folder listed.
    pub path: String,
    /// Entries in the folder (after hiding dotfiles), before paging.
    pub total: u64,
    /// Whether the caller may create things in this folder.
    pub writable: bool,
}

/// Body of `/api/new_file`.
#[derive(Debug, Object)]
pub struct NewFile {
    /// Name of the new file.
    pub file_name: Required<String>,
    /// Folder to create it in (default `/`).
    pub path: Option<String>,
    /// Text content of the file.
    pub file_content: Required<String>,
}

/// `{"status": ..., "path": ...}`.
#[derive(Debug, Object)]
pub struct StatusPath {
    /// What happened.
    pub status: String,
    /// The path created or changed.
    pub path: String,
}

fn status_path(status: &str, path: &VPath) -> Json<StatusPath> {
    Json(StatusPath { status: status.to_string(), path: path.to_string() })
}

/// A path in a body.
#[derive(Debug, Object)]
pub struct PathBody {
    /// Path of the file or folder.
    pub path: Required<String>,
}

/// Body of `/api/edit_file`.
#[derive(Debug, Object)]
pub struct EditFile {
    /// Path of the file to replace.
    pub path: Required<String>,
    /// New content (default empty).
    pub file_content: Option<String>,
}

/// A file's content.
#[derive(Debug, Object)]
pub struct FileContent {
    /// `File content retrieved`.
    pub status: String,
    /// The text, or base64 of the bytes when `type` is `binary`.
    pub content: String,
    /// `text` or `binary`.
    #[oai(rename = "type")]
    pub kind: String,
    /// MIME type guessed from the name.
    pub mime: String,
    /// Size in bytes.
    pub size: u64,
}

/// Body of `/api/rename_file`.
#[derive(Debug, Object)]
pub struct RenameFile {
    /// Current name of the file.
    pub file_name: Required<String>,
    /// New name.
    pub new_name: Required<String>,
    /// Folder holding the file.
    pub path: Required<String>,
}

/// Body of `/api/create_folder`.
#[derive(Debug, Object)]
pub struct CreateFolder {
    /// Name of the new folder.
    pub folder_name: Required<String>,
    /// Folder to create it in (default `/`).
    pub path: Option<String>,
}

/// Body of `/api/rename_folder`.
#[derive(Debug, Object)]
pub struct RenameFolder {
    /// Current name of the folder.
    pub folder_name: Required<String>,
    /// New name.
    pub new_name: Required<String>,
    /// Folder holding it (default `/`).
    pub path: Option<String>,
}

/// Body of `/api/move` and `/api/copy`.
#[derive(Debug, Object)]
pub struct MoveCopy {
    /// Source path.
    pub from: String,
    /// Destination path (the new full path, not the folder to put it in).
    pub to: String,
    /// Replace an existing destination (default false).
    #[oai(default)]
    pub overwrite: bool,
}

/// Search hits.
#[derive(Debug, Object)]
pub struct SearchResult {
    /// Matching entries, in walk order.
    pub entries: Vec<FileEntry>,
    /// Whether the search stopped at `limit` before finishing.
    pub truncated: bool,
}

/// Most entries `/api/dir_size` counts before it stops and says `truncated`.
pub const DIR_SIZE_MAX_ENTRIES: u64 = 200_000;
/// Longest `/api/dir_size` walks before it stops and says `truncated`.
const DIR_SIZE_TIME_LIMIT: std::time::Duration = std::time::Duration::from_secs(10);

/// A folder's total size.
#[derive(Debug, Object)]
pub struct DirSize {
    /// The folder measured.
    pub path: String,
    /// Bytes of the files counted.
    pub size: u64,
    /// Files counted (anywhere below the folder).
    pub files: u64,
    /// Folders counted below the folder (not the folder itself).
    pub folders: u64,
    /// The count stopped early (more than 200,000 entries or 10 seconds): the numbers are a
    /// lower bound.
    pub truncated: bool,
}

/// Types that are always sent as base64, whatever their bytes look like.
fn is_binary_mime(mime: &str) -> bool {
    let top = mime.split('/').next().unwrap_or_default();
    matches!(top, "image" | "video" | "audio" | "font")
        || matches!(
            mime,
            "application/pdf"
                | "application/zip"
                | "application/gzip"
                | "application/x-tar"
                | "application/x-7z-compressed"
                | "application/vnd.rar"
                | "application/wasm"
        )
}

#[OpenApi(tag = "Tag::Files")]
impl FilesApi {
    /// List a folder: names in `items` (seed 002) and metadata in `entries`.
    #[oai(path = "/api/finder", method = "get", operation_id = "list_dir")]
    #[allow(clippy::too_many_arguments)]
    async fn finder(
        &self,
        caller: Caller,
        /// Folder to list (default `/`).
        path: Query<Option<String>>,
        /// Sort by `name` (default), `size`, `modified` or `type`; folders come first.
        sort: Query<Option<SortKey>>,
        /// `asc` (default) or `desc`.
        order: Query<Option<SortOrder>>,
        /// Entries to skip.
        #[oai(validator(minimum(value = "0")))]
        offset: Query<Option<u64>>,
        /// Most entries to return (default all).
        #[oai(validator(minimum(value = "0")))]
        limit: Query<Option<u64>>,
        /// Include names starting with a dot.
        show_hidden: Query<Option<bool>>,
    ) -> ApiResult<SerdeJson<Listing>> {
        let fs = caller.files();
        let dir = dir_or_root(path.0.as_deref())?;
        let listed = fs.list(&dir).await?;
        let mut entries = listed.entries;
        if !show_hidden.0.unwrap_or(false) {
            entries.retain(|e| !e.entry.name.starts_with('.'));
        }
        sort_entries(&mut entries, sort.0.unwrap_or(SortKey::Name), order.0.unwrap_or(SortOrder::Asc));
        let total = entries.len() as u64;
        let skip = usize::try_from(offset.0.unwrap_or(0)).unwrap_or(usize::MAX);
        let take = limit.0.map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
        let page: Vec<FileEntry> = entries.into_iter().skip(skip).take(take).map(FileEntry::from).collect();
        Ok(SerdeJson(Listing {
            items: page.iter().map(|e| e.name.clone()).collect(),
            entries: page,
            path: dir.to_string(),
            total,
            writable: listed.writable,
        }))
    }

    /// Metadata of one file or folder.
    #[oai(path = "/api/stat", method = "get", operation_id = "stat")]
    async fn stat(
        &self,
        caller: Caller,
        /// Path of the file or folder.
        path: Query<Option<String>>,
    ) -> ApiResult<Json<FileEntry>> {
        let fs = caller.files();
        let p = parse_path(path.0.as_deref(), "No path provided")?;
        Ok(Json(FileEntry::from(&fs.stat(&p).await?)))
    }

    /// Create a new text file; 409 when something with that name exists.
    #[oai(path = "/api/new_file", method = "post", operation_id = "new_file")]
    async fn new_file(&self, caller: Caller, body: Json<NewFile>) -> ApiResult<Json<StatusPath>> {
        let b = body.0;
        let (Some(name), Some(content)) = (b.file_name.0.filter(|n| !n.is_empty()), b.file_content.0) else {
            return Err(AppError::new(Code::FieldsMissing, "No file name or content provided").into());
        };
        let fs = caller.files();
        let target = dir_or_root(b.path.as_deref())?.child(&name).map_err(AppError::from)?;
        fs.write_small(&target, content.as_bytes(), false).await?;
        Ok(status_path("File created", &target))
    }

    /// Delete a file.
    #[oai(path = "/api/delete_file", method = "post", operation_id = "delete_file")]
    async fn delete_file(&self, caller: Caller, body: Json<PathBody>) -> ApiResult<Json<StatusBody>> {
        let fs = caller.files();
        let p = parse_path(body.0.path.as_deref(), "No path provided")?;
        fs.remove(&p, false).await?;
        Ok(StatusBody::new("File deleted"))
    }

    /// Replace a text file's content (atomically: readers see the old or the new file).
    #[oai(path = "/api/edit_file", method = "post", operation_id = "edit_file")]
    async fn edit_file(&self, caller: Caller, body: Json<EditFile>) -> ApiResult<Json<StatusPath>> {
        let fs = caller.files();
        let p = parse_path(body.0.path.as_deref(), "No path provided")?;
        let existing = fs.stat(&p).await?;
        if existing.entry.is_dir {
            return Err(AppError::new(Code::IsADirectory, "Is a folder").into());
        }
        fs.write_small(&p, body.0.file_content.unwrap_or_default().as_bytes(), true).await?;
        Ok(status_path("File edited", &p))
    }

    /// A file's content: text, or base64 for binary types (images, video, …). Files over
    /// `files.get_file_max_size` get 413: fetch them with `/api/download`.
    #[oai(path = "/api/get_file", method = "get", operation_id = "get_file")]
    async fn get_file(
        &self,
        caller: Caller,
        /// Path of the file.
        file_path: Query<Option<String>>,
    ) -> ApiResult<Json<FileContent>> {
        let fs = caller.files();
        let p = parse_path(file_path.0.as_deref(), "No file path provided")?;
        let max = caller.state.config.files.get_file_max_size;
        let (handle, entry) = fs.open_read(&p, 0).await?;
        if entry.size > max {
            return Err(AppError::new(
                Code::TooLarge,
                format!("File is larger than {max} bytes; use /api/download?file_path=…"),
            )
            .into());
        }
        let mut data = Vec::with_capacity(usize::try_from(entry.size).unwrap_or(0));
        handle.take(max + 1).read_to_end(&mut data).await.map_err(|e| AppError::internal(format!("read: {e}")))?;
        if data.len() as u64 > max {
            return Err(AppError::new(Code::TooLarge, "File grew past the limit").into());
        }
        let (kind, content) = match (is_binary_mime(&entry.mime), String::from_utf8(data)) {
            (false, Ok(text)) if !text.contains('\0') => ("text", text),
            (_, Ok(text)) => ("binary", base64::engine::general_purpose::STANDARD.encode(text.as_bytes())),
            (_, Err(e)) => ("binary", base64::engine::general_purpose::STANDARD.encode(e.as_bytes())),
        };
        fs.record_download(&p, entry.size);
        Ok(Json(FileContent {
            status: "File content retrieved".into(),
            content,
            kind: kind.into(),
            mime: entry.mime,
            size: entry.size,
        }))
    }

    /// Rename a file inside its folder.
    #[oai(path = "/api/rename_file", method = "post", operation_id = "rename_file")]
    async fn rename_file(&self, caller: Caller, body: Json<RenameFile>) -> ApiResult<Json<StatusPath>> {
        let b = body.0;
        // Seed 002: `path` is required here (unlike rename_folder, where it defaults to `/`).
        let dir = parse_path(b.path.as_deref(), "No path provided")?;
        let fs = caller.files();
        let to = rename_within(&fs, &dir, b.file_name.as_deref(), b.new_name.as_deref(), false).await?;
        Ok(status_path("File renamed", &to))
    }

    /// Create a folder.
    #[oai(path = "/api/create_folder", method = "post", operation_id = "create_folder")]
    async fn create_folder(&self, caller: Caller, body: Json<CreateFolder>) -> ApiResult<Json<StatusPath>> {
        let b = body.0;
        let dir = child(&dir_or_root(b.path.as_deref())?, b.folder_name.as_deref(), "No folder name provided")?;
        caller.files().mkdir(&dir).await?;
        Ok(status_path("Folder created", &dir))
    }

    /// Delete a folder and everything in it.
    #[oai(path = "/api/delete_folder", method = "post", operation_id = "delete_folder")]
    async fn delete_folder(&self, caller: Caller, body: Json<PathBody>) -> ApiResult<Json<StatusBody>> {
        let p = parse_path(body.0.path.as_deref(), "No path provided")?;
        caller.files().remove(&p, true).await?;
        Ok(StatusBody::new("Folder deleted"))
    }

    /// Rename a folder inside its parent.
    #[oai(path = "/api/rename_folder", method = "post", operation_id = "rename_folder")]
    async fn rename_folder(&self, caller: Caller, body: Json<RenameFolder>) -> ApiResult<Json<StatusPath>> {
        let b = body.0;
        let dir = dir_or_root(b.path.as_deref())?;
        let fs = caller.files();
        let to = rename_within(&fs, &dir, b.folder_name.as_deref(), b.new_name.as_deref(), true).await?;
        Ok(status_path("Folder renamed", &to))
    }

    /// Move a file or folder to a new path (across folders); a folder cannot move into itself.
    #[oai(path = "/api/move", method = "post", operation_id = "move_path")]
    async fn move_path(&self, caller: Caller, body: Json<MoveCopy>) -> ApiResult<Json<StatusPath>> {
        let from = VPath::parse(&body.0.from).map_err(AppError::from)?;
        let to = VPath::parse(&body.0.to).map_err(AppError::from)?;
        caller.files().rename(&from, &to, body.0.overwrite).await?;
        Ok(status_path("Moved", &to))
    }

    /// Copy a file or folder (regular files and folders; symlinks are skipped).
    #[oai(path = "/api/copy", method = "post", operation_id = "copy_path")]
    async fn copy_path(&self, caller: Caller, body: Json<MoveCopy>) -> ApiResult<Json<StatusPath>> {
        let from = VPath::parse(&body.0.from).map_err(AppError::from)?;
        let to = VPath::parse(&body.0.to).map_err(AppError::from)?;
        caller.files().copy(&from, &to, body.0.overwrite).await?;
        Ok(status_path("Copied", &to))
    }

    /// Total size of a folder: bytes, files and folders below it that the caller may read
    /// (symlinks are not followed). Bounded: stops after 200,000 entries or 10 seconds with
    /// `truncated: true`.
    #[oai(path = "/api/dir_size", method = "get", operation_id = "dir_size")]
    async fn dir_size(
        &self,
        caller: Caller,
        /// Folder to measure (default `/`).
        path: Query<Option<String>>,
    ) -> ApiResult<Json<DirSize>> {
        let dir = dir_or_root(path.0.as_deref())?;
        let fs = caller.files();
        let deadline = std::time::Instant::now() + DIR_SIZE_TIME_LIMIT;
        let t = fs.dir_size(&dir, DIR_SIZE_MAX_ENTRIES, deadline).await?;
        Ok(Json(DirSize {
            path: dir.to_string(),
            size: t.bytes,
            files: t.files,
            folders: t.folders,
            truncated: t.truncated,
        }))
    }

    /// Find files and folders whose name contains `q` (case-insensitive) below `path`.
    #[oai(path = "/api/search", method = "get", operation_id = "search")]
    async fn search(
        &self,
        caller: Caller,
        /// Folder to search (default `/`).
        path: Query<Option<String>>,
        /// Text the name must contain.
        q: Query<Option<String>>,
        /// Most hits (1–1000, default 100).
        #[oai(validator(minimum(value = "1"), maximum(value = "1000")))]
        limit: Query<Option<u64>>,
    ) -> ApiResult<Json<SearchResult>> {
        let dir = dir_or_root(path.0.as_deref())?;
        let Some(q) = q.0.filter(|q| !q.trim().is_empty()) else {
            return Err(AppError::new(Code::QueryMissing, "No search text provided").into());
        };
        let limit = limit.0.unwrap_or(100);
        let (hits, truncated) = caller.files().search(&dir, q.trim(), limit as usize).await?;
        Ok(Json(SearchResult { entries: hits.iter().map(FileEntry::from).collect(), truncated }))
    }
}

/// Folders first, then by the key; names break ties so the order is stable.
fn sort_entries(entries: &mut [EntryInfo], key: SortKey, order: SortOrder) {
    entries.sort_by_cached_key(|e| {
        let name = e.entry.name.to_lowercase();
        let primary = match key {
            SortKey::Name => String::new(),
            SortKey::Size => format!("{:020}", e.entry.size),
            SortKey::Modified => e.entry.modified.map(|m| format!("{:020}", m.timestamp_millis())).unwrap_or_default(),
            SortKey::Type => e.entry.mime.clone(),
        };
        (!e.entry.is_dir, primary, name)
    });
    if order == SortOrder::Desc {
        // Keep folders first; reverse within each group.
        let split = entries.iter().position(|e| !e.entry.is_dir).unwrap_or(entries.len());
        entries[..split].reverse();
        entries[split..].reverse();
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::{FileEntry, Listing};
    use crate::api::json::JsonChunks;

    fn listing(n: usize) -> Listing {
        let entries: Vec<FileEntry> = (0..n)
            .map(|i| FileEntry {
                name: format!("f\"{i}\u{e9}"),
                path: format!("/d/f{i}"),
                is_dir: i % 3 == 0,
                is_symlink: false,
                size: i as u64,
                modified: (i % 2 == 0).then(|| "2026-12-01T21:33:49Z".to_string()),
                mime: "text/plain".into(),
                writable: true,
            })
            .collect();
        Listing {
            items: entries.iter().map(|e| e.name.clone()).collect(),
            entries,
            path: "/d".into(),
            total: n as u64,
            writable: false,
        }
    }

    #[test]
    fn streamed_listing_is_the_same_json_as_the_whole() {
        for n in [0, 1, 2, 5000] {
            let whole = serde_json::to_value(listing(n)).expect("whole");
            let mut bytes = Vec::new();
            for piece in listing(n).chunks() {
                bytes.extend_from_slice(&piece.expect("piece"));
            }
            let streamed: serde_json::Value = serde_json::from_slice(&bytes).expect("valid JSON");
            assert_eq!(streamed, whole, "{n} entries");
        }
    }

    #[test]
    fn listing_dates_match_chrono_rfc3339() {
        for secs in [0i64, 1, 59, 951_782_400, 1_764_624_829, 4_102_444_799, 253_402_300_799, -1, 253_402_300_800] {
            let t = chrono::Utc.timestamp_opt(secs, 123_456_789).single().expect("time");
            assert_eq!(super::rfc3339_secs(&t), t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true), "{secs}");
        }
    }
}

//! The role map (seed 002 `roles.json` semantics): endpoint path → roles allowed to call it.
//! It lives in the `roles` table; its endpoint list is the OpenAPI operation list, so every
//! endpoint any issue adds appears here by itself. `admin` may call everything and cannot be
//! reduced; endpoints seen for the first time get their defaults (admin, plus `user` for the
//! file and self endpoints), and a later removal by an administrator is never undone.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, RwLock};

use sea_orm::DatabaseConnection;

use crate::auth::{ADMIN_ROLE, USER_ROLE};
use crate::db;
use crate::error::{AppError, AppResult, Code};

/// Built-in roles: never removed from the map.
pub const BUILTIN_ROLES: &[&str] = &[ADMIN_ROLE, USER_ROLE];

/// Endpoints the `user` role gets when they first appear.
const USER_DEFAULTS: &[&str] = &[
    "/api/finder",
    "/api/new_file",
    "/api/delete_file",
    "/api/edit_file",
    "/api/get_file",
    "/api/rename_file",
    "/api/upload",
    "/api/download",
    "/api/create_folder",
    "/api/delete_folder",
    "/api/rename_folder",
    "/api/stat",
    "/api/move",
    "/api/copy",
    "/api/search",
    "/api/dir_size",
    "/api/put_file",
    "/api/tus",
    "/api/tus/{id}",
    "/api/download_ticket",
    "/api/download_zip",
    "/api/user/get_self",
    "/api/user/edit_self",
    "/api/get_version",
    "/dav",
];

/// Endpoints every signed-in user may call whatever the map says: without them no client can
/// sign out or learn what it may do.
pub const ALWAYS_ALLOWED: &[&str] = &["/api/user/logout", "/api/role/self"];

/// One operation path of the API, as a matcher (`{param}` matches one segment).
#[derive(Debug, Clone)]
struct Template {
    path: String,
    segments: Vec<Option<String>>,
    public: bool,
}

pub struct RoleService {
    db: DatabaseConnection,
    templates: Vec<Template>,
    grants: RwLock<Arc<HashMap<String, BTreeSet<String>>>>,
}

/// What the gate concluded about a request path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Not an API operation (the API answers 404/405 itself).
    Unknown,
    /// An operation that needs no authentication.
    Public,
    /// An operation gated by the role map under this endpoint key.
    Gated(String),
}

impl RoleService {
    /// `operations`: every `(path, needs_auth)` of the OpenAPI spec.
    pub async fn new(db: DatabaseConnection, operations: Vec<(String, bool)>) -> AppResult<Self> {
        let mut by_path: BTreeMap<String, bool> = BTreeMap::new();
        for (path, gated) in operations {
            *by_path.entry(path).or_default() |= gated;
        }
        let mut templates: Vec<Template> = by_path
            .into_iter()
            .map(|(path, gated)| Template {
                segments: path
                    .split('/')
                    .map(|s| (!(s.starts_with('{') && s.ends_with('}'))).then(|| s.to_string()))
                    .collect(),
                path,
                public: !gated,
            })
            .collect();
        // Literal segments win over parameters when both match.
        templates.sort_by_key(|t| std::cmp::Reverse(t.segments.iter().filter(|s| s.is_some()).count()));
        let svc = Self { db, templates, grants: RwLock::new(Arc::new(HashMap::new())) };
        svc.seed_new_endpoints().await?;
        svc.reload().await?;
        Ok(svc)
    }

    /// Gated endpoints, sorted.
    pub fn endpoints(&self) -> Vec<String> {
        let mut v: Vec<String> = self.templates.iter().filter(|t| !t.public).map(|t| t.path.clone()).collect();
        v.sort();
        v
    }

    async fn seed_new_endpoints(&self) -> AppResult<()> {
        let existing: BTreeSet<String> =
            db::load_grants(&self.db).await?.into_iter().filter(|(_, r)| r == ADMIN_ROLE).map(|(e, _)| e).collect();
        let mut add = Vec::new();
        for e in self.endpoints() {
            if existing.contains(&e) {
                continue;
            }
            add.push((e.clone(), ADMIN_ROLE.to_string()));
            if USER_DEFAULTS.contains(&e.as_str()) || ALWAYS_ALLOWED.contains(&e.as_str()) {
                add.push((e, USER_ROLE.to_string()));
            }
        }
        db::add_grants(&self.db, &add).await
    }

    async fn reload(&self) -> AppResult<()> {
        let mut map: HashMap<String, BTreeSet<String>> = HashMap::new();
        for (e, r) in db::load_grants(&self.db).await? {
            map.entry(e).or_default().insert(r);
        }
        *self.grants.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(map);
        Ok(())
    }

    fn grants(&self) -> Arc<HashMap<String, BTreeSet<String>>> {
        self.grants.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Finds the operation a concrete request path belongs to.
    pub fn route(&self, path: &str) -> Route {
        match self.find(path) {
            None => Route::Unknown,
            Some(t) if t.public => Route::Public,
            Some(t) => Route::Gated(t.path.clone()),
        }
    }

    /// The operation template a request path belongs to (`/api/tus/{id}`), e.g. for metrics
    /// labels.
    pub fn template(&self, path: &str) -> Option<&str> {
        self.find(path).map(|t| t.path.as_str())
    }

    fn find(&self, path: &str) -> Option<&Template> {
        let segs: Vec<&str> = path.split('/').collect();
        self.templates.iter().find(|t| {
            t.segments.len() == segs.len()
                && t.segments.iter().zip(&segs).all(|(t, s)| t.as_deref().is_none_or(|lit| lit == *s))
        })
    }

    /// Roles that exist: the built-in ones and every role the map grants an endpoint to (a
    /// custom role is made by granting it endpoints with `/api/role/edit`).
    pub fn known_roles(&self) -> BTreeSet<String> {
        let mut out: BTreeSet<String> = BUILTIN_ROLES.iter().map(|r| r.to_string()).collect();
        for roles in self.grants().values() {
            out.extend(roles.iter().cloned());
        }
        out
    }

    /// Refuses a role nobody defined (`400 unknown_role`, listing the roles that exist): a
    /// user with it could do nothing at all.
    pub fn check_known(&self, role: &str) -> AppResult<()> {
        validate_role_name(role)?;
        let known = self.known_roles();
        if known.contains(role) {
            return Ok(());
        }
        let list = known.into_iter().collect::<Vec<_>>().join(", ");
        Err(AppError::new(
            Code::UnknownRole,
            format!(
                "Unknown role `{role}`; roles: {list} (a new role is made by granting it endpoints with /api/role/edit)"
            ),
        ))
    }

    /// Whether `role` may call `endpoint`.
    pub fn allowed(&self, role: &str, endpoint: &str) -> bool {
        role == ADMIN_ROLE
            || ALWAYS_ALLOWED.contains(&endpoint)
            || self.grants().get(endpoint).is_some_and(|roles| roles.contains(role))
    }

    /// The whole map: endpoint → roles allowed (seed `GET /api/role/get`).
    pub fn map(&self) -> BTreeMap<String, Vec<String>> {
        let grants = self.grants();
        self.endpoints()
            .into_iter()
            .map(|e| {
                let roles = grants.get(&e).map(|r| r.iter().cloned().collect()).unwrap_or_default();
                (e, roles)
            })
            .collect()
    }

    /// Endpoint → whether `role` may call it (seed `GET /api/role/self`).
    pub fn for_role(&self, role: &str) -> BTreeMap<String, bool> {
        self.endpoints()
            .into_iter()
            .map(|e| {
                let ok = self.allowed(role, &e);
                (e, ok)
            })
            .collect()
    }

    /// Replaces the roles of each endpoint named in `changes`; others are left alone. Unknown
    /// endpoints and malformed role names are refused before anything is written; `admin` is
    /// kept on every endpoint whatever the request says.
    pub async fn edit(&self, changes: BTreeMap<String, Vec<String>>) -> AppResult<()> {
        if changes.is_empty() {
            return Err(AppError::new(Code::RolesMissing, "No roles provided"));
        }
        let known: BTreeSet<String> = self.endpoints().into_iter().collect();
        let mut plan = Vec::new();
        for (endpoint, roles) in changes {
            if !known.contains(&endpoint) {
                return Err(AppError::new(
                    Code::UnknownEndpoint,
                    format!("Unknown endpoint `{}`", crate::audit::escape_control(&endpoint)),
                ));
            }
            let mut set: BTreeSet<String> = BTreeSet::new();
            for r in roles {
                validate_role_name(&r)?;
                set.insert(r);
            }
            set.insert(ADMIN_ROLE.to_string());
            plan.push((endpoint, set.into_iter().collect::<Vec<_>>()));
        }
        db::in_transaction(&self.db, move |txn| {
            Box::pin(async move {
                for (endpoint, roles) in &plan {
                    db::set_endpoint_roles(txn, endpoint, roles).await?;
                }
                Ok(())
            })
        })
        .await?;
        self.reload().await
    }

    /// Removes a custom role from every endpoint (built-in roles stay).
    pub async fn remove_role(&self, role: &str) -> AppResult<()> {
        if BUILTIN_ROLES.contains(&role) {
            return Ok(());
        }
        db::remove_role_everywhere(&self.db, role).await?;
        self.reload().await
    }
}

/// Role names: 1–64 of `a-z 0-9 _ -`, starting with a letter.
pub fn validate_role_name(role: &str) -> AppResult<()> {
    let ok = !role.is_empty()
        && role.len() <= 64
        && role.starts_with(|c: char| c.is_ascii_lowercase())
        && role.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(AppError::new(
            Code::RoleInvalid,
            "Role names have 1 to 64 characters of a-z, 0-9, _ and -, starting with a letter",
        ))
    }
}

//! Authorization. [`roles`] decides whether a role may call an endpoint (the first level);
//! [`paths`] turns a user's readable and writable path lists into canonical form (the rule
//! type `files::UserFs` evaluates is built from them).

pub mod paths;
pub mod roles;

pub use roles::RoleService;

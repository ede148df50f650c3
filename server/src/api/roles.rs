//! The role map (seed 002 `/api/role/*`).

use super::Caller;
use std::collections::BTreeMap;
use std::sync::Arc;

use poem::web::Data;
use poem_openapi::OpenApi;
use poem_openapi::payload::Json;

use super::{ApiResult, Auth, StatusBody, Tag};
use crate::audit::AuditEvent;
use crate::state::AppState;

#[derive(Default)]
pub struct RolesApi;

#[OpenApi(tag = "Tag::Roles")]
impl RolesApi {
    /// The whole role map: every endpoint with the roles allowed to call it.
    #[oai(path = "/api/role/get", method = "get", operation_id = "get_roles")]
    async fn get(&self, state: Data<&Arc<AppState>>, _auth: Auth) -> Json<BTreeMap<String, Vec<String>>> {
        Json(state.roles.map())
    }

    /// Replace the roles of the endpoints named in the body (others stay); `admin` always stays.
    #[oai(path = "/api/role/edit", method = "post", operation_id = "edit_roles")]
    async fn edit(&self, caller: Caller, body: Json<BTreeMap<String, Vec<String>>>) -> ApiResult<Json<StatusBody>> {
        let detail = serde_json::to_string(&body.0).unwrap_or_default();
        caller.state.roles.edit(body.0).await?;
        caller
            .state
            .audit
            .record(AuditEvent::new("role_edit").actor(&caller.principal().username).ip(caller.ip()).detail(detail));
        Ok(StatusBody::new("Roles updated"))
    }

    /// The caller's role: every endpoint with whether the caller may call it.
    #[oai(path = "/api/role/self", method = "get", operation_id = "get_role_self")]
    async fn role_self(&self, state: Data<&Arc<AppState>>, auth: Auth) -> Json<BTreeMap<String, bool>> {
        Json(state.roles.for_role(&auth.principal().role))
    }
}

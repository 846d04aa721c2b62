//! The example API's routes, shaped as the reference's groups endpoints, built as any API behind
//! tollgate is: [`Authorized<S>`] checks each request (token, company budget, version header,
//! scope) before the handler runs, and a malformed body is refused by tollgate's own JSON
//! extractor. What the server of this crate is: [`GroupsApi`].

mod body;
pub mod cursor;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRef, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing;
use axum::{Json, Router};
use serde::Deserialize;
use tollgate_core::ids::CompanyId;
use tollgate_core::secret::SecretHasher;
use tollgate_server::extract::{BodyLimit, Json as Body};
use tollgate_server::resource::{Authorized, RequiredScope, ResourceGuard};
use tollgate_server::{ApiContext, ApiError};
use utoipa::OpenApi as _;

use self::body::{GroupDto, InputGroup, PatchGroupBody, Policy, group_dto};
use crate::error::Error;
use crate::model::{GroupId, GroupPage};
use crate::rules::{GroupError, Groups};

/// `groups:read`.
#[derive(Debug)]
pub struct GroupsRead;
impl RequiredScope for GroupsRead {
    const SCOPE: &'static str = "groups:read";
}

/// `groups:write`.
#[derive(Debug)]
pub struct GroupsWrite;
impl RequiredScope for GroupsWrite {
    const SCOPE: &'static str = "groups:write";
}

/// The groups API's routes and what they share.
#[derive(Debug, Clone)]
pub struct GroupsApi(Arc<Shared>);

#[derive(Debug)]
struct Shared {
    groups: Groups,
    guard: Arc<ResourceGuard>,
    hasher: SecretHasher,
    base_url: Arc<str>,
    body_limit: usize,
    /// The JSON of the cached first pages, by company (with the page it renders).
    page_json: quick_cache::sync::Cache<CompanyId, (Arc<GroupPage>, Bytes)>,
}

impl FromRef<GroupsApi> for Arc<ResourceGuard> {
    fn from_ref(api: &GroupsApi) -> Self {
        Arc::clone(&api.0.guard)
    }
}

impl FromRef<GroupsApi> for BodyLimit {
    fn from_ref(api: &GroupsApi) -> Self {
        Self(api.0.body_limit)
    }
}

impl GroupsApi {
    /// The API over `groups`, checked by the app of `ctx`.
    pub fn new(groups: Groups, ctx: &ApiContext) -> Self {
        Self(Arc::new(Shared {
            groups,
            guard: Arc::clone(&ctx.guard),
            hasher: ctx.hasher.clone(),
            base_url: Arc::clone(&ctx.base_url),
            body_limit: ctx.max_body_bytes,
            page_json: quick_cache::sync::Cache::new(10_000),
        }))
    }

    /// The groups service behind the routes.
    pub fn groups(&self) -> &Groups {
        &self.0.groups
    }

    /// `/api/v2/groups` and `/api/v2/groups/{groupId}`.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/api/v2/groups", routing::get(list).post(create))
            .route(
                "/api/v2/groups/{groupId}",
                routing::get(get).patch(update).delete(delete),
            )
            .with_state(self.clone())
    }

    /// This API's part of the OpenAPI document.
    pub fn openapi() -> utoipa::openapi::OpenApi {
        Doc::openapi()
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct ListQuery {
    cursor: Option<String>,
}

/// The `{groupId}` of the path, parsed before the body is read. A malformed id cannot name any
/// group: it reads as missing.
pub(crate) struct PathGroupId(GroupId);

impl<S: Send + Sync> FromRequestParts<S> for PathGroupId {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        let missing = || Error::Rule(GroupError::GroupNotFound);
        let Path(id) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| missing())?;
        GroupId::parse(&id).map(Self).map_err(|_| missing())
    }
}

/// `GET /api/v2/groups`: a page of at most 500 groups.
#[utoipa::path(
    get,
    path = "/api/v2/groups",
    tag = "groups",
    params(
        ("360-api-version" = String, Header, description = "API version, e.g. `v2.0`"),
        ("cursor" = Option<String>, Query, description = "Opaque cursor from the previous page's `Link` header"),
    ),
    responses(
        (status = 200, body = Vec<GroupDto>, headers(("Link" = String, description = "`<…?cursor=…>; rel=\"next\"` when more follow"))),
        (status = 400, description = "missingApiVersion, unsupportedApiVersion, invalidInput, …", body = tollgate_server::schemas::ApiErrorDoc),
        (status = 401, description = "invalid_token (with `WWW-Authenticate: Bearer`)", body = tollgate_server::schemas::OAuthErrorDoc),
        (status = 403, description = "invalid_scope (with `WWW-Authenticate: Bearer error=\"insufficient_scope\"`)", body = tollgate_server::schemas::ApiErrorDoc),
        (status = 429, description = "Over the company's read budget", body = tollgate_server::schemas::TooManyRequestsDoc, headers(("Retry-After" = u64, description = "Seconds until the budget refills"))),
    ),
    security(("bearer" = ["groups:read"])),
)]
pub(crate) async fn list(
    auth: Authorized<GroupsRead>,
    State(api): State<GroupsApi>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Error> {
    let company = auth.access.company_id();
    let Query(q) = query.map_err(|_| ApiError::invalid_input("invalid query string"))?;
    let after = match q.cursor.as_deref() {
        Some(c) => Some(cursor::decode(&api.0.hasher, &company, c).ok_or(Error::InvalidCursor)?),
        None => None,
    };
    let page = api.0.groups.list(&company, after.as_ref()).await?;
    let mut resp = (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        page_json(&api, &company, &page)?,
    )
        .into_response();
    if let Some(next) = page.next_after {
        let link = format!(
            "<{}/api/v2/groups?cursor={}>; rel=\"next\"",
            api.0.base_url,
            cursor::encode(&api.0.hasher, &company, &next)
        );
        if let Ok(v) = HeaderValue::from_str(&link) {
            resp.headers_mut().insert(header::LINK, v);
        }
    }
    Ok(resp)
}

/// The JSON of a page. A cached first page (the same `Arc`) is serialized once, not per request.
fn page_json(api: &GroupsApi, company: &CompanyId, page: &Arc<GroupPage>) -> Result<Bytes, Error> {
    if let Some((cached, json)) = api.0.page_json.get(company)
        && Arc::ptr_eq(&cached, page)
    {
        return Ok(json);
    }
    let body: Vec<GroupDto> = page.groups.iter().map(group_dto).collect();
    let json = Bytes::from(serde_json::to_vec(&body).map_err(|_| ApiError::Internal)?);
    api.0
        .page_json
        .insert(*company, (Arc::clone(page), json.clone()));
    Ok(json)
}

/// `GET /api/v2/groups/{groupId}`.
#[utoipa::path(
    get,
    path = "/api/v2/groups/{groupId}",
    tag = "groups",
    params(("360-api-version" = String, Header, description = "API version, e.g. `v2.0`"), ("groupId" = String, Path, description = "Group id")),
    responses(
        (status = 200, body = GroupDto),
        (status = 400, description = "missingApiVersion, unsupportedApiVersion, invalidInput, …", body = tollgate_server::schemas::ApiErrorDoc),
        (status = 401, description = "invalid_token (with `WWW-Authenticate: Bearer`)", body = tollgate_server::schemas::OAuthErrorDoc),
        (status = 403, description = "invalid_scope (with `WWW-Authenticate: Bearer error=\"insufficient_scope\"`)", body = tollgate_server::schemas::ApiErrorDoc),
        (status = 404, description = "groupNotFound", body = tollgate_server::schemas::ApiErrorDoc),
        (status = 429, description = "Over the company's read budget", body = tollgate_server::schemas::TooManyRequestsDoc, headers(("Retry-After" = u64, description = "Seconds until the budget refills"))),
    ),
    security(("bearer" = ["groups:read"])),
)]
pub(crate) async fn get(
    auth: Authorized<GroupsRead>,
    State(api): State<GroupsApi>,
    PathGroupId(id): PathGroupId,
) -> Result<Json<GroupDto>, Error> {
    let g = api.0.groups.get(&auth.access.company_id(), &id).await?;
    Ok(Json(group_dto(&g)))
}

/// `POST /api/v2/groups`.
#[utoipa::path(
    post,
    path = "/api/v2/groups",
    tag = "groups",
    params(("360-api-version" = String, Header, description = "API version, e.g. `v2.0`")),
    request_body = InputGroup,
    responses(
        (status = 201, body = GroupDto),
        (status = 400, description = "missingApiVersion, unsupportedApiVersion, invalidInput, …", body = tollgate_server::schemas::ApiErrorDoc),
        (status = 401, description = "invalid_token (with `WWW-Authenticate: Bearer`)", body = tollgate_server::schemas::OAuthErrorDoc),
        (status = 403, description = "invalid_scope (with `WWW-Authenticate: Bearer error=\"insufficient_scope\"`)", body = tollgate_server::schemas::ApiErrorDoc),
        (status = 404, description = "parentGroupNotFound", body = tollgate_server::schemas::ApiErrorDoc),
        (status = 429, description = "Over the company's write budget", body = tollgate_server::schemas::TooManyRequestsDoc, headers(("Retry-After" = u64, description = "Seconds until the budget refills"))),
    ),
    security(("bearer" = ["groups:write"])),
)]
pub(crate) async fn create(
    auth: Authorized<GroupsWrite>,
    State(api): State<GroupsApi>,
    Body(b): Body<InputGroup>,
) -> Result<(StatusCode, Json<GroupDto>), Error> {
    let new = b.into_new()?;
    let g = api.0.groups.create(&auth.access.company_id(), new).await?;
    Ok((StatusCode::CREATED, Json(group_dto(&g))))
}

/// `PATCH /api/v2/groups/{groupId}`.
#[utoipa::path(
    patch,
    path = "/api/v2/groups/{groupId}",
    tag = "groups",
    params(("360-api-version" = String, Header, description = "API version, e.g. `v2.0`"), ("groupId" = String, Path, description = "Group id")),
    request_body = PatchGroupBody,
    responses(
        (status = 200, body = GroupDto),
        (status = 400, description = "missingApiVersion, unsupportedApiVersion, invalidInput, …", body = tollgate_server::schemas::ApiErrorDoc),
        (status = 401, description = "invalid_token (with `WWW-Authenticate: Bearer`)", body = tollgate_server::schemas::OAuthErrorDoc),
        (status = 403, description = "invalid_scope (with `WWW-Authenticate: Bearer error=\"insufficient_scope\"`)", body = tollgate_server::schemas::ApiErrorDoc),
        (status = 404, description = "groupNotFound, parentGroupNotFound", body = tollgate_server::schemas::ApiErrorDoc),
        (status = 429, description = "Over the company's write budget", body = tollgate_server::schemas::TooManyRequestsDoc, headers(("Retry-After" = u64, description = "Seconds until the budget refills"))),
    ),
    security(("bearer" = ["groups:write"])),
)]
pub(crate) async fn update(
    auth: Authorized<GroupsWrite>,
    State(api): State<GroupsApi>,
    PathGroupId(id): PathGroupId,
    Body(b): Body<PatchGroupBody>,
) -> Result<Json<GroupDto>, Error> {
    let patch = b.into_patch()?;
    let g = api
        .0
        .groups
        .update(&auth.access.company_id(), &id, patch)
        .await?;
    Ok(Json(group_dto(&g)))
}

/// `DELETE /api/v2/groups/{groupId}`: the group and its descendants.
#[utoipa::path(
    delete,
    path = "/api/v2/groups/{groupId}",
    tag = "groups",
    params(("360-api-version" = String, Header, description = "API version, e.g. `v2.0`"), ("groupId" = String, Path, description = "Group id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "missingApiVersion, unsupportedApiVersion, invalidInput, …", body = tollgate_server::schemas::ApiErrorDoc),
        (status = 401, description = "invalid_token (with `WWW-Authenticate: Bearer`)", body = tollgate_server::schemas::OAuthErrorDoc),
        (status = 403, description = "invalid_scope (with `WWW-Authenticate: Bearer error=\"insufficient_scope\"`)", body = tollgate_server::schemas::ApiErrorDoc),
        (status = 404, description = "groupNotFound", body = tollgate_server::schemas::ApiErrorDoc),
        (status = 429, description = "Over the company's write budget", body = tollgate_server::schemas::TooManyRequestsDoc, headers(("Retry-After" = u64, description = "Seconds until the budget refills"))),
    ),
    security(("bearer" = ["groups:write"])),
)]
pub(crate) async fn delete(
    auth: Authorized<GroupsWrite>,
    State(api): State<GroupsApi>,
    PathGroupId(id): PathGroupId,
) -> Result<StatusCode, Error> {
    api.0.groups.delete(&auth.access.company_id(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// This module's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list, create, get, update, delete),
    components(schemas(GroupDto, InputGroup, PatchGroupBody, Policy)),
    tags((name = "groups", description = "The example API (reference-shaped)"))
)]
struct Doc;

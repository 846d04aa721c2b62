//! The example API, shaped as the reference's groups endpoints. Bodies are validated against the
//! reference schema (`InputGroupDTO`, `PatchGroupDTO`) here at the edge; the rules live in
//! `tollgate_core::groups`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use std::sync::Arc;

use tollgate_core::groups::{GroupPage, GroupPatch, NewGroup};
use tollgate_core::ids::{CompanyId, GroupId, ObjectId};
use tollgate_core::model::Group;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::extract;
use crate::resource::{Authorized, GroupsRead, GroupsWrite};
use crate::state::AppState;

/// `PolicyDTO`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Policy {
    url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    explicit_consent: Option<bool>,
}

/// `InputGroupDTO`: a group to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct InputGroup {
    name: String,
    public: bool,
    parent_id: String,
    custom: Option<String>,
    privacy_policy: Option<Policy>,
    moderation_charter: Option<Policy>,
    terms_of_use: Option<Policy>,
    imprint: Option<Policy>,
    banner_image_id: Option<String>,
    background_image_id: Option<String>,
    favicon_image_id: Option<String>,
    logo_image_id: Option<String>,
    subdomain: Option<String>,
    url: Option<String>,
}

/// Distinguishes an absent field (`None`) from `null` (`Some(None)`).
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// `PatchGroupDTO`: fields to change; `null` clears a nullable field.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct PatchGroupBody {
    name: Option<String>,
    public: Option<bool>,
    parent_id: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    custom: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    privacy_policy: Option<Option<Policy>>,
    #[serde(default, deserialize_with = "nullable")]
    moderation_charter: Option<Option<Policy>>,
    #[serde(default, deserialize_with = "nullable")]
    terms_of_use: Option<Option<Policy>>,
    #[serde(default, deserialize_with = "nullable")]
    imprint: Option<Option<Policy>>,
    #[serde(default, deserialize_with = "nullable")]
    banner_image_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    background_image_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    favicon_image_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    logo_image_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    subdomain: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    url: Option<Option<String>>,
}

fn min_len(field: &str, v: &str, min: usize) -> Result<(), ApiError> {
    if v.chars().count() < min {
        Err(ApiError::invalid_input(format!(
            "{field} must be at least {min} character(s)"
        )))
    } else {
        Ok(())
    }
}

fn object_id(field: &str, v: &str) -> Result<ObjectId, ApiError> {
    ObjectId::parse(v)
        .map_err(|_| ApiError::invalid_input(format!("{field} must be a 24-hex-digit ObjectId")))
}

fn check_subdomain(v: &str) -> Result<(), ApiError> {
    let ok = (3..=255).contains(&v.len())
        && v.bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && v.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid_input(
            "subdomain must be 3 to 255 characters of a-z, 0-9 and -, not starting with -",
        ))
    }
}

fn check_policy(field: &str, p: &Policy) -> Result<(), ApiError> {
    min_len(&format!("{field}.url"), &p.url, 1)
}

/// Validates the optional schema fields and collects them (as given) into `extra`; `null` kept as
/// `null` so a patch can clear.
#[allow(clippy::too_many_arguments)]
fn collect_extra(
    extra: &mut Map<String, Value>,
    policies: [(&str, Option<Option<Policy>>); 4],
    images: [(&str, Option<Option<String>>); 4],
    subdomain: Option<Option<String>>,
    url: Option<Option<String>>,
) -> Result<(), ApiError> {
    for (field, p) in policies {
        match p {
            Some(Some(p)) => {
                check_policy(field, &p)?;
                let v = serde_json::to_value(&p).map_err(|_| ApiError::Internal)?;
                extra.insert(field.to_owned(), v);
            }
            Some(None) => {
                extra.insert(field.to_owned(), Value::Null);
            }
            None => {}
        }
    }
    for (field, id) in images {
        match id {
            Some(Some(id)) => {
                object_id(field, &id)?;
                extra.insert(field.to_owned(), Value::String(id));
            }
            Some(None) => {
                extra.insert(field.to_owned(), Value::Null);
            }
            None => {}
        }
    }
    match subdomain {
        Some(Some(s)) => {
            check_subdomain(&s)?;
            extra.insert("subdomain".into(), Value::String(s));
        }
        Some(None) => {
            extra.insert("subdomain".into(), Value::Null);
        }
        None => {}
    }
    match url {
        Some(Some(u)) => {
            extra.insert("url".into(), Value::String(u));
        }
        Some(None) => {
            extra.insert("url".into(), Value::Null);
        }
        None => {}
    }
    Ok(())
}

/// `GroupDTO`: a group as the reference returns it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct GroupDto {
    /// The group's id (24 hex digits).
    #[serde(rename = "_id")]
    id: String,
    /// Name.
    name: String,
    /// Public or private.
    public: bool,
    /// Free text.
    #[serde(skip_serializing_if = "Option::is_none")]
    custom: Option<String>,
    /// Parent; absent on the root group.
    #[serde(rename = "parentId", skip_serializing_if = "Option::is_none")]
    parent_id: Option<String>,
    /// The schema's other optional fields, as stored (`privacyPolicy`, `subdomain`, `logoImageId`, …).
    #[serde(flatten)]
    #[schema(value_type = Object)]
    extra: Map<String, Value>,
}

fn group_dto(g: &Group) -> GroupDto {
    GroupDto {
        id: g.id.to_string(),
        name: g.name.clone(),
        public: g.public,
        custom: g.custom.clone(),
        parent_id: g.parent_id.map(|p| p.to_string()),
        extra: g
            .extra
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
}

const CURSOR_PURPOSE: &str = "groups-cursor";
const CURSOR_TAG_LEN: usize = 16;

fn cursor_tag(state: &AppState, company: &CompanyId, after: &GroupId) -> [u8; CURSOR_TAG_LEN] {
    let data = format!("{company}/{after}");
    let full = state.hasher.tag(CURSOR_PURPOSE, data.as_bytes());
    let mut t = [0u8; CURSOR_TAG_LEN];
    t.copy_from_slice(&full[..CURSOR_TAG_LEN]);
    t
}

/// An opaque, tamper-evident cursor: the last id of the page and a MAC binding it to the company.
fn encode_cursor(state: &AppState, company: &CompanyId, after: &GroupId) -> String {
    let mut raw = after.to_string().into_bytes();
    raw.extend_from_slice(&cursor_tag(state, company, after));
    URL_SAFE_NO_PAD.encode(raw)
}

fn decode_cursor(state: &AppState, company: &CompanyId, cursor: &str) -> Result<GroupId, ApiError> {
    let bad = || ApiError::InvalidCursor;
    let raw = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    if raw.len() != 24 + CURSOR_TAG_LEN {
        return Err(bad());
    }
    let id = std::str::from_utf8(&raw[..24])
        .ok()
        .and_then(|s| GroupId::parse(s).ok())
        .ok_or_else(bad)?;
    let expected = cursor_tag(state, company, &id);
    let given: &[u8] = &raw[24..];
    if bool::from(subtle::ConstantTimeEq::ct_eq(&expected[..], given)) {
        Ok(id)
    } else {
        Err(bad())
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
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let missing = || ApiError::Group(tollgate_core::groups::GroupError::GroupNotFound);
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
        (status = 400, description = "missingApiVersion, unsupportedApiVersion, invalidInput, …", body = crate::error::ApiErrorDoc),
        (status = 401, description = "invalid_token (with `WWW-Authenticate: Bearer`)", body = crate::error::OAuthErrorDoc),
        (status = 403, description = "invalid_scope (with `WWW-Authenticate: Bearer error=\"insufficient_scope\"`)", body = crate::error::ApiErrorDoc),
        (status = 429, description = "Over the company's read budget", body = crate::error::TooManyRequestsDoc, headers(("Retry-After" = u64, description = "Seconds until the budget refills"))),
    ),
    security(("bearer" = ["groups:read"])),
)]
pub(crate) async fn list(
    auth: Authorized<GroupsRead>,
    State(state): State<AppState>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let company = auth.access.company_id();
    let Query(q) = query.map_err(|_| ApiError::invalid_input("invalid query string"))?;
    let after = match q.cursor.as_deref() {
        Some(c) => Some(decode_cursor(&state, &company, c)?),
        None => None,
    };
    let page = state.groups.list(&company, after.as_ref()).await?;
    let mut resp = (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        page_json(&state, &company, &page)?,
    )
        .into_response();
    if let Some(next) = page.next_after {
        let link = format!(
            "<{}/api/v2/groups?cursor={}>; rel=\"next\"",
            state.base_url,
            encode_cursor(&state, &company, &next)
        );
        if let Ok(v) = HeaderValue::from_str(&link) {
            resp.headers_mut().insert(header::LINK, v);
        }
    }
    Ok(resp)
}

/// The JSON of a page. A cached first page (the same `Arc`) is serialized once, not per request.
fn page_json(
    state: &AppState,
    company: &CompanyId,
    page: &Arc<GroupPage>,
) -> Result<Bytes, ApiError> {
    if let Some((cached, json)) = state.page_json.get(company)
        && Arc::ptr_eq(&cached, page)
    {
        return Ok(json);
    }
    let body: Vec<GroupDto> = page.groups.iter().map(group_dto).collect();
    let json = Bytes::from(serde_json::to_vec(&body).map_err(|_| ApiError::Internal)?);
    state
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
        (status = 400, description = "missingApiVersion, unsupportedApiVersion, invalidInput, …", body = crate::error::ApiErrorDoc),
        (status = 401, description = "invalid_token (with `WWW-Authenticate: Bearer`)", body = crate::error::OAuthErrorDoc),
        (status = 403, description = "invalid_scope (with `WWW-Authenticate: Bearer error=\"insufficient_scope\"`)", body = crate::error::ApiErrorDoc),
        (status = 404, description = "groupNotFound", body = crate::error::ApiErrorDoc),
        (status = 429, description = "Over the company's read budget", body = crate::error::TooManyRequestsDoc, headers(("Retry-After" = u64, description = "Seconds until the budget refills"))),
    ),
    security(("bearer" = ["groups:read"])),
)]
pub(crate) async fn get(
    auth: Authorized<GroupsRead>,
    State(state): State<AppState>,
    PathGroupId(id): PathGroupId,
) -> Result<Json<GroupDto>, ApiError> {
    let g = state.groups.get(&auth.access.company_id(), &id).await?;
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
        (status = 400, description = "missingApiVersion, unsupportedApiVersion, invalidInput, …", body = crate::error::ApiErrorDoc),
        (status = 401, description = "invalid_token (with `WWW-Authenticate: Bearer`)", body = crate::error::OAuthErrorDoc),
        (status = 403, description = "invalid_scope (with `WWW-Authenticate: Bearer error=\"insufficient_scope\"`)", body = crate::error::ApiErrorDoc),
        (status = 404, description = "parentGroupNotFound", body = crate::error::ApiErrorDoc),
        (status = 429, description = "Over the company's write budget", body = crate::error::TooManyRequestsDoc, headers(("Retry-After" = u64, description = "Seconds until the budget refills"))),
    ),
    security(("bearer" = ["groups:write"])),
)]
pub(crate) async fn create(
    auth: Authorized<GroupsWrite>,
    State(state): State<AppState>,
    extract::Json(b): extract::Json<InputGroup>,
) -> Result<(StatusCode, Json<GroupDto>), ApiError> {
    min_len("name", &b.name, 1)?;
    if let Some(c) = &b.custom {
        min_len("custom", c, 1)?;
    }
    let parent = GroupId(object_id("parentId", &b.parent_id)?);
    let mut extra = Map::new();
    collect_extra(
        &mut extra,
        [
            ("privacyPolicy", b.privacy_policy.map(Some)),
            ("moderationCharter", b.moderation_charter.map(Some)),
            ("termsOfUse", b.terms_of_use.map(Some)),
            ("imprint", b.imprint.map(Some)),
        ],
        [
            ("bannerImageId", b.banner_image_id.map(Some)),
            ("backgroundImageId", b.background_image_id.map(Some)),
            ("faviconImageId", b.favicon_image_id.map(Some)),
            ("logoImageId", b.logo_image_id.map(Some)),
        ],
        b.subdomain.map(Some),
        b.url.map(Some),
    )?;
    let g = state
        .groups
        .create(
            &auth.access.company_id(),
            NewGroup {
                name: b.name,
                public: b.public,
                custom: b.custom,
                parent_id: parent,
                extra,
            },
        )
        .await?;
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
        (status = 400, description = "missingApiVersion, unsupportedApiVersion, invalidInput, …", body = crate::error::ApiErrorDoc),
        (status = 401, description = "invalid_token (with `WWW-Authenticate: Bearer`)", body = crate::error::OAuthErrorDoc),
        (status = 403, description = "invalid_scope (with `WWW-Authenticate: Bearer error=\"insufficient_scope\"`)", body = crate::error::ApiErrorDoc),
        (status = 404, description = "groupNotFound, parentGroupNotFound", body = crate::error::ApiErrorDoc),
        (status = 429, description = "Over the company's write budget", body = crate::error::TooManyRequestsDoc, headers(("Retry-After" = u64, description = "Seconds until the budget refills"))),
    ),
    security(("bearer" = ["groups:write"])),
)]
pub(crate) async fn update(
    auth: Authorized<GroupsWrite>,
    State(state): State<AppState>,
    PathGroupId(id): PathGroupId,
    extract::Json(b): extract::Json<PatchGroupBody>,
) -> Result<Json<GroupDto>, ApiError> {
    if let Some(n) = &b.name {
        min_len("name", n, 1)?;
    }
    if let Some(Some(c)) = &b.custom {
        min_len("custom", c, 1)?;
    }
    let parent_id = match &b.parent_id {
        Some(p) => Some(GroupId(object_id("parentId", p)?)),
        None => None,
    };
    let mut extra = Map::new();
    collect_extra(
        &mut extra,
        [
            ("privacyPolicy", b.privacy_policy),
            ("moderationCharter", b.moderation_charter),
            ("termsOfUse", b.terms_of_use),
            ("imprint", b.imprint),
        ],
        [
            ("bannerImageId", b.banner_image_id),
            ("backgroundImageId", b.background_image_id),
            ("faviconImageId", b.favicon_image_id),
            ("logoImageId", b.logo_image_id),
        ],
        b.subdomain,
        b.url,
    )?;
    let g = state
        .groups
        .update(
            &auth.access.company_id(),
            &id,
            GroupPatch {
                name: b.name,
                public: b.public,
                custom: b.custom,
                parent_id,
                extra,
            },
        )
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
        (status = 400, description = "missingApiVersion, unsupportedApiVersion, invalidInput, …", body = crate::error::ApiErrorDoc),
        (status = 401, description = "invalid_token (with `WWW-Authenticate: Bearer`)", body = crate::error::OAuthErrorDoc),
        (status = 403, description = "invalid_scope (with `WWW-Authenticate: Bearer error=\"insufficient_scope\"`)", body = crate::error::ApiErrorDoc),
        (status = 404, description = "groupNotFound", body = crate::error::ApiErrorDoc),
        (status = 429, description = "Over the company's write budget", body = crate::error::TooManyRequestsDoc, headers(("Retry-After" = u64, description = "Seconds until the budget refills"))),
    ),
    security(("bearer" = ["groups:write"])),
)]
pub(crate) async fn delete(
    auth: Authorized<GroupsWrite>,
    State(state): State<AppState>,
    PathGroupId(id): PathGroupId,
) -> Result<StatusCode, ApiError> {
    state.groups.delete(&auth.access.company_id(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// This module's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list, create, get, update, delete),
    components(schemas(GroupDto, InputGroup, PatchGroupBody, Policy))
)]
pub(crate) struct Doc;

//! The OpenAPI 3.1 document of every route, generated from the handlers' `#[utoipa::path]`
//! annotations and the schemas below, served at `/openapi.json` and rendered (Swagger UI, vendored:
//! no CDN) at `/docs`.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi as OpenApiDoc, ServerBuilder};
use utoipa::{Modify, OpenApi, ToSchema};

/// Token request, JSON form (the reference's) — `scope` optional.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct TokenRequest {
    /// Only `client_credentials`.
    #[schema(example = "client_credentials")]
    grant_type: String,
    /// Client ID (omit when using HTTP Basic).
    client_id: Option<String>,
    /// Client secret (omit when using HTTP Basic).
    client_secret: Option<String>,
    /// Space-delimited subset of the credential's scopes; default: all of them.
    scope: Option<String>,
}

/// Successful token response (RFC 6749 §5.1).
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct TokenResponse {
    /// Always `Bearer`.
    #[schema(example = "Bearer")]
    token_type: String,
    /// An RFC 9068 JWT.
    access_token: String,
    /// Lifetime in seconds (a number).
    #[schema(example = 3600)]
    expires_in: u64,
    /// Space-delimited scopes granted.
    scope: String,
}

/// RFC 6749 §5.2 / RFC 6750 error body.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct OAuthError {
    /// `invalid_request`, `invalid_client`, `unsupported_grant_type`, `invalid_scope`,
    /// `unauthorized_client`, `invalid_token`.
    error: String,
    /// Human-readable detail.
    error_description: Option<String>,
}

/// The rate limits' answer (the reference's body), with `Retry-After` in seconds.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct TooManyRequests {
    /// Always `tooManyRequests`.
    #[schema(pattern = "^tooManyRequests$", example = "tooManyRequests")]
    error: String,
}

/// Introspection or revocation request (form or JSON).
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct TokenManagementRequest {
    /// The access token.
    token: String,
    /// Ignored (tollgate has one kind of token).
    token_type_hint: Option<String>,
    /// Client ID (omit when using HTTP Basic).
    client_id: Option<String>,
    /// Client secret (omit when using HTTP Basic).
    client_secret: Option<String>,
}

/// RFC 7662 response: `{"active": false}` alone for any token that is not an active token of the
/// caller's company.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct IntrospectionResponse {
    active: bool,
    scope: Option<String>,
    client_id: Option<String>,
    sub: Option<String>,
    token_type: Option<String>,
    exp: Option<i64>,
    iat: Option<i64>,
    iss: Option<String>,
    aud: Option<String>,
    jti: Option<String>,
    company_id: Option<String>,
}

/// The reference's error envelope.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct ApiError {
    error: ApiErrorDetail,
}

/// Inside [`ApiError`].
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct ApiErrorDetail {
    /// camelCase code, e.g. `groupNotFound`, `missingApiVersion`, `invalid_scope`.
    code: String,
    /// Human-readable message.
    message: String,
}

/// A JSON Web Key Set.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct Jwks {
    /// Published keys (JWK objects with `kid`, `alg`, `use`).
    keys: Vec<serde_json::Value>,
}

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "client_basic",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Basic).build()),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "tollgate",
        description = "OAuth 2.0 client-credentials authorization server, with the reference's example groups API."
    ),
    paths(
        crate::oauth::token,
        crate::oauth::introspect,
        crate::oauth::revoke,
        crate::wellknown::server_metadata,
        crate::wellknown::openid_configuration,
        crate::wellknown::jwks,
        crate::groups::list,
        crate::groups::create,
        crate::groups::get,
        crate::groups::update,
        crate::groups::delete,
        crate::health::healthz,
        crate::health::readyz,
        crate::metrics::metrics,
    ),
    components(schemas(
        TokenRequest,
        TokenResponse,
        OAuthError,
        TokenManagementRequest,
        IntrospectionResponse,
        ApiError,
        ApiErrorDetail,
        Jwks,
        crate::groups::GroupDto,
        crate::groups::InputGroup,
        crate::groups::PatchGroupBody,
        crate::groups::Policy,
    )),
    modifiers(&Security),
    tags(
        (name = "oauth", description = "Tokens, introspection, revocation"),
        (name = "discovery", description = "Metadata and keys"),
        (name = "groups", description = "The example API (reference-shaped)"),
        (name = "operations", description = "Health and metrics"),
    )
)]
struct ApiDoc;

/// The document, with `issuer` as its server.
pub(crate) fn document(issuer: &str) -> OpenApiDoc {
    let mut doc = ApiDoc::openapi();
    doc.servers = Some(vec![ServerBuilder::new().url(issuer).build()]);
    doc
}

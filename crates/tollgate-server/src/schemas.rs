//! The error bodies of `error`, as OpenAPI schemas: for the `#[utoipa::path]` annotations of
//! tollgate's handlers and of an API mounted beside them (`responses((status = 404, body =
//! tollgate_server::schemas::ApiErrorDoc))`).

use utoipa::ToSchema;

/// RFC 6749 §5.2 / RFC 6750 error body.
#[derive(ToSchema)]
#[schema(as = OAuthError)]
#[allow(dead_code)]
#[derive(Debug)]
pub struct OAuthErrorDoc {
    /// `invalid_request`, `invalid_client`, `unsupported_grant_type`, `invalid_scope`,
    /// `unauthorized_client`, `invalid_token`.
    error: String,
    /// Human-readable detail.
    error_description: Option<String>,
}

/// The rate limits' answer (the reference's body), with `Retry-After` in seconds.
#[derive(ToSchema)]
#[schema(as = TooManyRequests)]
#[allow(dead_code)]
#[derive(Debug)]
pub struct TooManyRequestsDoc {
    /// Always `tooManyRequests`.
    #[schema(pattern = "^tooManyRequests$", example = "tooManyRequests")]
    error: String,
}

/// The reference's error envelope.
#[derive(ToSchema)]
#[schema(as = ApiError)]
#[allow(dead_code)]
#[derive(Debug)]
pub struct ApiErrorDoc {
    error: ApiErrorDetailDoc,
}

/// Inside [`ApiError`].
#[derive(ToSchema)]
#[schema(as = ApiErrorDetail)]
#[allow(dead_code)]
#[derive(Debug)]
pub struct ApiErrorDetailDoc {
    /// camelCase code, e.g. `groupNotFound`, `missingApiVersion`, `invalid_scope`.
    code: String,
    /// Human-readable message.
    message: String,
}

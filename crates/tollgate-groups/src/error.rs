//! Where the groups API's errors become HTTP responses — the only place. tollgate's own errors
//! (token, budget, version header, scope, body) are answered as tollgate answers them; the rules'
//! errors carry the reference's camelCase codes in its envelope `{"error":{"code","message"}}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tollgate_proto::ApiErrorBody;
use tollgate_server::ApiError;

use crate::rules::GroupError;

/// Why a groups request failed.
#[derive(Debug)]
pub enum Error {
    /// One of tollgate's checks, or a malformed input: answered as tollgate answers it.
    Tollgate(ApiError),
    /// A rule of the groups (404 for a group that is not the company's, 400 for the others).
    Rule(GroupError),
    /// 400 `invalidCursor`: a page cursor this server did not hand out to this company.
    InvalidCursor,
}

impl From<ApiError> for Error {
    fn from(e: ApiError) -> Self {
        Self::Tollgate(e)
    }
}

impl From<GroupError> for Error {
    fn from(e: GroupError) -> Self {
        Self::Rule(e)
    }
}

fn answer(status: StatusCode, code: &str, message: String) -> Response {
    (status, Json(ApiErrorBody::new(code, message))).into_response()
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        match self {
            Self::Tollgate(e) => e.into_response(),
            Self::InvalidCursor => answer(
                StatusCode::BAD_REQUEST,
                "invalidCursor",
                "the page cursor is invalid".into(),
            ),
            Self::Rule(e) => match e.code() {
                Some(code) => {
                    let status = match e {
                        GroupError::GroupNotFound | GroupError::ParentGroupNotFound => {
                            StatusCode::NOT_FOUND
                        }
                        _ => StatusCode::BAD_REQUEST,
                    };
                    answer(status, code, e.to_string())
                }
                None => {
                    tracing::error!(error = %e, "groups API failed");
                    ApiError::Internal.into_response()
                }
            },
        }
    }
}

//! tollgate's own body extractors, so that a malformed body is answered in tollgate's error format
//! (axum's `examples/error-handling` pattern): the rejection of each is a tollgate error, whose
//! status and body `error` picks.
//!
//! - [`Json`]: a JSON body of the protected API (`ApiError`): the reference's rules (400 unless
//!   `application/json`, 413 over the body limit, an object, serde's message without its position).
//!   Public: an API mounted beside tollgate takes its bodies with it (its state gives the
//!   [`BodyLimit`] through `FromRef`).
//! - [`AdminJson`]: a JSON body of the admin API (`AdminApiError`: 400 `invalidInput`); also
//!   optional (`Option<AdminJson<T>>`: no body, no content type).
//!
//! The panel's form bodies have their own extractor next to the panel (`admin::pages::Form`), whose
//! rejection is an error page.

use axum::body::Bytes;
use axum::extract::{FromRef, FromRequest, OptionalFromRequest, Request};
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use crate::error::{AdminApiError, ApiError};
use crate::state::AppState;

/// A JSON request body of the protected API.
#[derive(Debug)]
pub struct Json<T>(pub T);

/// The largest request body the server accepts (`max_body_bytes`), for the 413's message.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

impl FromRef<AppState> for BodyLimit {
    fn from_ref(s: &AppState) -> Self {
        Self(s.max_body_bytes)
    }
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T>
where
    BodyLimit: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
        let body = Bytes::from_request(req, state).await.map_err(|r| {
            if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge(BodyLimit::from_ref(state).0)
            } else {
                ApiError::InvalidInput("the body could not be read".into())
            }
        })?;
        // The reference documents 400 for bad input here, and no 415.
        if !is_json {
            return Err(ApiError::InvalidInput(
                "the body must be application/json".into(),
            ));
        }
        if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(ApiError::InvalidInput(
                "the body must be a JSON object".into(),
            ));
        }
        serde_json::from_slice(&body).map(Self).map_err(|e| {
            let msg = e.to_string();
            ApiError::InvalidInput(msg.split(" at line ").next().unwrap_or(&msg).to_owned())
        })
    }
}

/// A JSON request body of the admin API.
#[derive(Debug)]
pub(crate) struct AdminJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for AdminJson<T> {
    type Rejection = AdminApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AdminApiError> {
        let axum::Json(v) = <axum::Json<T> as FromRequest<S>>::from_request(req, state).await?;
        Ok(Self(v))
    }
}

impl<T: DeserializeOwned, S: Send + Sync> OptionalFromRequest<S> for AdminJson<T> {
    type Rejection = AdminApiError;

    async fn from_request(req: Request, state: &S) -> Result<Option<Self>, AdminApiError> {
        let v = <axum::Json<T> as OptionalFromRequest<S>>::from_request(req, state).await?;
        Ok(v.map(|axum::Json(v)| Self(v)))
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::StatusCode;

    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Body1 {
        #[allow(dead_code)]
        label: String,
    }

    fn request(content_type: Option<&str>, body: &'static str) -> Request {
        let mut b = Request::builder().method("POST").uri("/");
        if let Some(ct) = content_type {
            b = b.header(header::CONTENT_TYPE, ct);
        }
        b.body(Body::from(body)).unwrap()
    }

    #[tokio::test]
    async fn a_malformed_admin_body_is_an_invalid_input_in_the_envelope() {
        let e = <AdminJson<Body1> as FromRequest<()>>::from_request(
            request(Some("application/json"), "{\"label\":"),
            &(),
        )
        .await
        .unwrap_err();
        let (status, code, _) = e.parts();
        assert_eq!((status, code), (StatusCode::BAD_REQUEST, "invalidInput"));
    }

    #[tokio::test]
    async fn an_optional_admin_body_may_be_absent_but_not_malformed() {
        let none =
            <AdminJson<Body1> as OptionalFromRequest<()>>::from_request(request(None, ""), &())
                .await
                .unwrap();
        assert!(none.is_none());
        let e = <AdminJson<Body1> as OptionalFromRequest<()>>::from_request(
            request(Some("application/json"), "[1]"),
            &(),
        )
        .await
        .unwrap_err();
        assert_eq!(e.parts().1, "invalidInput");
    }
}

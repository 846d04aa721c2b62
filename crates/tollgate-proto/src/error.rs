use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// OAuth 2.0 error codes: RFC 6749 §5.2 (token endpoint) and RFC 6750 §3.1 (resource side).
#[derive(Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OAuthErrorCode {
    /// Malformed request.
    InvalidRequest,
    /// Client authentication failed.
    InvalidClient,
    /// Invalid grant.
    InvalidGrant,
    /// The client may not use this grant type.
    UnauthorizedClient,
    /// The grant type is not supported.
    UnsupportedGrantType,
    /// The requested scope is invalid or exceeds what the client holds.
    InvalidScope,
    /// A requested resource is malformed or not one the client may use (RFC 8707 §2).
    InvalidTarget,
    /// The access token is missing, malformed, expired or revoked (RFC 6750).
    InvalidToken,
    /// The access token lacks a scope (RFC 6750).
    InsufficientScope,
    /// Any other code a server sends.
    Extension(String),
}

impl OAuthErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::InvalidTarget => "invalid_target",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::Extension(s) => s,
        }
    }

    /// Parses a wire code; unknown codes become [`OAuthErrorCode::Extension`].
    pub fn from_wire(s: &str) -> Self {
        match s {
            "invalid_request" => Self::InvalidRequest,
            "invalid_client" => Self::InvalidClient,
            "invalid_grant" => Self::InvalidGrant,
            "unauthorized_client" => Self::UnauthorizedClient,
            "unsupported_grant_type" => Self::UnsupportedGrantType,
            "invalid_scope" => Self::InvalidScope,
            "invalid_target" => Self::InvalidTarget,
            "invalid_token" => Self::InvalidToken,
            "insufficient_scope" => Self::InsufficientScope,
            other => Self::Extension(other.to_owned()),
        }
    }
}

impl fmt::Display for OAuthErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for OAuthErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for OAuthErrorCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for OAuthErrorCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Cow::<'de, str>::deserialize(d)?;
        Ok(Self::from_wire(&s))
    }
}

/// RFC 6749 §5.2 error body: `{"error": CODE, "error_description": "…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthErrorBody {
    /// The error code.
    pub error: OAuthErrorCode,
    /// Human-readable detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

/// The reference API's error envelope: `{"error": {"code": "camelCase", "message": "…"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiErrorBody {
    /// The error.
    pub error: ApiErrorDetail,
}

/// Inside [`ApiErrorBody`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiErrorDetail {
    /// camelCase code, e.g. `groupNotFound`.
    pub code: String,
    /// Human-readable message.
    pub message: String,
}

impl ApiErrorBody {
    /// Builds an envelope.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            error: ApiErrorDetail {
                code: code.into(),
                message: message.into(),
            },
        }
    }
}

/// The 429 body: `{"error":"tooManyRequests"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TooManyRequestsBody {
    /// Always `tooManyRequests`.
    pub error: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oauth_codes_roundtrip() {
        for c in [
            "invalid_request",
            "invalid_client",
            "unsupported_grant_type",
            "invalid_scope",
            "invalid_target",
            "invalid_token",
            "something_else",
        ] {
            assert_eq!(OAuthErrorCode::from_wire(c).as_str(), c);
        }
        let b = OAuthErrorBody {
            error: OAuthErrorCode::InvalidClient,
            error_description: Some("nope".into()),
        };
        assert_eq!(
            serde_json::to_string(&b).unwrap(),
            r#"{"error":"invalid_client","error_description":"nope"}"#
        );
    }
}

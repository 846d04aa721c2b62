//! The fuzz targets' properties (`fuzz/fuzz_targets/token_request.rs` and `config.rs`) as proptest
//! cases, without a server: the token request's parser on any headers and body, the same request
//! written in every accepted form, and the configuration loader on any text. See docs/security.md
//! (Fuzzing).

use axum::http::{HeaderMap, HeaderValue, header};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use proptest::prelude::*;
use serde_json::json;
use tollgate_proto::ScopeSet;
use tollgate_server::Settings;
use tollgate_server::oauth::TokenRequest;

const CONTENT_TYPES: [&str; 5] = [
    "application/json",
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=utf-8",
    "text/plain",
    "",
];

/// What holds of any parse: no panic, and an accepted request has a client ID and a secret, and says
/// Basic only when an `Authorization` header was sent.
fn check_any(headers: &HeaderMap, body: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(r) = TokenRequest::parse(headers, body) {
        prop_assert!(!r.client_id().is_empty());
        prop_assert!(!r.secret().is_empty());
        prop_assert!(!r.basic() || headers.contains_key(header::AUTHORIZATION));
    }
    Ok(())
}

fn headers(content_type: &str, authorization: Option<&str>) -> HeaderMap {
    let mut h = HeaderMap::new();
    let content_type = Some(content_type).filter(|c| !c.is_empty());
    if let Some(v) = content_type.and_then(|c| HeaderValue::from_str(c).ok()) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Some(a) = authorization.and_then(|a| HeaderValue::from_str(a).ok()) {
        h.insert(header::AUTHORIZATION, a);
    }
    h
}

fn pct(s: &str) -> String {
    utf8_percent_encode(s, NON_ALPHANUMERIC).to_string()
}

fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", pct(k), pct(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn scope_list() -> impl Strategy<Value = String> {
    proptest::collection::vec("[a-zA-Z][a-zA-Z0-9_-]{0,8}:[a-zA-Z0-9_-]{1,8}", 0..4)
        .prop_map(|v| v.join(" "))
}

/// Text near the form grammar: separators, escapes, plus, and bytes that decode to non-UTF-8.
const FORM_NEAR: &str = "([a-z_]{0,14}|[=&+%]|%[0-9a-fA-F]{2}|%[fF][fF])*";

proptest! {
    #[test]
    fn any_request_parses_or_is_refused_without_panicking(
        ct in proptest::sample::select(&CONTENT_TYPES[..]),
        authorization in proptest::option::of("(Basic|basic|Bearer) [ -~]{0,40}"),
        body in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        check_any(&headers(ct, authorization.as_deref()), &body)?;
    }

    #[test]
    fn form_text_near_the_grammar_parses_or_is_refused_without_panicking(
        body in FORM_NEAR,
        basic in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40)),
    ) {
        let auth = basic.map(|raw| format!("Basic {}", STANDARD.encode(raw)));
        check_any(&headers("application/x-www-form-urlencoded", auth.as_deref()), body.as_bytes())?;
    }

    #[test]
    fn json_near_the_contract_parses_or_is_refused_without_panicking(
        grant in proptest::option::of(prop_oneof![Just("client_credentials".to_owned()), ".{0,8}"]),
        id in proptest::option::of(".{0,12}"),
        secret in proptest::option::of(prop_oneof![".{0,12}".prop_map(serde_json::Value::from), any::<i64>().prop_map(serde_json::Value::from)]),
        scope in proptest::option::of(".{0,20}"),
        extra in proptest::option::of("[a-z_]{1,10}"),
    ) {
        let mut body = serde_json::Map::new();
        for (k, v) in [("grant_type", grant.map(Into::into)), ("client_id", id.map(Into::into)), ("client_secret", secret), ("scope", scope.map(Into::into))] {
            if let Some(v) = v {
                body.insert(k.into(), v);
            }
        }
        if let Some(k) = extra {
            body.insert(k, json!(1));
        }
        let text = serde_json::Value::Object(body).to_string();
        check_any(&headers("application/json", None), text.as_bytes())?;
    }

    /// The same credentials and scopes, as JSON, as a form, and in a Basic header beside either
    /// body: one request, Basic or not.
    #[test]
    fn every_form_of_one_request_parses_to_it(
        id in ".{1,20}",
        secret in ".{1,40}",
        scope in proptest::option::of(scope_list()),
    ) {
        let scope_text = scope.clone().unwrap_or_default();
        let expected_scope = scope.as_deref().filter(|s| !s.is_empty()).map(|s| ScopeSet::parse_list(s).unwrap());
        let basic = format!("Basic {}", STANDARD.encode(format!("{}:{}", pct(&id), pct(&secret))));
        let mut json_body = json!({"grant_type": "client_credentials", "client_id": id, "client_secret": secret});
        let mut form_pairs = vec![("grant_type", "client_credentials"), ("client_id", id.as_str()), ("client_secret", secret.as_str())];
        let mut basic_json = json!({"grant_type": "client_credentials"});
        let mut basic_form = vec![("grant_type", "client_credentials")];
        if scope.is_some() {
            json_body["scope"] = json!(scope_text);
            basic_json["scope"] = json!(scope_text);
            form_pairs.push(("scope", &scope_text));
            basic_form.push(("scope", &scope_text));
        }
        let cases = [
            (headers("application/json", None), json_body.to_string(), false),
            (headers("application/x-www-form-urlencoded", None), form(&form_pairs), false),
            (headers("application/json", Some(&basic)), basic_json.to_string(), true),
            (headers("application/x-www-form-urlencoded", Some(&basic)), form(&basic_form), true),
        ];
        for (h, body, is_basic) in &cases {
            let r = TokenRequest::parse(h, body.as_bytes());
            prop_assert!(r.is_ok(), "{body}: {r:?}");
            let r = r.unwrap();
            prop_assert_eq!(r.client_id(), id.as_str());
            prop_assert_eq!(r.secret().expose_secret(), secret.as_str());
            prop_assert_eq!(r.scope(), expected_scope.as_ref());
            prop_assert_eq!(r.basic(), *is_basic);
        }
    }

    /// A parameter given twice in a form is refused, whichever it is and wherever the copy is.
    #[test]
    fn a_repeated_form_parameter_is_refused(
        which in 0usize..4,
        value in "[a-z:]{0,10}",
    ) {
        let mut pairs = vec![("grant_type", "client_credentials"), ("client_id", "abc"), ("client_secret", "s3cret"), ("scope", "groups:read")];
        let name = pairs[which].0;
        pairs.push((name, &value));
        let body = form(&pairs);
        let r = TokenRequest::parse(&headers("application/x-www-form-urlencoded", None), body.as_bytes());
        prop_assert!(r.is_err(), "{body}: {r:?}");
    }

    /// The configuration loader on any text, and on TOML made of its own keys with any values:
    /// no panic, validation of what loads never panics, and the file loader agrees with the text
    /// loader.
    #[test]
    fn any_configuration_text_loads_or_is_refused_without_panicking(text in any::<String>()) {
        check_config(&text)?;
    }

    #[test]
    fn configuration_near_its_keys_loads_or_is_refused_without_panicking(
        lines in proptest::collection::vec((config_key(), config_value()), 0..6),
    ) {
        let text: String = lines.iter().map(|(k, v)| format!("{k} = {v}\n")).collect();
        check_config(&text)?;
    }
}

fn config_key() -> impl Strategy<Value = String> {
    proptest::sample::select(vec![
        "listen",
        "issuer",
        "token_ttl",
        "signing_alg",
        "database_url",
        "api_versions",
        "version_header",
        "extra_scopes",
        "sync_interval_ms",
        "max_body_bytes",
        "log_json",
        "secrets_key",
        "rate_limits.token_per_client_per_minute",
        "rate_limits.redis_prefix",
        "connections.max_per_ip",
        "connections.header_read_timeout_ms",
        "gateway.routes",
        "unknown",
    ])
    .prop_map(str::to_owned)
}

fn config_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u32>().prop_map(|n| n.to_string()),
        "\"[ -~]{0,24}\"",
        Just("\"127.0.0.1:0\"".to_owned()),
        Just("\"ES256\"".to_owned()),
        Just("[\"a:b\", \"1\"]".to_owned()),
        Just("true".to_owned()),
        Just("[{ prefix = \"/x\", upstream = \"http://127.0.0.1:1\", scopes = { GET = [\"a:b\"] } }]".to_owned()),
        Just("1e400".to_owned()),
        Just("{}".to_owned()),
    ]
}

fn check_config(text: &str) -> Result<(), TestCaseError> {
    let from_text = Settings::from_toml_str(text);
    if let Ok(s) = &from_text {
        let _ = s.validate();
        let _ = format!("{s:?}");
        prop_assert!(s.config_file.is_none());
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tollgate.toml");
    std::fs::write(&path, text).unwrap();
    let from_file = Settings::from_file(&path);
    prop_assert_eq!(from_text.is_ok(), from_file.is_ok());
    if let Ok(s) = from_file {
        prop_assert_eq!(s.config_file.as_deref(), Some(path.as_path()));
    }
    Ok(())
}

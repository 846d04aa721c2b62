//! The token endpoint's request parser (`tollgate_server::oauth::TokenRequest::parse`): JSON body,
//! form body, HTTP Basic header.
//!
//! Any headers and body: no panic; an accepted request has a client ID and a secret, and says Basic
//! only when an `Authorization` header was sent. Any client ID, secret and scope text, written as
//! a JSON body, a form body, and in a Basic header beside either: the four parse alike (the same
//! ID, secret and scopes, Basic or not), or are all refused alike (a bad scope list), and a refusal
//! never shows the secret.

#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, HeaderValue, header};
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use tollgate_proto::ScopeSet;
use tollgate_server::oauth::TokenRequest;

const CONTENT_TYPES: [&str; 6] = [
    "application/json",
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=utf-8",
    "APPLICATION/JSON ; x=y",
    "text/plain",
    "",
];

fn check_any(headers: &HeaderMap, body: &[u8]) {
    if let Ok(r) = TokenRequest::parse(headers, body) {
        assert!(!r.client_id().is_empty(), "{r:?}");
        assert!(!r.secret().is_empty(), "{r:?}");
        assert!(
            !r.basic() || headers.contains_key(header::AUTHORIZATION),
            "{r:?}"
        );
    }
}

fn any_request(mut u: Unstructured<'_>) -> Result<()> {
    let mut headers = HeaderMap::new();
    let ct: String = if u.arbitrary()? {
        (*u.choose(&CONTENT_TYPES)?).to_owned()
    } else {
        u.arbitrary()?
    };
    if let Ok(v) = HeaderValue::from_str(&ct) {
        if !ct.is_empty() {
            headers.insert(header::CONTENT_TYPE, v);
        }
    }
    for _ in 0..u.int_in_range(0..=2)? {
        let value: Vec<u8> = match u.int_in_range(0..=2)? {
            // Basic, over any bytes (so the decoded part is what varies).
            0 => {
                let raw: Vec<u8> = u.arbitrary()?;
                format!("Basic {}", STANDARD.encode(raw)).into_bytes()
            }
            1 => {
                let scheme = *u.choose(&["Basic ", "basic  ", "Bearer ", "Basic", ""])?;
                let rest: Vec<u8> = u.arbitrary()?;
                [scheme.as_bytes(), &rest].concat()
            }
            _ => u.arbitrary()?,
        };
        if let Ok(v) = HeaderValue::from_bytes(&value) {
            headers.append(header::AUTHORIZATION, v);
        }
    }
    let body = u.take_rest();
    check_any(&headers, body);
    Ok(())
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

fn headers(content_type: &'static str, authorization: Option<&str>) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Some(a) = authorization {
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(a).expect("base64 is a header value"),
        );
    }
    h
}

fn one_request_every_way(u: &mut Unstructured<'_>) -> Result<()> {
    let id: String = u.arbitrary()?;
    let secret = format!("tgsec_{}", u.arbitrary::<String>()?);
    let scope: Option<String> = u.arbitrary()?;
    if id.is_empty() {
        return Ok(());
    }
    let basic = format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", pct(&id), pct(&secret)))
    );
    let mut json_body = serde_json::json!({
        "grant_type": "client_credentials", "client_id": id, "client_secret": secret,
    });
    let mut basic_json = serde_json::json!({"grant_type": "client_credentials"});
    let mut form_pairs = vec![
        ("grant_type", "client_credentials"),
        ("client_id", id.as_str()),
        ("client_secret", secret.as_str()),
    ];
    let mut basic_form = vec![("grant_type", "client_credentials")];
    if let Some(s) = &scope {
        json_body["scope"] = serde_json::json!(s);
        basic_json["scope"] = serde_json::json!(s);
        form_pairs.push(("scope", s));
        basic_form.push(("scope", s));
    }
    let expected = match scope.as_deref().filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => ScopeSet::parse_list(s).map(Some),
    };
    let cases = [
        (
            headers("application/json", None),
            json_body.to_string(),
            false,
        ),
        (
            headers("application/x-www-form-urlencoded", None),
            form(&form_pairs),
            false,
        ),
        (
            headers("application/json", Some(&basic)),
            basic_json.to_string(),
            true,
        ),
        (
            headers("application/x-www-form-urlencoded", Some(&basic)),
            form(&basic_form),
            true,
        ),
    ];
    for (h, body, is_basic) in &cases {
        let got = TokenRequest::parse(h, body.as_bytes());
        match (&expected, got) {
            (Ok(scopes), Ok(r)) => {
                assert_eq!(r.client_id(), id, "{body}");
                assert_eq!(r.secret().expose_secret(), secret, "{body}");
                assert_eq!(r.scope(), scopes.as_ref(), "{body}");
                assert_eq!(r.basic(), *is_basic, "{body}");
            }
            (Err(_), Err(tollgate_server::TokenError::InvalidScope(m))) => {
                let shown_by_scope = scope.as_deref().is_some_and(|s| s.contains(&secret));
                assert!(
                    shown_by_scope || !m.contains(&secret),
                    "the secret in {m:?}"
                );
            }
            (want, got) => panic!("{body}: expected {want:?}, got {got:?}"),
        }
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let _ = match u.arbitrary::<bool>() {
        Ok(true) => one_request_every_way(&mut u),
        _ => any_request(u),
    };
});

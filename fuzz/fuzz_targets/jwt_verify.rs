//! The resource side's check of a bearer token (`tollgate_core::authority::Authority::authorize`,
//! what the API, the gateway and forward-auth call), over a real SQLite store with its key ring and
//! one live credential, the clock fixed.
//!
//! - Any text, or a genuine token with bytes changed, inserted or removed: refused, unless it is the
//!   genuine token itself.
//! - Any claims (bytes) signed with the real key: no panic, and accepted only if the claims are
//!   right: issuer, audience, `sub` = `client_id` = the credential, its company and secret, not
//!   expired, `iat`/`nbf` at most 60 s ahead; and then the scopes in force are within the
//!   credential's.
//! - Any header (bytes) over the genuine claims, signed with the real key: accepted only with
//!   `typ: at+jwt`, `alg: EdDSA` and the key's `kid`.

#![no_main]

use std::sync::{Arc, OnceLock};

use aws_lc_rs::signature::Ed25519KeyPair;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tollgate_core::admin::Admin;
use tollgate_core::authority::{Authority, TokenSettings};
use tollgate_core::catalog::ScopeCatalog;
use tollgate_core::clock::ManualClock;
use tollgate_core::secret::SecretHasher;
use tollgate_proto::{ScopeSet, SigningAlg};

const NOW: i64 = 1_700_000_000;
const ISSUER: &str = "https://tollgate.test";
const AUDIENCE: &str = "https://api.tollgate.test";

struct Fixture {
    authority: Authority,
    token: String,
    header_b64: String,
    payload_b64: String,
    claims: serde_json::Map<String, Value>,
    kid: String,
    pair: Ed25519KeyPair,
    granted: ScopeSet,
    _rt: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("fuzz.db").display());
        let (authority, token, pkcs8) = rt.block_on(async {
            let store = tollgate_store::open(&url).await.expect("store");
            let clock = Arc::new(ManualClock::new(NOW));
            let hasher = SecretHasher::new(&store.server_key().await.expect("server key"));
            let admin = Admin::new(
                store.clone(),
                Arc::new(ScopeCatalog::default()),
                hasher.clone(),
                clock.clone(),
            );
            let scopes: ScopeSet = "groups:read groups:write users:read"
                .parse()
                .expect("scopes");
            let company = admin
                .create_company("Acme", Some(scopes), None)
                .await
                .expect("company");
            let created = admin
                .create_credential(
                    &company.id,
                    "fuzz",
                    "groups:read groups:write".parse().expect("scopes"),
                )
                .await
                .expect("credential");
            let authority = Authority::load(
                &*store,
                hasher,
                clock,
                TokenSettings {
                    issuer: ISSUER.into(),
                    audience: AUDIENCE.into(),
                    ttl: 3600,
                    signing_alg: Some(SigningAlg::EdDSA),
                    reuse: true,
                    format: tollgate_core::authority::TokenFormat::Jwt,
                },
            )
            .await
            .expect("authority");
            let token = authority
                .issue(&created.credential.client_id, &created.secret, None)
                .expect("issue")
                .access_token;
            let kid = authority.keys().current().kid().to_owned();
            let pkcs8 = store
                .signing_keys()
                .await
                .expect("keys")
                .into_iter()
                .find(|k| k.kid == kid)
                .expect("the current key")
                .private_pkcs8;
            (authority, token, pkcs8)
        });
        let mut parts = token.split('.');
        let header_b64 = parts.next().expect("header").to_owned();
        let payload_b64 = parts.next().expect("payload").to_owned();
        let claims: serde_json::Map<String, Value> =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&payload_b64).expect("base64"))
                .expect("claims");
        let granted = claims["scope"]
            .as_str()
            .expect("scope")
            .parse()
            .expect("scopes");
        assert!(authority.authorize(&token).is_ok(), "the genuine token");
        Fixture {
            kid: authority.keys().current().kid().to_owned(),
            authority,
            token,
            header_b64,
            payload_b64,
            claims,
            pair: Ed25519KeyPair::from_pkcs8(&pkcs8).expect("key"),
            granted,
            _rt: rt,
            _dir: dir,
        }
    })
}

impl Fixture {
    fn sign(&self, header_b64: &str, payload_b64: &str) -> String {
        let mut t = format!("{header_b64}.{payload_b64}");
        let sig = self.pair.sign(t.as_bytes());
        t.push('.');
        t.push_str(&URL_SAFE_NO_PAD.encode(sig.as_ref()));
        t
    }

    fn genuine(&self, name: &str) -> &Value {
        &self.claims[name]
    }
}

fn int(v: Option<&Value>) -> Option<i64> {
    v.and_then(Value::as_i64)
}

/// Signed claims that were accepted: check they deserve it.
fn check_accepted_claims(f: &Fixture, claims: &[u8], access: &tollgate_core::authority::Access) {
    let c: serde_json::Map<String, Value> =
        serde_json::from_slice(claims).expect("accepted claims are a JSON object");
    for name in ["iss", "sub", "client_id", "tg_sid"] {
        assert_eq!(c.get(name), Some(f.genuine(name)), "{name} of {c:?}");
    }
    // `aud`: ours, or an array with ours among its audiences (RFC 7519 §4.1.3).
    let aud = c.get("aud");
    assert!(
        aud == Some(f.genuine("aud"))
            || aud
                .and_then(Value::as_array)
                .is_some_and(|a| a.contains(f.genuine("aud"))),
        "aud of {c:?}"
    );
    let company = c
        .get("company_id")
        .and_then(Value::as_str)
        .map(tollgate_core::ids::CompanyId::parse);
    assert_eq!(
        company
            .and_then(Result::ok)
            .map(|c| c.to_string())
            .as_deref(),
        f.genuine("company_id").as_str(),
        "{c:?}"
    );
    let exp = int(c.get("exp")).expect("exp");
    assert!(exp > NOW, "expired: {c:?}");
    let iat = int(c.get("iat")).expect("iat");
    let valid_from = iat.max(int(c.get("nbf")).unwrap_or(iat));
    assert!(valid_from <= NOW + 60, "from the future: {c:?}");
    assert_eq!(
        access.client_id().as_str(),
        f.genuine("client_id").as_str().expect("client_id")
    );
    assert!(access.effective_scopes().is_subset(&f.granted));
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 4 {
        // Any text.
        0 => {
            let text = String::from_utf8_lossy(rest);
            if f.authority.authorize(&text).is_ok() {
                assert_eq!(text, f.token, "accepted a token it did not issue");
            }
        }
        // The genuine token, edited: (position, byte, kind) triples.
        1 => {
            let mut t = f.token.clone().into_bytes();
            for edit in rest.chunks_exact(3) {
                let at = usize::from(u16::from_le_bytes([edit[0], edit[1]]));
                let b = edit[2];
                match b % 3 {
                    _ if t.is_empty() => t.push(b),
                    0 => {
                        let i = at % t.len();
                        t[i] = b >> 1 & 0x7f;
                    }
                    1 => t.insert(at % (t.len() + 1), b >> 1 & 0x7f),
                    _ => {
                        t.remove(at % t.len());
                    }
                }
            }
            let text = String::from_utf8_lossy(&t);
            if f.authority.authorize(&text).is_ok() {
                assert_eq!(text, f.token, "accepted an altered token");
            }
        }
        // Any claims, signed.
        2 => {
            let token = f.sign(&f.header_b64, &URL_SAFE_NO_PAD.encode(rest));
            // As the resource side asks: a live token meant for the default audience.
            if let Ok(access) = f.authority.authorize(&token)
                && access.serves(None)
            {
                check_accepted_claims(f, rest, &access);
            }
        }
        // Any header, over the genuine claims, signed.
        _ => {
            let token = f.sign(&URL_SAFE_NO_PAD.encode(rest), &f.payload_b64);
            if f.authority.authorize(&token).is_ok() {
                let h: serde_json::Map<String, Value> =
                    serde_json::from_slice(rest).expect("an accepted header is a JSON object");
                assert_eq!(
                    h.get("typ").and_then(Value::as_str),
                    Some("at+jwt"),
                    "{h:?}"
                );
                assert_eq!(h.get("alg").and_then(Value::as_str), Some("EdDSA"), "{h:?}");
                assert_eq!(
                    h.get("kid").and_then(Value::as_str),
                    Some(f.kid.as_str()),
                    "{h:?}"
                );
            }
        }
    }
});

//! The `jwt_verify` fuzz target's properties (`fuzz/fuzz_targets/jwt_verify.rs`) as proptest cases:
//! the resource side's check of a bearer token (`Authority::authorize`) over a real SQLite store,
//! its key ring and a live credential. Any text is refused; a genuine token with any byte changed
//! is refused; a token signed with the real key is accepted exactly when its header and every claim
//! are right. SQLite only: the store is only the fixture here. See docs/security.md (Fuzzing).

use aws_lc_rs::signature::Ed25519KeyPair;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use tollgate_core::authority::{Authority, TokenRejection};

use crate::helpers::{Backend, Env, T0, env, settings};

struct Fixture {
    authority: Authority,
    /// A token the authority issued to the credential.
    token: String,
    /// Its claims.
    claims: Map<String, Value>,
    kid: String,
    pair: Ed25519KeyPair,
    _env: Env,
    _rt: tokio::runtime::Runtime,
}

impl Fixture {
    fn new() -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (env, authority, token, pkcs8) = rt.block_on(async {
            let e = env(Backend::Sqlite).await;
            let c = e.company("groups:read groups:write", None).await;
            let created = e.credential(&c.id, "groups:read groups:write").await;
            let authority = e.authority().await;
            let token = authority
                .issue(&created.credential.client_id, &created.secret, None)
                .unwrap()
                .access_token;
            let kid = authority.keys().current().kid().to_owned();
            let keys = e.store.signing_keys().await.unwrap();
            let pkcs8 = keys
                .into_iter()
                .find(|k| k.kid == kid)
                .unwrap()
                .private_pkcs8;
            (e, authority, token, pkcs8)
        });
        let payload = token.split('.').nth(1).unwrap();
        let claims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        Self {
            kid: authority.keys().current().kid().to_owned(),
            authority,
            token,
            claims,
            pair: Ed25519KeyPair::from_pkcs8(&pkcs8).unwrap(),
            _env: env,
            _rt: rt,
        }
    }

    /// `header`.`claims` signed with the authority's current key.
    fn sign(&self, header: &Value, claims: &[u8]) -> String {
        let mut t = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims)
        );
        let sig = self.pair.sign(t.as_bytes());
        t.push('.');
        t.push_str(&URL_SAFE_NO_PAD.encode(sig.as_ref()));
        t
    }

    fn header(&self) -> Value {
        json!({"alg": "EdDSA", "typ": "at+jwt", "kid": self.kid})
    }

    fn claim(&self, name: &str) -> Value {
        self.claims[name].clone()
    }
}

/// A claim: the genuine value, another one, or left out.
#[derive(Debug, Clone)]
enum Claim {
    Genuine,
    Other(Value),
    Missing,
}

fn claim(others: Vec<Value>) -> impl Strategy<Value = Claim> {
    // Mostly genuine, so that a fair share of the cases has every claim right.
    prop_oneof![
        8 => Just(Claim::Genuine),
        1 => proptest::sample::select(others).prop_map(Claim::Other),
        1 => Just(Claim::Missing),
    ]
}

/// Seconds from now, near the edges that matter (expiry, 60 s of skew) and far off.
fn offset() -> impl Strategy<Value = i64> {
    prop_oneof![
        -5i64..5,
        55i64..65,
        Just(-3600),
        Just(3600),
        Just(i64::from(u32::MAX)),
    ]
}

#[derive(Debug, Clone)]
struct Claims {
    iss: Claim,
    aud: Claim,
    sub: Claim,
    client_id: Claim,
    company_id: Claim,
    tg_sid: Claim,
    jti: Claim,
    scope: Claim,
    exp: Option<i64>,
    iat: Option<i64>,
    nbf: Option<i64>,
}

fn claims() -> impl Strategy<Value = Claims> {
    let other_client = || {
        vec![
            json!("0123456789abcdef0123456789abcdef"),
            json!(""),
            json!(7),
        ]
    };
    (
        claim(vec![
            json!("https://elsewhere.test"),
            json!(["https://tollgate.test"]),
            json!(null),
        ]),
        claim(vec![
            json!("https://tollgate.test"),
            json!(["https://api.tollgate.test", "x"]),
        ]),
        claim(other_client()),
        claim(other_client()),
        claim(vec![
            json!("76543210fedcba9876543210"),
            json!("not an id"),
            json!(1),
        ]),
        claim(vec![json!("nope"), json!("")]),
        claim(vec![json!("another jti"), json!(12)]),
        claim(vec![
            json!("groups:read"),
            json!("groups:read groups:write users:read"),
            json!(""),
            json!("not a scope"),
            json!(["groups:read"]),
        ]),
        (
            proptest::option::weighted(0.9, offset()),
            proptest::option::weighted(0.9, offset()),
            proptest::option::of(offset()),
        ),
    )
        .prop_map(
            |(iss, aud, sub, client_id, company_id, tg_sid, jti, scope, (exp, iat, nbf))| Claims {
                iss,
                aud,
                sub,
                client_id,
                company_id,
                tg_sid,
                jti,
                scope,
                exp,
                iat,
                nbf,
            },
        )
}

impl Claims {
    fn json(&self, f: &Fixture) -> Map<String, Value> {
        let mut m = Map::new();
        for (name, c) in [
            ("iss", &self.iss),
            ("aud", &self.aud),
            ("sub", &self.sub),
            ("client_id", &self.client_id),
            ("company_id", &self.company_id),
            ("tg_sid", &self.tg_sid),
            ("jti", &self.jti),
            ("scope", &self.scope),
        ] {
            match c {
                Claim::Genuine => {
                    m.insert(name.into(), f.claim(name));
                }
                Claim::Other(v) => {
                    m.insert(name.into(), v.clone());
                }
                Claim::Missing => {}
            }
        }
        for (name, at) in [("exp", self.exp), ("iat", self.iat), ("nbf", self.nbf)] {
            if let Some(at) = at {
                m.insert(name.into(), json!(T0 + at));
            }
        }
        m
    }

    /// Whether the resource side must accept these claims, signed by its key: who, for whom and
    /// from whom exactly as issued (another jti or a narrower valid scope list is fine), not
    /// expired, not from more than 60 s ahead.
    fn acceptable(&self) -> bool {
        let genuine = |c: &Claim| matches!(c, Claim::Genuine);
        let jti_ok = match &self.jti {
            Claim::Genuine => true,
            Claim::Other(v) => v.is_string(),
            Claim::Missing => false,
        };
        let scope_ok = match &self.scope {
            Claim::Genuine => true,
            Claim::Other(v) => v
                .as_str()
                .is_some_and(|s| tollgate_proto::ScopeSet::parse_list(s).is_ok()),
            Claim::Missing => false,
        };
        // RFC 7519 §4.1.3: an array is for each of its audiences, ours among them.
        let aud_ok = match &self.aud {
            Claim::Genuine => true,
            Claim::Other(v) => v
                .as_array()
                .is_some_and(|a| a.iter().any(|x| *x == json!(settings().audience))),
            Claim::Missing => false,
        };
        [
            &self.iss,
            &self.sub,
            &self.client_id,
            &self.company_id,
            &self.tg_sid,
        ]
        .into_iter()
        .all(genuine)
            && aud_ok
            && jti_ok
            && scope_ok
            && self.exp.is_some_and(|e| e > 0)
            && self.iat.is_some_and(|i| i.max(self.nbf.unwrap_or(i)) <= 60)
    }
}

/// One byte of a token changed to another from the token alphabet (or any ASCII).
fn byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        proptest::sample::select(
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/".to_vec()
        ),
        0x20u8..0x7f,
    ]
}

#[test]
fn the_genuine_token_is_accepted_and_the_fixture_is_sound() {
    let f = Fixture::new();
    assert!(f.authority.authorize(&f.token).is_ok());
    let resigned = f.sign(&f.header(), &serde_json::to_vec(&f.claims).unwrap());
    assert!(f.authority.authorize(&resigned).is_ok(), "{resigned}");
    assert_eq!(settings().audience, f.claims["aud"]);
}

#[test]
fn any_text_is_refused() {
    let f = Fixture::new();
    proptest!(|(text in ".{0,400}")| {
        prop_assert!(f.authority.authorize(&text).is_err());
        prop_assert!(f.authority.verify_uncached(&text).is_err());
    });
}

#[test]
fn three_parts_of_base64_are_refused() {
    let f = Fixture::new();
    proptest!(|(parts in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..80), 3))| {
        let text = parts.iter().map(|p| URL_SAFE_NO_PAD.encode(p)).collect::<Vec<_>>().join(".");
        prop_assert!(f.authority.authorize(&text).is_err());
    });
}

#[test]
fn a_genuine_token_with_one_byte_changed_is_refused() {
    let f = Fixture::new();
    proptest!(|(at in any::<prop::sample::Index>(), to in byte())| {
        let mut bad = f.token.clone().into_bytes();
        let i = at.index(bad.len());
        prop_assume!(bad[i] != to);
        bad[i] = to;
        let bad = String::from_utf8(bad).unwrap();
        prop_assert!(f.authority.authorize(&bad).is_err(), "{bad}");
    });
}

#[test]
fn a_genuine_token_cut_or_grown_is_refused() {
    let f = Fixture::new();
    proptest!(|(at in any::<prop::sample::Index>(), insert in proptest::option::of(byte()))| {
        let mut bad = f.token.clone().into_bytes();
        let i = at.index(bad.len());
        match insert {
            Some(b) => bad.insert(i, b),
            None => {
                bad.remove(i);
            }
        }
        let bad = String::from_utf8(bad).unwrap();
        prop_assert!(f.authority.authorize(&bad).is_err(), "{bad}");
    });
}

#[test]
fn signed_claims_are_accepted_exactly_when_right() {
    let f = Fixture::new();
    let accepted = std::cell::Cell::new(0u32);
    proptest!(|(c in claims())| {
        let body = serde_json::to_vec(&Value::Object(c.json(&f))).unwrap();
        let token = f.sign(&f.header(), &body);
        // As the resource side asks: a live token, meant for the default audience.
        let got = f
            .authority
            .authorize(&token)
            .and_then(|a| if a.serves(None) { Ok(a) } else { Err(TokenRejection::WrongAudience) });
        prop_assert_eq!(got.is_ok(), c.acceptable(), "{:?}: {:?}", c, got.err());
        if let Ok(access) = got {
            prop_assert_eq!(access.client_id().as_str(), f.claims["client_id"].as_str().unwrap());
            prop_assert_eq!(access.company_id().to_string(), f.claims["company_id"].as_str().unwrap());
            let granted = tollgate_proto::ScopeSet::parse_list(f.claims["scope"].as_str().unwrap()).unwrap();
            prop_assert!(access.effective_scopes().is_subset(&granted));
            accepted.set(accepted.get() + 1);
        }
    });
    assert!(accepted.get() > 0, "no case had every claim right");
}

#[test]
fn a_signed_header_is_accepted_only_as_issued() {
    let f = Fixture::new();
    let body = serde_json::to_vec(&f.claims).unwrap();
    // The right value half the time, so that a fair share of the cases is the issued header.
    let alg = prop_oneof![
        6 => Just(json!("EdDSA")),
        1 => Just(json!("ES256")),
        1 => Just(json!("RS256")),
        1 => Just(json!("HS256")),
        1 => Just(json!("none")),
        1 => Just(json!("eddsa")),
        1 => Just(json!(null))
    ];
    let typ = prop_oneof![
        4 => Just(json!("at+jwt")),
        1 => Just(json!("AT+JWT")),
        1 => Just(json!("JWT")),
        1 => Just(json!("application/at+jwt")),
        1 => Just(json!(1))
    ];
    let kid = prop_oneof![2 => Just(json!(f.kid)), 1 => Just(json!("other")), 1 => Just(json!(""))];
    let accepted = std::cell::Cell::new(0u32);
    let (alg, typ, kid) = (
        proptest::option::weighted(0.9, alg),
        proptest::option::weighted(0.9, typ),
        proptest::option::weighted(0.9, kid),
    );
    proptest!(|(alg in alg, typ in typ, kid in kid, jku in any::<bool>())| {
        let mut h = Map::new();
        for (name, v) in [("alg", &alg), ("typ", &typ), ("kid", &kid)] {
            if let Some(v) = v {
                h.insert(name.into(), v.clone());
            }
        }
        if jku {
            h.insert("jku".into(), json!("https://attacker.test/jwks"));
        }
        let token = f.sign(&Value::Object(h), &body);
        let right = alg == Some(json!("EdDSA")) && typ == Some(json!("at+jwt")) && kid == Some(json!(f.kid));
        let got = f.authority.authorize(&token);
        prop_assert_eq!(got.is_ok(), right, "alg {:?} typ {:?} kid {:?}: {:?}", alg, typ, kid, got.err());
        accepted.set(accepted.get() + u32::from(right));
    });
    assert!(accepted.get() > 0, "no case had the issued header");
}

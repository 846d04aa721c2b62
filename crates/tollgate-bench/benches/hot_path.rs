//! Micro-benchmarks of the hot path's pieces (issue 7): token issue (secret check + sign), token
//! verify (signature, uncached) and authorize (cached), the same two for opaque tokens (seal and
//! open), secret verify, request parsing.
//!
//! `cargo bench -p tollgate-bench --bench hot_path`; `bench/run` runs them and puts the medians in
//! docs/benchmarks.md. The authority runs over a real SQLite store holding 10,000 credentials.

// A benchmark harness: a failed set-up is a bug to see at once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, header};
use base64::Engine as _;
use criterion::{Criterion, criterion_group, criterion_main};
use tollgate_core::authority::{Authority, TokenFormat, TokenSettings};
use tollgate_core::clock::{Clock as _, SystemClock};
use tollgate_core::ids::ClientId;
use tollgate_core::keys::SigningAlg;
use tollgate_core::secret::{ClientSecret, SecretHasher};
use tollgate_server::oauth::TokenRequest;

struct Fixture {
    authority: Authority,
    /// The same store and keys, issuing opaque tokens.
    opaque: Authority,
    hasher: SecretHasher,
    client_id: ClientId,
    secret: ClientSecret,
    _dir: tempfile::TempDir,
}

fn fixture(rt: &tokio::runtime::Runtime) -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let creds = dir.path().join("creds.txt");
    let seed = std::process::Command::new(env!("CARGO_BIN_EXE_seed"))
        .args([
            "--database-url",
            &url,
            "--credentials",
            "10000",
            "--sample",
            "1",
        ])
        .arg("--out")
        .arg(&creds)
        .status()
        .expect("run seed");
    assert!(seed.success(), "seed failed");
    let line = std::fs::read_to_string(&creds).expect("creds");
    let (client_id, secret) = line.trim().split_once(' ').expect("client_id secret");
    rt.block_on(async {
        let store = tollgate_store::open(&url).await.expect("store");
        let hasher = SecretHasher::new(&store.server_key().await.expect("server key"));
        let settings = |format| TokenSettings {
            issuer: "http://127.0.0.1:8080".into(),
            audience: "http://127.0.0.1:8080".into(),
            ttl: 3600,
            signing_alg: Some(SigningAlg::EdDSA),
            // The benchmark measures signing: every call issues a new token.
            reuse: false,
            format,
        };
        let load = |format| {
            Authority::load(
                &*store,
                hasher.clone(),
                Arc::new(SystemClock),
                settings(format),
            )
        };
        let authority = load(TokenFormat::Jwt).await.expect("authority");
        let opaque = load(TokenFormat::Opaque).await.expect("authority");
        Fixture {
            authority,
            opaque,
            hasher,
            client_id: ClientId::parse(client_id).expect("client ID"),
            secret: ClientSecret::new(secret),
            _dir: dir,
        }
    })
}

fn hot_path(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let f = fixture(&rt);
    let _ = SystemClock.now();

    c.bench_function("token/issue", |b| {
        b.iter(|| {
            f.authority
                .issue(black_box(&f.client_id), black_box(&f.secret), None)
                .expect("issue")
        })
    });

    let token = f
        .authority
        .issue(&f.client_id, &f.secret, None)
        .expect("issue")
        .access_token;
    c.bench_function("token/verify_uncached", |b| {
        b.iter(|| {
            f.authority
                .verify_uncached(black_box(&token))
                .expect("verify")
        })
    });
    c.bench_function("token/authorize_cached", |b| {
        b.iter(|| f.authority.authorize(black_box(&token)).expect("authorize"))
    });

    c.bench_function("token/issue_opaque", |b| {
        b.iter(|| {
            f.opaque
                .issue(black_box(&f.client_id), black_box(&f.secret), None)
                .expect("issue")
        })
    });
    let opaque = f
        .opaque
        .issue(&f.client_id, &f.secret, None)
        .expect("issue")
        .access_token;
    c.bench_function("token/verify_uncached_opaque", |b| {
        b.iter(|| {
            f.opaque
                .verify_uncached(black_box(&opaque))
                .expect("verify")
        })
    });

    let stored = f.hasher.hash(f.secret.expose_secret());
    c.bench_function("secret/verify", |b| {
        b.iter(|| {
            let computed = f.hasher.hash(black_box(f.secret.expose_secret()));
            assert!(f.hasher.matches(&computed, &stored));
        })
    });

    let mut form = HeaderMap::new();
    form.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    let basic = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        f.client_id,
        f.secret.expose_secret()
    ));
    form.insert(
        header::AUTHORIZATION,
        HeaderValue::from_str(&format!("Basic {basic}")).expect("header"),
    );
    let form_body = b"grant_type=client_credentials&scope=groups%3Aread%20groups%3Awrite";
    c.bench_function("request/parse_form_basic", |b| {
        b.iter(|| TokenRequest::parse(black_box(&form), black_box(form_body)).expect("parse"))
    });
    let mut json = HeaderMap::new();
    json.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let json_body = serde_json::to_vec(&serde_json::json!({
        "grant_type": "client_credentials",
        "client_id": f.client_id,
        "client_secret": f.secret.expose_secret(),
    }))
    .expect("json");
    c.bench_function("request/parse_json", |b| {
        b.iter(|| TokenRequest::parse(black_box(&json), black_box(&json_body)).expect("parse"))
    });
}

criterion_group!(benches, hot_path);
criterion_main!(benches);

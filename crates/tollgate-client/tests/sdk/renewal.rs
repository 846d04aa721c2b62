//! Tokens are renewed before they expire: no call ever carries an expired token, and there is one
//! token request per token lifetime (as the client uses it: the lifetime less the renewal margin).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use tollgate_client::{ApiClient, Clock, RenewalMargin, TokenSource};

use crate::helpers::{self, quick_retries};

#[tokio::test]
async fn calls_across_several_lifetimes_never_get_a_401_and_fetch_one_token_per_lifetime() {
    const TTL: u32 = 4;
    let dir = tempfile::tempdir().unwrap();
    let server = helpers::start(&dir, TTL).await;
    let cred = server.credential("groups:read").await;
    let api = helpers::api(&server, &cred);

    // A 4 s token is renewed after 2 s (the default margin is capped at half the lifetime), so
    // that it is never sent after its `exp`, which the server counts in whole seconds from the
    // truncated issue time (up to 1 s earlier than the client sees it). At half its lifetime the
    // server no longer answers the same token again (token reuse needs more than half left by
    // its whole-second count), so each renewal is a new token.
    let margin = RenewalMargin::Auto.for_lifetime(Duration::from_secs(TTL.into()));
    let used_for = Duration::from_secs(TTL.into()) - margin;
    assert_eq!(used_for, Duration::from_secs(2));
    // Stop half-way through the fifth token's use: far from any renewal instant.
    const LIFETIMES: u64 = 5;
    let start = Instant::now();
    let stop_at = start + used_for * 4 + used_for / 2;
    let mut calls = 0u32;
    let mut tokens: Vec<tollgate_client::Token> = Vec::new();
    while Instant::now() < stop_at {
        let groups: Vec<Value> = api.get("/api/v2/groups").await.unwrap();
        assert_eq!(groups.len(), 1, "the company's root group");
        let t = api.tokens().cached().unwrap();
        if !tokens.iter().any(|s| s.same_as(&t)) {
            tokens.push(t);
        }
        calls += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = start.elapsed();
    assert!(
        elapsed > Duration::from_secs(2 * u64::from(TTL)),
        "the loop spans more than two full token lifetimes ({elapsed:?})"
    );
    assert!(calls > 100, "{calls} calls");
    assert_eq!(
        server.invalid_token_responses().await,
        0,
        "no call was refused for an expired token"
    );
    assert_eq!(
        server.tokens_issued(),
        LIFETIMES,
        "token requests (server side)"
    );
    assert_eq!(tokens.len() as u64, LIFETIMES, "distinct tokens used");
    // Each token was replaced about `used_for` after the previous one.
    for pair in tokens.windows(2) {
        let gap = pair[1].obtained_at() - pair[0].obtained_at();
        assert!(
            gap >= used_for && gap < used_for + Duration::from_millis(400),
            "renewed after {gap:?}"
        );
    }
}

/// A clock the test moves by hand.
#[derive(Debug)]
struct ManualClock {
    start: Instant,
    offset_ms: AtomicU64,
}

impl ManualClock {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            start: Instant::now(),
            offset_ms: AtomicU64::new(0),
        })
    }
    fn advance(&self, d: Duration) {
        self.offset_ms
            .fetch_add(d.as_millis() as u64, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.start + Duration::from_millis(self.offset_ms.load(Ordering::SeqCst))
    }
}

#[tokio::test]
async fn an_hour_token_is_reused_for_54_minutes_then_renewed_once_in_the_background() {
    let dir = tempfile::tempdir().unwrap();
    let server = helpers::start(&dir, 3600).await;
    let cred = server.credential("groups:read").await;
    let clock = ManualClock::new();
    let tokens = TokenSource::builder(&server.base, &cred.client_id, cred.secret.as_str())
        .clock(clock.clone())
        .retry(quick_retries(Duration::from_secs(10)))
        .build()
        .unwrap();
    let api = ApiClient::new(tokens.clone());

    let first = tokens.token().await.unwrap();
    assert_eq!(first.expires_in(), Duration::from_secs(3600));
    // Up to 54 minutes (the default margin of a 1-hour token is 6 minutes), every call reuses it.
    for _ in 0..53 {
        clock.advance(Duration::from_secs(60));
        let _: Vec<Value> = api.get("/api/v2/groups").await.unwrap();
        assert!(tokens.cached().unwrap().same_as(&first));
    }
    assert_eq!(server.tokens_issued(), 1);
    // At 54 minutes and a second, the token is due: callers still get it at once while one
    // background request renews it, however many callers there are.
    clock.advance(Duration::from_secs(61));
    for _ in 0..20 {
        let t = tokens.token().await.unwrap();
        assert!(t.same_as(&first) || t.obtained_at() > first.obtained_at());
    }
    let renewed = wait_for(|| tokens.cached().filter(|t| !t.same_as(&first))).await;
    assert_eq!(renewed.expires_in(), Duration::from_secs(3600));
    assert_eq!(server.tokens_issued(), 2);
    // The new token is fresh for another 54 minutes.
    clock.advance(Duration::from_secs(53 * 60));
    let _: Vec<Value> = api.get("/api/v2/groups").await.unwrap();
    assert!(tokens.cached().unwrap().same_as(&renewed));
    assert_eq!(server.tokens_issued(), 2);
}

async fn wait_for<T>(mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "timed out");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_failed_early_renewal_keeps_serving_the_still_valid_token() {
    let dir = tempfile::tempdir().unwrap();
    let server = helpers::start(&dir, 3).await;
    let cred = server.credential("groups:read").await;
    let tokens = TokenSource::builder(&server.base, &cred.client_id, cred.secret.as_str())
        .retry(quick_retries(Duration::from_millis(800)))
        .build()
        .unwrap();
    let first = tokens.token().await.unwrap();
    server.stop().await;

    // Due for renewal (after 1.5 s of 3), but the server is gone: the valid token is served, at once.
    tokio::time::sleep_until((first.obtained_at() + Duration::from_millis(1600)).into()).await;
    for _ in 0..5 {
        let t0 = Instant::now();
        let t = tokens.token().await.unwrap();
        assert!(t.same_as(&first));
        assert!(
            t0.elapsed() < Duration::from_millis(50),
            "{:?}",
            t0.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Once it has expired there is nothing left to serve: an error, within the timeout.
    tokio::time::sleep_until((first.expires_at() + Duration::from_millis(50)).into()).await;
    let t0 = Instant::now();
    let err = tokens.token().await.unwrap_err();
    assert!(
        t0.elapsed() < Duration::from_millis(1300),
        "{:?}",
        t0.elapsed()
    );
    match &err {
        tollgate_client::Error::Timeout {
            last: Some(last), ..
        } => {
            assert!(
                matches!(**last, tollgate_client::Error::Transport(_)),
                "{last:?}"
            )
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
}

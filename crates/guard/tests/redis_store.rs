//! The Redis rate-limit store against a real Redis (WARDGATE_TEST_REDIS_URL).

use std::time::Duration;

use wardgate_guard::{RateDecision, RateLimit, RateLimitStore, RedisRateLimitStore};

fn redis_url() -> Option<String> {
    match std::env::var("WARDGATE_TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!(
                "SKIPPED: set WARDGATE_TEST_REDIS_URL=redis://127.0.0.1:6379/ to run the Redis rate-limit tests"
            );
            None
        }
    }
}

fn unique_prefix(test: &str) -> String {
    format!(
        "wardgate-test:{test}:{}:{}:",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    )
}

#[tokio::test]
async fn burst_then_refusal_with_retry_after_shared_between_two_nodes() {
    let Some(url) = redis_url() else { return };
    let prefix = unique_prefix("burst");
    let node_a = RedisRateLimitStore::connect(&url, &prefix).await.unwrap();
    let node_b = RedisRateLimitStore::connect(&url, &prefix).await.unwrap();
    let limit = RateLimit::new(1.0, 3).unwrap();

    // Two nodes draw from the same bucket: three allowed in all, the fourth refused.
    assert_eq!(
        node_a.check("10.0.0.1", limit).await.unwrap(),
        RateDecision::Allowed
    );
    assert_eq!(
        node_b.check("10.0.0.1", limit).await.unwrap(),
        RateDecision::Allowed
    );
    assert_eq!(
        node_a.check("10.0.0.1", limit).await.unwrap(),
        RateDecision::Allowed
    );
    match node_b.check("10.0.0.1", limit).await.unwrap() {
        RateDecision::Limited { retry_after } => {
            assert!(
                retry_after > Duration::from_millis(500) && retry_after <= Duration::from_secs(1),
                "{retry_after:?}"
            );
        }
        other => panic!("fourth request should be limited, got {other:?}"),
    }
    // Another key is untouched.
    assert_eq!(
        node_b.check("10.0.0.2", limit).await.unwrap(),
        RateDecision::Allowed
    );
    assert_eq!(node_a.fallbacks() + node_b.fallbacks(), 0);
}

#[tokio::test]
async fn a_token_comes_back_after_the_interval() {
    let Some(url) = redis_url() else { return };
    let store = RedisRateLimitStore::connect(&url, &unique_prefix("refill"))
        .await
        .unwrap();
    let limit = RateLimit::new(20.0, 1).unwrap();
    assert_eq!(
        store.check_shared("k", limit).await.unwrap(),
        RateDecision::Allowed
    );
    assert!(matches!(
        store.check_shared("k", limit).await.unwrap(),
        RateDecision::Limited { .. }
    ));
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert_eq!(
        store.check_shared("k", limit).await.unwrap(),
        RateDecision::Allowed
    );
}

#[tokio::test]
async fn unreachable_redis_is_refused_at_connect() {
    // Port 1 on loopback has no listener: connecting fails instead of hanging.
    let result = RedisRateLimitStore::connect("redis://127.0.0.1:1/", "x:").await;
    assert!(result.is_err());
}

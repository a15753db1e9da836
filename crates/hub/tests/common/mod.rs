//! Helpers shared by the hub's integration tests (the backends themselves are in `testkit`).
#![allow(dead_code)]

use std::future::Future;
use std::time::{Duration, Instant};

/// Waits until `condition` holds, checking every 20 ms; fails the test, naming `what`, after `limit`.
/// Tests wait on what they need rather than sleeping a fixed time.
pub async fn eventually<F, Fut>(what: &str, limit: Duration, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !condition().await {
        assert!(Instant::now() < deadline, "waited {limit:?} for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

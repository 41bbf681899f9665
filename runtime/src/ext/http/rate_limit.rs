//! The token buckets behind `rateLimit()` middleware, shared by every
//! worker thread of the process.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use deno_core::op2;

/// Buckets kept before full ones are forgotten.
const MAX_BUCKETS: usize = 100_000;

/// A token bucket of the rate limiter.
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Takes one token from the bucket `key`. Returns 0 when the request may
/// go ahead, else the seconds until a token is back.
#[op2(fast)]
pub(super) fn op_http_rate_limit(#[string] key: &str, capacity: f64, refill_per_second: f64) -> f64 {
    static BUCKETS: OnceLock<Mutex<HashMap<String, Bucket>>> = OnceLock::new();
    let mut buckets = BUCKETS.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    take(&mut buckets, key, capacity, refill_per_second, Instant::now())
}

fn take(buckets: &mut HashMap<String, Bucket>, key: &str, capacity: f64, refill_per_second: f64, now: Instant) -> f64 {
    let refill = |bucket: &Bucket| {
        (bucket.tokens + now.duration_since(bucket.updated).as_secs_f64() * refill_per_second).min(capacity)
    };
    if buckets.len() >= MAX_BUCKETS {
        // Forget clients whose buckets are full again: they are as new.
        buckets.retain(|_, bucket| refill(bucket) < capacity);
    }
    let bucket = buckets.entry(key.to_string()).or_insert(Bucket { tokens: capacity, updated: now });
    bucket.tokens = refill(bucket);
    bucket.updated = now;
    if bucket.tokens >= 1.0 {
        bucket.tokens -= 1.0;
        0.0
    } else {
        (1.0 - bucket.tokens) / refill_per_second
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_bucket_empties_then_refills_at_its_rate() {
        let mut buckets = HashMap::new();
        let start = Instant::now();
        assert_eq!(take(&mut buckets, "a", 2.0, 1.0, start), 0.0);
        assert_eq!(take(&mut buckets, "a", 2.0, 1.0, start), 0.0);
        let wait = take(&mut buckets, "a", 2.0, 1.0, start);
        assert!((wait - 1.0).abs() < 1e-9, "one token per second: {wait}");
        assert_eq!(take(&mut buckets, "b", 2.0, 1.0, start), 0.0, "buckets are per key");
        assert_eq!(take(&mut buckets, "a", 2.0, 1.0, start + Duration::from_secs(1)), 0.0);
    }
}

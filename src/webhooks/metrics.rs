//! The delivery attempts counter, `webhook.deliveries` by `status`
//! (`succeeded`, `retried`, `failed`: the words the delivery log uses),
//! its three attribute sets bound once, so an attempt hashes nothing.

use std::sync::OnceLock;

use opentelemetry::KeyValue;
use opentelemetry::metrics::BoundCounter;

use crate::telemetry::otel::metrics::instruments;

/// How one delivery attempt ended, as counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// The receiver answered `2xx`.
    Succeeded,
    /// It failed and will be tried again.
    Retried,
    /// It failed and was the last attempt: the delivery is `failed`.
    Failed,
}

impl Attempt {
    /// Counts an attempt at a delivery that ended `ok` or not, on its
    /// `attempt`-th try of `max_attempts`.
    pub fn of(ok: bool, attempt: u32, max_attempts: u32) -> Self {
        match (ok, attempt >= max_attempts) {
            (true, _) => Self::Succeeded,
            (false, false) => Self::Retried,
            (false, true) => Self::Failed,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The bound counters, in [`Attempt`]'s order; `None` when metrics are off
/// (decided at the first attempt, after telemetry started).
static COUNTERS: OnceLock<Option<[BoundCounter<u64>; 3]>> = OnceLock::new();

/// Adds one to the counter of `attempt`'s outcome (nothing when metrics
/// are off).
pub fn count(attempt: Attempt) {
    let counters = COUNTERS.get_or_init(|| {
        let counter = instruments()?.delivery_counter();
        Some(
            ["succeeded", "retried", "failed"]
                .map(|status| counter.bind(&[KeyValue::new("status", status)])),
        )
    });
    if let Some(counters) = counters {
        counters[attempt.index()].add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::Attempt;

    #[test]
    fn the_last_failed_attempt_is_failed_the_others_retried() {
        assert_eq!(Attempt::of(true, 5, 5), Attempt::Succeeded);
        assert_eq!(Attempt::of(false, 1, 5), Attempt::Retried);
        assert_eq!(Attempt::of(false, 5, 5), Attempt::Failed);
        assert_eq!(Attempt::of(false, 1, 1), Attempt::Failed);
    }
}

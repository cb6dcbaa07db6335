//! The retry schedule: the n-th retry waits `base × 2^(n−1)`, plus or minus
//! 25 % jitter so that jobs failing together do not retry together.

use std::time::Duration;

use ring::rand::{SecureRandom, SystemRandom};

/// The delay before retry number `retry` (from 1), for a random `unit` in
/// [0, 1]: `base × 2^(retry−1) × (0.75 + 0.5 × unit)`.
pub fn delay(base: Duration, retry: u32, unit: f64) -> Duration {
    let exponent = i32::try_from(retry.saturating_sub(1).min(40)).unwrap_or(40);
    let factor = 2f64.powi(exponent) * (0.75 + 0.5 * unit.clamp(0.0, 1.0));
    base.mul_f64(factor)
}

/// A uniform random number in [0, 1] from the system's random source (0.5,
/// no jitter, if it fails).
pub fn unit() -> f64 {
    let mut bytes = [0u8; 4];
    match SystemRandom::new().fill(&mut bytes) {
        Ok(()) => f64::from(u32::from_le_bytes(bytes)) / f64::from(u32::MAX),
        Err(_) => 0.5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_with_a_quarter_of_jitter() {
        let base = Duration::from_secs(1);
        assert_eq!(delay(base, 1, 0.5), Duration::from_secs(1));
        assert_eq!(delay(base, 2, 0.5), Duration::from_secs(2));
        assert_eq!(delay(base, 4, 0.0), Duration::from_secs(6));
        assert_eq!(delay(base, 4, 1.0), Duration::from_secs(10));
        for _ in 0..100 {
            let d = delay(base, 3, unit());
            assert!(d >= Duration::from_secs(3) && d <= Duration::from_secs(5));
        }
    }
}

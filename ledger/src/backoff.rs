//! Pauses between retries, for every loop in every crate that waits for something to come back
//! (NATS, Postgres, Telegram, a lock holder): a step that grows by a factor (2 unless told) from a
//! first pause up to a ceiling, each pause drawn at random from the upper half of its step
//! ("equal jitter"), so processes that failed together do not retry together, yet never wait
//! less than half a step or more than the ceiling.
//!
//! It lives in the ledger crate because every other crate already depends on it; it depends on
//! nothing of the ledger's.

use std::time::Duration;

use rand::Rng;

/// The largest factor a step may grow by (a configured factor above it is lowered to it).
pub const MAX_FACTOR: f64 = 10.0;

/// A growing, jittered pause. `next_pause` gives the pause to wait now and grows the step;
/// `reset` goes back to the first after a success.
#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    factor: f64,
    step: Duration,
}

impl Backoff {
    /// Doubling from `first` up to `max` (`first` above `max` is lowered to it).
    pub fn new(first: Duration, max: Duration) -> Self {
        let first = first.min(max);
        Self {
            first,
            max,
            factor: 2.0,
            step: first,
        }
    }

    /// Grows by `factor` instead of 2, within 1..=[`MAX_FACTOR`] (1: a constant pause).
    pub fn with_factor(mut self, factor: f64) -> Self {
        self.factor = if factor.is_finite() {
            factor.clamp(1.0, MAX_FACTOR)
        } else {
            2.0
        };
        self
    }

    /// The pause to wait now: at random within the upper half of the current step. The step
    /// then grows, up to the ceiling.
    pub fn next_pause(&mut self) -> Duration {
        let step = self.step;
        let half = step / 2;
        let spread = u64::try_from((step - half).as_nanos()).unwrap_or(u64::MAX);
        let jitter = Duration::from_nanos(rand::rng().random_range(0..=spread));
        self.step = grown(step, self.factor).map_or(self.max, |s| s.min(self.max));
        half + jitter
    }

    /// Back to the first pause (after a success).
    pub fn reset(&mut self) {
        self.step = self.first;
    }

    /// The step the next pause is drawn from (its upper bound).
    pub fn step(&self) -> Duration {
        self.step
    }
}

/// `step` times `factor` (exact for whole factors); None when it does not fit a `Duration`.
fn grown(step: Duration, factor: f64) -> Option<Duration> {
    if factor.fract() == 0.0 {
        // A whole factor within 1..=MAX_FACTOR: exact integer arithmetic.
        step.checked_mul(factor as u32)
    } else {
        Duration::try_from_secs_f64(step.as_secs_f64() * factor).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn pauses_stay_within_half_a_step_and_the_step() {
        for _ in 0..200 {
            let mut b = Backoff::new(ms(100), ms(5000));
            let mut step = ms(100);
            for _ in 0..12 {
                let pause = b.next_pause();
                assert!(pause >= step / 2, "{pause:?} below half of {step:?}");
                assert!(pause <= step, "{pause:?} above {step:?}");
                step = (step * 2).min(ms(5000));
                assert_eq!(b.step(), step);
            }
        }
    }

    #[test]
    fn the_step_doubles_up_to_the_ceiling_and_stays_there() {
        let mut b = Backoff::new(ms(50), ms(300));
        let steps: Vec<Duration> = (0..6)
            .map(|_| {
                let s = b.step();
                b.next_pause();
                s
            })
            .collect();
        assert_eq!(steps, [ms(50), ms(100), ms(200), ms(300), ms(300), ms(300)]);
    }

    #[test]
    fn reset_goes_back_to_the_first_step() {
        let mut b = Backoff::new(ms(10), ms(1000));
        for _ in 0..5 {
            b.next_pause();
        }
        b.reset();
        assert_eq!(b.step(), ms(10));
        assert!(b.next_pause() <= ms(10));
    }

    #[test]
    fn a_first_pause_above_the_ceiling_is_the_ceiling() {
        let mut b = Backoff::new(ms(900), ms(100));
        assert!(b.next_pause() <= ms(100));
        assert_eq!(b.step(), ms(100));
    }

    #[test]
    fn factors_are_bounded_and_one_is_constant() {
        let mut constant = Backoff::new(ms(20), ms(1000)).with_factor(1.0);
        for _ in 0..5 {
            constant.next_pause();
            assert_eq!(constant.step(), ms(20));
        }
        let mut huge = Backoff::new(ms(1), Duration::MAX).with_factor(1e9);
        huge.next_pause();
        assert_eq!(huge.step(), ms(10), "the factor is lowered to MAX_FACTOR");
        let mut below_one = Backoff::new(ms(40), ms(1000)).with_factor(0.5);
        below_one.next_pause();
        assert_eq!(
            below_one.step(),
            ms(40),
            "a factor below 1 never shrinks the pause"
        );
        let mut nan = Backoff::new(ms(40), ms(1000)).with_factor(f64::NAN);
        nan.next_pause();
        assert_eq!(nan.step(), ms(80));
    }

    #[test]
    fn growth_never_overflows() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::MAX).with_factor(MAX_FACTOR);
        for _ in 0..100 {
            let step = b.step();
            let pause = b.next_pause();
            assert!(pause >= step / 2 && pause <= step);
        }
        assert_eq!(b.step(), Duration::MAX);
    }

    #[test]
    fn a_zero_pause_is_zero() {
        let mut b = Backoff::new(Duration::ZERO, ms(10));
        assert_eq!(b.next_pause(), Duration::ZERO);
        assert_eq!(b.step(), Duration::ZERO);
    }
}

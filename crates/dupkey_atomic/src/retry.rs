//! Exponential backoff with full jitter, for transactions that lost a write conflict: callers
//! that collided once should not collide again in lockstep.

use std::time::Duration;

#[derive(Debug)]
pub(crate) struct Backoff {
    next: Duration,
    cap: Duration,
}

impl Backoff {
    pub(crate) fn new(first: Duration, cap: Duration) -> Self {
        Backoff { next: first, cap }
    }

    /// Sleeps a random time up to the current step, then doubles the step (up to the cap).
    pub(crate) async fn wait(&mut self) {
        let max = self.next.as_micros().max(1) as u64;
        let pause = Duration::from_micros(rand::random_range(0..=max));
        self.next = (self.next * 2).min(self.cap);
        tokio::time::sleep(pause).await;
    }
}

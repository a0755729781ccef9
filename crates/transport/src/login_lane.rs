//! A separate lane for password checks of clients with recent failures.
//!
//! Password checks are expensive (Argon2id) and run a few at a time. During
//! a guessing flood, the attacker's attempts would fill that queue and a
//! real user's login would wait behind all of them. Attempts from clients
//! that failed recently therefore pass through this lane first: at most
//! `running` of them are checked at once (leaving the other check slots to
//! everyone else), at most `capacity` may be in the lane at all (running or
//! waiting), and one that finds the lane full is refused at once with a
//! "try again later" instead of queueing.
//!
//! The lane is entered from blocking code (a login runs on a blocking
//! thread), so waiting is a condition variable, not a future.

use std::sync::{Condvar, Mutex};

/// The lane for suspect attempts.
#[derive(Debug)]
pub struct LoginLane {
    running: usize,
    capacity: usize,
    state: Mutex<LaneState>,
    freed: Condvar,
}

#[derive(Debug, Default)]
struct LaneState {
    running: usize,
    waiting: usize,
}

/// A place in the lane; the next waiter may run when it is dropped.
#[derive(Debug)]
#[must_use = "the place is given up as soon as it is dropped"]
pub struct LanePlace<'a> {
    lane: &'a LoginLane,
}

impl LoginLane {
    /// A lane where `running` checks run at once and `capacity` attempts
    /// (running or waiting) fit; both at least 1.
    pub fn new(running: usize, capacity: usize) -> Self {
        let running = running.max(1);
        Self {
            running,
            capacity: capacity.max(running),
            state: Mutex::new(LaneState::default()),
            freed: Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LaneState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for a turn to run; `None` at once when the lane is full.
    pub fn enter(&self) -> Option<LanePlace<'_>> {
        let mut state = self.lock();
        if state.running + state.waiting >= self.capacity {
            return None;
        }
        state.waiting += 1;
        while state.running >= self.running {
            state = self.freed.wait(state).unwrap_or_else(|p| p.into_inner());
        }
        state.waiting -= 1;
        state.running += 1;
        Some(LanePlace { lane: self })
    }

    /// Attempts in the lane now (running and waiting).
    pub fn occupied(&self) -> usize {
        let state = self.lock();
        state.running + state.waiting
    }
}

impl Drop for LanePlace<'_> {
    fn drop(&mut self) {
        let mut state = self.lane.lock();
        state.running = state.running.saturating_sub(1);
        drop(state);
        self.lane.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[test]
    fn a_full_lane_refuses_at_once() {
        let lane = LoginLane::new(1, 2);
        let first = lane.enter().unwrap();
        assert_eq!(lane.occupied(), 1);
        std::thread::scope(|s| {
            let waiter = s.spawn(|| lane.enter().map(|_| ()));
            // Wait until the second attempt is queued behind the first.
            while lane.occupied() < 2 {
                std::thread::sleep(Duration::from_millis(1));
            }
            assert!(lane.enter().is_none(), "a third attempt must not queue");
            drop(first);
            assert!(waiter.join().unwrap().is_some());
        });
        assert_eq!(lane.occupied(), 0);
    }

    #[test]
    fn never_more_than_running_at_once() {
        let lane = Arc::new(LoginLane::new(2, 64));
        let now = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..16)
            .map(|_| {
                let (lane, now, peak) = (lane.clone(), now.clone(), peak.clone());
                std::thread::spawn(move || {
                    let _place = lane.enter().unwrap();
                    let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(n, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(5));
                    now.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert!(peak.load(Ordering::SeqCst) <= 2);
    }
}

//! Failed-login accounting per client IP, shared by every protocol.
//!
//! Each failure within the window makes the next answer slower
//! (min(n-1, 5) seconds for the n-th failure); from `block_after` failures on,
//! the address is refused until the window expires. A success does not reset
//! the count: a guesser with one valid account must not get a fresh budget.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What to do with an authentication attempt from an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThrottleVerdict {
    /// Go ahead.
    Allow,
    /// Too many failures: refuse without checking the password.
    Block,
}

/// Per-IP failed-login counter.
#[derive(Debug)]
pub struct AuthThrottle {
    window: Duration,
    block_after: u32,
    max_delay: Duration,
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

impl AuthThrottle {
    /// A throttle that remembers failures for `window` and blocks an address
    /// after `block_after` failures.
    pub fn new(window: Duration, block_after: u32) -> Self {
        Self { window, block_after, max_delay: Duration::from_secs(5), failures: Mutex::new(HashMap::new()) }
    }

    fn current(&self, map: &mut HashMap<IpAddr, (u32, Instant)>, ip: IpAddr, now: Instant) -> u32 {
        match map.get(&ip) {
            Some((n, since)) if now.duration_since(*since) < self.window => *n,
            Some(_) => {
                map.remove(&ip);
                0
            }
            None => 0,
        }
    }

    /// Whether an attempt from `ip` may proceed.
    pub fn check(&self, ip: IpAddr) -> ThrottleVerdict {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if self.current(&mut map, ip, Instant::now()) >= self.block_after {
            ThrottleVerdict::Block
        } else {
            ThrottleVerdict::Allow
        }
    }

    /// Records a failure and returns how long to wait before answering it.
    pub fn failure(&self, ip: IpAddr) -> Duration {
        let now = Instant::now();
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let n = self.current(&mut map, ip, now) + 1;
        let since = map.get(&ip).map(|(_, s)| *s).unwrap_or(now);
        map.insert(ip, (n, since));
        // Keep the table bounded under a distributed attack.
        if map.len() > 100_000 {
            let window = self.window;
            map.retain(|_, (_, s)| now.duration_since(*s) < window);
        }
        Duration::from_secs(u64::from(n.saturating_sub(1))).min(self.max_delay)
    }

    /// Failures currently counted for `ip`.
    pub fn failures(&self, ip: IpAddr) -> u32 {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        self.current(&mut map, ip, Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_then_block() {
        let t = AuthThrottle::new(Duration::from_secs(60), 3);
        let ip: IpAddr = "192.0.2.1".parse().expect("ip");
        assert_eq!(t.check(ip), ThrottleVerdict::Allow);
        assert_eq!(t.failure(ip), Duration::ZERO);
        assert_eq!(t.failure(ip), Duration::from_secs(1));
        assert_eq!(t.check(ip), ThrottleVerdict::Allow);
        assert_eq!(t.failure(ip), Duration::from_secs(2));
        assert_eq!(t.check(ip), ThrottleVerdict::Block);
        let other: IpAddr = "192.0.2.2".parse().expect("ip");
        assert_eq!(t.check(other), ThrottleVerdict::Allow);
    }
}

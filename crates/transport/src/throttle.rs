//! Failed-login accounting per client, shared by every protocol.
//!
//! Each failure within the window makes the next answer slower
//! (min(n-1, 5) seconds for the n-th failure); from `block_after` failures on,
//! the client is refused until the window expires. A success does not reset
//! the count: a guesser with one valid account must not get a fresh budget.
//!
//! An attempt counts from the moment it starts: [`AuthThrottle::begin`]
//! reserves it, so attempts still being checked count against the budget
//! as if they had failed (50 guesses sent at once get no more checks than
//! 50 sent one after another). The [`Attempt`] then records the outcome;
//! dropped without one, its reservation is simply released.
//!
//! Clients are keyed by [`client_key`]: IPv6 addresses per prefix (/64 by
//! default), so rotating addresses inside one network gains nothing.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::client_key::{DEFAULT_IPV6_PREFIX, client_key};

/// What to do with an authentication attempt from an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThrottleVerdict {
    /// Go ahead.
    Allow,
    /// Too many failures: refuse without checking the password.
    Block,
}

/// What the throttle remembers about one client.
#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    since: Instant,
    in_flight: u32,
}

/// Per-client failed-login counter.
#[derive(Debug)]
pub struct AuthThrottle {
    window: Duration,
    block_after: u32,
    max_delay: Duration,
    ipv6_prefix: u8,
    clients: Mutex<HashMap<IpAddr, Entry>>,
}

/// A login attempt under way; it holds one unit of its client's budget.
#[derive(Debug)]
#[must_use = "an attempt is released as soon as it is dropped"]
pub struct Attempt<'a> {
    throttle: &'a AuthThrottle,
    key: IpAddr,
    /// The client had failed logins within the window when this started.
    suspect: bool,
    /// The outcome was recorded (nothing left to release on drop).
    done: bool,
}

impl AuthThrottle {
    /// A throttle that remembers failures for `window` and blocks an address
    /// after `block_after` failures; IPv6 clients keyed per /64.
    pub fn new(window: Duration, block_after: u32) -> Self {
        Self {
            window,
            block_after,
            max_delay: Duration::from_secs(5),
            ipv6_prefix: DEFAULT_IPV6_PREFIX,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// The same with IPv6 clients keyed by their first `prefix` bits.
    pub fn with_ipv6_prefix(mut self, prefix: u8) -> Self {
        self.ipv6_prefix = prefix;
        self
    }

    /// Failures after which a client is refused.
    pub fn block_after(&self) -> u32 {
        self.block_after
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Entry>> {
        self.clients.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The entry for `key`, with failures older than the window forgotten.
    fn current<'m>(&self, map: &'m mut HashMap<IpAddr, Entry>, key: IpAddr, now: Instant) -> &'m mut Entry {
        let entry = map.entry(key).or_insert(Entry { failures: 0, since: now, in_flight: 0 });
        if now.duration_since(entry.since) >= self.window {
            entry.failures = 0;
            entry.since = now;
        }
        entry
    }

    /// Drops an entry that holds nothing worth remembering.
    fn tidy(map: &mut HashMap<IpAddr, Entry>, key: IpAddr) {
        if map.get(&key).is_some_and(|e| e.failures == 0 && e.in_flight == 0) {
            map.remove(&key);
        }
    }

    /// Starts an attempt from `ip`: `None` when its failures plus the
    /// attempts it has in flight already reach the limit (refuse without
    /// checking anything).
    pub fn begin(&self, ip: IpAddr) -> Option<Attempt<'_>> {
        let key = client_key(ip, self.ipv6_prefix);
        let now = Instant::now();
        let mut map = self.lock();
        let entry = self.current(&mut map, key, now);
        if entry.failures.saturating_add(entry.in_flight) >= self.block_after {
            Self::tidy(&mut map, key);
            return None;
        }
        entry.in_flight += 1;
        let suspect = entry.failures > 0;
        drop(map);
        Some(Attempt { throttle: self, key, suspect, done: false })
    }

    /// Whether an attempt from `ip` may proceed (without reserving one).
    pub fn check(&self, ip: IpAddr) -> ThrottleVerdict {
        let key = client_key(ip, self.ipv6_prefix);
        let mut map = self.lock();
        let entry = self.current(&mut map, key, Instant::now());
        let verdict = if entry.failures.saturating_add(entry.in_flight) >= self.block_after {
            ThrottleVerdict::Block
        } else {
            ThrottleVerdict::Allow
        };
        Self::tidy(&mut map, key);
        verdict
    }

    /// Records a failure and returns how long to wait before answering it.
    pub fn failure(&self, ip: IpAddr) -> Duration {
        self.record_failure(client_key(ip, self.ipv6_prefix), false)
    }

    fn record_failure(&self, key: IpAddr, release: bool) -> Duration {
        let now = Instant::now();
        let mut map = self.lock();
        let entry = self.current(&mut map, key, now);
        if release {
            entry.in_flight = entry.in_flight.saturating_sub(1);
        }
        if entry.failures == 0 {
            entry.since = now;
        }
        entry.failures = entry.failures.saturating_add(1);
        let n = entry.failures;
        // Keep the table bounded under a distributed attack.
        if map.len() > 100_000 {
            let window = self.window;
            map.retain(|_, e| e.in_flight > 0 || now.duration_since(e.since) < window);
        }
        Duration::from_secs(u64::from(n.saturating_sub(1))).min(self.max_delay)
    }

    fn release(&self, key: IpAddr) {
        let mut map = self.lock();
        if let Some(e) = map.get_mut(&key) {
            e.in_flight = e.in_flight.saturating_sub(1);
        }
        Self::tidy(&mut map, key);
    }

    /// Failures currently counted for `ip`.
    pub fn failures(&self, ip: IpAddr) -> u32 {
        let key = client_key(ip, self.ipv6_prefix);
        let mut map = self.lock();
        let n = self.current(&mut map, key, Instant::now()).failures;
        Self::tidy(&mut map, key);
        n
    }

    /// Attempts from `ip`'s client being checked right now.
    pub fn in_flight(&self, ip: IpAddr) -> u32 {
        let key = client_key(ip, self.ipv6_prefix);
        self.lock().get(&key).map_or(0, |e| e.in_flight)
    }
}

impl Attempt<'_> {
    /// Whether the client had failed logins within the window when this
    /// attempt started (such attempts wait in their own lane).
    pub fn suspect(&self) -> bool {
        self.suspect
    }

    /// The password was right: the reservation is released.
    pub fn succeeded(self) {
        // Drop releases it.
    }

    /// The password was wrong: counts the failure and returns how long to
    /// wait before answering.
    pub fn failed(mut self) -> Duration {
        self.done = true;
        self.throttle.record_failure(self.key, true)
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.throttle.release(self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn delays_grow_then_block() {
        let t = AuthThrottle::new(Duration::from_secs(60), 3);
        let ip = ip("192.0.2.1");
        assert_eq!(t.check(ip), ThrottleVerdict::Allow);
        assert_eq!(t.failure(ip), Duration::ZERO);
        assert_eq!(t.failure(ip), Duration::from_secs(1));
        assert_eq!(t.check(ip), ThrottleVerdict::Allow);
        assert_eq!(t.failure(ip), Duration::from_secs(2));
        assert_eq!(t.check(ip), ThrottleVerdict::Block);
        assert_eq!(t.check("192.0.2.2".parse().unwrap()), ThrottleVerdict::Allow);
    }

    #[test]
    fn attempts_in_flight_count_against_the_budget() {
        let t = AuthThrottle::new(Duration::from_secs(60), 5);
        let peer = ip("192.0.2.1");
        // 50 attempts started at once: only the budget's worth may go on.
        let started: Vec<_> = (0..50).filter_map(|_| t.begin(peer)).collect();
        assert_eq!(started.len(), 5);
        assert_eq!(t.in_flight(peer), 5);
        assert_eq!(t.check(peer), ThrottleVerdict::Block);
        // Another client is not affected.
        assert!(t.begin(ip("192.0.2.2")).is_some());
        for a in started {
            a.failed();
        }
        assert_eq!(t.in_flight(peer), 0);
        assert_eq!(t.failures(peer), 5);
        assert!(t.begin(peer).is_none());
    }

    #[test]
    fn successes_and_abandoned_attempts_give_the_reservation_back() {
        let t = AuthThrottle::new(Duration::from_secs(60), 2);
        let peer = ip("192.0.2.1");
        let a = t.begin(peer).unwrap();
        let b = t.begin(peer).unwrap();
        assert!(t.begin(peer).is_none());
        a.succeeded();
        drop(b);
        assert_eq!(t.in_flight(peer), 0);
        assert_eq!(t.failures(peer), 0);
        let c = t.begin(peer).unwrap();
        assert!(!c.suspect());
        assert_eq!(c.failed(), Duration::ZERO);
        assert!(t.begin(peer).unwrap().suspect());
    }

    #[test]
    fn ipv6_rotation_inside_a_64_shares_one_budget() {
        let t = AuthThrottle::new(Duration::from_secs(60), 3);
        for n in 1..=3 {
            let a = t.begin(ip(&format!("2001:db8:5:6::{n:x}"))).unwrap();
            a.failed();
        }
        assert!(t.begin(ip("2001:db8:5:6:ffff:ffff:ffff:ffff")).is_none());
        assert_eq!(t.check(ip("2001:db8:5:6::99")), ThrottleVerdict::Block);
        assert!(t.begin(ip("2001:db8:5:7::1")).is_some());
        // Keyed per address when configured so.
        let exact = AuthThrottle::new(Duration::from_secs(60), 1).with_ipv6_prefix(128);
        exact.begin(ip("2001:db8::1")).unwrap().failed();
        assert!(exact.begin(ip("2001:db8::2")).is_some());
    }

    #[test]
    fn failures_expire_after_the_window() {
        let t = AuthThrottle::new(Duration::from_millis(50), 1);
        let peer = ip("192.0.2.9");
        t.begin(peer).unwrap().failed();
        assert!(t.begin(peer).is_none());
        std::thread::sleep(Duration::from_millis(80));
        assert!(t.begin(peer).is_some());
    }
}

//! The login defender, shared by every way in (HTTP login, Basic auth, API keys, FTP): counts
//! failures per IP and per account inside a sliding window and bans the IP past either
//! threshold — a banned IP is refused even with the right password, on every protocol. It also
//! holds the per-IP request-rate limiter for the unauthenticated endpoints. State is in memory:
//! bans are a cache of recent behaviour, not data worth keeping across restarts.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::AuthConfig;

/// Result of recording a failure.
#[derive(Debug, PartialEq, Eq)]
pub enum FailureOutcome {
    Counted,
    /// This failure put the IP over a threshold; it is now banned.
    Banned,
}

struct State {
    ip_failures: HashMap<IpAddr, VecDeque<Instant>>,
    user_failures: HashMap<String, VecDeque<Instant>>,
    bans: HashMap<IpAddr, Instant>,
    buckets: HashMap<(IpAddr, &'static str), (f64, Instant)>,
}

pub struct Defender {
    cfg: AuthConfig,
    state: Mutex<State>,
}

/// Keeps the maps from growing without bound under a spray of addresses.
const MAX_TRACKED: usize = 100_000;

impl Defender {
    pub fn new(cfg: AuthConfig) -> Self {
        Self {
            cfg,
            state: Mutex::new(State {
                ip_failures: HashMap::new(),
                user_failures: HashMap::new(),
                bans: HashMap::new(),
                buckets: HashMap::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Time left on `ip`'s ban, if it is banned.
    pub fn ban_remaining(&self, ip: IpAddr) -> Option<Duration> {
        let mut s = self.lock();
        let until = *s.bans.get(&ip)?;
        let now = Instant::now();
        if until <= now {
            s.bans.remove(&ip);
            return None;
        }
        Some(until - now)
    }

    /// Counts a failed login for `ip` and `username`; bans `ip` past either threshold.
    pub fn record_failure(&self, ip: IpAddr, username: &str) -> FailureOutcome {
        let now = Instant::now();
        let window = self.cfg.failure_window.0;
        let mut s = self.lock();
        if s.ip_failures.len() > MAX_TRACKED || s.user_failures.len() > MAX_TRACKED {
            prune(&mut s, now, window);
        }
        let ip_count = push(s.ip_failures.entry(ip).or_default(), now, window);
        let user_count = push(s.user_failures.entry(username.to_string()).or_default(), now, window);
        if ip_count >= self.cfg.max_failures_per_ip as usize || user_count >= self.cfg.max_failures_per_user as usize {
            s.bans.insert(ip, now + self.cfg.ban_time.0);
            s.ip_failures.remove(&ip);
            return FailureOutcome::Banned;
        }
        FailureOutcome::Counted
    }

    /// A successful login clears the account's failure count (not the IP's).
    pub fn record_success(&self, username: &str) {
        self.lock().user_failures.remove(username);
    }

    /// The delay to add to a failed login.
    pub fn failure_delay(&self) -> Duration {
        self.cfg.failure_delay.0
    }

    /// Token bucket per IP and endpoint: `rate_per_second` with `rate_burst` burst. `Err(wait)`
    /// when empty.
    pub fn take_rate_token(&self, ip: IpAddr, endpoint: &'static str) -> Result<(), Duration> {
        let rate = f64::from(self.cfg.rate_per_second.max(1));
        let burst = f64::from(self.cfg.rate_burst.max(1));
        let now = Instant::now();
        let mut s = self.lock();
        if s.buckets.len() > MAX_TRACKED {
            s.buckets.retain(|_, (_, last)| now.duration_since(*last) < Duration::from_secs(60));
        }
        let (tokens, last) = s.buckets.entry((ip, endpoint)).or_insert((burst, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * rate).min(burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / rate))
        }
    }
}

fn push(q: &mut VecDeque<Instant>, now: Instant, window: Duration) -> usize {
    while q.front().is_some_and(|t| now.duration_since(*t) > window) {
        q.pop_front();
    }
    q.push_back(now);
    q.len()
}

fn prune(s: &mut State, now: Instant, window: Duration) {
    s.ip_failures.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) <= window));
    s.user_failures.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) <= window));
    s.bans.retain(|_, until| *until > now);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Dur;

    fn cfg() -> AuthConfig {
        AuthConfig { max_failures_per_ip: 3, max_failures_per_user: 2, ..AuthConfig::default() }
    }

    #[test]
    fn ip_is_banned_after_threshold_failures_across_accounts() {
        let d = Defender::new(cfg());
        let ip: IpAddr = "10.0.0.1".parse().expect("ip");
        assert_eq!(d.record_failure(ip, "a"), FailureOutcome::Counted);
        assert_eq!(d.record_failure(ip, "b"), FailureOutcome::Counted);
        assert!(d.ban_remaining(ip).is_none());
        assert_eq!(d.record_failure(ip, "c"), FailureOutcome::Banned);
        assert!(d.ban_remaining(ip).is_some());
    }

    #[test]
    fn account_under_attack_bans_the_ip_that_keeps_trying() {
        let d = Defender::new(cfg());
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().expect("ip"), "10.0.0.2".parse().expect("ip"));
        d.record_failure(a, "alice");
        assert_eq!(d.record_failure(b, "alice"), FailureOutcome::Banned);
        assert!(d.ban_remaining(b).is_some());
        assert!(d.ban_remaining(a).is_none());
    }

    #[test]
    fn rate_limit_refills_over_time() {
        let d = Defender::new(AuthConfig { rate_per_second: 1000, rate_burst: 1, ..cfg() });
        let ip: IpAddr = "::1".parse().expect("ip");
        assert!(d.take_rate_token(ip, "a").is_ok());
        assert!(d.take_rate_token(ip, "a").is_err());
        assert!(d.take_rate_token(ip, "b").is_ok(), "endpoints have their own buckets");
        std::thread::sleep(Duration::from_millis(5));
        assert!(d.take_rate_token(ip, "a").is_ok());
    }

    #[test]
    fn bans_expire() {
        let d = Defender::new(AuthConfig { ban_time: Dur(Duration::from_millis(10)), ..cfg() });
        let ip: IpAddr = "10.0.0.9".parse().expect("ip");
        for u in ["a", "b", "c"] {
            d.record_failure(ip, u);
        }
        assert!(d.ban_remaining(ip).is_some());
        std::thread::sleep(Duration::from_millis(20));
        assert!(d.ban_remaining(ip).is_none());
    }
}

//! The login defender, shared by every way in (HTTP login, Basic auth, API keys, FTP): counts
//! failures per IP and per account inside a sliding window and bans the IP past either
//! threshold — a banned IP is refused even with the right password, on every protocol. It also
//! holds the per-IP request-rate limiter for the unauthenticated endpoints. State is in memory:
//! bans are a cache of recent behaviour, not data worth keeping across restarts.
//!
//! Guessing one account from many addresses is paced per account, not per address:
//! - attempts for one account take turns ([`Defender::take_turn`]), and a failed one keeps the
//!   turn for its delay, which doubles with each recent failure of that account from any
//!   address, up to `failure_delay_max`. Parallel guesses from a thousand addresses queue
//!   behind each other: about one guess per `failure_delay_max` once the account is hot;
//! - nobody is refused because of others' failures: a right password from any address that
//!   is not itself banned gets in, after waiting its turn at most;
//! - addresses the account logged in from recently skip the line, and only their own failures
//!   (the per-IP threshold) can ban them, so an attack does not lock the owner out at home.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::OwnedMutexGuard;

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
    /// Addresses each account logged in from, with when (newest last).
    familiar: HashMap<String, VecDeque<(IpAddr, Instant)>>,
}

pub struct Defender {
    cfg: AuthConfig,
    state: Mutex<State>,
    /// One line per account name being tried: its attempts are checked one at a time.
    lines: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// An attempt's turn on its account's line; the account's next attempt starts when it is
/// dropped. Empty for addresses that skip the line.
pub struct Turn {
    _held: Option<OwnedMutexGuard<()>>,
}

/// Keeps the maps from growing without bound under a spray of addresses.
const MAX_TRACKED: usize = 100_000;
/// Lines are dropped when nobody waits on them once there are this many.
const MAX_IDLE_LINES: usize = 1024;
/// How long a successful login makes its address familiar to the account.
const FAMILIAR_FOR: Duration = Duration::from_secs(30 * 24 * 3600);
/// Addresses remembered per account.
const FAMILIAR_PER_ACCOUNT: usize = 8;

impl Defender {
    pub fn new(cfg: AuthConfig) -> Self {
        Self {
            cfg,
            state: Mutex::new(State {
                ip_failures: HashMap::new(),
                user_failures: HashMap::new(),
                bans: HashMap::new(),
                buckets: HashMap::new(),
                familiar: HashMap::new(),
            }),
            lines: Mutex::new(HashMap::new()),
        }
    }

    /// Waits for this attempt's turn to be checked against `username`. Keep the [`Turn`] until
    /// the answer is known and, on failure, the delay is over. Addresses `username` logged in
    /// from recently do not wait.
    pub async fn take_turn(&self, username: &str, ip: IpAddr) -> Turn {
        if self.is_familiar(username, ip) {
            return Turn { _held: None };
        }
        let line = {
            let mut lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
            if lines.len() >= MAX_IDLE_LINES {
                // The map's own reference is the only one of a line nobody waits on.
                lines.retain(|_, line| Arc::strong_count(line) > 1);
            }
            lines.entry(username.to_string()).or_default().clone()
        };
        Turn { _held: Some(line.lock_owned().await) }
    }

    fn is_familiar(&self, username: &str, ip: IpAddr) -> bool {
        let now = Instant::now();
        self.lock()
            .familiar
            .get(username)
            .is_some_and(|seen| seen.iter().any(|(a, t)| *a == ip && now.duration_since(*t) < FAMILIAR_FOR))
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
        // An account under attack bans the addresses trying it, except those it logged in
        // from: only their own failures count against them.
        let familiar = s
            .familiar
            .get(username)
            .is_some_and(|seen| seen.iter().any(|(a, t)| *a == ip && now.duration_since(*t) < FAMILIAR_FOR));
        let user_over = user_count >= self.cfg.max_failures_per_user as usize && !familiar;
        if ip_count >= self.cfg.max_failures_per_ip as usize || user_over {
            s.bans.insert(ip, now + self.cfg.ban_time.0);
            s.ip_failures.remove(&ip);
            return FailureOutcome::Banned;
        }
        FailureOutcome::Counted
    }

    /// A successful login clears the account's failure count (not the IP's) and makes `ip`
    /// familiar to the account.
    pub fn record_success(&self, username: &str, ip: IpAddr) {
        let now = Instant::now();
        let mut s = self.lock();
        s.user_failures.remove(username);
        if s.familiar.len() > MAX_TRACKED {
            s.familiar.retain(|_, seen| seen.back().is_some_and(|(_, t)| now.duration_since(*t) < FAMILIAR_FOR));
        }
        let seen = s.familiar.entry(username.to_string()).or_default();
        seen.retain(|(a, t)| *a != ip && now.duration_since(*t) < FAMILIAR_FOR);
        seen.push_back((ip, now));
        while seen.len() > FAMILIAR_PER_ACCOUNT {
            seen.pop_front();
        }
    }

    /// The flat delay added to a failed API key.
    pub fn failure_delay(&self) -> Duration {
        self.cfg.failure_delay.0
    }

    /// The delay for a failed login of `username` just recorded: `failure_delay`, doubled for
    /// each earlier failure of the account inside the window, at most `failure_delay_max`.
    pub fn account_delay(&self, username: &str) -> Duration {
        let failures = self.lock().user_failures.get(username).map_or(1, VecDeque::len).max(1);
        let base = self.cfg.failure_delay.0;
        let doublings = (failures - 1).min(30) as u32;
        base.saturating_mul(1 << doublings).min(self.cfg.failure_delay_max.0.max(base))
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
    fn account_delay_doubles_with_its_failures_up_to_the_cap() {
        let d = Defender::new(AuthConfig {
            failure_delay: Dur(Duration::from_millis(100)),
            failure_delay_max: Dur(Duration::from_millis(500)),
            max_failures_per_ip: 1000,
            max_failures_per_user: 1000,
            ..AuthConfig::default()
        });
        let mut seen = Vec::new();
        for i in 0..5u8 {
            d.record_failure(IpAddr::from([10, 0, 0, i]), "alice");
            seen.push(d.account_delay("alice").as_millis());
        }
        assert_eq!(seen, [100, 200, 400, 500, 500]);
        assert_eq!(d.account_delay("bob").as_millis(), 100, "other accounts are not slowed");
        d.record_success("alice", IpAddr::from([10, 0, 0, 9]));
        d.record_failure(IpAddr::from([10, 0, 0, 1]), "alice");
        assert_eq!(d.account_delay("alice").as_millis(), 100, "a success starts over");
    }

    #[tokio::test]
    async fn attempts_for_one_account_take_turns_but_familiar_addresses_skip_the_line() {
        let d = Defender::new(cfg());
        let (home, a, b): (IpAddr, IpAddr, IpAddr) =
            ("10.0.0.1".parse().expect("ip"), "10.0.0.2".parse().expect("ip"), "10.0.0.3".parse().expect("ip"));
        d.record_success("alice", home);
        let first = d.take_turn("alice", a).await;
        let second = tokio::time::timeout(Duration::from_millis(50), d.take_turn("alice", b)).await;
        assert!(second.is_err(), "a second address waits for the first attempt's turn");
        assert!(tokio::time::timeout(Duration::from_millis(50), d.take_turn("bob", b)).await.is_ok());
        assert!(tokio::time::timeout(Duration::from_millis(50), d.take_turn("alice", home)).await.is_ok());
        drop(first);
        assert!(tokio::time::timeout(Duration::from_millis(50), d.take_turn("alice", b)).await.is_ok());
    }

    #[test]
    fn an_account_under_attack_does_not_ban_the_addresses_it_logged_in_from() {
        let d = Defender::new(cfg());
        let (home, a): (IpAddr, IpAddr) = ("10.0.0.1".parse().expect("ip"), "10.0.0.2".parse().expect("ip"));
        d.record_success("alice", home);
        d.record_failure(a, "alice");
        assert_eq!(d.record_failure(home, "alice"), FailureOutcome::Counted);
        assert!(d.ban_remaining(home).is_none());
        assert_eq!(d.record_failure(home, "alice"), FailureOutcome::Counted);
        assert_eq!(d.record_failure(home, "alice"), FailureOutcome::Banned, "its own failures still count");
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

//! System statistics. One sampler task refreshes CPU, memory, network and Nook's own process
//! every 2 s and disks every 30 s (sysinfo calls run on the blocking pool) and publishes an
//! immutable [`Snapshot`] on a `watch` channel, so requests only read a pointer. The last hour
//! of samples is kept in a ring buffer for charts.
//!
//! Figures follow the usual tools: `memory` is `(total - available) / total` like `free`'s
//! "used"; `disk` is df's `Use%` of the file system holding the storage root
//! (`used / (used + available)`, rounded up, reserved blocks excluded); `cpu` is the busy share
//! of all CPUs since the previous sample, from `/proc/stat` deltas.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use poem_openapi::Object;
use sysinfo::{Disks, Networks, Pid, ProcessRefreshKind, ProcessesToUpdate, System};
use tokio::sync::watch;

use crate::error::{AppError, AppResult};

/// CPU, memory and network are sampled this often.
pub const SAMPLE_INTERVAL: Duration = Duration::from_secs(2);
/// Disks are sampled this often.
pub const DISK_INTERVAL: Duration = Duration::from_secs(30);
/// History kept for `/api/resources/history`.
pub const HISTORY: Duration = Duration::from_secs(3600);

/// One sample of the machine and of Nook.
#[derive(Debug, Clone, Object)]
pub struct Snapshot {
    /// CPU busy share of all CPUs since the previous sample, percent (0-100).
    pub cpu: u32,
    /// Memory in use, percent of total (`total - available`, as `free` counts it).
    pub memory: u32,
    /// Space in use on the file system holding the storage root, percent (as `df` shows it).
    pub disk: u32,
    /// When this sample was taken.
    pub sampled_at: DateTime<Utc>,
    /// Number of logical CPUs.
    pub cpu_count: u32,
    /// Total memory in bytes.
    pub memory_total: u64,
    /// Memory in use in bytes (`total - available`).
    pub memory_used: u64,
    /// Memory available for new work in bytes.
    pub memory_available: u64,
    /// Total swap in bytes.
    pub swap_total: u64,
    /// Swap in use in bytes.
    pub swap_used: u64,
    /// Size of the storage root's file system in bytes.
    pub disk_total: u64,
    /// Bytes in use on it.
    pub disk_used: u64,
    /// Bytes available to Nook on it.
    pub disk_available: u64,
    /// Every mounted disk (sampled every 30 s).
    pub disks: Vec<DiskUsage>,
    /// System load average.
    pub load_average: LoadAverage,
    /// Seconds since the machine booted.
    pub uptime: u64,
    /// Seconds since Nook started.
    pub nook_uptime: u64,
    /// Nook's resident memory in bytes.
    pub process_rss: u64,
    /// Nook's CPU use since the previous sample, percent of one CPU.
    pub process_cpu: f32,
    /// Network throughput of all interfaces but loopback.
    pub network: NetworkRate,
    /// Limits of the control group Nook runs in, when it has any (containers).
    #[oai(nullable)]
    pub cgroup: Option<CgroupLimits>,
}

/// Usage of one mounted file system.
#[derive(Debug, Clone, Object)]
pub struct DiskUsage {
    /// Where it is mounted.
    pub mount_point: String,
    /// Device or source name.
    pub name: String,
    /// File system type, e.g. `ext4`.
    pub file_system: String,
    /// Size in bytes.
    pub total: u64,
    /// Bytes in use.
    pub used: u64,
    /// Bytes available to unprivileged users.
    pub available: u64,
    /// Percent in use, as `df` shows it.
    pub percent: u32,
}

/// 1, 5 and 15 minute load averages.
#[derive(Debug, Clone, Copy, Default, Object)]
pub struct LoadAverage {
    pub one: f64,
    pub five: f64,
    pub fifteen: f64,
}

/// Bytes per second received and sent.
#[derive(Debug, Clone, Copy, Default, Object)]
pub struct NetworkRate {
    /// Received bytes per second.
    pub rx_bytes_per_sec: u64,
    /// Sent bytes per second.
    pub tx_bytes_per_sec: u64,
}

/// Control-group limits (cgroup v2, or v1 as a fallback).
#[derive(Debug, Clone, Copy, Default, Object)]
pub struct CgroupLimits {
    /// Memory limit in bytes, if limited.
    #[oai(nullable)]
    pub memory_limit: Option<u64>,
    /// Memory the group uses in bytes.
    #[oai(nullable)]
    pub memory_used: Option<u64>,
    /// CPU limit in CPUs (e.g. 1.5), if limited.
    #[oai(nullable)]
    pub cpu_limit: Option<f64>,
}

/// One point of the history: the main figures of a sample.
#[derive(Debug, Clone, Object)]
pub struct HistoryPoint {
    /// When the sample was taken.
    pub time: DateTime<Utc>,
    /// CPU percent.
    pub cpu: u32,
    /// Memory percent.
    pub memory: u32,
    /// Storage root disk percent.
    pub disk: u32,
    /// Received bytes per second.
    pub rx_bytes_per_sec: u64,
    /// Sent bytes per second.
    pub tx_bytes_per_sec: u64,
    /// Nook's resident memory in bytes.
    pub process_rss: u64,
}

impl From<&Snapshot> for HistoryPoint {
    fn from(s: &Snapshot) -> Self {
        Self {
            time: s.sampled_at,
            cpu: s.cpu,
            memory: s.memory,
            disk: s.disk,
            rx_bytes_per_sec: s.network.rx_bytes_per_sec,
            tx_bytes_per_sec: s.network.tx_bytes_per_sec,
            process_rss: s.process_rss,
        }
    }
}

type Latest = Option<Arc<Snapshot>>;

/// Handle to the sampler: the latest snapshot, its history, and a way to stop it.
pub struct Stats {
    rx: watch::Receiver<Latest>,
    history: Arc<Mutex<VecDeque<HistoryPoint>>>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Stats {
    /// Starts the sampler for the file system holding `root`. The first snapshot is published
    /// about 200 ms later (CPU usage needs two readings).
    pub fn start(root: PathBuf) -> Stats {
        let (tx, rx) = watch::channel(None);
        let history = Arc::new(Mutex::new(VecDeque::with_capacity(capacity())));
        let task = tokio::spawn(run(root, tx, history.clone()));
        Stats { rx, history, task: Mutex::new(Some(task)) }
    }

    /// The latest snapshot, if the first one was taken.
    pub fn latest(&self) -> Latest {
        self.rx.borrow().clone()
    }

    /// The latest snapshot, waiting for the first one right after start.
    pub async fn current(&self) -> AppResult<Arc<Snapshot>> {
        if let Some(s) = self.latest() {
            return Ok(s);
        }
        let mut rx = self.rx.clone();
        match tokio::time::timeout(Duration::from_secs(5), rx.wait_for(Option::is_some)).await {
            Ok(Ok(s)) => s.clone().ok_or_else(|| AppError::internal("no snapshot")),
            _ => Err(AppError::internal("the resource sampler has not produced a sample")),
        }
    }

    /// A receiver that sees every new snapshot.
    pub fn subscribe(&self) -> watch::Receiver<Latest> {
        self.rx.clone()
    }

    /// The last hour of samples, oldest first.
    pub fn history(&self) -> Vec<HistoryPoint> {
        self.history.lock().unwrap_or_else(|p| p.into_inner()).iter().cloned().collect()
    }

    /// Stops the sampler.
    pub fn stop(&self) {
        if let Some(t) = self.task.lock().unwrap_or_else(|p| p.into_inner()).take() {
            t.abort();
        }
    }
}

fn capacity() -> usize {
    (HISTORY.as_secs() / SAMPLE_INTERVAL.as_secs()) as usize
}

async fn run(root: PathBuf, tx: watch::Sender<Latest>, history: Arc<Mutex<VecDeque<HistoryPoint>>>) {
    let sampler = tokio::task::spawn_blocking(move || Sampler::new(root)).await;
    let Ok(Some(mut sampler)) = sampler else {
        tracing::warn!("system statistics are not available on this platform");
        return;
    };
    tokio::time::sleep(sysinfo::MINIMUM_CPU_UPDATE_INTERVAL).await;
    let mut tick = tokio::time::interval(SAMPLE_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let done = tokio::task::spawn_blocking(move || {
            let snap = sampler.sample();
            (sampler, snap)
        })
        .await;
        let Ok((s, snap)) = done else { return };
        sampler = s;
        {
            let mut h = history.lock().unwrap_or_else(|p| p.into_inner());
            if h.len() == capacity() {
                h.pop_front();
            }
            h.push_back(HistoryPoint::from(&snap));
        }
        tx.send_replace(Some(Arc::new(snap)));
    }
}

/// The blocking part: sysinfo state kept between samples.
struct Sampler {
    root: PathBuf,
    system: System,
    networks: Option<Networks>,
    net_at: Instant,
    pid: Option<Pid>,
    started: Instant,
    disks_at: Option<Instant>,
    disks: Vec<DiskUsage>,
    root_disk: FsUsage,
}

impl Sampler {
    fn new(root: PathBuf) -> Option<Self> {
        let mut system = System::new().ok()?;
        system.refresh_cpu_usage();
        let pid = sysinfo::get_current_pid().ok();
        if let Some(pid) = pid {
            system.refresh_processes_specifics(ProcessesToUpdate::Some(&[pid]), false, process_kind());
        }
        Some(Self {
            root,
            system,
            networks: Networks::new_with_refreshed_list().ok(),
            net_at: Instant::now(),
            pid,
            started: Instant::now(),
            disks_at: None,
            disks: Vec::new(),
            root_disk: FsUsage::default(),
        })
    }

    fn sample(&mut self) -> Snapshot {
        let sys = &mut self.system;
        sys.refresh_cpu_usage();
        sys.refresh_memory();
        let (rss, process_cpu) = match self.pid {
            Some(pid) => {
                sys.refresh_processes_specifics(ProcessesToUpdate::Some(&[pid]), false, process_kind());
                sys.process(pid).map(|p| (p.memory(), p.cpu_usage())).unwrap_or_default()
            }
            None => (0, 0.0),
        };
        let network = self.network_rate();
        if self.disks_at.is_none_or(|t| t.elapsed() >= DISK_INTERVAL) {
            self.refresh_disks();
        }
        let sys = &self.system;
        let memory_total = sys.total_memory();
        let memory_available = sys.available_memory().min(memory_total);
        let memory_used = memory_total - memory_available;
        let load = System::load_average().unwrap_or_default();
        Snapshot {
            cpu: sys.global_cpu_usage().clamp(0.0, 100.0).round() as u32,
            memory: percent_round(memory_used, memory_total),
            disk: self.root_disk.percent(),
            sampled_at: Utc::now(),
            cpu_count: sys.cpus().len() as u32,
            memory_total,
            memory_used,
            memory_available,
            swap_total: sys.total_swap(),
            swap_used: sys.used_swap(),
            disk_total: self.root_disk.total,
            disk_used: self.root_disk.used,
            disk_available: self.root_disk.available,
            disks: self.disks.clone(),
            load_average: LoadAverage { one: load.one, five: load.five, fifteen: load.fifteen },
            uptime: System::uptime().unwrap_or(0),
            nook_uptime: self.started.elapsed().as_secs(),
            process_rss: rss,
            process_cpu,
            network,
            cgroup: cgroup_limits(),
        }
    }

    fn network_rate(&mut self) -> NetworkRate {
        let Some(nets) = self.networks.as_mut() else { return NetworkRate::default() };
        nets.refresh(true);
        let secs = self.net_at.elapsed().as_secs_f64().max(0.001);
        self.net_at = Instant::now();
        let (mut rx, mut tx) = (0u64, 0u64);
        for (name, data) in nets.iter() {
            if name == "lo" {
                continue;
            }
            rx = rx.saturating_add(data.received());
            tx = tx.saturating_add(data.transmitted());
        }
        NetworkRate { rx_bytes_per_sec: (rx as f64 / secs) as u64, tx_bytes_per_sec: (tx as f64 / secs) as u64 }
    }

    fn refresh_disks(&mut self) {
        self.disks_at = Some(Instant::now());
        self.root_disk = FsUsage::of(&self.root).unwrap_or_default();
        let Ok(list) = Disks::new_with_refreshed_list() else { return };
        let mut disks: Vec<DiskUsage> = list
            .iter()
            .filter_map(|d| {
                let usage = FsUsage::of(d.mount_point())?;
                Some(DiskUsage {
                    mount_point: d.mount_point().display().to_string(),
                    name: d.name().to_string_lossy().into_owned(),
                    file_system: d.file_system().to_string_lossy().into_owned(),
                    total: usage.total,
                    used: usage.used,
                    available: usage.available,
                    percent: usage.percent(),
                })
            })
            .collect();
        disks.sort_by(|a, b| a.mount_point.cmp(&b.mount_point));
        self.disks = disks;
    }
}

fn process_kind() -> ProcessRefreshKind {
    ProcessRefreshKind::nothing().with_memory().with_cpu()
}

/// A file system's size as `statvfs` reports it.
#[derive(Debug, Clone, Copy, Default)]
struct FsUsage {
    total: u64,
    used: u64,
    available: u64,
}

impl FsUsage {
    fn of(path: &Path) -> Option<FsUsage> {
        let s = rustix::fs::statvfs(path).ok()?;
        let unit = s.f_frsize.max(1);
        let total = s.f_blocks.saturating_mul(unit);
        let free = s.f_bfree.saturating_mul(unit);
        Some(FsUsage { total, used: total.saturating_sub(free), available: s.f_bavail.saturating_mul(unit) })
    }

    /// df's `Use%`: used over what users can have, rounded up.
    fn percent(&self) -> u32 {
        let denom = self.used.saturating_add(self.available);
        if denom == 0 {
            return 0;
        }
        (u128::from(self.used) * 100).div_ceil(u128::from(denom)).min(100) as u32
    }
}

fn percent_round(part: u64, whole: u64) -> u32 {
    if whole == 0 {
        return 0;
    }
    ((u128::from(part) * 100 + u128::from(whole) / 2) / u128::from(whole)).min(100) as u32
}

/// Reads the limits of the control group at `/sys/fs/cgroup` (v2 files, else v1 files).
fn cgroup_limits() -> Option<CgroupLimits> {
    cgroup_limits_at(Path::new("/sys/fs/cgroup"))
}

fn cgroup_limits_at(base: &Path) -> Option<CgroupLimits> {
    let read = |rel: &str| std::fs::read_to_string(base.join(rel)).ok().map(|s| s.trim().to_string());
    // Limits of 2^60 and more are "unlimited" in cgroup v1.
    let limited = |n: u64| (n < 1 << 60).then_some(n);
    let v2 = base.join("memory.max").exists() || base.join("cpu.max").exists();
    let (memory_limit, memory_used, cpu_limit) = if v2 {
        let memory_limit = read("memory.max").and_then(|s| s.parse::<u64>().ok()).and_then(limited);
        let memory_used = read("memory.current").and_then(|s| s.parse().ok());
        let cpu_limit = read("cpu.max").and_then(|s| {
            let mut it = s.split_whitespace();
            let quota = it.next()?.parse::<f64>().ok()?;
            let period = it.next()?.parse::<f64>().ok()?;
            (period > 0.0).then(|| quota / period)
        });
        (memory_limit, memory_used, cpu_limit)
    } else {
        let memory_limit = read("memory/memory.limit_in_bytes").and_then(|s| s.parse::<u64>().ok()).and_then(limited);
        let memory_used = read("memory/memory.usage_in_bytes").and_then(|s| s.parse().ok());
        let quota = read("cpu/cpu.cfs_quota_us").and_then(|s| s.parse::<i64>().ok()).filter(|q| *q > 0);
        let period = read("cpu/cpu.cfs_period_us").and_then(|s| s.parse::<i64>().ok()).filter(|p| *p > 0);
        let cpu_limit = quota.zip(period).map(|(q, p)| q as f64 / p as f64);
        (memory_limit, memory_used, cpu_limit)
    };
    (memory_limit.is_some() || cpu_limit.is_some()).then_some(CgroupLimits { memory_limit, memory_used, cpu_limit })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_percent_matches_df_rounding() {
        let u = FsUsage { total: 270, used: 29, available: 68 };
        assert_eq!(u.percent(), 30); // 29 / 97 = 29.9% -> 30, as df prints it
        assert_eq!(FsUsage { total: 10, used: 0, available: 10 }.percent(), 0);
        assert_eq!(FsUsage::default().percent(), 0);
        assert_eq!(percent_round(1, 3), 33);
        assert_eq!(percent_round(2, 3), 67);
    }

    #[test]
    fn cgroup_v2_and_v1_limits_are_read() {
        let d = tempfile::tempdir().expect("tempdir");
        std::fs::write(d.path().join("memory.max"), "1073741824\n").expect("write");
        std::fs::write(d.path().join("memory.current"), "1000\n").expect("write");
        std::fs::write(d.path().join("cpu.max"), "150000 100000\n").expect("write");
        let l = cgroup_limits_at(d.path()).expect("limits");
        assert_eq!(l.memory_limit, Some(1 << 30));
        assert_eq!(l.memory_used, Some(1000));
        assert_eq!(l.cpu_limit, Some(1.5));

        let d = tempfile::tempdir().expect("tempdir");
        std::fs::write(d.path().join("memory.max"), "max\n").expect("write");
        std::fs::write(d.path().join("cpu.max"), "max 100000\n").expect("write");
        assert!(cgroup_limits_at(d.path()).is_none(), "unlimited is no limit");

        let d = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(d.path().join("memory")).expect("mkdir");
        std::fs::create_dir_all(d.path().join("cpu")).expect("mkdir");
        std::fs::write(d.path().join("memory/memory.limit_in_bytes"), "9223372036854771712\n").expect("write");
        std::fs::write(d.path().join("cpu/cpu.cfs_quota_us"), "50000\n").expect("write");
        std::fs::write(d.path().join("cpu/cpu.cfs_period_us"), "100000\n").expect("write");
        let l = cgroup_limits_at(d.path()).expect("limits");
        assert_eq!(l.memory_limit, None);
        assert_eq!(l.cpu_limit, Some(0.5));
    }
}

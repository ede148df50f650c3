//! Tuning of glibc's allocator, applied once at the start of `main` before any thread exists.
//!
//! glibc's defaults suit short programs, not a long-running server: every thread that meets a
//! locked arena gets another one (up to 8 per core), each keeps what was freed into it, and the
//! mmap threshold rises for good after the first large free, so one 19 MiB argon2 hash or one
//! 100,000-entry listing stays resident until the process ends. Nook sets instead:
//!
//! - at most 2 arenas (threads share them; the hot paths hold large blocks, not many small ones);
//! - allocations of 2 MiB and more go straight to mmap and back to the kernel when freed
//!   (above every transfer buffer: `BLOCK_SIZE` is 256 KiB; with 128–512 KiB, multipart
//!   uploads took 2.2–2.8× the CPU);
//! - free memory above 2 MiB at the top of a heap is returned (with 1 MiB or less, multipart
//!   uploads took 1.7× the CPU: the parser's buffer is trimmed and grown again).
//!
//! `bench/run`, all workloads in one server process: peak RSS 290 MiB with glibc's defaults,
//! 105 MiB with these (see bench/RESULTS.md), throughput within the run-to-run noise.
//!
//! glibc's own settings win: a parameter whose environment variable is set
//! (`MALLOC_ARENA_MAX`, `MALLOC_MMAP_THRESHOLD_`, `MALLOC_TRIM_THRESHOLD_`) is left alone, and
//! so is everything when `GLIBC_TUNABLES` mentions `glibc.malloc`. On other C libraries this
//! does nothing.

/// One `mallopt` setting: its glibc environment variable, parameter and value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    pub env: &'static str,
    pub param: i32,
    pub value: i32,
}

/// Nook's settings (the parameter numbers are glibc's `M_ARENA_MAX`, `M_MMAP_THRESHOLD`,
/// `M_TRIM_THRESHOLD`).
pub const SETTINGS: [Setting; 3] = [
    Setting { env: "MALLOC_ARENA_MAX", param: -8, value: 2 },
    Setting { env: "MALLOC_MMAP_THRESHOLD_", param: -3, value: 2 << 20 },
    Setting { env: "MALLOC_TRIM_THRESHOLD_", param: -1, value: 2 << 20 },
];

/// The settings to apply given the environment (`var(name)` is its value, if set).
pub fn plan(var: impl Fn(&str) -> Option<String>) -> Vec<Setting> {
    if var("GLIBC_TUNABLES").is_some_and(|t| t.contains("glibc.malloc")) {
        return Vec::new();
    }
    SETTINGS.into_iter().filter(|s| var(s.env).is_none()).collect()
}

/// Applies [`plan`] for this process's environment. Call first thing in `main`.
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    for s in plan(|k| std::env::var(k).ok()) {
        // SAFETY: mallopt takes two integers and no pointers; it is called before any other
        // thread exists, so no allocation races with the change.
        #[allow(unsafe_code)]
        let _applied = unsafe { libc::mallopt(s.param, s.value) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    #[test]
    fn all_three_by_default() {
        assert_eq!(plan(env(&[])), SETTINGS.to_vec());
    }

    #[test]
    fn a_glibc_variable_keeps_its_own_value() {
        let p = plan(env(&[("MALLOC_ARENA_MAX", "8")]));
        assert_eq!(p.iter().map(|s| s.env).collect::<Vec<_>>(), ["MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"]);
    }

    #[test]
    fn malloc_tunables_turn_it_all_off() {
        assert!(plan(env(&[("GLIBC_TUNABLES", "glibc.malloc.arena_max=4")])).is_empty());
        assert_eq!(plan(env(&[("GLIBC_TUNABLES", "glibc.rtld.nns=2")])).len(), 3);
    }

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn parameter_numbers_are_glibcs() {
        assert_eq!(SETTINGS.map(|s| s.param), [libc::M_ARENA_MAX, libc::M_MMAP_THRESHOLD, libc::M_TRIM_THRESHOLD]);
    }
}

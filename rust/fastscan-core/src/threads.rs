//! How many threads a scanner uses, and the per-scanner rayon pool.
//!
//! Resolution order, first that is set wins: the explicit `threads` argument,
//! `FASTSCAN_THREADS`, `OMP_NUM_THREADS` (what Ray, Slurm and friends set for a worker), then
//! the CPUs this process may run on (affinity mask and cgroup quota, via
//! [`std::thread::available_parallelism`]). A scanner never assumes it owns the machine.

use std::sync::{Arc, Mutex, PoisonError};

use crate::error::{CoreError, Result};

/// Where a thread count came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadSource {
    Argument,
    FastscanThreads,
    OmpNumThreads,
    Affinity,
}

impl ThreadSource {
    /// The setting's name as a user would write it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ThreadSource::Argument => "argument",
            ThreadSource::FastscanThreads => "FASTSCAN_THREADS",
            ThreadSource::OmpNumThreads => "OMP_NUM_THREADS",
            ThreadSource::Affinity => "affinity",
        }
    }
}

/// Resolves the thread count. `env` reads an environment variable (injected for tests).
///
/// An explicit `0` or an unparsable `FASTSCAN_THREADS` is an error: both are ours to define.
/// `OMP_NUM_THREADS` belongs to other tools; its first comma-separated entry is used when it is
/// a positive integer and it is ignored otherwise.
pub fn resolve_threads(
    explicit: Option<usize>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<(usize, ThreadSource)> {
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    resolve_threads_on(explicit, env, cpus)
}

/// The most threads per CPU a scanner starts: its work is CPU-bound, so more only adds
/// switching (and a typo such as `--threads 10000` would otherwise start 10,000 workers).
pub const MAX_THREADS_PER_CPU: usize = 4;

/// [`resolve_threads`] on a machine with `cpus` CPUs (injected for tests). An explicit count
/// or `FASTSCAN_THREADS` above [`MAX_THREADS_PER_CPU`] per CPU is an error; an
/// `OMP_NUM_THREADS` above it is capped there.
pub fn resolve_threads_on(
    explicit: Option<usize>,
    env: impl Fn(&str) -> Option<String>,
    cpus: usize,
) -> Result<(usize, ThreadSource)> {
    let most = cpus.max(1) * MAX_THREADS_PER_CPU;
    let bounded = |n: usize, what: &str, source: ThreadSource| {
        if n > most {
            Err(CoreError::Config(format!(
                "{what}={n} is more than {MAX_THREADS_PER_CPU} threads per CPU this process may \
                 use ({cpus} CPUs: at most {most})"
            )))
        } else {
            Ok((n, source))
        }
    };
    if let Some(n) = explicit {
        if n == 0 {
            return Err(CoreError::Config("threads must be at least 1".into()));
        }
        return bounded(n, "threads", ThreadSource::Argument);
    }
    if let Some(raw) = env("FASTSCAN_THREADS").filter(|v| !v.trim().is_empty()) {
        return match raw.trim().parse::<usize>() {
            Ok(n) if n > 0 => bounded(n, "FASTSCAN_THREADS", ThreadSource::FastscanThreads),
            _ => Err(CoreError::Config(format!(
                "FASTSCAN_THREADS={raw:?} is not a positive integer"
            ))),
        };
    }
    if let Some(raw) = env("OMP_NUM_THREADS") {
        let first = raw.split(',').next().unwrap_or("").trim();
        if let Ok(n) = first.parse::<usize>() {
            if n > 0 {
                return Ok((n.min(most), ThreadSource::OmpNumThreads));
            }
        }
    }
    Ok((cpus.max(1), ThreadSource::Affinity))
}

/// Resolves the thread count from the process environment.
pub fn resolve_threads_from_env(explicit: Option<usize>) -> Result<(usize, ThreadSource)> {
    resolve_threads(explicit, |name| std::env::var(name).ok())
}

/// A rayon pool of a fixed size, created on first use and re-created after a `fork()`:
/// a forked child inherits the pool's handle but none of its threads, so the pool is keyed by
/// the process id.
#[derive(Debug)]
pub struct Pool {
    threads: usize,
    inner: Mutex<Option<(u32, Arc<rayon::ThreadPool>)>>,
}

impl Pool {
    /// A pool of `threads` workers (started lazily).
    #[must_use]
    pub fn new(threads: usize) -> Pool {
        Pool {
            threads: threads.max(1),
            inner: Mutex::new(None),
        }
    }

    /// The number of worker threads.
    #[must_use]
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Runs `op` inside the pool (or on the calling thread when the pool has one thread).
    pub fn install<R: Send>(&self, op: impl FnOnce() -> R + Send) -> Result<R> {
        if self.threads == 1 {
            return Ok(op());
        }
        let pool = self.get()?;
        Ok(pool.install(op))
    }

    /// Maps contiguous ranges of `0..n` (a few per thread) with `map` and combines the results
    /// with `merge` (associative), on the pool; on the calling thread for one thread.
    pub fn map_reduce<T: Send>(
        &self,
        n: usize,
        map: impl Fn(std::ops::Range<usize>) -> T + Sync + Send,
        identity: impl Fn() -> T + Sync + Send,
        merge: impl Fn(T, T) -> T + Sync + Send,
    ) -> Result<T> {
        use rayon::prelude::*;
        if self.threads == 1 {
            return Ok(map(0..n));
        }
        let chunk = n.div_ceil(self.threads * 4).max(1);
        self.install(|| {
            (0..n.div_ceil(chunk))
                .into_par_iter()
                .map(|c| map(c * chunk..((c + 1) * chunk).min(n)))
                .reduce(&identity, &merge)
        })
    }

    fn get(&self) -> Result<Arc<rayon::ThreadPool>> {
        let pid = std::process::id();
        let mut guard = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((owner, pool)) = guard.as_ref() {
            if *owner == pid {
                return Ok(Arc::clone(pool));
            }
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(self.threads)
            .thread_name(|i| format!("fastscan-{i}"))
            .build()
            .map_err(|e| CoreError::ThreadPool(e.to_string()))?;
        let pool = Arc::new(pool);
        *guard = Some((pid, Arc::clone(&pool)));
        Ok(pool)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn explicit_wins() {
        let env = env_of(&[("FASTSCAN_THREADS", "3"), ("OMP_NUM_THREADS", "5")]);
        assert_eq!(
            resolve_threads(Some(2), &env).unwrap(),
            (2, ThreadSource::Argument)
        );
    }

    #[test]
    fn fastscan_env_before_omp() {
        let env = env_of(&[("FASTSCAN_THREADS", "3"), ("OMP_NUM_THREADS", "5")]);
        assert_eq!(
            resolve_threads(None, &env).unwrap(),
            (3, ThreadSource::FastscanThreads)
        );
    }

    #[test]
    fn omp_first_entry() {
        let env = env_of(&[("OMP_NUM_THREADS", "4,2")]);
        assert_eq!(
            resolve_threads(None, &env).unwrap(),
            (4, ThreadSource::OmpNumThreads)
        );
    }

    #[test]
    fn bad_omp_is_ignored_bad_fastscan_is_an_error() {
        let env = env_of(&[("OMP_NUM_THREADS", "lots")]);
        assert_eq!(
            resolve_threads(None, &env).unwrap().1,
            ThreadSource::Affinity
        );
        let env = env_of(&[("FASTSCAN_THREADS", "0")]);
        assert!(resolve_threads(None, &env).is_err());
        assert!(resolve_threads(Some(0), env_of(&[])).is_err());
    }

    #[test]
    fn pool_runs_work() {
        let pool = Pool::new(2);
        let sum = pool
            .install(|| {
                use rayon::prelude::*;
                (0..1000u64).into_par_iter().sum::<u64>()
            })
            .unwrap();
        assert_eq!(sum, 499_500);
    }

    #[test]
    fn thread_counts_are_bounded_per_cpu() {
        let none = env_of(&[]);
        assert_eq!(
            resolve_threads_on(Some(8), &none, 2).unwrap(),
            (8, ThreadSource::Argument)
        );
        let err = resolve_threads_on(Some(10_000), &none, 2).unwrap_err();
        assert!(err.to_string().contains("at most 8"), "{err}");
        assert!(resolve_threads_on(None, env_of(&[("FASTSCAN_THREADS", "9")]), 2).is_err());
        assert_eq!(
            resolve_threads_on(None, env_of(&[("OMP_NUM_THREADS", "64")]), 2).unwrap(),
            (8, ThreadSource::OmpNumThreads)
        );
        assert_eq!(
            resolve_threads_on(None, &none, 3).unwrap(),
            (3, ThreadSource::Affinity)
        );
    }
}

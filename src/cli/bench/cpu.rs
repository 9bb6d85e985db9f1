//! CPU time as Linux accounts it (`/proc`): this process, its threads by name, and other
//! processes by pid (the Postgres backends serving a benchmark's database). A benchmark that
//! drives the code under test from the same process shows with these figures that the driver
//! was not the bottleneck: its threads' share is measured, not guessed.

use std::collections::HashMap;
use std::time::Instant;

use serde::Serialize;

/// `/proc` counts CPU time in clock ticks of 1/100 s (`USER_HZ`, fixed at 100 for this
/// interface on every Linux architecture tokenbot runs on).
const TICKS_PER_S: f64 = 100.0;

/// utime + stime of a `/proc/.../stat` line, in ticks. The command name (field 2) may contain
/// spaces and parentheses, so the fields are counted from the last `)`.
fn busy_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11); // fields 3..13
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

fn ticks_of(path: &str) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| busy_ticks(&s))
        .unwrap_or(0)
}

/// Ticks of this process's live threads whose name starts with `prefix`.
fn thread_ticks(prefix: &str) -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .flatten()
        .filter(|t| {
            std::fs::read_to_string(t.path().join("comm")).is_ok_and(|n| n.starts_with(prefix))
        })
        .map(|t| ticks_of(&t.path().join("stat").to_string_lossy()))
        .sum()
}

/// The Postgres backends (of a server on this machine) connected to `database`: Postgres titles
/// each `postgres: <user> <database> <client> <activity>`.
fn backends_of(database: &str) -> Vec<i32> {
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let needle = format!(" {database} ");
    procs
        .flatten()
        .filter_map(|p| p.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                let title = String::from_utf8_lossy(&c);
                title.starts_with("postgres: ") && title.contains(&needle)
            })
        })
        .collect()
}

/// The machine's one-minute load average (runnable threads, all processes): how busy the
/// shared machine was around a run.
pub(crate) fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

/// CPU counters at one moment.
pub(crate) struct CpuSample {
    at: Instant,
    process: u64,
    driver: u64,
    backends: HashMap<i32, u64>,
}

/// What a phase cost in CPU seconds, and the driver's share of its own thread.
#[derive(Serialize, Clone, Copy, Default)]
pub(crate) struct CpuUse {
    /// Wall-clock seconds of the phase.
    pub wall_s: f64,
    /// The simulated users and the fake Bot API: the driver runtime's threads.
    pub driver_cpu_s: f64,
    /// The driver's CPU over wall time: 1.0 would mean its one thread never idled (the
    /// driver would then be the bottleneck).
    pub driver_busy: f64,
    /// The rest of this process: the bot (or the echo bot), its HTTP clients and servers.
    pub bot_cpu_s: f64,
    /// The Postgres backends of the benchmark's database (0 for the echo bot).
    pub postgres_cpu_s: f64,
}

impl CpuSample {
    /// Now; `driver_prefix` names the driver's threads, `database` the database whose
    /// Postgres backends to follow.
    pub(crate) fn take(driver_prefix: &str, database: Option<&str>) -> CpuSample {
        CpuSample {
            at: Instant::now(),
            process: ticks_of("/proc/self/stat"),
            driver: thread_ticks(driver_prefix),
            backends: database
                .map(backends_of)
                .unwrap_or_default()
                .into_iter()
                .map(|pid| (pid, ticks_of(&format!("/proc/{pid}/stat"))))
                .collect(),
        }
    }

    /// From `self` to `later`. A backend that appeared in between counts from zero.
    pub(crate) fn until(&self, later: &CpuSample) -> CpuUse {
        let s = |ticks: u64| ticks as f64 / TICKS_PER_S;
        let wall_s = later.at.duration_since(self.at).as_secs_f64();
        let driver = later.driver.saturating_sub(self.driver);
        let process = later.process.saturating_sub(self.process);
        let postgres = later
            .backends
            .iter()
            .map(|(pid, t)| t.saturating_sub(self.backends.get(pid).copied().unwrap_or(0)))
            .sum();
        CpuUse {
            wall_s,
            driver_cpu_s: s(driver),
            driver_busy: if wall_s > 0.0 {
                s(driver) / wall_s
            } else {
                0.0
            },
            bot_cpu_s: s(process.saturating_sub(driver)),
            postgres_cpu_s: s(postgres),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_utime_and_stime_after_the_name() {
        let stat = "42 (bench (driver) 1) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0";
        assert_eq!(busy_ticks(stat), Some(300));
        assert_eq!(busy_ticks("garbage"), None);
    }
}

//! CPU time and memory of a process, read from `/proc`.
//!
//! The load generator samples itself and, when given its pid, the relay under
//! test, at the start and the end of the measured window: CPU is the difference
//! of the two samples over the window's wall time, as a percentage of one core
//! (so 100 means one core fully busy and a saturated single-core generator is
//! plain to see).

use std::fs;
use std::time::Duration;

use anyhow::{Context as _, bail};

/// Clock ticks per second in `/proc/PID/stat`. Linux reports CPU times in
/// `USER_HZ`, which is 100 on every architecture it runs on (it is part of the
/// user-space ABI, independent of the kernel's own tick rate).
const USER_HZ: u64 = 100;

/// Which process to read.
#[derive(Clone, Copy, Debug)]
pub enum Pid {
    /// This process.
    Own,
    /// Another process, such as the relay under test.
    Other(u32),
}

impl Pid {
    /// The `/proc` directory of the process.
    fn dir(self) -> String {
        match self {
            Self::Own => "/proc/self".to_owned(),
            Self::Other(pid) => format!("/proc/{pid}"),
        }
    }
}

/// How much CPU time a process has used so far.
pub fn cpu_time(pid: Pid) -> anyhow::Result<Duration> {
    let path = format!("{}/stat", pid.dir());
    let stat = fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let ticks = parse_cpu_ticks(&stat).with_context(|| format!("parsing {path}"))?;
    Ok(Duration::from_millis(ticks * 1000 / USER_HZ))
}

/// User plus system time, in ticks, from the text of `/proc/PID/stat`.
///
/// The second field is the command name in parentheses and may itself hold spaces
/// and parentheses, so the fields are counted from the last `)`.
fn parse_cpu_ticks(stat: &str) -> anyhow::Result<u64> {
    let Some(end_of_name) = stat.rfind(')') else {
        bail!("no command name");
    };
    // After the name: state (field 3), ..., utime (field 14), stime (field 15).
    let mut fields = stat[end_of_name + 1..].split_ascii_whitespace().skip(11);
    let mut next = |what: &str| -> anyhow::Result<u64> {
        fields
            .next()
            .with_context(|| format!("no {what} field"))?
            .parse()
            .with_context(|| format!("{what} is not a number"))
    };
    Ok(next("utime")? + next("stime")?)
}

/// A process's memory, in KiB, from `/proc/PID/status`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Memory {
    /// Resident set size now (`VmRSS`).
    pub rss_kib: u64,
    /// The largest resident set size so far (`VmHWM`), which shows a transient
    /// spike that has been given back by the time of the sample.
    pub peak_kib: u64,
}

/// The memory of a process now.
pub fn memory(pid: Pid) -> anyhow::Result<Memory> {
    let path = format!("{}/status", pid.dir());
    let status = fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    parse_memory(&status).with_context(|| format!("parsing {path}"))
}

/// `VmRSS` and `VmHWM` from the text of `/proc/PID/status`.
fn parse_memory(status: &str) -> anyhow::Result<Memory> {
    let field = |name: &str| -> anyhow::Result<u64> {
        let line = status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .with_context(|| format!("no {name} line"))?;
        line.trim_start_matches(':')
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .with_context(|| format!("{name} is not a number of kB"))
    };
    Ok(Memory {
        rss_kib: field("VmRSS")?,
        peak_kib: field("VmHWM")?,
    })
}

/// CPU use between two samples as a percentage of one core.
pub fn cpu_percent(before: Duration, after: Duration, wall: Duration) -> f64 {
    if wall.is_zero() {
        return 0.0;
    }
    after.saturating_sub(before).as_secs_f64() / wall.as_secs_f64() * 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_are_counted_after_the_command_name() {
        let stat = "4242 (tabula (x) y) S 1 4242 4242 0 -1 4194560 500 0 0 0 \
                    250 50 0 0 20 0 3 0 100 1000000 200 18446744073709551615";
        assert_eq!(parse_cpu_ticks(stat).unwrap(), 300);
        assert!(parse_cpu_ticks("4242 tabula S 1").is_err());
    }

    #[test]
    fn memory_comes_from_vm_rss_and_vm_hwm() {
        let status = "Name:\ttabula-server\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\n";
        assert_eq!(
            parse_memory(status).unwrap(),
            Memory {
                rss_kib: 10_240,
                peak_kib: 20_480
            }
        );
        assert!(parse_memory("Name:\tx\n").is_err());
    }

    #[test]
    fn own_process_can_be_sampled() {
        assert!(memory(Pid::Own).unwrap().rss_kib > 0);
        cpu_time(Pid::Own).unwrap();
    }

    #[test]
    fn cpu_percent_is_of_one_core() {
        let pct = cpu_percent(
            Duration::from_millis(100),
            Duration::from_millis(600),
            Duration::from_secs(1),
        );
        assert!((pct - 50.0).abs() < 1e-9);
        assert!(cpu_percent(Duration::ZERO, Duration::ZERO, Duration::ZERO).abs() < 1e-9);
    }
}

//! The figures of a run: latencies in an HDR histogram, counts, CPU and memory,
//! printed for a person and, with `--json`, as one JSON object on the last line
//! for `bench/run.sh`.

use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde_json::{Value, json};

/// The highest latency recorded exactly, in microseconds (one minute); a longer
/// one is recorded as this.
const MAX_LATENCY_US: u64 = 60_000_000;

/// End-to-end latencies in microseconds, three significant digits.
#[derive(Clone, Debug)]
pub struct Latencies {
    /// The histogram; one per reader, merged at the end.
    histogram: Histogram<u64>,
}

impl Latencies {
    /// An empty histogram.
    pub fn new() -> Self {
        Self {
            histogram: Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)
                .expect("1 µs to a minute at 3 significant digits is a valid histogram"),
        }
    }

    /// Records one latency given in nanoseconds.
    pub fn record_ns(&mut self, ns: u64) {
        let us = (ns / 1000).clamp(1, MAX_LATENCY_US);
        self.histogram.saturating_record(us);
    }

    /// Adds another reader's latencies.
    pub fn merge(&mut self, other: &Self) {
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.histogram.add(&other.histogram);
    }

    /// How many latencies were recorded.
    pub fn count(&self) -> u64 {
        self.histogram.len()
    }

    /// The latency at `quantile` (0 to 1), in microseconds; 0 when empty.
    pub fn quantile_us(&self, quantile: f64) -> u64 {
        if self.histogram.is_empty() {
            0
        } else {
            self.histogram.value_at_quantile(quantile)
        }
    }

    /// The largest latency, in microseconds.
    pub fn max_us(&self) -> u64 {
        self.histogram.max()
    }
}

/// Everything a load run measured.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// `tabula` or `raw`.
    pub mode: &'static str,
    /// Peers connected (slow ones included).
    pub peers: usize,
    /// Rooms they were spread over.
    pub rooms: usize,
    /// Peers that joined but never read (the slow-consumer scenario).
    pub slow: usize,
    /// Frames the peers were asked to send: active peers × rate × send time. A
    /// `sent` well below it means the relay (or the generator) could not take
    /// the load: sends waited on a full socket.
    pub offered: u64,
    /// Ops (or raw frames) sent.
    pub sent: u64,
    /// Ops the relay acknowledged (Tabula mode only).
    pub acked: u64,
    /// Frames other peers received.
    pub delivered: u64,
    /// Frames other peers should have received: each sent frame once per other
    /// reading peer in its room.
    pub expected: u64,
    /// How long the peers sent for.
    pub duration: Duration,
    /// End-to-end latencies of delivered frames.
    pub latencies: Option<Latencies>,
    /// The generator's CPU over the send window, in % of one core.
    pub bench_cpu_pct: f64,
    /// The relay's CPU over the send window, in % of one core, with `--relay-pid`.
    pub relay_cpu_pct: Option<f64>,
    /// The relay's memory at the end of the send window, with `--relay-pid`.
    pub relay_memory: Option<crate::procfs::Memory>,
    /// What went wrong, when the run did not finish cleanly.
    pub error: Option<String>,
}

impl LoadReport {
    /// Frames expected but never received.
    pub fn lost(&self) -> u64 {
        self.expected.saturating_sub(self.delivered)
    }

    /// Delivered frames per second of sending.
    pub fn delivered_per_s(&self) -> f64 {
        let secs = self.duration.as_secs_f64();
        if secs > 0.0 {
            self.delivered as f64 / secs
        } else {
            0.0
        }
    }

    /// A latency quantile in microseconds.
    fn quantile_us(&self, quantile: f64) -> u64 {
        self.latencies
            .as_ref()
            .map_or(0, |l| l.quantile_us(quantile))
    }

    /// The figures as one JSON object.
    pub fn to_json(&self) -> Value {
        json!({
            "mode": self.mode,
            "peers": self.peers,
            "rooms": self.rooms,
            "slow": self.slow,
            "offered": self.offered,
            "sent": self.sent,
            "acked": self.acked,
            "delivered": self.delivered,
            "expected": self.expected,
            "lost": self.lost(),
            "duration_s": self.duration.as_secs_f64(),
            "delivered_per_s": self.delivered_per_s(),
            "p50_us": self.quantile_us(0.5),
            "p99_us": self.quantile_us(0.99),
            "p999_us": self.quantile_us(0.999),
            "max_us": self.latencies.as_ref().map_or(0, Latencies::max_us),
            "latency_samples": self.latencies.as_ref().map_or(0, Latencies::count),
            "bench_cpu_pct": self.bench_cpu_pct,
            "relay_cpu_pct": self.relay_cpu_pct,
            "relay_rss_kib": self.relay_memory.map(|m| m.rss_kib),
            "relay_peak_rss_kib": self.relay_memory.map(|m| m.peak_kib),
            "error": self.error,
        })
    }

    /// The figures for a person, one per line.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} peers in {} room(s), {} mode{}",
            self.peers,
            self.rooms,
            self.mode,
            if self.slow > 0 {
                format!(", {} of them never reading", self.slow)
            } else {
                String::new()
            }
        );
        let _ = writeln!(
            out,
            "sent {} of {} offered in {:.2} s, acked {}",
            self.sent,
            self.offered,
            self.duration.as_secs_f64(),
            self.acked
        );
        let _ = writeln!(
            out,
            "delivered {} of {} ({:.0} frames/s), lost {}",
            self.delivered,
            self.expected,
            self.delivered_per_s(),
            self.lost()
        );
        let _ = writeln!(
            out,
            "latency p50 {} µs, p99 {} µs, p99.9 {} µs, max {} µs",
            self.quantile_us(0.5),
            self.quantile_us(0.99),
            self.quantile_us(0.999),
            self.latencies.as_ref().map_or(0, Latencies::max_us)
        );
        let _ = write!(out, "generator CPU {:.0}%", self.bench_cpu_pct);
        if let Some(cpu) = self.relay_cpu_pct {
            let _ = write!(out, ", relay CPU {cpu:.0}%");
        }
        if let Some(memory) = self.relay_memory {
            let _ = write!(
                out,
                ", relay RSS {} KiB (peak {} KiB)",
                memory.rss_kib, memory.peak_kib
            );
        }
        out.push('\n');
        if let Some(error) = &self.error {
            let _ = writeln!(out, "error: {error}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_come_from_the_merged_histograms() {
        let mut a = Latencies::new();
        let mut b = Latencies::new();
        for us in 1..=990 {
            a.record_ns(us * 1000);
        }
        for _ in 0..10 {
            b.record_ns(50_000_000);
        }
        a.merge(&b);
        assert_eq!(a.count(), 1000);
        let p50 = a.quantile_us(0.5);
        assert!((490..=510).contains(&p50), "{p50}");
        assert!(a.quantile_us(0.999) >= 49_000);
        assert_eq!(Latencies::new().quantile_us(0.99), 0);
        // Below a microsecond still counts, as one.
        let mut tiny = Latencies::new();
        tiny.record_ns(10);
        assert_eq!(tiny.quantile_us(0.5), 1);
    }

    #[test]
    fn json_has_every_figure_run_sh_reads() {
        let report = LoadReport {
            mode: "tabula",
            sent: 10,
            acked: 10,
            delivered: 15,
            expected: 20,
            duration: Duration::from_secs(2),
            latencies: Some(Latencies::new()),
            error: Some("boom".to_owned()),
            ..LoadReport::default()
        };
        let json = report.to_json();
        for key in [
            "sent",
            "acked",
            "delivered",
            "delivered_per_s",
            "lost",
            "duration_s",
            "p50_us",
            "p99_us",
            "p999_us",
            "bench_cpu_pct",
            "relay_cpu_pct",
            "relay_rss_kib",
            "error",
        ] {
            assert!(json.get(key).is_some(), "{key} missing");
        }
        assert_eq!(json["lost"], 5);
        assert_eq!(json["delivered_per_s"], 7.5);
        assert_eq!(json["error"], "boom");
        assert!(report.to_text().contains("error: boom"));
        assert!(json.to_string().lines().count() == 1);
    }
}

//! How `bench` prints: a table with one row per batch (connections,
//! seconds, jobs per second, latency percentiles, outcomes), each printed
//! as soon as its batch ends, and the client's protocol cost at the end;
//! with `--json`, one object per row instead.

use kairoi_std::OutcomeKind;
use serde_json::Value;

use crate::bench::Row;
use crate::outcome::{Output, Report};
use crate::servers::Servers;

/// The column titles; the numbers are right-aligned under them.
const COLUMNS: [&str; 8] = [
    "connections",
    "seconds",
    "jobs/s",
    "p50 ms",
    "p90 ms",
    "p99 ms",
    "p99.9 ms",
    "max ms",
];

/// The width of each numeric column.
const WIDTHS: [usize; 8] = [11, 9, 10, 9, 9, 9, 9, 9];

/// The table being printed.
pub struct Table {
    out: Output,
    /// The first line, printed before the first row.
    title: String,
    rows: usize,
}

impl Table {
    /// A table of batches of `jobs` jobs against `servers`.
    pub fn new(out: Output, jobs: usize, servers: &Servers) -> Table {
        let over = match servers {
            Servers::One(addr) => format!("to {addr}"),
            Servers::Named(named) if named.len() == 1 => {
                format!("to server {} ({})", named[0].name, named[0].addr)
            }
            Servers::Named(named) => format!(
                "over {} servers ({}), the connections to each",
                named.len(),
                named
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let title = format!(
            "bench: {jobs} SET per batch {over}; latency: each request's, \
             from when the batch took it to its outcome"
        );
        Table {
            out,
            title,
            rows: 0,
        }
    }

    /// Prints one row (with `--json`, `json` instead), and over several
    /// servers a line per server under it.
    pub fn row(&mut self, row: &Row, json: Value) {
        let mut human = String::new();
        if self.rows == 0 {
            human.push_str(&self.title);
            human.push('\n');
            human.push_str(&header());
            human.push('\n');
        }
        self.rows += 1;
        human.push_str(&cells(row));
        if let Some(by) = &row.by_server {
            for line in by.lines() {
                human.push('\n');
                human.push_str(&line);
            }
        }
        self.out.info(human, json);
    }

    /// The line after the rows: the client's protocol cost,
    /// `per_request` nanoseconds (in the JSON rows already).
    pub fn end(&self, per_request: f64) {
        if !self.out.json && !self.out.quiet && self.rows > 0 {
            println!(
                "client protocol cost: {per_request:.0} ns per request \
                 (building, encoding and decoding in memory, no I/O)"
            );
        }
    }
}

/// The titles of the columns, aligned as [`cells`] aligns the values.
pub fn header() -> String {
    let mut line = String::new();
    for (title, width) in COLUMNS.iter().zip(WIDTHS) {
        line.push_str(&format!("{title:>width$}  "));
    }
    line.push_str("outcomes");
    line
}

/// A row's values under [`header`]: the latencies in milliseconds (`-`
/// when no request was recorded), then the outcomes that happened.
pub fn cells(row: &Row) -> String {
    let latency = row.latency;
    let ms = |micros: u64| match latency.count {
        0 => "-".to_owned(),
        _ => format!("{:.3}", micros as f64 / 1000.0),
    };
    let [p50, p90, p99, p99_9, max] = latency.values().map(ms);
    let values = [
        row.connections.to_string(),
        format!("{:.3}", row.elapsed.as_secs_f64()),
        format!("{:.0}", row.rate),
        p50,
        p90,
        p99,
        p99_9,
        max,
    ];
    let mut line = String::new();
    for (value, width) in values.iter().zip(WIDTHS) {
        line.push_str(&format!("{value:>width$}  "));
    }
    line.push_str(&outcomes(&row.stats.requests));
    line
}

/// The outcomes that happened, `2990 ok, 10 not sent`; `nothing sent`
/// for none.
fn outcomes(tally: &kairoi_std::Tally) -> String {
    let parts: Vec<String> = OutcomeKind::ALL
        .into_iter()
        .filter(|&kind| tally.get(kind) > 0)
        .map(|kind| format!("{} {}", tally.get(kind), kind.label()))
        .collect();
    match parts.is_empty() {
        true => "nothing sent".to_owned(),
        false => parts.join(", "),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use kairoi_std::stats::Stats;

    use super::*;
    use crate::latency::Percentiles;

    #[test]
    fn a_row_lines_up_with_the_header() {
        let mut stats = Stats::default();
        stats.requests.ok = 2990;
        stats.requests.not_sent = 10;
        let row = Row {
            connections: 4,
            elapsed: Duration::from_millis(250),
            rate: 12_000.0,
            latency: Percentiles {
                count: 3000,
                p50: 7_950,
                p90: 8_100,
                p99: 9_020,
                p99_9: 10_500,
                max: 11_200,
            },
            stats,
            by_server: None,
        };
        let (header, line) = (header(), cells(&row));
        assert_eq!(
            header,
            "connections    seconds      jobs/s     p50 ms     p90 ms     p99 ms   p99.9 ms     max ms  outcomes"
        );
        assert_eq!(
            line,
            "          4      0.250       12000      7.950      8.100      9.020     10.500     11.200  2990 ok, 10 not sent"
        );
        assert_eq!(header.find("outcomes"), line.find("2990"));
        let empty = Row {
            latency: Percentiles::default(),
            stats: Stats::default(),
            ..row
        };
        let line = cells(&empty);
        assert!(line.ends_with("-  nothing sent"), "{line}");
    }
}

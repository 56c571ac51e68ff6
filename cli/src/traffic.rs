//! What a client's connections did, from its stats snapshot: connections
//! made, failed attempts, resends and bytes, as the line under a summary
//! and as JSON fields.

use kairoi_std::stats::ServerStats;
use serde_json::{Map, Value, json};

use crate::by_server::ByServer;
use crate::outcome::count;

/// `connections: 4 made, 0 failed attempts; 1.2 MB written, 310.5 kB
/// read`, with `; 12 resent` when the retry policy resent requests, and
/// over several servers where the attempts failed (`5 failed attempts
/// (5 to beta)`).
pub fn line(total: &ServerStats, by_server: Option<&ByServer>) -> String {
    let failed_on = by_server
        .and_then(ByServer::failed_attempts_on)
        .map(|on| format!(" ({on})"))
        .unwrap_or_default();
    let mut line = format!(
        "connections: {} made, {}{failed_on}; {} written, {} read",
        total.connects,
        count(total.connect_failures, "failed attempt", "failed attempts"),
        bytes(total.bytes_written),
        bytes(total.bytes_read),
    );
    if total.resends > 0 {
        line.push_str(&format!("; {} resent", total.resends));
    }
    line
}

/// The same counts as JSON fields: `connects`, `connect_failures`,
/// `resends`, `bytes_written`, `bytes_read`.
pub fn json(stats: &ServerStats) -> Map<String, Value> {
    let fields = json!({
        "connects": stats.connects,
        "connect_failures": stats.connect_failures,
        "resends": stats.resends,
        "bytes_written": stats.bytes_written,
        "bytes_read": stats.bytes_read,
    });
    match fields {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// Adds the fields of [`json()`] to the object `to`.
pub fn add_json(to: &mut Value, stats: &ServerStats) {
    if let Value::Object(to) = to {
        to.extend(json(stats));
    }
}

/// A byte count for people, in decimal units: `512 bytes`, `310.5 kB`,
/// `1.2 MB`, `3.4 GB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [(f64, &str); 3] = [(1e9, "GB"), (1e6, "MB"), (1e3, "kB")];
    let value = n as f64;
    for (size, unit) in UNITS {
        if value >= size {
            return format!("{:.1} {unit}", value / size);
        }
    }
    count(n, "byte", "bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_in_decimal_units() {
        assert_eq!(bytes(0), "0 bytes");
        assert_eq!(bytes(1), "1 byte");
        assert_eq!(bytes(999), "999 bytes");
        assert_eq!(bytes(310_500), "310.5 kB");
        assert_eq!(bytes(1_234_567), "1.2 MB");
        assert_eq!(bytes(3_400_000_000), "3.4 GB");
    }

    #[test]
    fn the_line_counts_connections_bytes_and_resends() {
        let mut total = ServerStats::default();
        total.connects = 4;
        total.bytes_written = 1_200_000;
        total.bytes_read = 300_000;
        assert_eq!(
            line(&total, None),
            "connections: 4 made, 0 failed attempts; 1.2 MB written, 300.0 kB read"
        );
        total.connect_failures = 1;
        total.resends = 3;
        assert_eq!(
            line(&total, None),
            "connections: 4 made, 1 failed attempt; 1.2 MB written, 300.0 kB read; 3 resent"
        );
        let fields = json(&total);
        assert_eq!(fields["connects"], 4);
        assert_eq!(fields["connect_failures"], 1);
        assert_eq!(fields["bytes_read"], 300_000);
    }
}

//! The outcomes of a batch over several servers, by server, from the
//! client's stats snapshot: each job counted on the server it was placed
//! on, for the summary's line per server and its `servers` object in
//! JSON.

use kairoi_std::OutcomeKind;
use kairoi_std::stats::{ServerStats, Stats};
use serde_json::{Map, Value};

use crate::outcome::{summary_line, tally_json};
use crate::servers::{Named, Servers};
use crate::traffic;

/// Each server's counters, in the order the servers were given.
#[derive(Debug)]
pub struct ByServer {
    servers: Vec<(Named, ServerStats)>,
}

impl ByServer {
    /// The counters of `servers` in the snapshot `stats`, when jobs are
    /// placed among several of them; `None` otherwise (the summary is
    /// then the total alone). A server is found in the snapshot by its
    /// name; one missing there counts nothing.
    pub fn new(servers: &Servers, stats: &Stats) -> Option<ByServer> {
        if !servers.several() {
            return None;
        }
        let servers = servers
            .named()
            .iter()
            .map(|server| {
                let counts = stats
                    .servers
                    .iter()
                    .find(|s| s.name.as_deref() == Some(server.name.as_str()))
                    .cloned()
                    .unwrap_or_default();
                (server.clone(), counts)
            })
            .collect();
        Some(ByServer { servers })
    }

    /// Each server with its counters.
    fn each(&self) -> impl Iterator<Item = (&Named, &ServerStats)> {
        self.servers.iter().map(|(server, stats)| (server, stats))
    }

    /// A line per server, indented under the summary:
    /// `  server alpha (10.0.0.1:5678): 3 jobs: 3 ok, 0 rejected, ...`.
    pub fn lines(&self) -> Vec<String> {
        self.each()
            .map(|(server, stats)| {
                format!(
                    "  server {} ({}): {}",
                    server.name,
                    server.addr,
                    summary_line(&stats.requests)
                )
            })
            .collect()
    }

    /// `{"alpha": {"addr": "10.0.0.1:5678", "jobs": 3, "ok": 3, ...,
    /// "connects": 1, ...}, ...}`: each server's outcomes and what its
    /// connections did ([`traffic::json`]).
    pub fn json(&self) -> Value {
        let mut servers = Map::new();
        for (server, stats) in self.each() {
            let mut entry = tally_json(&stats.requests);
            entry["addr"] = server.addr.clone().into();
            traffic::add_json(&mut entry, stats);
            servers.insert(server.name.clone(), entry);
        }
        Value::Object(servers)
    }

    /// The servers on which some jobs ended one of `kinds`, with how
    /// many: `312 on beta, 4 on gamma`; `None` when there are none.
    pub fn on_servers(&self, kinds: &[OutcomeKind]) -> Option<String> {
        let parts: Vec<String> = self
            .each()
            .map(|(server, stats)| {
                let n: u64 = kinds.iter().map(|&k| stats.requests.get(k)).sum();
                (server, n)
            })
            .filter(|&(_, n)| n > 0)
            .map(|(server, n)| format!("{n} on {}", server.name))
            .collect();
        (!parts.is_empty()).then(|| parts.join(", "))
    }

    /// The servers to which connection attempts failed, with how many:
    /// `5 to beta`; `None` when none did.
    pub fn failed_attempts_on(&self) -> Option<String> {
        let parts: Vec<String> = self
            .each()
            .filter(|(_, stats)| stats.connect_failures > 0)
            .map(|(server, stats)| format!("{} to {}", stats.connect_failures, server.name))
            .collect();
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A snapshot of servers `(name, ok, not sent, failed attempts)`.
    fn snapshot(servers: &[(&str, u64, u64, u64)]) -> Stats {
        let mut stats = Stats::default();
        for &(name, ok, not_sent, failures) in servers {
            let mut server = ServerStats::default();
            server.name = Some(name.into());
            server.requests.ok = ok;
            server.requests.not_sent = not_sent;
            server.connect_failures = failures;
            stats.servers.push(server);
        }
        stats
    }

    #[test]
    fn each_server_counts_from_the_snapshot_by_name() {
        let servers = Servers::parse(&["kairoi-a=h:1,kairoi-b=h:2,kairoi-c=h:3"]).unwrap();
        // In another order, one missing: found by name, the missing one
        // counts nothing.
        let stats = snapshot(&[("kairoi-c", 1, 1, 2), ("kairoi-a", 0, 0, 0)]);
        let by = ByServer::new(&servers, &stats).unwrap();
        let lines = by.lines();
        assert_eq!(lines.len(), 3);
        assert!(
            lines[0].starts_with("  server kairoi-a (h:1): 0 jobs: "),
            "{lines:?}"
        );
        assert!(
            lines[2].starts_with("  server kairoi-c (h:3): 2 jobs: 1 ok, 0 rejected, 1 not sent"),
            "{lines:?}"
        );
        let json = by.json();
        assert_eq!(json["kairoi-c"]["not_sent"], 1);
        assert_eq!(json["kairoi-c"]["addr"], "h:3");
        assert_eq!(json["kairoi-c"]["connect_failures"], 2);
        assert_eq!(json["kairoi-a"]["jobs"], 0);
        assert_eq!(json["kairoi-b"]["jobs"], 0);
        assert_eq!(
            by.on_servers(&[OutcomeKind::NotSent, OutcomeKind::Ok])
                .as_deref(),
            Some("2 on kairoi-c")
        );
        assert_eq!(by.on_servers(&[OutcomeKind::Rejected]), None);
        assert_eq!(by.failed_attempts_on().as_deref(), Some("2 to kairoi-c"));
        // One server, or one named server: no line per server.
        let one = snapshot(&[("a", 1, 0, 0)]);
        assert!(ByServer::new(&Servers::parse(&["h:1"]).unwrap(), &one).is_none());
        assert!(ByServer::new(&Servers::parse(&["a=h:1"]).unwrap(), &one).is_none());
    }
}

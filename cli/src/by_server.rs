//! The outcomes of a batch over several servers, by server: each job
//! counted on the server it is placed on, for the summary's line per
//! server and its `servers` object in JSON.

use kairoi_std::{OutcomeKind, Tally};
use serde_json::{Map, Value};

use crate::outcome::{count, summary_line, tally_json};
use crate::servers::{Named, Servers};

/// A [`Tally`] per server, in the order the servers were given.
#[derive(Debug)]
pub struct ByServer {
    servers: Servers,
    tallies: Vec<Tally>,
}

impl ByServer {
    /// The tallies of `servers` when jobs are placed among several of
    /// them; `None` otherwise (the summary is then the total alone).
    pub fn new(servers: &Servers) -> Option<ByServer> {
        servers.several().then(|| ByServer {
            servers: servers.clone(),
            tallies: vec![Tally::default(); servers.named().len()],
        })
    }

    /// Counts the job `id`, which ended `kind`, on its server.
    pub fn add(&mut self, id: &str, kind: OutcomeKind) {
        if let Some(tally) = self
            .servers
            .place(id)
            .and_then(|at| self.tallies.get_mut(at))
        {
            tally.add(kind);
        }
    }

    /// Each server with its tally.
    fn each(&self) -> impl Iterator<Item = (&Named, &Tally)> {
        self.servers.named().iter().zip(&self.tallies)
    }

    /// A line per server, indented under the summary:
    /// `  server alpha (10.0.0.1:5678): 3 jobs: 3 ok, 0 rejected, ...`.
    pub fn lines(&self) -> Vec<String> {
        self.each()
            .map(|(server, tally)| {
                format!(
                    "  server {} ({}): {}",
                    server.name,
                    server.addr,
                    summary_line(tally)
                )
            })
            .collect()
    }

    /// `{"alpha": {"addr": "10.0.0.1:5678", "jobs": 3, "ok": 3, ...}, ...}`.
    pub fn json(&self) -> Value {
        let mut servers = Map::new();
        for (server, tally) in self.each() {
            let mut entry = tally_json(tally);
            entry["addr"] = server.addr.clone().into();
            servers.insert(server.name.clone(), entry);
        }
        Value::Object(servers)
    }

    /// The servers on which some jobs ended one of `kinds`, with how
    /// many: `312 on beta, 4 on gamma`; `None` when there are none.
    pub fn on_servers(&self, kinds: &[OutcomeKind]) -> Option<String> {
        let parts: Vec<String> = self
            .each()
            .map(|(server, tally)| (server, kinds.iter().map(|&k| tally.get(k)).sum::<u64>()))
            .filter(|&(_, n)| n > 0)
            .map(|(server, n)| format!("{n} on {}", server.name))
            .collect();
        (!parts.is_empty()).then(|| parts.join(", "))
    }

    /// How many servers.
    pub fn len(&self) -> usize {
        self.tallies.len()
    }

    /// `3 servers`, for the lines that say what a batch went over.
    pub fn servers_word(&self) -> String {
        count(self.len() as u64, "server", "servers")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_count_on_their_placed_server() {
        let servers = Servers::parse(&["kairoi-a=h:1,kairoi-b=h:2,kairoi-c=h:3"]).unwrap();
        let mut by = ByServer::new(&servers).unwrap();
        by.add("app.mail.42", OutcomeKind::NotSent);
        by.add("app.mail.42", OutcomeKind::Ok);
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
        assert_eq!(json["kairoi-a"]["jobs"], 0);
        assert_eq!(
            by.on_servers(&[OutcomeKind::NotSent, OutcomeKind::Ok])
                .as_deref(),
            Some("2 on kairoi-c")
        );
        assert_eq!(by.on_servers(&[OutcomeKind::Rejected]), None);
        // One server, or one named server: no line per server.
        assert!(ByServer::new(&Servers::parse(&["h:1"]).unwrap()).is_none());
        assert!(ByServer::new(&Servers::parse(&["a=h:1"]).unwrap()).is_none());
    }
}

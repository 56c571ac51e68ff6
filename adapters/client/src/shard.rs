//! Several servers as one: the [`Shards`] of a client, and where each
//! request goes ([`Route`]).
//!
//! A job goes to one server, chosen from its identifier by the core's
//! rendezvous placement ([`kairoi_proto::placement`]) over the servers'
//! names; a rule goes to every server, since any job can land on any of
//! them. Nothing ever moves to another server when one is down: a job on
//! two servers would fire twice.

use std::collections::HashSet;
use std::io;
use std::sync::Arc;

use kairoi_proto::Instruction;
use kairoi_proto::placement;

use crate::mux::Payload;
use crate::{Cause, ServerAddr};

/// Where one request goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// To the server at this position (a job, or every request of a
    /// client with one server).
    One(usize),
    /// To every server (a rule, or a raw body that is not a `SET`).
    All,
}

/// The servers of a client, by name, in the order the builder gave them.
///
/// A client with one server has no name for it: its requests are not
/// placed, and its errors name no server.
#[derive(Debug, Clone, Default)]
pub struct Shards {
    names: Arc<[Arc<str>]>,
    /// The names' bytes, as placement hashes them.
    keys: Arc<[Box<[u8]>]>,
}

impl Shards {
    /// The names of several servers. Each name must be non-empty and
    /// appear once: placement hashes the name, so two servers with one
    /// name could not be told apart.
    pub fn named<N: AsRef<str>>(names: impl IntoIterator<Item = N>) -> io::Result<Shards> {
        let names: Vec<Arc<str>> = names.into_iter().map(|n| Arc::from(n.as_ref())).collect();
        let invalid = |message: String| io::Error::new(io::ErrorKind::InvalidInput, message);
        if names.is_empty() {
            return Err(invalid(
                "no server given: at least one is needed".to_owned(),
            ));
        }
        let mut seen = HashSet::new();
        for name in &names {
            if name.is_empty() {
                return Err(invalid(
                    "a server's name is empty: name every server".to_owned(),
                ));
            }
            if !seen.insert(name.clone()) {
                return Err(invalid(format!(
                    "the server name {name:?} is given twice: each server needs a name of its own"
                )));
            }
        }
        let keys = names.iter().map(|n| Box::from(n.as_bytes())).collect();
        Ok(Shards {
            names: names.into(),
            keys,
        })
    }

    /// Splits `(name, address)` pairs into the shards and the addresses.
    pub fn split<N, A>(
        servers: impl IntoIterator<Item = (N, A)>,
    ) -> io::Result<(Shards, Vec<ServerAddr>)>
    where
        N: AsRef<str>,
        A: Into<ServerAddr>,
    {
        let (names, addrs): (Vec<N>, Vec<ServerAddr>) =
            servers.into_iter().map(|(n, a)| (n, a.into())).unzip();
        Ok((Shards::named(names)?, addrs))
    }

    /// How many servers: 1 for a client with one unnamed server.
    pub fn len(&self) -> usize {
        self.names.len().max(1)
    }

    /// Whether the client has one unnamed server (never empty otherwise).
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The name of the server at `index`, if servers are named.
    pub fn name(&self, index: usize) -> Option<&Arc<str>> {
        self.names.get(index)
    }

    /// The names, in the builder's order (empty for one unnamed server).
    pub fn names(&self) -> &[Arc<str>] {
        &self.names
    }

    /// The server a job identifier goes to.
    pub fn place(&self, job: &[u8]) -> usize {
        match self.names.len() {
            0 | 1 => 0,
            _ => placement::place(job, &self.keys).unwrap_or(0),
        }
    }

    /// Where a request goes: a `SET` to its job's server, anything else
    /// to every server.
    pub fn route(&self, body: &Payload) -> Route {
        if self.names.len() < 2 {
            return Route::One(0);
        }
        match body {
            Payload::Typed(Instruction::Set { job, .. }) => Route::One(self.place(job.as_bytes())),
            Payload::Raw(arguments) => match arguments.as_slice() {
                [instruction, job, ..] if instruction == "SET" => {
                    Route::One(self.place(job.as_bytes()))
                }
                _ => Route::All,
            },
            _ => Route::All,
        }
    }
}

/// What connecting a client found, server by server: a client of one
/// server fails when it cannot reach it; a client of several starts when
/// it reaches at least one, and the others start down (their requests
/// wait for them as for a server that went away, and fail naming them).
#[derive(Debug)]
pub struct Startup<'a> {
    shards: &'a Shards,
    failed: Vec<(usize, Cause)>,
}

impl<'a> Startup<'a> {
    /// Nothing tried yet.
    pub fn new(shards: &'a Shards) -> Self {
        Startup {
            shards,
            failed: Vec::new(),
        }
    }

    /// The server at `server` could not be reached.
    pub fn failed(&mut self, server: usize, cause: Cause) {
        self.failed.push((server, cause));
    }

    /// Whether the server at `server` could not be reached.
    pub fn is_down(&self, server: usize) -> bool {
        self.failed.iter().any(|(s, _)| *s == server)
    }

    /// Whether the client starts: an error when its only server, or every
    /// one of its servers, could not be reached (naming each).
    pub fn finish(self) -> io::Result<()> {
        let Some((_, first)) = self.failed.first() else {
            return Ok(());
        };
        if self.shards.is_empty() {
            return Err(io::Error::from(first.clone()));
        }
        let name = |server: usize| self.shards.name(server).map_or("?", |n| n.as_ref());
        if self.failed.len() < self.shards.len() {
            for (server, cause) in &self.failed {
                tracing::warn!(
                    server = name(*server),
                    %cause,
                    "server unreachable when the client started: its requests wait for it"
                );
            }
            return Ok(());
        }
        let each: Vec<String> = self
            .failed
            .iter()
            .map(|(server, cause)| format!("{}: {cause}", name(*server)))
            .collect();
        Err(io::Error::new(
            first.kind(),
            format!("no server could be reached: {}", each.join("; ")),
        ))
    }
}

#[cfg(test)]
mod tests {
    use kairoi_proto::{DateTime, Runner};

    use super::*;

    #[test]
    fn jobs_are_placed_and_rules_go_everywhere() {
        let shards = Shards::named(["a", "b", "c"]).unwrap();
        let set = |job: &str| Payload::Typed(Instruction::set(job, DateTime::UNIX_EPOCH));
        for n in 0..50 {
            let job = format!("job-{n}");
            let at = shards.place(job.as_bytes());
            assert_eq!(shards.route(&set(&job)), Route::One(at));
            let raw = Payload::Raw(vec!["SET".into(), job, "2030-01-01 00:00:00".into()]);
            assert_eq!(shards.route(&raw), Route::One(at), "raw SET by its job");
        }
        let rule = Instruction::rule_set("r", "p", Runner::shell("true"));
        assert_eq!(shards.route(&Payload::Typed(rule)), Route::All);
        assert_eq!(shards.route(&Payload::Raw(vec!["RULE".into()])), Route::All);
        let one = Shards::default();
        assert_eq!((one.len(), one.route(&set("x"))), (1, Route::One(0)));
    }

    #[test]
    fn a_client_of_several_starts_while_one_server_is_down() {
        let refused = || Cause::connect("127.0.0.1:1", io::ErrorKind::ConnectionRefused.into());
        let shards = Shards::named(["a", "b"]).unwrap();
        let mut one_down = Startup::new(&shards);
        one_down.failed(1, refused());
        assert!(one_down.is_down(1) && !one_down.is_down(0));
        assert!(one_down.finish().is_ok());
        let mut all_down = Startup::new(&shards);
        all_down.failed(0, refused());
        all_down.failed(1, refused());
        let e = all_down.finish().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
        assert!(
            e.to_string()
                .starts_with("no server could be reached: a: cannot connect"),
            "{e}"
        );
        let single = Shards::default();
        let mut down = Startup::new(&single);
        down.failed(0, refused());
        assert!(down.finish().is_err());
    }

    #[test]
    fn names_must_be_given_once_and_not_empty() {
        let e = Shards::named(["a", "b", "a"]).unwrap_err();
        assert!(e.to_string().contains("\"a\" is given twice"), "{e}");
        assert!(Shards::named(["a", ""]).is_err());
        assert!(Shards::named(Vec::<String>::new()).is_err());
    }
}

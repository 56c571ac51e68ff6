//! The servers a command talks to, from `--addr` (or `KAIROI_ADDR`): one
//! server, `host:port`, whose jobs are not placed; or several, each
//! `name=host:port`, among which each job goes to one server chosen from
//! its identifier and the servers' names ([`kairoi_proto::placement`],
//! as every client of the workspace places them).

use std::collections::HashSet;
use std::io;

use kairoi_proto::placement;
use kairoi_std::Client;
use kairoi_std::ClientBuilder;

use crate::args::check_addr;

/// What a list of servers may be, for error messages.
pub const EXPECTED_LIST: &str = "expected one host:port, or named servers \
     name=host:port (repeat --addr, or separate them with commas), such as \
     alpha=10.0.0.1:5678,beta=10.0.0.2:5678";

/// One server of a list of several: its name, which placement hashes,
/// and its address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    /// The name: what decides which jobs the server holds.
    pub name: String,
    /// The address, `host:port`.
    pub addr: String,
}

/// The servers of a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Servers {
    /// One server with no name: every request goes to it.
    One(String),
    /// Named servers, in the order given; a job goes to one of them.
    Named(Vec<Named>),
}

impl Servers {
    /// Reads the values of `--addr` (or the one of `KAIROI_ADDR`): one
    /// `host:port`, or servers `name=host:port`, given as separate
    /// values or separated by commas. White space around each entry, name
    /// and address is ignored. The error names the value at fault and
    /// what was expected: an entry that is empty, a name that is empty or
    /// given twice, named and unnamed entries mixed, several servers
    /// without names, or an address that is not `host:port`.
    pub fn parse<S: AsRef<str>>(values: &[S]) -> Result<Servers, String> {
        let entries: Vec<&str> = values
            .iter()
            .flat_map(|value| value.as_ref().split(','))
            .map(str::trim)
            .collect();
        if values.is_empty() {
            return Err(format!("no server given: {EXPECTED_LIST}"));
        }
        if let [single] = entries.as_slice() {
            if !single.contains('=') {
                check_addr(single)?;
                return Ok(Servers::One((*single).to_owned()));
            }
        }
        let listed = || {
            values
                .iter()
                .map(AsRef::as_ref)
                .collect::<Vec<_>>()
                .join(",")
        };
        let mut named = Vec::with_capacity(entries.len());
        let mut seen = HashSet::new();
        for entry in &entries {
            if entry.is_empty() {
                return Err(format!(
                    "an empty entry in the list of servers {:?}: {EXPECTED_LIST}",
                    listed()
                ));
            }
            let Some((name, addr)) = entry.split_once('=') else {
                return Err(format!(
                    "{entry:?} has no name, and a list of several servers needs one for each: \
                     name=host:port, such as alpha={entry}; {EXPECTED_LIST}"
                ));
            };
            let (name, addr) = (name.trim(), addr.trim());
            if name.is_empty() {
                return Err(format!(
                    "{entry:?}: the name before `=` is empty; {EXPECTED_LIST}"
                ));
            }
            if !seen.insert(name) {
                return Err(format!(
                    "the server name {name:?} is given twice: each server needs a name of its own, \
                     since the name decides which jobs it holds"
                ));
            }
            check_addr(addr).map_err(|e| format!("server {name}: {e}"))?;
            named.push(Named {
                name: name.to_owned(),
                addr: addr.to_owned(),
            });
        }
        Ok(Servers::Named(named))
    }

    /// The named servers, in the order given (none for one unnamed
    /// server).
    pub fn named(&self) -> &[Named] {
        match self {
            Servers::One(_) => &[],
            Servers::Named(named) => named,
        }
    }

    /// Whether jobs are placed among several servers: two or more named
    /// ones. The summaries then give a line per server.
    pub fn several(&self) -> bool {
        self.named().len() > 1
    }

    /// The position of the server the job `id` goes to among
    /// [`Servers::named`], as the clients place it; `None` for one
    /// unnamed server.
    pub fn place(&self, id: &str) -> Option<usize> {
        let names: Vec<&[u8]> = self.named().iter().map(|s| s.name.as_bytes()).collect();
        placement::place(id.as_bytes(), &names)
    }

    /// Connects `builder` to the servers: `connect` for one unnamed
    /// server, `connect_servers` for named ones. The error of a server
    /// that cannot be reached names it.
    pub fn connect(&self, builder: ClientBuilder) -> io::Result<Client> {
        match self {
            Servers::One(addr) => builder.connect(addr.as_str()),
            Servers::Named(named) => {
                builder.connect_servers(named.iter().map(|s| (s.name.as_str(), s.addr.as_str())))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(pairs: &[(&str, &str)]) -> Servers {
        Servers::Named(
            pairs
                .iter()
                .map(|(name, addr)| Named {
                    name: (*name).to_owned(),
                    addr: (*addr).to_owned(),
                })
                .collect(),
        )
    }

    #[test]
    fn one_unnamed_server_or_named_servers() {
        assert_eq!(
            Servers::parse(&["127.0.0.1:5678"]),
            Ok(Servers::One("127.0.0.1:5678".into()))
        );
        let three = named(&[("a", "h:1"), ("b", "[::1]:2"), ("c", "h:3")]);
        assert_eq!(
            Servers::parse(&["a=h:1", "b=[::1]:2", "c=h:3"]),
            Ok(three.clone())
        );
        assert_eq!(
            Servers::parse(&["a=h:1, b = [::1]:2 ,c=h:3"]),
            Ok(three.clone())
        );
        assert_eq!(Servers::parse(&["a=h:1,b=[::1]:2", "c=h:3"]), Ok(three));
        // One named server is a list of one.
        assert_eq!(Servers::parse(&["a=h:1"]), Ok(named(&[("a", "h:1")])));
        assert!(!Servers::parse(&["a=h:1"]).unwrap().several());
    }

    #[test]
    fn bad_lists_name_the_value_and_what_was_expected() {
        let error = |values: &[&str]| Servers::parse(values).unwrap_err();
        let e = error(&["a=h:1", "h:2"]);
        assert!(
            e.contains("\"h:2\" has no name") && e.contains("alpha=h:2"),
            "{e}"
        );
        let e = error(&["h:1", "h:2"]);
        assert!(e.contains("\"h:1\" has no name"), "{e}");
        let e = error(&["=h:1", "b=h:2"]);
        assert!(e.contains("\"=h:1\": the name before `=` is empty"), "{e}");
        let e = error(&["a=h:1,b=h:2,a=h:3"]);
        assert!(e.contains("the server name \"a\" is given twice"), "{e}");
        let e = error(&["a=h:1,,b=h:2"]);
        assert!(
            e.contains("an empty entry") && e.contains("\"a=h:1,,b=h:2\""),
            "{e}"
        );
        let e = error(&["a=h:1,"]);
        assert!(e.contains("an empty entry"), "{e}");
        let e = error(&["a=localhost", "b=h:2"]);
        assert!(e.contains("server a: \"localhost\" has no port"), "{e}");
        let e = error(&["a=h:0"]);
        assert!(
            e.contains("server a:") && e.contains("from 1 to 65535"),
            "{e}"
        );
        let e = error(&[""]);
        assert!(e.contains("it is empty"), "{e}");
    }

    #[test]
    fn placement_is_the_clients_and_none_without_names() {
        let servers = Servers::parse(&["kairoi-a=h:1,kairoi-b=h:2,kairoi-c=h:3"]).unwrap();
        // The worked example of kairoi_proto::placement.
        assert_eq!(servers.place("app.mail.42"), Some(2));
        assert_eq!(Servers::One("h:1".into()).place("app.mail.42"), None);
    }
}

//! [`ServerAddr`]: where the server is, kept as the user gave it so that a
//! host name is resolved again on every reconnect.

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

/// The server's address, as given: resolved addresses are tried as they
/// are, a host name (`"kairoi.internal:5678"`) is resolved again before
/// each connection attempt, so that a server that comes back on a new
/// address (a restarted container) is found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerAddr {
    /// Addresses tried in order.
    Resolved(Vec<SocketAddr>),
    /// `host:port`, resolved before each attempt.
    Host(String),
}

impl ServerAddr {
    /// The host name to resolve, if any.
    pub fn host(&self) -> Option<&str> {
        match self {
            ServerAddr::Host(host) => Some(host),
            ServerAddr::Resolved(_) => None,
        }
    }

    /// Resolves with the blocking resolver of the standard library. An
    /// address that resolves to nothing is an error.
    pub fn resolve_blocking(&self) -> io::Result<Vec<SocketAddr>> {
        let addrs = match self {
            ServerAddr::Resolved(addrs) => addrs.clone(),
            ServerAddr::Host(host) => host.to_socket_addrs()?.collect(),
        };
        non_empty(self, addrs)
    }
}

/// `addrs`, or an error naming `addr` when there are none.
pub(crate) fn non_empty(addr: &ServerAddr, addrs: Vec<SocketAddr>) -> io::Result<Vec<SocketAddr>> {
    if addrs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{addr} resolved to no address"),
        ));
    }
    Ok(addrs)
}

impl fmt::Display for ServerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerAddr::Host(host) => f.write_str(host),
            ServerAddr::Resolved(addrs) => match addrs.as_slice() {
                [one] => write!(f, "{one}"),
                many => {
                    let names: Vec<String> = many.iter().map(ToString::to_string).collect();
                    write!(f, "[{}]", names.join(", "))
                }
            },
        }
    }
}

impl From<SocketAddr> for ServerAddr {
    fn from(addr: SocketAddr) -> Self {
        ServerAddr::Resolved(vec![addr])
    }
}

impl From<&SocketAddr> for ServerAddr {
    fn from(addr: &SocketAddr) -> Self {
        ServerAddr::Resolved(vec![*addr])
    }
}

impl From<&[SocketAddr]> for ServerAddr {
    fn from(addrs: &[SocketAddr]) -> Self {
        ServerAddr::Resolved(addrs.to_vec())
    }
}

impl<const N: usize> From<[SocketAddr; N]> for ServerAddr {
    fn from(addrs: [SocketAddr; N]) -> Self {
        ServerAddr::Resolved(addrs.to_vec())
    }
}

impl From<Vec<SocketAddr>> for ServerAddr {
    fn from(addrs: Vec<SocketAddr>) -> Self {
        ServerAddr::Resolved(addrs)
    }
}

impl From<(IpAddr, u16)> for ServerAddr {
    fn from(addr: (IpAddr, u16)) -> Self {
        ServerAddr::Resolved(vec![addr.into()])
    }
}

/// `"host:port"`; a literal IP address is parsed, not resolved.
impl From<&str> for ServerAddr {
    fn from(addr: &str) -> Self {
        match addr.parse::<SocketAddr>() {
            Ok(ip) => ip.into(),
            Err(_) => ServerAddr::Host(addr.to_owned()),
        }
    }
}

impl From<String> for ServerAddr {
    fn from(addr: String) -> Self {
        addr.as_str().into()
    }
}

impl From<&String> for ServerAddr {
    fn from(addr: &String) -> Self {
        addr.as_str().into()
    }
}

impl From<(&str, u16)> for ServerAddr {
    fn from((host, port): (&str, u16)) -> Self {
        match host.parse::<IpAddr>() {
            Ok(ip) => (ip, port).into(),
            Err(_) => ServerAddr::Host(format!("{host}:{port}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_parsed_and_names_kept() {
        let ip: SocketAddr = "127.0.0.1:5678".parse().unwrap();
        assert_eq!(
            ServerAddr::from("127.0.0.1:5678"),
            ServerAddr::Resolved(vec![ip])
        );
        assert_eq!(
            ServerAddr::from(("127.0.0.1", 5678)),
            ServerAddr::Resolved(vec![ip])
        );
        let host = ServerAddr::from(("localhost", 5678));
        assert_eq!(host.host(), Some("localhost:5678"));
        assert!(!host.resolve_blocking().unwrap().is_empty());
        assert_eq!(
            ServerAddr::from(vec![ip, ip]).to_string(),
            "[127.0.0.1:5678, 127.0.0.1:5678]"
        );
        let none = ServerAddr::Resolved(Vec::new())
            .resolve_blocking()
            .unwrap_err();
        assert!(
            none.to_string().contains("resolved to no address"),
            "{none}"
        );
    }
}

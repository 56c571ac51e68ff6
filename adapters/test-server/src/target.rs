//! [`Target`]: the Kairoi server a program should talk to, from
//! `KAIROI_ADDR` or an embedded [`TestServer`].

use std::fmt;
use std::io;

use crate::TestServer;

/// The server a program should use: the Kairoi server at `KAIROI_ADDR`
/// when that variable is set, otherwise a new embedded [`TestServer`],
/// which lives as long as the `Target`.
///
/// This is how every example of this workspace picks its server:
///
/// ```no_run
/// use kairoi_test_server::Target;
/// let target = Target::from_env()?;
/// println!("using {target}");
/// // Any KCP client connects to it: here a bare socket.
/// let socket = std::net::TcpStream::connect(target.addr())?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub enum Target {
    /// The address in `KAIROI_ADDR`.
    Env(String),
    /// `KAIROI_ADDR` is unset: an embedded test server.
    Embedded(TestServer),
}

impl Target {
    /// Reads `KAIROI_ADDR`, or starts a [`TestServer`] when it is unset.
    pub fn from_env() -> io::Result<Target> {
        match std::env::var("KAIROI_ADDR") {
            Ok(addr) => Ok(Target::Env(addr)),
            Err(_) => TestServer::start().map(Target::Embedded),
        }
    }

    /// The address to connect to.
    pub fn addr(&self) -> String {
        match self {
            Target::Env(addr) => addr.clone(),
            Target::Embedded(server) => server.addr().to_string(),
        }
    }

    /// The embedded server, to look at what it scheduled.
    pub fn embedded(&self) -> Option<&TestServer> {
        match self {
            Target::Env(_) => None,
            Target::Embedded(server) => Some(server),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Env(addr) => write!(f, "the Kairoi server at {addr} (KAIROI_ADDR)"),
            Target::Embedded(server) => write!(
                f,
                "an embedded TestServer at {} (KAIROI_ADDR is not set; jobs are recorded, not executed)",
                server.addr()
            ),
        }
    }
}

//! [`ClientBuilder`]: the settings of a blocking [`Client`].

use std::io;

use kairoi_client::shard::Shards;
use kairoi_client::{ServerAddr, Settings};

use super::Client;

/// Settings for a [`Client`], from [`Client::builder`]. The option names,
/// types and defaults are those of every client in this workspace
/// ([`Settings`]).
///
/// ```no_run
/// use std::time::Duration;
/// use kairoi_std::{Client, RetryPolicy};
///
/// let client = Client::builder()
///     .connect_timeout(Duration::from_secs(2))
///     .request_timeout(Duration::from_secs(5))
///     .window(4096)
///     .connections(4)
///     .retry(RetryPolicy::not_sent(2))
///     .connect("127.0.0.1:5678")?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct ClientBuilder {
    settings: Settings,
}

impl ClientBuilder {
    kairoi_client::builder_options!();

    /// Connects the first connection of the pool (the others connect
    /// when a batch needs them). `addr` is kept as given: a host name is
    /// resolved again before each reconnect.
    pub fn connect(self, addr: impl Into<ServerAddr>) -> io::Result<Client> {
        Client::open(Shards::default(), vec![addr.into()], self.settings)
    }

    /// Connects to several Kairoi servers as one, each given by a name
    /// and an address (the first connection of each; the others connect
    /// when a batch needs them): every option applies to each server
    /// (`connections` per server). A job goes to one server, chosen from
    /// its identifier and the servers' names
    /// ([`kairoi_proto::placement`]); a rule goes to every server. See
    /// [`Client`] for what happens when one is down.
    ///
    /// Fails when a name is empty or given twice, or when no server can
    /// be reached (naming each). A server that cannot be reached starts
    /// down: its jobs wait for it as for a server that went away, then
    /// fail naming it, and the others go on.
    pub fn connect_servers<N, A>(
        self,
        servers: impl IntoIterator<Item = (N, A)>,
    ) -> io::Result<Client>
    where
        N: AsRef<str>,
        A: Into<ServerAddr>,
    {
        let (shards, addrs) = Shards::split(servers)?;
        Client::open(shards, addrs, self.settings)
    }
}

//! [`ClientBuilder`]: the settings of an async [`Client`].

use std::io;

use super::{Client, Runtime};
use crate::shard::Shards;
use crate::{ServerAddr, Settings};

/// Settings of an async [`Client`], then [`ClientBuilder::connect`]. The
/// option names, types and defaults are those of every client in this
/// workspace ([`Settings`]).
#[derive(Debug, Clone)]
pub struct ClientBuilder<R> {
    pub(crate) rt: R,
    pub(crate) settings: Settings,
}

impl<R: Runtime + Default> Default for ClientBuilder<R> {
    fn default() -> Self {
        ClientBuilder::new(R::default())
    }
}

impl<R: Runtime> ClientBuilder<R> {
    /// The default settings on the runtime `rt`.
    pub fn new(rt: R) -> Self {
        ClientBuilder {
            rt,
            settings: Settings::default(),
        }
    }

    crate::builder_options!();

    /// Connects every connection of the pool. `addr` is kept as given: a
    /// host name (`"kairoi.internal:5678"`) is resolved again before each
    /// reconnect.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future abandons the attempts; connections they make
    /// are closed.
    pub async fn connect(self, addr: impl Into<ServerAddr>) -> io::Result<Client<R>> {
        Client::start(self, Shards::default(), vec![addr.into()]).await
    }

    /// Connects to several Kairoi servers as one, each given by a name
    /// and an address: every option applies to each server (`connections`
    /// per server). A job goes to one server, chosen from its identifier
    /// and the servers' names ([`kairoi_proto::placement`]); a rule goes to
    /// every server. See [`Client`] for what happens when one is down.
    ///
    /// Fails when a name is empty or given twice, or when no server can
    /// be reached (naming each). A server that cannot be reached starts
    /// down: its jobs wait for it as for a server that went away, then
    /// fail naming it, and the others go on.
    ///
    /// # Cancel safety
    ///
    /// As for [`ClientBuilder::connect`].
    pub async fn connect_servers<N, A>(
        self,
        servers: impl IntoIterator<Item = (N, A)>,
    ) -> io::Result<Client<R>>
    where
        N: AsRef<str>,
        A: Into<ServerAddr>,
    {
        let (shards, addrs) = Shards::split(servers)?;
        Client::start(self, shards, addrs).await
    }
}

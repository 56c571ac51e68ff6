//! [`ClientBuilder`]: the settings of a blocking [`Client`].

use std::io;

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
        Client::open(addr.into(), self.settings)
    }
}

//! [`ClientBuilder`]: connection settings and their defaults.

use std::io;
use std::time::Duration;

use kairoi_proto::Config;
use tokio::net::ToSocketAddrs;

use crate::Client;

pub use kairoi_proto::mux::RetryPolicy;

/// Settings of a [`Client`].
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// use std::time::Duration;
/// let client = kairoi_tokio::Client::builder()
///     .connections(4)
///     .request_timeout(Duration::from_secs(5))
///     .connect("127.0.0.1:5678")
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    pub(crate) config: Config,
    pub(crate) connect_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) close_timeout: Duration,
    pub(crate) connections: usize,
    pub(crate) nodelay: bool,
    pub(crate) backoff: (Duration, Duration),
    pub(crate) retry: RetryPolicy,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            config: Config::default().with_max_active(Self::DEFAULT_WINDOW),
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
            request_timeout: Self::DEFAULT_REQUEST_TIMEOUT,
            close_timeout: Self::DEFAULT_CLOSE_TIMEOUT,
            connections: 1,
            nodelay: true,
            backoff: (Self::DEFAULT_BACKOFF_MIN, Self::DEFAULT_BACKOFF_MAX),
            retry: RetryPolicy::default(),
        }
    }
}

impl ClientBuilder {
    /// Default of [`ClientBuilder::connect_timeout`]: 10 seconds.
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
    /// Default of [`ClientBuilder::request_timeout`]: 30 seconds.
    pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
    /// Default of [`ClientBuilder::close_timeout`]: 10 seconds.
    pub const DEFAULT_CLOSE_TIMEOUT: Duration = Duration::from_secs(10);
    /// Default first wait of [`ClientBuilder::reconnect_backoff`]: 100 ms.
    pub const DEFAULT_BACKOFF_MIN: Duration = Duration::from_millis(100);
    /// Default longest wait of [`ClientBuilder::reconnect_backoff`]: 5 seconds.
    pub const DEFAULT_BACKOFF_MAX: Duration = Duration::from_secs(5);
    /// Default of [`ClientBuilder::window`]: 1,024 requests.
    pub const DEFAULT_WINDOW: usize = 1024;

    /// The protocol limits of each connection (message size, arguments).
    /// The window is set with [`ClientBuilder::window`].
    pub fn config(mut self, config: Config) -> Self {
        self.config = config.with_max_active(self.config.max_active());
        self
    }

    /// How long one connection attempt may take, per address. Default:
    /// 10 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long a request may wait for its response, time spent waiting
    /// for room in the window included. Default: 30 s.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// How long [`Client::close`] waits for active requests. Default: 10 s.
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.close_timeout = timeout;
        self
    }

    /// The pipeline window: the most requests in flight at once on each
    /// connection. Default: 1,024.
    pub fn window(mut self, count: usize) -> Self {
        self.config = self.config.with_max_active(count);
        self
    }

    /// How many connections the client spreads requests over (at least 1).
    /// The reference server scales with connections. Default: 1.
    pub fn connections(mut self, count: usize) -> Self {
        self.connections = count.max(1);
        self
    }

    /// Whether `TCP_NODELAY` is set. Default: true.
    pub fn nodelay(mut self, nodelay: bool) -> Self {
        self.nodelay = nodelay;
        self
    }

    /// After a failed connection attempt, the next one waits `min`, then
    /// twice as long after each further failure, up to `max`.
    /// Default: 100 ms to 5 s.
    pub fn reconnect_backoff(mut self, min: Duration, max: Duration) -> Self {
        self.backoff = (min, max.max(min));
        self
    }

    /// Which failed requests are sent again. Default: none.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Connects every connection of the pool.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future closes the connections made so far.
    pub async fn connect(self, addr: impl ToSocketAddrs) -> io::Result<Client> {
        let addrs: Vec<_> = tokio::net::lookup_host(addr).await?.collect();
        if addrs.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "address resolved to nothing",
            ));
        }
        Client::start(self, addrs).await
    }
}

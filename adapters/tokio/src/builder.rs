//! [`Builder`]: connection settings and their defaults.

use std::io;
use std::time::Duration;

use kairoi_proto::Config;
use tokio::net::ToSocketAddrs;

use crate::Client;

/// Default [`Builder::connect_timeout`]: 5 s.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default [`Builder::request_timeout`]: 30 s.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Default [`Builder::close_timeout`]: 10 s.
pub const DEFAULT_CLOSE_TIMEOUT: Duration = Duration::from_secs(10);
/// Default first wait of [`Builder::reconnect_backoff`]: 100 ms.
pub const DEFAULT_BACKOFF_MIN: Duration = Duration::from_millis(100);
/// Default longest wait of [`Builder::reconnect_backoff`]: 5 s.
pub const DEFAULT_BACKOFF_MAX: Duration = Duration::from_secs(5);

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
pub struct Builder {
    pub(crate) config: Config,
    pub(crate) connect_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) close_timeout: Duration,
    pub(crate) connections: usize,
    pub(crate) nodelay: bool,
    pub(crate) backoff: (Duration, Duration),
    pub(crate) retry: RetryPolicy,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            config: Config::default(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            close_timeout: DEFAULT_CLOSE_TIMEOUT,
            connections: 1,
            nodelay: true,
            backoff: (DEFAULT_BACKOFF_MIN, DEFAULT_BACKOFF_MAX),
            retry: RetryPolicy::default(),
        }
    }
}

impl Builder {
    /// The protocol limits of each connection (message size, arguments).
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// How long one connection attempt may take. Default: 5 s.
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

    /// The most active requests per connection (the pipeline window).
    /// Default: 1,024.
    pub fn max_active(mut self, count: usize) -> Self {
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

//! [`ClientBuilder`]: timeouts, `TCP_NODELAY`, the pipeline window, limits
//! and the retry policy.

use std::io;
use std::net::ToSocketAddrs;
use std::time::Duration;

use kairoi_proto::Config;

use super::{Client, RetryPolicy};

/// The settings a [`Client`] keeps for its connections.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) connect_timeout: Option<Duration>,
    pub(crate) request_timeout: Option<Duration>,
    pub(crate) nodelay: bool,
    pub(crate) window: usize,
    pub(crate) config: Config,
    pub(crate) retry: RetryPolicy,
}

/// Settings for a [`Client`], from [`Client::builder`].
///
/// ```no_run
/// use std::time::Duration;
/// use kairoi_std::{Client, RetryPolicy};
///
/// let client = Client::builder()
///     .connect_timeout(Some(Duration::from_secs(2)))
///     .request_timeout(Some(Duration::from_secs(5)))
///     .window(4096)
///     .retry(RetryPolicy::not_sent(2))
///     .connect("127.0.0.1:5678")?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    settings: Settings,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            settings: Settings {
                connect_timeout: Some(Self::DEFAULT_CONNECT_TIMEOUT),
                request_timeout: Some(Self::DEFAULT_REQUEST_TIMEOUT),
                nodelay: true,
                window: Self::DEFAULT_WINDOW,
                config: Config::default(),
                retry: RetryPolicy::NONE,
            },
        }
    }
}

impl ClientBuilder {
    /// Default of [`ClientBuilder::connect_timeout`]: 10 seconds.
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
    /// Default of [`ClientBuilder::request_timeout`]: 30 seconds.
    pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
    /// Default of [`ClientBuilder::window`]: 1,024 requests.
    pub const DEFAULT_WINDOW: usize = 1024;

    /// The longest wait for a connection to open, per address (default:
    /// 10 seconds). `None` leaves it to the operating system.
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.settings.connect_timeout = timeout;
        self
    }

    /// The longest wait for each response, counted from when the request
    /// is queued for writing (default: 30 seconds). A request without a
    /// response by then ends with [`RequestError::TimedOut`](crate::RequestError::TimedOut);
    /// when the server read none of the waiting bytes for that long, the
    /// connection is dropped ([`Cause::Stalled`](crate::Cause::Stalled)).
    /// `None` waits forever, even for a server that stopped reading.
    #[must_use]
    pub fn request_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.settings.request_timeout = timeout.filter(|t| !t.is_zero());
        self
    }

    /// Sets `TCP_NODELAY` on the socket (default: `true`, so that a single
    /// request is not held back; batches are written in large pieces
    /// anyway).
    #[must_use]
    pub fn nodelay(mut self, nodelay: bool) -> Self {
        self.settings.nodelay = nodelay;
        self
    }

    /// The most requests in flight at once on the connection: the
    /// pipeline window of [`Client::execute_all`] (default: 1,024; 0 is
    /// raised to 1). A larger window hides more latency, and the server
    /// holds more unanswered requests.
    #[must_use]
    pub fn window(mut self, window: usize) -> Self {
        self.settings.window = window.max(1);
        self
    }

    /// Message limits (default: [`Config::default`]). Its
    /// [`Config::max_active`] is replaced by twice the window, which
    /// leaves room for requests that timed out and whose late response is
    /// still awaited.
    #[must_use]
    pub fn config(mut self, config: Config) -> Self {
        self.settings.config = config;
        self
    }

    /// Which failed requests are sent again (default:
    /// [`RetryPolicy::NONE`]).
    #[must_use]
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.settings.retry = policy;
        self
    }

    /// Resolves `addr` and connects to the first address that accepts.
    /// Later reconnections go to the same resolved addresses.
    pub fn connect(self, addr: impl ToSocketAddrs) -> io::Result<Client> {
        Client::open(addr.to_socket_addrs()?.collect(), self.settings)
    }
}

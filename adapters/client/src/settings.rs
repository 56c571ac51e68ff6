//! [`Settings`]: the options of every client, with one set of names,
//! types, defaults and meanings, and [`builder_options!`], the builder
//! methods that set them.

use std::time::{Duration, Instant};

use kairoi_proto::Config;

use crate::{Backoff, RetryPolicy, time::deadline};

/// The options of a client, the same for `kairoi-std`, `kairoi-tokio` and
/// `kairoi-smol`. Each client's builder sets them with methods of the same
/// names; [`Settings::default`] holds the defaults.
///
/// A timeout of `None` (or `Duration::MAX`) means no limit, never a panic.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Settings {
    /// The protocol limits of each connection (message length,
    /// arguments); its `max_active` is the window.
    pub config: Config,
    /// How many connections a client spreads requests over (at least 1).
    pub connections: usize,
    /// The longest wait for one connection attempt, per address.
    pub connect_timeout: Option<Duration>,
    /// The request timeout: how long a request may wait for its answer
    /// once it is in the window; a single call's whole wait, reconnecting
    /// included; and how long a connection with active requests may read
    /// nothing before it is declared dead.
    pub request_timeout: Option<Duration>,
    /// How long `close` waits for active requests.
    pub close_timeout: Option<Duration>,
    /// Whether `TCP_NODELAY` is set.
    pub nodelay: bool,
    /// The waits between failed connection attempts.
    pub backoff: Backoff,
    /// Which failed requests are sent again.
    pub retry: RetryPolicy,
    /// What a request does when its connection is down.
    pub disconnected: Disconnected,
}

/// What a request does when it finds no connection to its server: after
/// the server closed or dropped the connection, while it restarts, or
/// while it is unreachable. The same in every client; modelled on
/// Lettuce's `DisconnectedBehavior`.
///
/// | | [`Wait`](Disconnected::Wait) (default) | [`FailFast`](Disconnected::FailFast) |
/// | --- | --- | --- |
/// | a request with no connection | waits for one until its deadline, then `NotSent` with the last connect error | fails `NotSent` at once while the backoff after a failed attempt runs |
/// | requests not yet written when a connection ends | go out on the next connection | end `NotSent` |
/// | a batch through a restart | keeps going: only the requests written before the end are `Unknown` | the rest of the batch fails while the server is away |
///
/// With either, requests written before a connection ended end
/// [`Unknown`](crate::RequestError::Unknown), and reconnect attempts back
/// off with jitter. With `Wait`, a single call waits until its request
/// timeout runs out; a batch, whose requests are timed from when they
/// enter the window, stops waiting once every attempt has failed for a
/// whole request timeout (the server is unreachable): what it has queued
/// ends `NotSent` with the connect error, and the rest of its iterator is
/// reported `NotSent` at once, so that a batch against a server that
/// stays down ends promptly.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Disconnected {
    /// Wait for a connection, each request until its deadline (default).
    #[default]
    Wait,
    /// Fail at once while the server cannot be reached.
    FailFast,
}

impl Settings {
    /// Default connection timeout: 10 seconds.
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
    /// Default request timeout: 30 seconds.
    pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
    /// Default close timeout: 10 seconds.
    pub const DEFAULT_CLOSE_TIMEOUT: Duration = Duration::from_secs(10);
    /// Default first wait between connection attempts: 100 ms.
    pub const DEFAULT_BACKOFF_MIN: Duration = Duration::from_millis(100);
    /// Default longest wait between connection attempts: 5 seconds.
    pub const DEFAULT_BACKOFF_MAX: Duration = Duration::from_secs(5);
    /// Default window: 1,024 requests per connection.
    pub const DEFAULT_WINDOW: usize = 1024;
    /// The most connections a client may have: 1,024.
    pub const MAX_CONNECTIONS: usize = 1024;

    /// Checks what `connect` cannot take: a clear error naming the value
    /// and the limit.
    pub fn check(&self) -> std::io::Result<()> {
        if self.connections > Self::MAX_CONNECTIONS {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "{} connections asked for, at most {} allowed",
                    self.connections,
                    Self::MAX_CONNECTIONS
                ),
            ));
        }
        Ok(())
    }

    /// The window: the most requests in flight at once on each connection
    /// (at least 1).
    pub fn window(&self) -> usize {
        self.config.max_active()
    }

    /// The most requests a batch keeps in the clients at once: a window
    /// per connection.
    pub fn batch_limit(&self) -> usize {
        self.window().saturating_mul(self.connections).max(1)
    }

    /// When a request admitted at `now` times out.
    pub fn request_deadline(&self, now: Instant) -> Option<Instant> {
        deadline(now, self.request_timeout)
    }

    /// The same settings with the window set to `count` (at least 1).
    #[must_use]
    pub fn with_window(mut self, count: usize) -> Self {
        self.config = self.config.with_max_active(count.max(1));
        self
    }

    /// The same settings with these protocol limits; the window is kept.
    #[must_use]
    pub fn with_config(mut self, config: Config) -> Self {
        self.config = config.with_max_active(self.window());
        self
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            config: Config::default().with_max_active(Self::DEFAULT_WINDOW),
            connections: 1,
            connect_timeout: Some(Self::DEFAULT_CONNECT_TIMEOUT),
            request_timeout: Some(Self::DEFAULT_REQUEST_TIMEOUT),
            close_timeout: Some(Self::DEFAULT_CLOSE_TIMEOUT),
            nodelay: true,
            backoff: Backoff::new(Self::DEFAULT_BACKOFF_MIN, Self::DEFAULT_BACKOFF_MAX),
            retry: RetryPolicy::NONE,
            disconnected: Disconnected::Wait,
        }
    }
}

/// Expands, inside `impl` of a builder with a `settings: Settings` field,
/// to the option methods every client's builder has: the same names, types
/// and meanings in `kairoi-std`, `kairoi-tokio` and `kairoi-smol`.
#[macro_export]
macro_rules! builder_options {
    () => {
        /// Default of `connect_timeout`: 10 seconds.
        pub const DEFAULT_CONNECT_TIMEOUT: ::std::time::Duration =
            $crate::Settings::DEFAULT_CONNECT_TIMEOUT;
        /// Default of `request_timeout`: 30 seconds.
        pub const DEFAULT_REQUEST_TIMEOUT: ::std::time::Duration =
            $crate::Settings::DEFAULT_REQUEST_TIMEOUT;
        /// Default of `close_timeout`: 10 seconds.
        pub const DEFAULT_CLOSE_TIMEOUT: ::std::time::Duration =
            $crate::Settings::DEFAULT_CLOSE_TIMEOUT;
        /// Default of `window`: 1,024 requests.
        pub const DEFAULT_WINDOW: usize = $crate::Settings::DEFAULT_WINDOW;

        /// The protocol limits of each connection (message length,
        /// arguments). The window is set with `window`.
        #[must_use]
        pub fn config(mut self, config: $crate::proto::Config) -> Self {
            self.settings = self.settings.with_config(config);
            self
        }

        /// The pipeline window: the most requests in flight at once on
        /// each connection (at least 1). Default: 1,024. A batch holds at
        /// most a window per connection in the client at once, whatever
        /// its size.
        #[must_use]
        pub fn window(mut self, count: usize) -> Self {
            self.settings = self.settings.with_window(count);
            self
        }

        /// How many connections the client spreads requests over (at
        /// least 1, at most [`Settings::MAX_CONNECTIONS`](crate::Settings::MAX_CONNECTIONS), else `connect`
        /// fails). The reference server scales with connections.
        /// Default: 1.
        #[must_use]
        pub fn connections(mut self, count: usize) -> Self {
            self.settings.connections = count.max(1);
            self
        }

        /// The longest wait for one connection attempt, per address.
        /// Default: 10 s. `None` or `Duration::MAX`: no limit.
        #[must_use]
        pub fn connect_timeout(
            mut self,
            timeout: impl Into<Option<::std::time::Duration>>,
        ) -> Self {
            self.settings.connect_timeout = timeout.into();
            self
        }

        /// The request timeout (default: 30 s; `None` or `Duration::MAX`:
        /// no limit). It bounds three waits:
        ///
        /// - a single call (`execute`, `set_job`, `set_rule`,
        ///   `execute_arguments`) ends within it in all, reconnecting and
        ///   retries included ([`RequestError::TimedOut`](crate::RequestError::TimedOut),
        ///   or `NotSent` when no connection could be had);
        /// - each request of a batch, from when it enters the window: a
        ///   batch of any size completes while the server keeps answering;
        /// - a connection with active requests from which nothing is read
        ///   for this long is declared dead and replaced
        ///   ([`Cause::Unresponsive`](crate::Cause::Unresponsive)).
        #[must_use]
        pub fn request_timeout(
            mut self,
            timeout: impl Into<Option<::std::time::Duration>>,
        ) -> Self {
            self.settings.request_timeout = timeout.into();
            self
        }

        /// How long `close` waits for active requests before they end as
        /// `Unknown`. Default: 10 s. `None` or `Duration::MAX`: no limit.
        #[must_use]
        pub fn close_timeout(mut self, timeout: impl Into<Option<::std::time::Duration>>) -> Self {
            self.settings.close_timeout = timeout.into();
            self
        }

        /// Whether `TCP_NODELAY` is set. Default: true.
        #[must_use]
        pub fn nodelay(mut self, nodelay: bool) -> Self {
            self.settings.nodelay = nodelay;
            self
        }

        /// After a failed connection attempt, the next one waits about
        /// `min`, then twice as long after each further failure, up to
        /// `max`, each wait with random jitter (see
        /// [`Backoff`](crate::Backoff)). Default: 100 ms to 5 s. No lock
        /// is held while waiting, and a single call never waits past its
        /// request timeout.
        #[must_use]
        pub fn reconnect_backoff(
            mut self,
            min: ::std::time::Duration,
            max: ::std::time::Duration,
        ) -> Self {
            self.settings.backoff = $crate::Backoff::new(min, max);
            self
        }

        /// What a request does when its connection is down (see
        /// [`Disconnected`](crate::Disconnected)): wait for one until its
        /// deadline (the default, so that a batch rides out a server
        /// restart), or fail at once.
        #[must_use]
        pub fn when_disconnected(mut self, behaviour: $crate::Disconnected) -> Self {
            self.settings.disconnected = behaviour;
            self
        }

        /// Which failed requests are sent again. Default: none.
        #[must_use]
        pub fn retry(mut self, policy: $crate::RetryPolicy) -> Self {
            self.settings.retry = policy;
            self
        }

        /// The settings so far.
        pub fn settings(&self) -> &$crate::Settings {
            &self.settings
        }
    };
}

//! [`ServeOptions`]: the limits and timeouts of [`serve`](super::serve).

use std::time::Duration;

use kairoi_proto::{Config, IdentifierEcho};

use super::ServeCounters;

/// The longest message a served connection takes by default: 1 MiB. The
/// reference server sets no limit, but stores no string longer than
/// 65,535 bytes, so no request it could apply comes near.
pub const DEFAULT_MAX_MESSAGE_LEN: usize = 1024 * 1024;
/// The most arguments in one message by default: 4,096 (a body with more
/// is a malformed message; the reference server answers `ERROR` to any
/// body of more than six arguments).
pub const DEFAULT_MAX_ARGUMENTS: usize = 4096;

/// How [`serve`](super::serve) treats each connection. Every limit holds
/// per connection, so what a connection costs is bounded whatever its
/// client does.
///
/// ```
/// use std::time::Duration;
/// use kairoi_tokio::serve::ServeOptions;
///
/// let options = ServeOptions::default()
///     .with_max_in_flight_bytes(256 * 1024)
///     .with_drain_timeout(Duration::from_secs(10));
/// assert_eq!(options.config().max_message_len(), 1024 * 1024);
/// ```
#[derive(Debug, Clone)]
pub struct ServeOptions {
    config: Config,
    echo: IdentifierEcho,
    max_in_flight_bytes: usize,
    max_unwritten: usize,
    write_timeout: Option<Duration>,
    drain_timeout: Option<Duration>,
    counters: ServeCounters,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            config: Config::default()
                .with_max_message_len(DEFAULT_MAX_MESSAGE_LEN)
                .with_max_arguments(DEFAULT_MAX_ARGUMENTS),
            echo: IdentifierEcho::Unquoted,
            max_in_flight_bytes: 1024 * 1024,
            max_unwritten: 256 * 1024,
            write_timeout: Some(Duration::from_secs(30)),
            drain_timeout: Some(Duration::from_secs(30)),
            counters: ServeCounters::default(),
        }
    }
}

impl ServeOptions {
    /// The limits of each connection's [`Server`](kairoi_proto::Server):
    /// the longest message and the most arguments (a message past either
    /// is malformed: the connection closes), and the most requests
    /// waiting for their answer ([`Config::max_active`], the window: past
    /// it the connection reads nothing more until one is answered).
    /// Default: [`Config::default`] with messages of up to
    /// [`DEFAULT_MAX_MESSAGE_LEN`] bytes and [`DEFAULT_MAX_ARGUMENTS`]
    /// arguments, and a window of 1,024.
    #[must_use]
    pub fn with_config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// How answers write the request identifier back. Default:
    /// [`IdentifierEcho::Unquoted`], as the reference server writes it, so
    /// that every client sees what Kairoi would send it.
    #[must_use]
    pub fn with_identifier_echo(mut self, echo: IdentifierEcho) -> Self {
        self.echo = echo;
        self
    }

    /// The most bytes of request bodies a connection holds while their
    /// handlers run (each request counts the length of its arguments):
    /// past it, the connection decodes nothing more until an answer comes.
    /// One request is always let through, whatever its size. Default
    /// 1 MiB.
    #[must_use]
    pub fn with_max_in_flight_bytes(mut self, bytes: usize) -> Self {
        self.max_in_flight_bytes = bytes;
        self
    }

    /// The most bytes of answers waiting for a client that does not read
    /// them: past it, the connection reads no more requests until the
    /// client reads. Default 256 KiB.
    #[must_use]
    pub fn with_max_unwritten(mut self, bytes: usize) -> Self {
        self.max_unwritten = bytes;
        self
    }

    /// How long answers may wait for the client to read any of them
    /// before the connection is dropped (`None`: for ever). Default 30 s.
    #[must_use]
    pub fn with_write_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.write_timeout = timeout.into();
        self
    }

    /// How long a graceful stop waits for the requests in flight and
    /// their answers before it drops the connections left (`None`: until
    /// they end). Default 30 s.
    #[must_use]
    pub fn with_drain_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.drain_timeout = timeout.into();
        self
    }

    /// Counts connections and requests into `counters`, a handle the
    /// caller keeps to read them while the server runs.
    #[must_use]
    pub fn with_counters(mut self, counters: ServeCounters) -> Self {
        self.counters = counters;
        self
    }

    /// The limits of each connection (see [`ServeOptions::with_config`]).
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// How answers write the identifier back.
    pub fn identifier_echo(&self) -> IdentifierEcho {
        self.echo
    }

    /// The most bytes of bodies in flight per connection.
    pub fn max_in_flight_bytes(&self) -> usize {
        self.max_in_flight_bytes
    }

    /// The most bytes of answers waiting per connection.
    pub fn max_unwritten(&self) -> usize {
        self.max_unwritten
    }

    /// How long answers may wait for the client.
    pub fn write_timeout(&self) -> Option<Duration> {
        self.write_timeout
    }

    /// How long a graceful stop waits.
    pub fn drain_timeout(&self) -> Option<Duration> {
        self.drain_timeout
    }

    /// The counters the server counts into.
    pub fn counters(&self) -> &ServeCounters {
        &self.counters
    }
}

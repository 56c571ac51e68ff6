//! [`Config`]: the limits shared by the decoder and both roles.

/// Limits of a connection, shared by the decoder, [`Client`](crate::Client)
/// and [`Server`](crate::Server).
///
/// Every limit is checked on the bytes themselves, so whether it is exceeded
/// never depends on how the transport chunked the stream.
///
/// ```
/// use kairoi_proto::Config;
/// let config = Config::default().with_max_message_len(8 << 20).with_max_active(256);
/// assert_eq!(config.max_message_len(), 8 << 20);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    max_message_len: usize,
    max_arguments: usize,
    max_active: usize,
}

impl Config {
    /// Default of [`Config::max_message_len`]: 64 KiB.
    pub const DEFAULT_MAX_MESSAGE_LEN: usize = 64 * 1024;
    /// Default of [`Config::max_arguments`]: 64.
    pub const DEFAULT_MAX_ARGUMENTS: usize = 64;
    /// Default of [`Config::max_active`]: 1024.
    pub const DEFAULT_MAX_ACTIVE: usize = 1024;

    /// The longest message in bytes, counted on the wire from the byte after
    /// the previous line feed up to and including this message's line feed.
    /// Default: 65,536.
    pub fn max_message_len(&self) -> usize {
        self.max_message_len
    }

    /// The most arguments in one message, identifier included. Default: 64.
    pub fn max_arguments(&self) -> usize {
        self.max_arguments
    }

    /// The most active requests: for a client, requests sent and not yet
    /// finished (including timed-out or cancelled ones whose late response
    /// is still awaited); for a server, requests decoded and not yet
    /// answered. Default: 1,024.
    pub fn max_active(&self) -> usize {
        self.max_active
    }

    /// Sets [`Config::max_message_len`]. The shortest message, `A B\n`, is
    /// 4 bytes: a smaller limit is accepted and refuses every message.
    /// `usize::MAX` means no limit.
    #[must_use]
    pub fn with_max_message_len(mut self, bytes: usize) -> Self {
        self.max_message_len = bytes;
        self
    }

    /// Sets [`Config::max_arguments`].
    #[must_use]
    pub fn with_max_arguments(mut self, count: usize) -> Self {
        self.max_arguments = count;
        self
    }

    /// Sets [`Config::max_active`] (a value of 0 is raised to 1).
    #[must_use]
    pub fn with_max_active(mut self, count: usize) -> Self {
        self.max_active = count.max(1);
        self
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_message_len: Self::DEFAULT_MAX_MESSAGE_LEN,
            max_arguments: Self::DEFAULT_MAX_ARGUMENTS,
            max_active: Self::DEFAULT_MAX_ACTIVE,
        }
    }
}

//! The one async client, generic over a [`Runtime`]: `kairoi-tokio` and
//! `kairoi-smol` are this client with their runtime's glue.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use futures_lite::future::Boxed;
use futures_lite::io::{AsyncRead, AsyncWrite};

mod builder;
mod client;
mod driver;
mod reply;
mod slot;

pub use builder::ClientBuilder;
pub use client::Client;

/// What a client needs of an async runtime: spawning, a timer, TCP
/// connections and name resolution. `kairoi-tokio` and `kairoi-smol` each
/// implement it in a few lines; any other runtime can too.
pub trait Runtime: Clone + Send + Sync + std::fmt::Debug + 'static {
    /// A connected TCP stream, as `futures-io` traits.
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// A timer of this runtime.
    type Timer: Timer;

    /// Runs `task` to completion in the background. The client never
    /// needs its handle: every task it spawns ends on its own.
    fn spawn(&self, task: Boxed<()>);

    /// A timer that fires at `at`.
    fn timer(&self, at: Instant) -> Self::Timer;

    /// Opens a TCP connection to `addr`, with `TCP_NODELAY` as given.
    fn connect(&self, addr: SocketAddr, nodelay: bool) -> Boxed<io::Result<Self::Stream>>;

    /// Resolves `host:port` to addresses.
    fn resolve(&self, host: String) -> Boxed<io::Result<Vec<SocketAddr>>>;
}

/// A timer that can be moved: it fires once its instant has passed.
pub trait Timer: Future<Output = ()> + Unpin + Send + 'static {
    /// Fires at `at` instead.
    fn reset(&mut self, at: Instant);
}

/// Sleeps until `at` on `rt`; `None` never ends.
pub(crate) async fn sleep_until<R: Runtime>(rt: &R, at: Option<Instant>) {
    match at {
        Some(at) => rt.timer(at).await,
        None => futures_lite::future::pending().await,
    }
}

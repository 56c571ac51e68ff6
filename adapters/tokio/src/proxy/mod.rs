//! Several Kairoi servers behind one address, for clients in any
//! language (feature `proxy`; `kairoi-cli proxy` runs it).
//!
//! Downstream, a [`Proxy`] is a Kairoi server: any KCP client, the
//! official PHP client included (a connection per request, identifiers
//! starting again at 0 on every call), talks to it unchanged. Upstream, it
//! is one [`Client`]: over one server, or over several with each job
//! placed on its server by identifier ([`kairoi_proto::placement`], as
//! every client of this workspace places it) and each rule sent to every
//! server, on a few pooled, pipelined connections per server however many
//! downstream connections come and go.
//!
//! It is [`serve`] with the [`Forward`] handler:
//!
//! - each request's body goes upstream as it came (its arguments, raw,
//!   through [`Client::execute_arguments`]), and the upstream server
//!   decides what is valid; a body no Kairoi server accepts (an unknown
//!   instruction, a wrong number of arguments, an unknown runner) is
//!   answered `ERROR` at once, as the reference server answers it (see
//!   [`Forward`]);
//! - `OK` upstream (on every server, for a rule) is `OK`; anything else is
//!   `ERROR`: a rejection, and a request that could not be completed
//!   upstream, whose reason goes to the log (`tracing`, warn) and to the
//!   client's [`stats`](Client::stats);
//! - answers repeat each identifier as the reference server does, in the
//!   order they are ready; a malformed message, or the end of a client's
//!   input, closes that connection as the reference server does, and
//!   nothing else (the module docs of [`serve`](crate::serve) tell what
//!   exactly, and how memory is bounded per connection);
//! - [`Proxy::stop`] stops gracefully: no new connection, the requests
//!   read are finished and answered, then the upstream client closes.
//!
//! ```no_run
//! use kairoi_tokio::Client;
//! use kairoi_tokio::proxy::Proxy;
//! use kairoi_tokio::serve::ServeOptions;
//!
//! # #[tokio::main] async fn main() -> std::io::Result<()> {
//! let options = ServeOptions::default();
//! let client = Client::builder()
//!     .connections(2) // per server
//!     .config(Proxy::upstream_config(&options))
//!     .connect_servers([
//!         ("kairoi-a", "10.0.0.1:5678"),
//!         ("kairoi-b", "10.0.0.2:5678"),
//!         ("kairoi-c", "10.0.0.3:5678"),
//!     ])
//!     .await?;
//! let proxy = Proxy::bind("127.0.0.1:5678", client, options).await?;
//! println!("listening on {}", proxy.local_addr());
//! proxy.stop_on(async { let _ = tokio::signal::ctrl_c().await; }).await
//! # }
//! ```
//!
//! # Differences from a Kairoi server
//!
//! What a client can tell apart from the reference server, on purpose:
//!
//! | the reference server | the proxy | why |
//! | --- | --- | --- |
//! | no limit on a message's length or arguments | closes the connection on a message past 1 MiB or 4,096 arguments ([`ServeOptions::with_config`]) | bounded memory per connection; the reference server stores no string longer than 65,535 bytes, so no request it could apply comes near |
//! | parses one message per turn of its connection loop and, at the end of the client's input, stops parsing | decodes every message it has read, also before the end of input | as the `TestServer`: requests sent just before a client closes its side may be lost by the reference server, never by the proxy (their answers are not written by either) |
//! | answers a `SET` with an invalid date at once, also right before a malformed message | forwards it and answers what the upstream server said; when a malformed message follows before that answer comes, the answer is not written | the upstream server decides which dates are valid |
//! | writes the answers of one tick of its database loop in the order of the requests | writes each answer when it comes back from upstream, so those of one tick may come in another order | each request is forwarded on its own; clients match answers by identifier (`docs/protocol.md` §2 of the repository) |
//! | writes each answer with a `write_all` of its own, without `TCP_NODELAY` | `TCP_NODELAY`, and the answers that are ready written together | the same bytes in the same order, without the delays of Nagle's algorithm |
//! | a request that cannot be completed does not exist: the server applies it or not | `ERROR` when the upstream server could not be reached, or did not answer in time | the protocol has no other word; the log says why |

use std::future::Future;
use std::io;
use std::net::SocketAddr;

use kairoi_proto::Config;
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::Client;
use crate::serve::{ServeCounters, ServeOptions, serve};

mod forward;

pub use forward::Forward;

/// Room in an upstream message beyond the longest downstream one: the
/// client's own identifier may be longer than the downstream one.
const ID_ROOM: usize = 64;

/// A proxy in front of one Kairoi server or several, serving on its own
/// task: see the [module docs](self).
///
/// Dropping it stops it gracefully in the background; [`Proxy::stop`]
/// waits for that, and closes the upstream client.
#[derive(Debug)]
pub struct Proxy {
    addr: SocketAddr,
    client: Client,
    counters: ServeCounters,
    stop: CancellationToken,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl Proxy {
    /// Starts serving on `listener`, forwarding to `client` (connected
    /// with [`ClientBuilder::connect`](crate::ClientBuilder) to one server
    /// or `connect_servers` to several). `options` apply to each
    /// downstream connection; its counters are [`Proxy::counters`].
    ///
    /// # Errors
    ///
    /// When not called within a Tokio runtime; when the listener has no
    /// local address; when the client's longest message is shorter than
    /// what a downstream request may need (build the client with
    /// `.config(Proxy::upstream_config(&options))`).
    pub fn start(
        listener: TcpListener,
        client: Client,
        options: ServeOptions,
    ) -> io::Result<Proxy> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| io::Error::other("Proxy::start must be called within a Tokio runtime"))?;
        let needed = Proxy::upstream_config(&options).max_message_len();
        let has = client.settings().config.max_message_len();
        if has < needed {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "the upstream client's longest message ({has} bytes) is shorter than a \
                     forwarded request may be ({needed} bytes, for downstream messages of up to \
                     {} bytes): build the client with .config(Proxy::upstream_config(&options))",
                    options.config().max_message_len()
                ),
            ));
        }
        let addr = listener.local_addr()?;
        let counters = options.counters().clone();
        let stop = CancellationToken::new();
        let handler = Forward::new(client.clone());
        let shutdown = stop.clone().cancelled_owned();
        let task = runtime.spawn(serve(listener, handler, options, shutdown));
        Ok(Proxy {
            addr,
            client,
            counters,
            stop,
            task: Some(task),
        })
    }

    /// Binds `listen` and starts serving (see [`Proxy::start`]).
    ///
    /// # Errors
    ///
    /// When `listen` cannot be bound, and as [`Proxy::start`].
    pub async fn bind(
        listen: impl ToSocketAddrs,
        client: Client,
        options: ServeOptions,
    ) -> io::Result<Proxy> {
        Proxy::start(TcpListener::bind(listen).await?, client, options)
    }

    /// The limits an upstream client needs to forward every request that
    /// `options` let in: [`Config::default`], with a longest message a
    /// little longer than the downstream one (the client chooses its own
    /// identifiers).
    pub fn upstream_config(options: &ServeOptions) -> Config {
        let downstream = options.config().max_message_len();
        Config::default().with_max_message_len(downstream.saturating_add(ID_ROOM))
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The upstream client: its [`stats`](Client::stats) count the
    /// forwarded requests by outcome, server by server.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The downstream side's counters: connections and requests.
    pub fn counters(&self) -> &ServeCounters {
        &self.counters
    }

    /// Stops gracefully: no new connection is accepted, each connection
    /// finishes the requests it has read and writes their answers (at most
    /// the drain timeout of its [`ServeOptions`]), then the upstream
    /// client closes (at most its close timeout).
    ///
    /// # Errors
    ///
    /// The error that stopped the server on its own, if one did (see
    /// [`serve`]).
    pub async fn stop(mut self) -> io::Result<()> {
        self.stop.cancel();
        let served = match self.task.take() {
            Some(task) => task
                .await
                .unwrap_or_else(|e| Err(io::Error::other(format!("the proxy's task failed: {e}")))),
            None => Ok(()),
        };
        self.client.close().await;
        served
    }

    /// Serves until `signal` completes (or the server stops on its own, on
    /// an error), then stops gracefully as [`Proxy::stop`] does.
    ///
    /// # Errors
    ///
    /// As [`Proxy::stop`].
    pub async fn stop_on<S: Future<Output = ()>>(mut self, signal: S) -> io::Result<()> {
        if let Some(task) = self.task.as_mut() {
            tokio::select! {
                () = signal => {}
                served = task => {
                    self.task = None;
                    self.client.close().await;
                    return served.unwrap_or_else(|e| {
                        Err(io::Error::other(format!("the proxy's task failed: {e}")))
                    });
                }
            }
        }
        self.stop().await
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

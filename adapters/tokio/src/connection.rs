//! One slot of the pool: a live connection, or how to make one again.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use kairoi_proto::mux::{Mux, Reconnect};
use kairoi_proto::{Cause, RequestError};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::{Mutex, mpsc};
use tokio::task::JoinHandle;

use crate::builder::ClientBuilder;
use crate::command::Command;
use crate::driver::Driver;

/// A running driver task and the way to reach it. Dropping the handle
/// does not stop the task: the driver always ends on its own.
#[derive(Debug)]
pub(crate) struct Live {
    pub commands: mpsc::UnboundedSender<Command>,
    task: JoinHandle<()>,
}

#[derive(Debug, Default)]
struct State {
    live: Option<Live>,
    /// [`Slot::close`] was called: never connect again.
    closed: bool,
    reconnect: Reconnect,
}

/// One connection of the pool. It connects again on demand after the
/// previous connection ended.
#[derive(Debug)]
pub(crate) struct Slot {
    state: Mutex<State>,
    /// Requests this slot holds (queued, written or ending), for
    /// least-active selection and [`Client::in_flight`](crate::Client::in_flight).
    pub active: Arc<AtomicUsize>,
}

impl Slot {
    pub(crate) fn new() -> Self {
        Slot {
            state: Mutex::new(State::default()),
            active: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// A sender to a live driver, connecting first when there is none.
    pub(crate) async fn sender(
        &self,
        builder: &ClientBuilder,
        addrs: &[SocketAddr],
    ) -> Result<mpsc::UnboundedSender<Command>, RequestError> {
        let mut state = self.state.lock().await;
        if let Some(live) = &state.live {
            if !live.commands.is_closed() {
                return Ok(live.commands.clone());
            }
        }
        state.live = None;
        if addrs.is_empty() || state.closed {
            // A closed client, or a client over a caller's transport, does
            // not connect again.
            return Err(RequestError::NotSent {
                cause: Cause::Closed,
            });
        }
        let (min, max) = builder.backoff;
        if let Some(at) = state.reconnect.next_attempt(min, max) {
            tokio::time::sleep_until(at.into()).await;
        }
        match open(builder, addrs).await {
            Ok(stream) => {
                state.reconnect.succeeded();
                let live = self.spawn(stream, builder);
                let tx = live.commands.clone();
                state.live = Some(live);
                Ok(tx)
            }
            Err(cause) => {
                state.reconnect.failed(Instant::now());
                Err(RequestError::NotSent { cause })
            }
        }
    }

    /// Starts a driver task over `io`.
    pub(crate) fn spawn<T>(&self, io: T, builder: &ClientBuilder) -> Live
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (commands, rx) = mpsc::unbounded_channel();
        let mux = Mux::new(
            builder.config,
            builder.request_timeout,
            builder.close_timeout,
        );
        Live {
            commands,
            task: tokio::spawn(Driver::new(io, mux, rx)),
        }
    }

    /// Installs the connection of a new slot.
    pub(crate) fn install(&self, live: Live) {
        // The slot was just made: nothing else holds its lock.
        if let Ok(mut state) = self.state.try_lock() {
            state.live = Some(live);
        }
    }

    /// Asks the driver to close, then waits for it to end. The slot never
    /// connects again.
    pub(crate) async fn close(&self, deadline: Instant) {
        let live = {
            let mut state = self.state.lock().await;
            state.closed = true;
            state.live.take()
        };
        if let Some(live) = live {
            let _ = live.commands.send(Command::Close { deadline });
            let _ = live.task.await;
        }
    }

    pub(crate) fn load(&self) -> usize {
        self.active.load(Ordering::Relaxed)
    }
}

/// Connects to the first address that answers within the timeout.
async fn open(builder: &ClientBuilder, addrs: &[SocketAddr]) -> Result<TcpStream, Cause> {
    let mut last = Cause::Closed;
    for addr in addrs {
        let connect = TcpStream::connect(addr);
        let error = match tokio::time::timeout(builder.connect_timeout, connect).await {
            Ok(Ok(stream)) => match stream.set_nodelay(builder.nodelay) {
                Ok(()) => return Ok(stream),
                Err(e) => e,
            },
            Ok(Err(e)) => e,
            Err(_) => io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no answer within {:?}", builder.connect_timeout),
            ),
        };
        last = Cause::Connect {
            addr: addr.to_string(),
            error: Arc::new(error),
        };
    }
    Err(last)
}

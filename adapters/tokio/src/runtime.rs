//! [`Tokio`]: the runtime glue of the shared async client.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use futures_lite::future::Boxed;
use kairoi_client::{Runtime, Timer};
use tokio::net::TcpStream;
use tokio_util::compat::{Compat, TokioAsyncReadCompatExt};

/// Tokio as the client's runtime: driver and connection tasks are
/// `tokio::spawn`ed, so a client is used from within a Tokio runtime with
/// the time and I/O drivers enabled (as `#[tokio::main]` sets up).
#[derive(Debug, Clone, Copy, Default)]
pub struct Tokio;

/// A Tokio timer that can be moved.
#[derive(Debug)]
pub struct TokioTimer(Pin<Box<tokio::time::Sleep>>);

impl Future for TokioTimer {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.0.as_mut().poll(cx)
    }
}

impl Timer for TokioTimer {
    fn reset(&mut self, at: Instant) {
        self.0.as_mut().reset(at.into());
    }
}

impl Runtime for Tokio {
    type Stream = Compat<TcpStream>;
    type Timer = TokioTimer;

    fn spawn(&self, task: Boxed<()>) {
        // The handle is not needed: every task the client spawns ends on
        // its own, and dropping a Tokio handle does not cancel the task.
        drop(tokio::spawn(task));
    }

    fn timer(&self, at: Instant) -> TokioTimer {
        TokioTimer(Box::pin(tokio::time::sleep_until(at.into())))
    }

    fn connect(&self, addr: SocketAddr, nodelay: bool) -> Boxed<io::Result<Self::Stream>> {
        Box::pin(async move {
            let stream = TcpStream::connect(addr).await?;
            stream.set_nodelay(nodelay)?;
            Ok(stream.compat())
        })
    }

    fn resolve(&self, host: String) -> Boxed<io::Result<Vec<SocketAddr>>> {
        Box::pin(async move { Ok(tokio::net::lookup_host(host).await?.collect()) })
    }
}

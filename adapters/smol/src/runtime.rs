//! [`Smol`]: the runtime glue of the shared async client.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use kairoi_client::{Runtime, Timer};
use smol::future::Boxed;
use smol::net::TcpStream;

/// smol as the client's runtime: driver and connection tasks run on smol's
/// global executor ([`smol::spawn`]), so the client works from any
/// executor, `smol::block_on` included.
#[derive(Debug, Clone, Copy, Default)]
pub struct Smol;

/// An `async-io` timer that can be moved.
#[derive(Debug)]
pub struct SmolTimer(smol::Timer);

impl Future for SmolTimer {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx).map(|_| ())
    }
}

impl Timer for SmolTimer {
    fn reset(&mut self, at: Instant) {
        self.0.set_at(at);
    }
}

impl Runtime for Smol {
    type Stream = TcpStream;
    type Timer = SmolTimer;

    fn spawn(&self, task: Boxed<()>) {
        // Dropping a smol task cancels it: detach, since every task the
        // client spawns ends on its own.
        smol::spawn(task).detach();
    }

    fn timer(&self, at: Instant) -> SmolTimer {
        SmolTimer(smol::Timer::at(at))
    }

    fn connect(&self, addr: SocketAddr, nodelay: bool) -> Boxed<io::Result<TcpStream>> {
        Box::pin(async move {
            let stream = TcpStream::connect(addr).await?;
            stream.set_nodelay(nodelay)?;
            Ok(stream)
        })
    }

    fn resolve(&self, host: String) -> Boxed<io::Result<Vec<SocketAddr>>> {
        Box::pin(smol::net::resolve(host))
    }
}

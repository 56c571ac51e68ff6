//! The task that owns one connection slot for the client's life: it moves
//! bytes between the transport and the [`Mux`], which wakes each request's
//! caller, and makes a new connection when the [`Mux`] asks for one.

use std::future::Future;
use std::io::ErrorKind;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

use async_channel::Receiver;
use futures_lite::Stream;
use futures_lite::future::Boxed;
use futures_lite::io::{AsyncRead, AsyncWrite};

use super::Timer;
use super::reply::{ChannelReply, Command};
use super::slot::Connector;
use crate::Cause;
use crate::mux::Mux;

const READ_BUF: usize = 16 * 1024;

/// Turns of the loop with progress before the driver yields to the
/// executor, so a busy connection never starves other tasks.
const TURNS_PER_POLL: u32 = 64;

/// The driver future of one slot. It ends once the slot is closed and
/// every request it took has its outcome.
pub(crate) struct Driver<T, S> {
    io: Option<T>,
    connect: Connector<T>,
    attempt: Option<Boxed<Result<T, Cause>>>,
    live: Arc<AtomicBool>,
    mux: Mux<ChannelReply>,
    commands: Pin<Box<Receiver<Command>>>,
    commands_open: bool,
    read_buf: Box<[u8]>,
    timer: S,
    timer_at: Option<Instant>,
}

impl<T: AsyncRead + AsyncWrite + Unpin, S: Timer> Driver<T, S> {
    pub(crate) fn new(
        io: Option<T>,
        connect: Connector<T>,
        mux: Mux<ChannelReply>,
        commands: Receiver<Command>,
        timer: S,
        live: Arc<AtomicBool>,
    ) -> Self {
        Driver {
            io,
            connect,
            attempt: None,
            live,
            mux,
            commands: Box::pin(commands),
            commands_open: true,
            read_buf: vec![0; READ_BUF].into_boxed_slice(),
            timer,
            timer_at: None,
        }
    }

    /// Closes the command channel and answers what is left in it: requests
    /// that raced with the end never reach a transport.
    fn drain_commands(&mut self, cause: &Cause) {
        self.commands.close();
        while let Ok(command) = self.commands.try_recv() {
            if let Command::Send(job) = command {
                job.reject(cause.clone());
            }
        }
    }

    /// Takes every command waiting in the channel.
    fn poll_commands(&mut self, cx: &mut Context<'_>) -> bool {
        let mut progress = false;
        while self.commands_open {
            match self.commands.as_mut().poll_next(cx) {
                Poll::Ready(Some(command)) => self.mux.handle(command, Instant::now()),
                Poll::Ready(None) => {
                    self.commands_open = false;
                    self.mux.handles_dropped(Instant::now());
                }
                Poll::Pending => break,
            }
            progress = true;
        }
        progress
    }

    /// Starts a connection attempt when the slot wants one, and attaches
    /// the connection it makes.
    fn poll_connect(&mut self, cx: &mut Context<'_>) -> bool {
        let now = Instant::now();
        if self.attempt.is_none() && self.mux.wants_connect(now) {
            if let Some(connect) = self.connect.as_mut() {
                self.attempt = Some(connect());
                self.mux.connecting();
            }
        }
        let Some(attempt) = self.attempt.as_mut() else {
            return false;
        };
        let Poll::Ready(result) = attempt.as_mut().poll(cx) else {
            return false;
        };
        self.attempt = None;
        match result {
            Ok(io) => {
                tracing::debug!("connected");
                self.io = Some(io);
                self.live.store(true, Ordering::Relaxed);
                self.mux.connected(Instant::now());
            }
            Err(cause) => {
                tracing::debug!(%cause, "connection attempt failed");
                self.mux.connect_failed(Instant::now(), cause);
            }
        }
        true
    }

    /// Drops the transport once its connection has ended.
    fn release(&mut self) -> bool {
        if self.io.is_some() && !self.mux.is_up() {
            self.io = None;
            self.live.store(false, Ordering::Relaxed);
            return true;
        }
        false
    }

    /// Writes what the core has to send, then flushes.
    fn poll_write(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(io) = self.io.as_mut() else {
            return false;
        };
        let mut progress = false;
        while let Some(bytes) = self.mux.poll_transmit() {
            match Pin::new(&mut *io).poll_write(cx, bytes) {
                Poll::Ready(Ok(0)) => {
                    self.mux.fail(Cause::io(ErrorKind::WriteZero.into()));
                    return true;
                }
                Poll::Ready(Ok(n)) => {
                    self.mux.consume_transmit(n);
                    progress = true;
                }
                Poll::Ready(Err(e)) if e.kind() == ErrorKind::Interrupted => progress = true,
                Poll::Ready(Err(e)) => {
                    self.mux.fail(Cause::io(e));
                    return true;
                }
                Poll::Pending => break,
            }
        }
        if self.mux.wants_read() {
            if let Poll::Ready(Err(e)) = Pin::new(io).poll_flush(cx) {
                self.mux.fail(Cause::io(e));
                progress = true;
            }
        }
        progress
    }

    /// Reads once and hands the bytes (or the end of stream) to the core.
    fn poll_read(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(io) = self.io.as_mut().filter(|_| self.mux.wants_read()) else {
            return false;
        };
        match Pin::new(io).poll_read(cx, &mut self.read_buf) {
            Poll::Ready(Ok(0)) => self.mux.receive_eof(),
            Poll::Ready(Ok(n)) => self.mux.receive(Instant::now(), &self.read_buf[..n]),
            Poll::Ready(Err(e)) if e.kind() == ErrorKind::Interrupted => {}
            Poll::Ready(Err(e)) => self.mux.fail(Cause::io(e)),
            Poll::Pending => return false,
        }
        true
    }

    /// Arms the timer for the next deadline and handles it once passed.
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(at) = self.mux.next_deadline() else {
            return false;
        };
        if self.timer_at != Some(at) {
            self.timer.reset(at);
            self.timer_at = Some(at);
        }
        if Pin::new(&mut self.timer).poll(cx).is_pending() {
            return false;
        }
        self.timer_at = None;
        self.mux.handle_timeout(Instant::now());
        true
    }

    fn poll_drive(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        for _ in 0..TURNS_PER_POLL {
            let mut progress = self.poll_commands(cx);
            progress |= self.poll_connect(cx);
            self.mux.admit(Instant::now());
            progress |= self.poll_write(cx);
            progress |= self.poll_read(cx);
            progress |= self.mux.poll_events(Instant::now());
            progress |= self.release();
            if let Some(cause) = self.mux.closed_cause().cloned() {
                self.drain_commands(&cause);
                return Poll::Ready(());
            }
            progress |= self.poll_timer(cx);
            if !progress {
                return Poll::Pending;
            }
        }
        // Still busy: let other tasks run, and come back at once.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin, S: Timer> Future for Driver<T, S> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.get_mut().poll_drive(cx)
    }
}

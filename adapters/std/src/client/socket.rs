//! One connection's blocking I/O: a `TcpStream` whose bytes go to and from
//! a slot's [`Mux`].
//!
//! The socket stays in blocking mode with short timeouts, so that one
//! thread keeps reading while it writes: a write blocks at most
//! [`WRITE_SLICE`] when the server does not read (and not at all once a
//! write found the socket buffer full, until one goes through whole), and
//! a read blocks at most [`READ_SLICE`] while bytes wait to be written,
//! else until the next deadline.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use kairoi_client::mux::{Mux, Reply};
use kairoi_client::{ServerAddr, Settings, instant_after};

use crate::Cause;

/// The longest one write blocks while the server does not read.
const WRITE_SLICE: Duration = Duration::from_millis(2);
/// The longest one read blocks while bytes wait to be written.
const READ_SLICE: Duration = Duration::from_millis(1);
/// How long responses are still read after a write failed.
const DRAIN: Duration = Duration::from_secs(1);

/// A connection to the server.
#[derive(Debug)]
pub(crate) struct Socket {
    stream: TcpStream,
    buf: Vec<u8>,
    read_timeout: Option<Duration>,
    /// Set when a write failed: only responses already sent are read, until
    /// the instant kept with it.
    write_error: Option<(io::Error, Instant)>,
    /// The last write did not take everything: write without blocking
    /// until one does.
    congested: bool,
}

impl Socket {
    /// Resolves `target` (again, for a host name) and connects to the
    /// first address that accepts, in order, each attempt within the
    /// connection timeout and `until`.
    pub(crate) fn open(
        target: &ServerAddr,
        settings: &Settings,
        until: Option<Instant>,
    ) -> Result<Socket, Cause> {
        let addrs = target
            .resolve_blocking()
            .map_err(|e| Cause::connect(target, e))?;
        let mut last = Cause::Closed;
        for addr in &addrs {
            let attempt = match connect_limit(settings, until) {
                Some(t) => TcpStream::connect_timeout(addr, t),
                None => TcpStream::connect(addr),
            };
            match attempt.and_then(|s| Self::configure(s, settings)) {
                Ok(stream) => {
                    return Ok(Socket {
                        stream,
                        buf: vec![0; 64 * 1024],
                        read_timeout: None,
                        write_error: None,
                        congested: false,
                    });
                }
                Err(e) => last = Cause::connect(addr, e),
            }
        }
        Err(last)
    }

    fn configure(stream: TcpStream, settings: &Settings) -> io::Result<TcpStream> {
        stream.set_nodelay(settings.nodelay)?;
        stream.set_write_timeout(Some(WRITE_SLICE))?;
        Ok(stream)
    }

    pub(crate) fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.stream.peer_addr()
    }

    /// Before a call on a connection left idle: reads what arrived in the
    /// meantime without blocking (the server may have closed it).
    pub(crate) fn refresh<R: Reply>(&mut self, mux: &mut Mux<R>) {
        if let Err(e) = self.stream.set_nonblocking(true) {
            return mux.fail(Cause::io(e));
        }
        while mux.wants_read() {
            match self.stream.read(&mut self.buf) {
                Ok(0) => mux.receive_eof(),
                Ok(n) => mux.receive(Instant::now(), &self.buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => mux.fail(Cause::io(e)),
            }
        }
        if let Err(e) = self.stream.set_nonblocking(false) {
            mux.fail(Cause::io(e));
        }
    }

    /// One round of I/O: writes what the socket takes, then reads what
    /// arrives, waiting at most until `until`. Events are left in the
    /// [`Mux`].
    pub(crate) fn step<R: Reply>(&mut self, mux: &mut Mux<R>, until: Option<Instant>) {
        if self.write_error.is_none() {
            if let Some(bytes) = mux.poll_transmit() {
                let len = bytes.len();
                let written = if self.congested {
                    // The socket buffer was full: do not block in this
                    // write while responses may wait to be read.
                    write_nonblocking(&self.stream, bytes)
                } else {
                    (&self.stream).write(bytes)
                };
                match written {
                    Ok(0) => self.write_failed(io::ErrorKind::WriteZero.into()),
                    Ok(n) => {
                        mux.consume_transmit(n);
                        self.congested = n < len;
                    }
                    Err(e) if is_retry(&e) => self.congested = true,
                    Err(e) => self.write_failed(e),
                }
            }
        }
        if !mux.wants_read() {
            return;
        }
        let pending = self.write_error.is_none() && mux.poll_transmit().is_some();
        let drain_until = self.write_error.as_ref().map(|(_, t)| *t);
        let until = [until, drain_until].into_iter().flatten().min();
        let mut wait = until.map(|t| t.saturating_duration_since(Instant::now()));
        if pending {
            wait = Some(wait.map_or(READ_SLICE, |w| w.min(READ_SLICE)));
        }
        if let Err(e) = self.set_read_timeout(wait) {
            return mux.fail(Cause::io(e));
        }
        match self.stream.read(&mut self.buf) {
            Ok(0) => mux.receive_eof(),
            Ok(n) => mux.receive(Instant::now(), &self.buf[..n]),
            Err(e) if is_retry(&e) => {
                if drain_until.is_some_and(|t| t <= Instant::now()) {
                    if let Some((e, _)) = self.write_error.take() {
                        mux.fail(Cause::io(e));
                    }
                }
            }
            Err(e) => mux.fail(Cause::io(e)),
        }
    }

    /// Stops writing after a failed write, but keeps reading for a while:
    /// responses the server sent before it closed are still delivered.
    fn write_failed(&mut self, e: io::Error) {
        let _ = self.stream.shutdown(Shutdown::Write);
        self.write_error = Some((e, instant_after(Instant::now(), DRAIN)));
    }

    /// Sets the read timeout, rounded up to whole milliseconds so that the
    /// socket option rarely changes. `None` blocks until data arrives.
    fn set_read_timeout(&mut self, wait: Option<Duration>) -> io::Result<()> {
        let wait = wait.map(|w| {
            let ms = w.as_micros().div_ceil(1000).max(1);
            Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
        });
        if wait != self.read_timeout {
            self.stream.set_read_timeout(wait)?;
            self.read_timeout = wait;
        }
        Ok(())
    }

    /// Closes the socket.
    pub(crate) fn shutdown(&self) -> io::Result<()> {
        match self.stream.shutdown(Shutdown::Both) {
            Err(e) if e.kind() != io::ErrorKind::NotConnected => Err(e),
            _ => Ok(()),
        }
    }
}

/// Writes without blocking: the socket is switched to non-blocking mode
/// for this one write.
fn write_nonblocking(stream: &TcpStream, bytes: &[u8]) -> io::Result<usize> {
    stream.set_nonblocking(true)?;
    let written = (&*stream).write(bytes);
    stream.set_nonblocking(false)?;
    written
}

/// Whether an I/O error only means "not now".
fn is_retry(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// The longest wait for one connection attempt: the connection timeout,
/// within the request timeout and what is left until `until`. `None`
/// leaves it to the operating system; a limit below a millisecond is
/// raised to one, which the operating system accepts.
fn connect_limit(settings: &Settings, until: Option<Instant>) -> Option<Duration> {
    /// Longer than this is no limit in practice (and some systems refuse
    /// it).
    const NO_LIMIT: Duration = Duration::from_secs(365 * 24 * 60 * 60);
    let left = until.map(|u| u.saturating_duration_since(Instant::now()));
    let limit = [settings.connect_timeout, settings.request_timeout, left]
        .into_iter()
        .flatten()
        .min()?;
    (limit < NO_LIMIT).then(|| limit.max(Duration::from_millis(1)))
}

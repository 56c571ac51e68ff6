//! One served connection: the core's `Server` between a socket and the
//! handler, with bounded memory.
//!
//! A single task moves bytes: it reads (2 KiB at a time, decoded as the
//! reference server decodes them), hands each decoded request to the
//! handler, answers at once or runs the handler's future as a task of its
//! own, and writes the answers as they come. It stops reading while the
//! core is paused at its window, while the bodies in flight or the answers
//! waiting for the client are past their bounds, so a client that writes
//! without reading, or reads slowly, holds a bounded amount of memory.

use std::collections::HashMap;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use kairoi_proto::{BodyRef, LossyUtf8, Server, ServerEventRef, Status, Token};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::task::{Id, JoinError, JoinSet};
use tokio::time::{Instant, Sleep};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use super::counters::OpenGuard;
use super::{Handler, Reply, ServeOptions};

/// The most bytes one read takes: 2 KiB, as the reference server reads,
/// so that a character cut by the end of a read is decoded alike (see
/// [`LossyUtf8`]).
pub(crate) const READ_SIZE: usize = 2048;
/// Rounds of work one poll does before it lets other tasks run.
const ROUNDS: usize = 32;
/// Requests one round decodes at most.
const DISPATCH: usize = 256;

/// How a connection ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// The end of the client's input, or a malformed message: what was
    /// answered is written, then the connection closes; the requests
    /// whose handlers still run are applied, never answered (as the
    /// reference server does).
    Closed,
    /// A graceful stop: every request read was answered.
    Drained,
    /// The client reset the connection, or read nothing for the write
    /// timeout.
    Lost,
}

/// A request whose handler runs.
struct Pending {
    token: Token,
    cost: usize,
}

struct Connection<H> {
    stream: TcpStream,
    server: Server,
    input: LossyUtf8,
    read_buf: Box<[u8; READ_SIZE]>,
    /// Answers to write.
    out: BytesMut,
    tasks: JoinSet<Status>,
    pending: HashMap<Id, Pending>,
    in_flight_bytes: usize,
    handler: Arc<H>,
    options: Arc<ServeOptions>,
    stop: Pin<Box<WaitForCancellationFutureOwned>>,
    stopping: bool,
    /// Set once the input ended or failed: nothing more is decoded or
    /// answered.
    closing: bool,
    stall: Option<Pin<Box<Sleep>>>,
    /// The bytes held, as last counted in the counters.
    held: usize,
}

/// Serves `stream` until it ends; `stop` starts a graceful stop.
pub(super) async fn run<H: Handler>(
    stream: TcpStream,
    handler: Arc<H>,
    options: Arc<ServeOptions>,
    stop: CancellationToken,
    open: OpenGuard,
) {
    let _ = stream.set_nodelay(true);
    let server = Server::new(*options.config()).with_identifier_echo(options.identifier_echo());
    let stall = options
        .write_timeout()
        .map(|_| Box::pin(tokio::time::sleep(Duration::ZERO)));
    let mut conn = Connection {
        stream,
        server,
        input: LossyUtf8::default(),
        read_buf: Box::new([0; READ_SIZE]),
        out: BytesMut::new(),
        tasks: JoinSet::new(),
        pending: HashMap::new(),
        in_flight_bytes: 0,
        handler,
        options,
        stop: Box::pin(stop.cancelled_owned()),
        stopping: false,
        closing: false,
        stall,
        held: 0,
    };
    let ending = poll_fn(|cx| {
        let step = conn.poll_step(cx);
        conn.count_held();
        step
    })
    .await;
    let counters = conn.options.counters().clone();
    match ending {
        Ending::Drained => {
            // Every answer is written: end the stream cleanly.
            let _ = poll_fn(|cx| Pin::new(&mut conn.stream).poll_shutdown(cx)).await;
        }
        Ending::Closed => {
            if conn.server.is_failed() {
                counters.malformed_close();
            }
        }
        Ending::Lost => counters.drop_connection(),
    }
    // Dropping the connection detaches the requests whose handlers still
    // run: they are applied, unanswered.
    drop(conn);
    drop(open);
}

impl<H: Handler> Connection<H> {
    /// Does what can be done now; ready once the connection ends.
    fn poll_step(&mut self, cx: &mut Context<'_>) -> Poll<Ending> {
        for _ in 0..ROUNDS {
            let mut progress = false;
            if !self.stopping && self.stop.as_mut().poll(cx).is_ready() {
                self.stopping = true;
                progress = true;
            }
            while let Poll::Ready(Some(done)) = self.tasks.poll_join_next_with_id(cx) {
                self.complete(done);
                progress = true;
            }
            if !self.closing {
                progress |= self.dispatch();
            }
            if !self.out.is_empty() {
                match Pin::new(&mut self.stream).poll_write(cx, &self.out) {
                    Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => return Poll::Ready(Ending::Lost),
                    Poll::Ready(Ok(n)) => {
                        self.out.advance(n);
                        self.arm_stall();
                        progress = true;
                    }
                    Poll::Pending => {}
                }
            }
            if self.closing && self.out.is_empty() {
                return Poll::Ready(Ending::Closed);
            }
            if !self.out.is_empty() {
                if let Some(stall) = &mut self.stall {
                    if stall.as_mut().poll(cx).is_ready() {
                        return Poll::Ready(Ending::Lost);
                    }
                }
            }
            if !self.closing && !self.stopping && self.wants_input() {
                match self.poll_read(cx) {
                    Poll::Ready(Ok(())) => progress = true,
                    Poll::Ready(Err(())) => return Poll::Ready(Ending::Lost),
                    Poll::Pending => {}
                }
            }
            if !progress {
                if self.stopping && self.tasks.is_empty() && self.out.is_empty() {
                    // Nothing in flight, nothing decodable left.
                    return Poll::Ready(Ending::Drained);
                }
                return Poll::Pending;
            }
        }
        // Much to do: let other tasks run, then go on.
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// Counts the bytes held now.
    fn count_held(&mut self) {
        let now = self.out.len() + self.server.buffered_receive() + self.in_flight_bytes;
        self.options.counters().held(self.held, now);
        self.held = now;
    }

    /// Whether to read: the core wants input, and neither the bytes not
    /// yet decoded nor the answers waiting for the client are past their
    /// bounds.
    fn wants_input(&self) -> bool {
        self.server.wants_input()
            && self.server.buffered_receive() < self.server.paused_limit()
            && self.out.len() < self.options.max_unwritten()
    }

    /// One read, given to the core as the reference server decodes it;
    /// the end of the input is told to the core. `Err` when the read
    /// failed.
    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ()>> {
        let mut buf = ReadBuf::new(&mut self.read_buf[..]);
        match Pin::new(&mut self.stream).poll_read(cx, &mut buf) {
            Poll::Ready(Ok(())) if buf.filled().is_empty() => {
                self.server.receive_eof();
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Ok(())) => {
                let text = self.input.decode(buf.filled());
                // Read only while the core is not paused: it takes every
                // byte.
                let _ = self.server.receive(text);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(_)) => Poll::Ready(Err(())),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Decodes what was read and hands each request to the handler, while
    /// the bodies in flight are within their bound. Whether anything
    /// happened.
    fn dispatch(&mut self) -> bool {
        let mut progress = false;
        for _ in 0..DISPATCH {
            if self.in_flight_bytes > 0
                && self.in_flight_bytes >= self.options.max_in_flight_bytes()
            {
                break;
            }
            let Some(event) = self.server.poll_event_ref() else {
                break;
            };
            progress = true;
            let request = match event {
                ServerEventRef::Request(request) => request,
                ServerEventRef::Failed(error) => {
                    tracing::debug!(%error, "malformed message: connection closed");
                    self.closing = true;
                    break;
                }
                // The end of the input, as the reference server: what was
                // answered is written, and the connection closes.
                _ => {
                    self.closing = true;
                    break;
                }
            };
            self.options.counters().request();
            let reply = self.handler.call(&request);
            let cost = body_len(&request.body);
            let token = request.token;
            match reply {
                Reply::Now(status) => self.answer(token, status),
                Reply::Later(future) => {
                    let handle = self.tasks.spawn(future);
                    self.pending.insert(handle.id(), Pending { token, cost });
                    self.in_flight_bytes += cost;
                }
            }
        }
        progress
    }

    /// A handler's future ended: its answer is written, unless the
    /// connection is closing.
    fn complete(&mut self, done: Result<(Id, Status), JoinError>) {
        let (id, status) = match done {
            Ok(done) => done,
            Err(e) => {
                tracing::warn!(error = %e, "a request's handler failed: answered ERROR");
                (e.id(), Status::Error)
            }
        };
        let Some(pending) = self.pending.remove(&id) else {
            return;
        };
        self.in_flight_bytes = self.in_flight_bytes.saturating_sub(pending.cost);
        if !self.closing {
            self.answer(pending.token, status);
        }
    }

    /// Queues an answer for writing.
    fn answer(&mut self, token: Token, status: Status) {
        if self.server.respond(token, status).is_ok() {
            if self.out.is_empty() {
                self.arm_stall();
            }
            self.server.transmit_into(&mut self.out);
            self.options.counters().answer();
        }
    }

    /// Starts the write timeout again: answers are waiting, or the client
    /// just read some.
    fn arm_stall(&mut self) {
        if let (Some(stall), Some(timeout)) = (&mut self.stall, self.options.write_timeout()) {
            let at = Instant::now()
                .checked_add(timeout)
                .unwrap_or_else(far_future);
            stall.as_mut().reset(at);
        }
    }
}

impl<H> Drop for Connection<H> {
    fn drop(&mut self) {
        // However the task ends, aborted included: the requests whose
        // handlers still run are applied, unanswered, and the bytes held
        // are released.
        self.tasks.detach_all();
        self.options.counters().held(self.held, 0);
    }
}

/// An instant no timer reaches: about thirty years ahead.
fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365 * 30)
}

/// What a request's body holds in memory while its handler runs.
fn body_len(body: &BodyRef<'_>) -> usize {
    body.iter().map(|a| a.len() + 1).sum()
}

//! The task that owns one connection: it moves bytes between the transport
//! and the core state machine and wakes each request's waiter.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::io::{self, ErrorKind};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use kairoi_proto::{Cause, Client, Config, Event, Outcome, RequestError, RequestId};
use smol::Timer;
use smol::channel::Receiver;
use smol::io::{AsyncRead, AsyncWrite};
use smol::stream::Stream;

use crate::command::{Body, Command, Job, Reply, instant_after};

const READ_BUF: usize = 16 * 1024;

/// Turns of the loop with progress before the driver yields to the
/// executor, so a busy connection never starves other tasks.
const TURNS_PER_POLL: u32 = 64;

struct Waiter {
    ticket: u64,
    reply: Reply,
    sent_at: Instant,
    span: tracing::Span,
}

/// The driver future of one connection. It ends once the connection is
/// closed and every request it took has its outcome.
pub(crate) struct Driver<T> {
    io: T,
    core: Client<Instant>,
    commands: Pin<Box<Receiver<Command>>>,
    commands_open: bool,
    /// Submitted requests waiting for room in the window.
    queue: VecDeque<Job>,
    waiters: HashMap<RequestId, Waiter>,
    tickets: HashMap<u64, RequestId>,
    /// Requests ended by the connection's end, answered once its cause is known.
    ended: Vec<(Waiter, Outcome)>,
    read_buf: Box<[u8]>,
    eof: bool,
    closing: Option<Instant>,
    /// How long to finish submitted requests once every handle is gone.
    close_timeout: Duration,
    /// Reported in [`RequestError::TimedOut`].
    request_timeout: Duration,
    io_error: Option<Cause>,
    timer: Timer,
    timer_at: Option<Instant>,
}

impl<T: AsyncRead + AsyncWrite + Unpin> Driver<T> {
    pub(crate) fn new(
        io: T,
        config: Config,
        commands: Receiver<Command>,
        close_timeout: Duration,
        request_timeout: Duration,
    ) -> Self {
        Driver {
            io,
            core: Client::new(config),
            commands: Box::pin(commands),
            commands_open: true,
            queue: VecDeque::new(),
            waiters: HashMap::new(),
            tickets: HashMap::new(),
            ended: Vec::new(),
            read_buf: vec![0; READ_BUF].into_boxed_slice(),
            eof: false,
            closing: None,
            close_timeout,
            request_timeout,
            io_error: None,
            timer: Timer::never(),
            timer_at: None,
        }
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Send(job) => {
                if self.closing.is_some() {
                    job.reply.send(Err(RequestError::NotSent {
                        cause: Cause::Closed,
                    }));
                } else {
                    self.queue.push_back(*job);
                }
            }
            Command::Cancel(ticket) => {
                if let Some(id) = self.tickets.remove(&ticket) {
                    self.waiters.remove(&id);
                    let cancelled = self.core.cancel(id);
                    tracing::debug!(%id, ?cancelled, "request cancelled");
                }
                // A ticket still queued is skipped when admitted: its reply
                // channel is closed.
            }
            Command::Close { deadline } => self.start_closing(deadline),
        }
    }

    fn start_closing(&mut self, deadline: Instant) {
        self.closing = Some(self.closing.map_or(deadline, |d| d.min(deadline)));
    }

    /// Moves queued requests into the core while the window has room.
    fn admit(&mut self, now: Instant) {
        while let Some(job) = self.queue.front() {
            if job.reply.is_closed() {
                self.queue.pop_front();
                continue;
            }
            if job.deadline <= now {
                if let Some(job) = self.queue.pop_front() {
                    job.reply.send(Err(RequestError::TimedOut {
                        timeout: self.request_timeout,
                    }));
                }
                continue;
            }
            if !self.core.can_send() {
                break;
            }
            let Some(job) = self.queue.pop_front() else {
                break;
            };
            let sent = match &job.body {
                Body::Typed(instruction) => self.core.send(instruction),
                Body::Raw(arguments) => self.core.send_arguments(arguments),
            };
            match sent {
                Ok(id) => {
                    self.core.set_deadline(id, job.deadline);
                    job.span.record("id", tracing::field::display(id));
                    job.span.record(
                        "queue_us",
                        now.duration_since(job.queued_at).as_micros() as u64,
                    );
                    self.tickets.insert(job.ticket, id);
                    self.waiters.insert(
                        id,
                        Waiter {
                            ticket: job.ticket,
                            reply: job.reply,
                            sent_at: now,
                            span: job.span,
                        },
                    );
                }
                Err(e) => {
                    job.reply.send(Err(RequestError::Invalid(e)));
                }
            }
        }
        if self.closing.is_some() && self.queue.is_empty() {
            self.core.close();
        }
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Outcome { id, outcome } => {
                let Some(waiter) = self.waiters.remove(&id) else {
                    return;
                };
                self.tickets.remove(&waiter.ticket);
                match outcome {
                    Outcome::NotSent | Outcome::Unknown => self.ended.push((waiter, outcome)),
                    _ => resolve(waiter, outcome, self.request_timeout, || Cause::Closed),
                }
            }
            Event::Closed { error } => {
                let cause = match (error, self.io_error.take()) {
                    (_, Some(io)) => io,
                    (Some(e), None) => Cause::Protocol(e),
                    (None, None) => Cause::Closed,
                };
                if !matches!(cause, Cause::Closed) {
                    tracing::debug!(%cause, "connection ended");
                }
                // Close the channel before waking anyone: a caller that
                // learns of the end and sends again must find this
                // connection closed and make a new one, not queue here.
                self.drain_commands(&cause);
                for (waiter, outcome) in self.ended.drain(..) {
                    resolve(waiter, outcome, self.request_timeout, || cause.clone());
                }
                for job in self.queue.drain(..) {
                    job.reply.send(Err(RequestError::NotSent {
                        cause: cause.clone(),
                    }));
                }
            }
            _ => {}
        }
    }

    fn fail_io(&mut self, error: io::Error) {
        self.io_error = Some(Cause::from(error));
        self.core.abort();
    }

    /// Closes the command channel and answers what is left in it: requests
    /// that raced with the end never reach a transport.
    fn drain_commands(&mut self, cause: &Cause) {
        self.commands.close();
        while let Ok(command) = self.commands.try_recv() {
            if let Command::Send(job) = command {
                job.reply.send(Err(RequestError::NotSent {
                    cause: cause.clone(),
                }));
            }
        }
    }

    /// Takes every command waiting in the channel.
    fn poll_commands(&mut self, cx: &mut Context<'_>) -> bool {
        let mut progress = false;
        while self.commands_open {
            match self.commands.as_mut().poll_next(cx) {
                Poll::Ready(Some(command)) => self.on_command(command),
                Poll::Ready(None) => {
                    // Every handle is gone: finish what was submitted.
                    self.commands_open = false;
                    let deadline = instant_after(Instant::now(), self.close_timeout);
                    self.start_closing(deadline);
                }
                Poll::Pending => break,
            }
            progress = true;
        }
        progress
    }

    /// Writes what the core has to send, then flushes.
    fn poll_write(&mut self, cx: &mut Context<'_>) -> bool {
        let mut progress = false;
        while let Some(bytes) = self.core.poll_transmit() {
            match Pin::new(&mut self.io).poll_write(cx, bytes) {
                Poll::Ready(Ok(0)) => {
                    self.fail_io(ErrorKind::WriteZero.into());
                    return true;
                }
                Poll::Ready(Ok(n)) => {
                    self.core.consume_transmit(n);
                    progress = true;
                }
                Poll::Ready(Err(e)) if e.kind() == ErrorKind::Interrupted => progress = true,
                Poll::Ready(Err(e)) => {
                    self.fail_io(e);
                    return true;
                }
                Poll::Pending => break,
            }
        }
        if !self.core.is_closed() {
            if let Poll::Ready(Err(e)) = Pin::new(&mut self.io).poll_flush(cx) {
                self.fail_io(e);
                progress = true;
            }
        }
        progress
    }

    /// Reads once and hands the bytes (or the end of stream) to the core.
    fn poll_read(&mut self, cx: &mut Context<'_>) -> bool {
        if self.eof || self.core.is_closed() {
            return false;
        }
        match Pin::new(&mut self.io).poll_read(cx, &mut self.read_buf) {
            Poll::Ready(Ok(0)) => {
                self.eof = true;
                self.core.receive_eof();
            }
            Poll::Ready(Ok(n)) => self.core.receive(&self.read_buf[..n]),
            Poll::Ready(Err(e)) if e.kind() == ErrorKind::Interrupted => {}
            Poll::Ready(Err(e)) => self.fail_io(e),
            Poll::Pending => return false,
        }
        true
    }

    /// Arms the timer for the next deadline and handles it once passed.
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> bool {
        let next = [
            self.core.poll_timeout(),
            self.queue.front().map(|j| j.deadline),
            self.closing,
        ]
        .into_iter()
        .flatten()
        .min();
        let Some(at) = next else {
            return false;
        };
        if self.timer_at != Some(at) {
            self.timer.set_at(at);
            self.timer_at = Some(at);
        }
        if Pin::new(&mut self.timer).poll(cx).is_pending() {
            return false;
        }
        self.timer_at = None;
        let now = Instant::now();
        self.core.handle_timeout(now);
        if self.closing.is_some_and(|d| d <= now) {
            self.core.abort();
        }
        true
    }

    fn poll_drive(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        for _ in 0..TURNS_PER_POLL {
            let mut progress = self.poll_commands(cx);
            self.admit(Instant::now());
            progress |= self.poll_write(cx);
            progress |= self.poll_read(cx);
            while let Some(event) = self.core.poll_event() {
                self.on_event(event);
                progress = true;
            }
            if self.core.is_closed() {
                // `Event::Closed` drained the channel; this answers any
                // command sent in between.
                self.drain_commands(&Cause::Closed);
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

fn resolve(waiter: Waiter, outcome: Outcome, timeout: Duration, cause: impl FnOnce() -> Cause) {
    let rtt = waiter.sent_at.elapsed();
    waiter.span.record("rtt_us", rtt.as_micros() as u64);
    waiter
        .span
        .in_scope(|| tracing::debug!(?outcome, "request ended"));
    let result = match RequestError::from_outcome(outcome, timeout, cause) {
        None => Ok(()),
        Some(e) => Err(e),
    };
    waiter.reply.send(result);
}

impl<T: AsyncRead + AsyncWrite + Unpin> Future for Driver<T> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.get_mut().poll_drive(cx)
    }
}

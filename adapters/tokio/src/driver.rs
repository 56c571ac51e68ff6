//! The task that owns one connection: it moves bytes between the socket and
//! the core state machine and wakes each request's waiter.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use kairoi_proto::{Cause, Client, Config, Event, Outcome, RequestError, RequestId};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::mpsc;
use tokio::time::Sleep;

use crate::command::{Body, Command, Job, Reply};

const READ_BUF: usize = 16 * 1024;

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
    commands: mpsc::UnboundedReceiver<Command>,
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
    io_error: Option<Cause>,
    timer: Pin<Box<Sleep>>,
    timer_at: Option<Instant>,
    active: Arc<AtomicUsize>,
    request_timeout: Duration,
}

impl<T: AsyncRead + AsyncWrite + Unpin> Driver<T> {
    pub(crate) fn new(
        io: T,
        config: Config,
        request_timeout: Duration,
        commands: mpsc::UnboundedReceiver<Command>,
        active: Arc<AtomicUsize>,
    ) -> Self {
        Driver {
            io,
            core: Client::new(config),
            commands,
            commands_open: true,
            queue: VecDeque::new(),
            waiters: HashMap::new(),
            tickets: HashMap::new(),
            ended: Vec::new(),
            read_buf: vec![0; READ_BUF].into_boxed_slice(),
            eof: false,
            closing: None,
            io_error: None,
            timer: Box::pin(tokio::time::sleep_until(tokio::time::Instant::now())),
            timer_at: None,
            active,
            request_timeout,
        }
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Send(job) => {
                if self.closing.is_some() {
                    let _ = job.reply.send(Err(RequestError::NotSent {
                        cause: Cause::Closed,
                    }));
                } else {
                    self.queue.push_back(*job);
                }
            }
            Command::Cancel(ticket) => {
                if let Some(id) = self.tickets.remove(&ticket) {
                    if self.waiters.remove(&id).is_some() {
                        self.active.fetch_sub(1, Ordering::Relaxed);
                    }
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
                let job = self.queue.pop_front().expect("front exists");
                let _ = job.reply.send(Err(RequestError::TimedOut {
                    timeout: self.request_timeout,
                }));
                continue;
            }
            if !self.core.can_send() {
                break;
            }
            let job = self.queue.pop_front().expect("front exists");
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
                    self.active.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    let _ = job.reply.send(Err(RequestError::Invalid(e)));
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
                self.active.fetch_sub(1, Ordering::Relaxed);
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
                self.drain_commands();
                for (waiter, outcome) in self.ended.drain(..) {
                    resolve(waiter, outcome, self.request_timeout, || cause.clone());
                }
                for job in self.queue.drain(..) {
                    let _ = job.reply.send(Err(RequestError::NotSent {
                        cause: cause.clone(),
                    }));
                }
            }
            _ => {}
        }
    }

    fn fail_io(&mut self, error: std::io::Error) {
        self.io_error = Some(Cause::from(error));
        self.core.abort();
    }

    /// Answers what is left once the core is closed: commands that raced
    /// with the end never reach a socket.
    fn drain_commands(&mut self) {
        self.commands.close();
        while let Ok(command) = self.commands.try_recv() {
            if let Command::Send(job) = command {
                let _ = job.reply.send(Err(RequestError::NotSent {
                    cause: Cause::Closed,
                }));
            }
        }
    }

    fn poll_drive(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            let mut progress = false;
            while self.commands_open {
                match self.commands.poll_recv(cx) {
                    Poll::Ready(Some(command)) => self.on_command(command),
                    Poll::Ready(None) => {
                        // Every handle is gone: finish what was submitted.
                        self.commands_open = false;
                        self.start_closing(Instant::now() + crate::builder::DEFAULT_CLOSE_TIMEOUT);
                    }
                    Poll::Pending => break,
                }
                progress = true;
            }
            let now = Instant::now();
            self.admit(now);

            while let Some(bytes) = self.core.poll_transmit() {
                match Pin::new(&mut self.io).poll_write(cx, bytes) {
                    Poll::Ready(Ok(0)) => {
                        self.fail_io(std::io::ErrorKind::WriteZero.into());
                        break;
                    }
                    Poll::Ready(Ok(n)) => {
                        self.core.consume_transmit(n);
                        progress = true;
                    }
                    Poll::Ready(Err(e)) => {
                        self.fail_io(e);
                        break;
                    }
                    Poll::Pending => break,
                }
            }
            if !self.core.is_closed() {
                if let Poll::Ready(Err(e)) = Pin::new(&mut self.io).poll_flush(cx) {
                    self.fail_io(e);
                }
            }

            if !self.eof && !self.core.is_closed() {
                let mut buf = ReadBuf::new(&mut self.read_buf);
                match Pin::new(&mut self.io).poll_read(cx, &mut buf) {
                    Poll::Ready(Ok(())) if buf.filled().is_empty() => {
                        self.eof = true;
                        self.core.receive_eof();
                        progress = true;
                    }
                    Poll::Ready(Ok(())) => {
                        self.core.receive(buf.filled());
                        progress = true;
                    }
                    Poll::Ready(Err(e)) => {
                        self.fail_io(e);
                        progress = true;
                    }
                    Poll::Pending => {}
                }
            }

            while let Some(event) = self.core.poll_event() {
                self.on_event(event);
                progress = true;
            }
            if self.core.is_closed() {
                self.drain_commands();
                return Poll::Ready(());
            }

            let next = [
                self.core.poll_timeout(),
                self.queue.front().map(|j| j.deadline),
                self.closing,
            ]
            .into_iter()
            .flatten()
            .min();
            if let Some(at) = next {
                if self.timer_at != Some(at) {
                    self.timer.as_mut().reset(at.into());
                    self.timer_at = Some(at);
                }
                if self.timer.as_mut().poll(cx).is_ready() {
                    self.timer_at = None;
                    let now = Instant::now();
                    self.core.handle_timeout(now);
                    if self.closing.is_some_and(|d| d <= now) {
                        self.core.abort();
                    }
                    progress = true;
                }
            }
            if !progress {
                return Poll::Pending;
            }
        }
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
    let _ = waiter.reply.send(result);
}

impl<T: AsyncRead + AsyncWrite + Unpin> Future for Driver<T> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.get_mut().poll_drive(cx)
    }
}

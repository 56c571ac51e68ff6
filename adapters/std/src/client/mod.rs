//! The blocking [`Client`].

use std::borrow::Borrow;
use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use kairoi_client::mux::Payload;
use kairoi_client::{InOrder, ServerAddr, Settings, instant_after};
use kairoi_proto::{DateTime, Instruction, Runner, Text};

mod batch;
mod builder;
mod connection;
mod link;
mod pool;

pub use builder::ClientBuilder;
pub use kairoi_client::RetryPolicy;

use batch::{Request, Sink, Typed};
use link::Link;

use crate::{Cause, RequestError};

/// A blocking KCP client on one TCP connection, or a pool of them for
/// batches.
///
/// Each call sends its requests, waits for every outcome and returns; a
/// batch ([`Client::execute_all`], [`Client::execute_each`]) is pipelined
/// through the window, with responses read while requests are written,
/// and spread over the pool's connections (each driven by a thread of
/// its own for the batch's duration). Every request ends in exactly one
/// result.
///
/// When a connection breaks, or reads nothing for a request timeout while
/// requests are active, the call reports what happened to each of its
/// requests ([`RequestError::NotSent`] or [`RequestError::Unknown`]) and
/// the next call connects again, with backoff and jitter after failed
/// attempts. Nothing is sent again unless a [`RetryPolicy`] says so.
///
/// ```no_run
/// use kairoi_std::{Client, DateTime, Instruction, Runner};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut client = Client::connect("127.0.0.1:5678")?;
/// client.set_rule("mail", "app.mail.", Runner::shell("/usr/bin/send-mail"))?;
/// let when: DateTime = "2030-01-01 08:00:00".parse()?;
/// client.set_job("app.mail.1", when)?;
///
/// let batch: Vec<Instruction> = (2..10_000)
///     .map(|n| Instruction::set(format!("app.mail.{n}"), when))
///     .collect();
/// for (n, result) in client.execute_all(&batch).iter().enumerate() {
///     if let Err(e) = result {
///         eprintln!("job {n}: {e}");
///     }
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Client {
    target: ServerAddr,
    settings: Settings,
    links: Vec<Link>,
}

impl Client {
    /// Connects to `addr` with the default settings (see
    /// [`ClientBuilder`]).
    pub fn connect(addr: impl Into<ServerAddr>) -> io::Result<Client> {
        Self::builder().connect(addr)
    }

    /// Settings for a new client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    pub(crate) fn open(target: ServerAddr, settings: Settings) -> io::Result<Client> {
        settings.check()?;
        let count = settings.connections.max(1);
        let mut client = Client {
            target,
            settings,
            links: (0..count).map(|_| Link::default()).collect(),
        };
        let (target, settings) = (&client.target, &client.settings);
        client.links[0]
            .connection(target, settings, None)
            .map_err(|cause| io::Error::new(cause.kind(), cause))?;
        Ok(client)
    }

    /// Whether the client holds an open connection now (it reconnects on
    /// the next call otherwise).
    pub fn is_connected(&self) -> bool {
        self.links.iter().any(Link::is_connected)
    }

    /// The server address of the first open connection.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        match self.links.iter().find_map(|l| l.conn.as_ref()) {
            Some(conn) => conn.peer_addr(),
            None => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    /// The settings in force.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The pipeline window: the most requests in flight at once on each
    /// connection.
    pub fn window(&self) -> usize {
        self.settings.window()
    }

    /// Sends one instruction and waits for its outcome, at most the
    /// request timeout (connecting included).
    pub fn execute(&mut self, instruction: &Instruction) -> Result<(), RequestError> {
        self.single(Payload::Typed(instruction.clone()))
    }

    /// Sends a request with any body, for instructions the typed layer
    /// does not know. Each argument is quoted as needed.
    pub fn execute_arguments<A: AsRef<str>>(
        &mut self,
        body: impl IntoIterator<Item = A>,
    ) -> Result<(), RequestError> {
        let body = body.into_iter().map(|a| a.as_ref().to_owned()).collect();
        self.single(Payload::Raw(body))
    }

    /// Creates or reschedules the job `job` to run at `execution` (UTC).
    pub fn set_job(
        &mut self,
        job: impl Into<Text>,
        execution: DateTime,
    ) -> Result<(), RequestError> {
        self.execute(&Instruction::set(job, execution))
    }

    /// Creates or replaces the rule `rule`: jobs whose identifier starts
    /// with `pattern` (the longest matching pattern wins) run with
    /// `runner`.
    pub fn set_rule(
        &mut self,
        rule: impl Into<Text>,
        pattern: impl Into<Text>,
        runner: Runner,
    ) -> Result<(), RequestError> {
        self.execute(&Instruction::rule_set(rule, pattern, runner))
    }

    /// Sends a batch of any size, pipelined through the window (and over
    /// the pool's connections), and returns one result per instruction,
    /// in input order.
    ///
    /// Responses are read while requests are written, so the server never
    /// blocks on a full socket. Takes a slice, a `Vec` or any iterator of
    /// instructions (or references to them); an iterator is consumed
    /// lazily, a window at a time. Each request's timeout starts when it
    /// enters the window.
    pub fn execute_all<I>(&mut self, instructions: I) -> Vec<Result<(), RequestError>>
    where
        I: IntoIterator,
        I::IntoIter: Send,
        I::Item: Borrow<Instruction> + Send,
    {
        let mut results = InOrder::default();
        self.execute_each(instructions, |index, result| results.put(index, result));
        results.finish()
    }

    /// Like [`Client::execute_all`], but hands each result to `on_result`
    /// with the instruction's input position as soon as it is known, in
    /// completion order, instead of collecting them: memory stays bounded
    /// by the window, whatever the batch's size. Every instruction is
    /// reported exactly once before this returns, and `on_result` runs in
    /// the caller's thread. With several connections, the iterator is
    /// advanced from the pool's threads (hence `Send`).
    pub fn execute_each<I, F>(&mut self, instructions: I, mut on_result: F)
    where
        I: IntoIterator,
        I::IntoIter: Send,
        I::Item: Borrow<Instruction> + Send,
        F: FnMut(usize, Result<(), RequestError>),
    {
        let items = instructions
            .into_iter()
            .enumerate()
            .map(|(i, b)| (i, Typed(b)));
        self.run(items, None, &mut on_result);
    }

    /// One request: its connection and its answer within one request
    /// timeout.
    fn single(&mut self, body: Payload) -> Result<(), RequestError> {
        let mut result = None;
        let until = self.settings.request_deadline(Instant::now());
        self.run(std::iter::once((0, body)), until, &mut |_, r| {
            result = Some(r)
        });
        // `run` reports every request exactly once.
        result.unwrap_or(Err(RequestError::NotSent {
            cause: Cause::Closed,
        }))
    }

    /// Sends every item, then resends the failures the retry policy
    /// allows (before `until`, for a single call), and reports each item
    /// once.
    fn run<Q, It>(
        &mut self,
        items: It,
        until: Option<Instant>,
        on_result: &mut dyn FnMut(usize, Result<(), RequestError>),
    ) where
        Q: Request + Send,
        It: Iterator<Item = (usize, Q)> + Send,
    {
        let policy = self.settings.retry;
        let mut retry: Vec<(usize, Payload, RequestError)> = Vec::new();
        let keep = policy.attempts() > 0;
        self.pass(items, keep, until, &mut |index, kept, result| {
            report(policy, &mut retry, on_result, index, kept, result);
        });
        for attempt in 1..=policy.attempts() {
            let resume = instant_after(Instant::now(), policy.backoff());
            if retry.is_empty() || until.is_some_and(|u| resume >= u) {
                break;
            }
            if !policy.backoff().is_zero() {
                std::thread::sleep(policy.backoff());
            }
            let again = std::mem::take(&mut retry);
            let keep = attempt < policy.attempts();
            let items = again.into_iter().map(|(index, body, _)| (index, body));
            self.pass(items, keep, until, &mut |index, kept, result| {
                report(policy, &mut retry, on_result, index, kept, result);
            });
        }
        for (index, _, error) in retry {
            on_result(index, Err(error));
        }
    }

    /// One pass over the pool, opening connections as needed.
    fn pass<Q, It>(&mut self, items: It, keep: bool, until: Option<Instant>, sink: &mut Sink<'_>)
    where
        Q: Request + Send,
        It: Iterator<Item = (usize, Q)> + Send,
    {
        let pass = batch::Pass {
            timeout: self.settings.request_timeout,
            until,
            keep,
        };
        pool::run(
            &mut self.links,
            &self.target,
            &self.settings,
            pass,
            items,
            sink,
        );
    }

    /// Closes every connection. Requests are all finished between calls,
    /// so nothing is lost; late answers of timed-out requests are no
    /// longer awaited.
    pub fn close(mut self) -> io::Result<()> {
        let mut result = Ok(());
        for link in &mut self.links {
            if let Some(conn) = link.conn.take() {
                result = result.and(conn.shutdown());
            }
        }
        result
    }
}

/// Hands a result to the caller, or keeps a failed request for the next
/// attempt when the policy resends it.
fn report(
    policy: RetryPolicy,
    retry: &mut Vec<(usize, Payload, RequestError)>,
    on_result: &mut dyn FnMut(usize, Result<(), RequestError>),
    index: usize,
    kept: Option<Payload>,
    result: Result<(), RequestError>,
) {
    match (kept, result) {
        (Some(body), Err(e)) if policy.allows(&e) => retry.push((index, body, e)),
        (_, result) => on_result(index, result),
    }
}

//! The blocking [`Client`].

use std::borrow::Borrow;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

use kairoi_proto::{DateTime, Instruction, Runner, Text};

mod batch;
mod builder;
mod connection;

pub use builder::ClientBuilder;
pub use kairoi_proto::mux::RetryPolicy;

use batch::{Pass, Sink};
use builder::Settings;
use connection::Connection;

use crate::{Cause, RequestError};

/// A blocking KCP client on one TCP connection.
///
/// Each call sends its requests, waits for every outcome and returns; a
/// batch ([`Client::execute_all`]) is pipelined through the window, with
/// responses read while requests are written. Every request ends in
/// exactly one result.
///
/// When the connection breaks, the call reports what happened to each of
/// its requests ([`RequestError::NotSent`] or [`RequestError::Unknown`]) and the next
/// call connects again. Nothing is sent again unless a [`RetryPolicy`]
/// says so.
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
    addrs: Vec<SocketAddr>,
    settings: Settings,
    conn: Option<Connection>,
}

impl Client {
    /// Connects to `addr` with the default settings (see
    /// [`ClientBuilder`]).
    pub fn connect(addr: impl ToSocketAddrs) -> io::Result<Client> {
        Self::builder().connect(addr)
    }

    /// Settings for a new client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    pub(crate) fn open(addrs: Vec<SocketAddr>, settings: Settings) -> io::Result<Client> {
        let conn = Connection::open(&addrs, &settings)
            .map_err(|cause| io::Error::new(cause.kind(), cause))?;
        Ok(Client {
            addrs,
            settings,
            conn: Some(conn),
        })
    }

    /// Whether the client holds an open connection now (it reconnects on
    /// the next call otherwise).
    pub fn is_connected(&self) -> bool {
        self.conn.as_ref().is_some_and(|c| !c.core.is_closed())
    }

    /// The server address of the current connection.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        match &self.conn {
            Some(conn) => conn.peer_addr(),
            None => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    /// The pipeline window: the most requests in flight at once.
    pub fn window(&self) -> usize {
        self.settings.window
    }

    /// Sends one instruction and waits for its outcome.
    pub fn execute(&mut self, instruction: &Instruction) -> Result<(), RequestError> {
        let mut result = None;
        self.execute_each(std::iter::once(instruction), |_, r| result = Some(r));
        // `execute_each` reports every instruction exactly once.
        result.unwrap_or(Err(RequestError::NotSent {
            cause: Cause::Protocol(kairoi_proto::ConnectionError::Aborted),
        }))
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

    /// Sends a batch of any size, pipelined through the window, and
    /// returns one result per instruction, in input order.
    ///
    /// Responses are read while requests are written, so the server never
    /// blocks on a full socket. Takes a slice, a `Vec` or any iterator of
    /// instructions (or references to them); an iterator is consumed
    /// lazily, a window at a time.
    pub fn execute_all<I>(&mut self, instructions: I) -> Vec<Result<(), RequestError>>
    where
        I: IntoIterator,
        I::Item: Borrow<Instruction>,
    {
        let mut results: Vec<Option<Result<(), RequestError>>> = Vec::new();
        self.execute_each(instructions, |index, result| {
            if results.len() <= index {
                results.resize_with(index + 1, || None);
            }
            results[index] = Some(result);
        });
        // Every position is filled: each instruction is reported once.
        results
            .into_iter()
            .map(|r| {
                r.unwrap_or(Err(RequestError::NotSent {
                    cause: Cause::Protocol(kairoi_proto::ConnectionError::Aborted),
                }))
            })
            .collect()
    }

    /// Like [`Client::execute_all`], but hands each result to `on_result`
    /// with the instruction's input position as soon as it is known, in
    /// completion order, instead of collecting them. Every instruction is
    /// reported exactly once before this returns.
    pub fn execute_each<I, F>(&mut self, instructions: I, mut on_result: F)
    where
        I: IntoIterator,
        I::Item: Borrow<Instruction>,
        F: FnMut(usize, Result<(), RequestError>),
    {
        let policy = self.settings.retry;
        let retrying = policy.attempts() > 0;
        let mut retry: Vec<(usize, Instruction, RequestError)> = Vec::new();
        let mut items = instructions.into_iter().enumerate();
        self.pass(&mut items, retrying, &mut |index, kept, result| {
            report(
                policy,
                retrying,
                &mut retry,
                &mut on_result,
                index,
                kept,
                result,
            );
        });
        for attempt in 1..=policy.attempts() {
            if retry.is_empty() {
                break;
            }
            if !policy.backoff().is_zero() {
                std::thread::sleep(policy.backoff());
            }
            let again = std::mem::take(&mut retry);
            let more = attempt < policy.attempts();
            let mut items = again
                .into_iter()
                .map(|(index, instruction, _)| (index, instruction));
            self.pass(&mut items, more, &mut |index, kept, result| {
                report(
                    policy,
                    more,
                    &mut retry,
                    &mut on_result,
                    index,
                    kept,
                    result,
                );
            });
        }
        for (index, _, error) in retry {
            on_result(index, Err(error));
        }
    }

    /// One pass over a connection, opening one if needed.
    fn pass<B: Borrow<Instruction>>(
        &mut self,
        items: &mut dyn Iterator<Item = (usize, B)>,
        keep: bool,
        sink: &mut Sink<'_>,
    ) {
        let pass = Pass {
            window: self.settings.window,
            timeout: self.settings.request_timeout,
            keep,
        };
        let conn = match self.connection() {
            Ok(conn) => conn,
            Err(cause) => {
                for (index, item) in items {
                    let kept = keep.then(|| item.borrow().clone());
                    sink(
                        index,
                        kept,
                        Err(RequestError::NotSent {
                            cause: cause.clone(),
                        }),
                    );
                }
                return;
            }
        };
        if pass.run(conn, items, sink).is_some() {
            self.conn = None;
        }
    }

    /// The open connection, after checking that the server did not close
    /// it while it was idle, or a new one.
    fn connection(&mut self) -> Result<&mut Connection, Cause> {
        if !self.conn.as_mut().is_some_and(Connection::refresh) {
            self.conn = None;
            self.conn = Some(Connection::open(&self.addrs, &self.settings)?);
        }
        self.conn
            .as_mut()
            .ok_or(Cause::Protocol(kairoi_proto::ConnectionError::Aborted))
    }

    /// Closes the connection. Requests are all finished between calls, so
    /// nothing is lost.
    pub fn close(mut self) -> io::Result<()> {
        match self.conn.take() {
            Some(conn) => conn.shutdown(),
            None => Ok(()),
        }
    }
}

/// Hands a result to the caller, or keeps a failed request for the next
/// attempt when the policy resends it.
fn report<F: FnMut(usize, Result<(), RequestError>)>(
    policy: RetryPolicy,
    retrying: bool,
    retry: &mut Vec<(usize, Instruction, RequestError)>,
    on_result: &mut F,
    index: usize,
    kept: Option<Instruction>,
    result: Result<(), RequestError>,
) {
    match (kept, result) {
        (Some(instruction), Err(e)) if retrying && policy.allows(&e) => {
            retry.push((index, instruction, e));
        }
        (_, result) => on_result(index, result),
    }
}

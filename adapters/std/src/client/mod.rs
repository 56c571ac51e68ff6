//! The blocking [`Client`]: a driver of the engine of `kairoi-client`
//! (its [`Mux`](kairoi_client::mux::Mux) per connection and its
//! [`Feeder`]) in the caller's thread, or one thread per connection of the
//! pool for a batch.

use std::borrow::Borrow;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use kairoi_client::feed::Feeder;
use kairoi_client::mux::Payload;
use kairoi_client::shard::{Route, Shards, Startup};
use kairoi_client::stats::{Counters, Stats};
use kairoi_client::{InOrder, ServerAddr, Settings};
use kairoi_proto::Instruction;

mod builder;
mod pool;
mod slot;
mod socket;

pub use builder::ClientBuilder;
pub use kairoi_client::RetryPolicy;

use pool::Over;
use slot::Slot;

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
/// requests are active, the requests it had written end
/// [`RequestError::Unknown`], and a new connection is made, with backoff
/// and jitter after failed attempts; the requests it had not written go
/// out on the new one, so that a batch rides out a server restart (see
/// [`Disconnected`](crate::Disconnected)). Nothing written is sent again
/// unless a [`RetryPolicy`] says so.
///
/// Over several servers ([`ClientBuilder::connect_servers`]), each server
/// has its own pool; a job goes to the server its identifier is placed on
/// ([`kairoi_proto::placement`]), a rule to every server. A server that is
/// down fails only its own jobs, as [`RequestError::OnServer`] naming it;
/// nothing moves to another server.
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
    settings: Settings,
    shards: Shards,
    counters: Arc<Counters>,
    /// The connections of every server, grouped by server in the order
    /// of `shards`.
    slots: Vec<Slot>,
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

    /// Connects the first connection of each server; the others connect
    /// when a batch needs them. With several servers, a server that
    /// cannot be reached starts down (see [`Startup`]).
    pub(crate) fn open(
        shards: Shards,
        targets: Vec<ServerAddr>,
        settings: Settings,
    ) -> io::Result<Client> {
        settings.check()?;
        let count = settings.connections.max(1);
        let counters = Arc::new(Counters::new(&shards));
        let mut slots = Vec::with_capacity(count * targets.len());
        let mut startup = Startup::new(&shards);
        for (server, target) in targets.into_iter().enumerate() {
            let slot = |target| Slot::new(&settings, server, target, counters.server(server));
            let mut first = slot(target.clone());
            if let Err(cause) = first.connect(&settings, None) {
                startup.failed(server, cause);
            }
            slots.push(first);
            slots.extend((1..count).map(|_| slot(target.clone())));
        }
        startup.finish()?;
        Ok(Client {
            settings,
            shards,
            counters,
            slots,
        })
    }

    /// Whether the client holds an open connection now (it reconnects on
    /// the next call otherwise).
    pub fn is_connected(&self) -> bool {
        self.slots.iter().any(Slot::is_up)
    }

    /// The server address of the first open connection.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        match self.slots.iter().find_map(Slot::socket) {
            Some(socket) => socket.peer_addr(),
            None => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    /// The settings in force.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The names of the servers of a client over several servers, in the
    /// builder's order (empty with one server).
    pub fn servers(&self) -> &[Arc<str>] {
        self.shards.names()
    }

    /// What the client has done since it was built: requests by outcome
    /// (as their callers saw them), and for each server its requests,
    /// what is queued and in the window now, connections, bytes and the
    /// last connection error. Cheap: it reads counters the client keeps
    /// anyway. To read them while a call runs, from another thread, keep
    /// a [`Client::stats_handle`].
    pub fn stats(&self) -> Stats {
        self.counters.snapshot()
    }

    /// The client's counters, to read a [`Stats`] snapshot from any
    /// thread ([`Counters::snapshot`]) while the client works.
    pub fn stats_handle(&self) -> Arc<Counters> {
        Arc::clone(&self.counters)
    }

    /// The pipeline window: the most requests in flight at once on each
    /// connection.
    pub fn window(&self) -> usize {
        self.settings.window()
    }

    kairoi_client::request_calls!(blocking);

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
    /// completion order, instead of collecting them: the client holds at
    /// most a window per connection of the batch (those waiting for a
    /// retry included), whatever its size. Every instruction is reported
    /// exactly once before this returns, and `on_result` runs in the
    /// caller's thread. With several connections, the iterator is
    /// advanced from the pool's threads (hence `Send`).
    ///
    /// A batch rides out a server restart: only the requests written
    /// before the connection ended end [`RequestError::Unknown`]; the rest
    /// go out on the next connection, and nothing more is taken from the
    /// iterator while no connection exists. Once the server has been
    /// unreachable for a whole request timeout, the rest of the iterator
    /// is reported [`RequestError::NotSent`] at once.
    pub fn execute_each<I, F>(&mut self, instructions: I, mut on_result: F)
    where
        I: IntoIterator,
        I::IntoIter: Send,
        I::Item: Borrow<Instruction> + Send,
        F: FnMut(usize, Result<(), RequestError>),
    {
        let items = instructions.into_iter();
        // What fits in one window goes over one connection of each server.
        let spread = items.size_hint().1.is_none_or(|n| n > self.window());
        let over = if spread {
            Over::Every
        } else {
            Over::EachServer
        };
        let items = items.map(|item| Payload::Typed(item.borrow().clone()));
        let (limit, retry) = (self.settings.batch_limit(), self.settings.retry);
        let feeder = Feeder::new(items, &self.shards, limit, retry, None).counting(&self.counters);
        self.call(feeder, over, &mut on_result);
    }

    /// One request, resent while the retry policy allows, all within one
    /// request timeout: a batch of one.
    fn run(&mut self, body: Payload) -> Result<(), RequestError> {
        let until = self.settings.request_deadline(Instant::now());
        let over = match self.shards.route(&body) {
            Route::One(server) => Over::Server(server),
            Route::All => Over::EachServer,
        };
        let retry = self.settings.retry;
        let feeder = Feeder::new(std::iter::once(body), &self.shards, 1, retry, until)
            .counting(&self.counters);
        let mut result = None;
        self.call(feeder, over, &mut |_, r| result = Some(r));
        // Every request is reported exactly once.
        result.unwrap_or(Err(RequestError::NotSent {
            cause: Cause::Closed,
        }))
    }

    fn call<I>(
        &mut self,
        feeder: Feeder<I>,
        over: Over,
        on_result: &mut dyn FnMut(usize, Result<(), RequestError>),
    ) where
        I: Iterator<Item = Payload> + Send,
    {
        let servers = self.shards.len();
        pool::run(
            &mut self.slots,
            servers,
            &self.settings,
            feeder,
            over,
            on_result,
        );
    }

    /// Closes every connection. Requests are all finished between calls,
    /// so nothing is lost; late answers of timed-out requests are no
    /// longer awaited.
    pub fn close(mut self) -> io::Result<()> {
        let mut result = Ok(());
        for slot in &mut self.slots {
            if let Some(socket) = slot.take_socket() {
                result = result.and(socket.shutdown());
            }
        }
        result
    }
}

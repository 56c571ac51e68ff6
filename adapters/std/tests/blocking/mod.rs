//! The blocking client as a `kairoi_suite::restart::BatchClient`, for the
//! restart cases written once for every client.

use std::net::SocketAddr;

use kairoi_std::{Client, Instruction, RequestError};
use kairoi_suite::observed::ObservedClient;
use kairoi_suite::restart::{BatchClient, Options};

/// The blocking client under the restart cases.
pub struct Blocking(Client);

impl BatchClient for Blocking {
    fn connect(addr: SocketAddr, options: Options) -> Self {
        let client = Client::builder()
            .window(options.window)
            .connections(options.connections)
            .request_timeout(options.request_timeout)
            .retry(options.retry)
            .connect(addr)
            .expect("connected");
        Blocking(client)
    }

    fn connect_servers(servers: &[(&str, SocketAddr)], options: Options) -> Self {
        let client = Client::builder()
            .window(options.window)
            .connections(options.connections)
            .request_timeout(options.request_timeout)
            .retry(options.retry)
            .connect_servers(servers.iter().copied())
            .expect("connected");
        Blocking(client)
    }

    fn notice_disconnect(&mut self) {
        // A call reads what arrived on an idle connection before it writes.
    }

    fn notice_disconnect_of_one(&mut self) {
        // As above.
    }

    fn execute(&mut self, instruction: Instruction) -> Result<(), RequestError> {
        self.0.execute(&instruction)
    }

    fn execute_each<I, F>(&mut self, items: I, on_result: F)
    where
        I: Iterator<Item = Instruction> + Send,
        F: FnMut(usize, Result<(), RequestError>),
    {
        self.0.execute_each(items, on_result);
    }

    fn name() -> String {
        "blocking client".to_owned()
    }
}

impl ObservedClient for Blocking {
    fn stats(&self) -> kairoi_std::stats::Stats {
        self.0.stats()
    }
}

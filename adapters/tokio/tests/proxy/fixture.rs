//! A proxy in process, in front of three `TestServer`s, and raw
//! downstream connections to talk to it byte by byte.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use kairoi_proto::placement;
use kairoi_test_server::TestServer;
use kairoi_tokio::proxy::Proxy;
use kairoi_tokio::serve::ServeOptions;
use kairoi_tokio::{Client, ClientBuilder};

/// The upstream servers' names.
pub const NAMES: [&str; 3] = ["kairoi-a", "kairoi-b", "kairoi-c"];
/// A time that never comes during a test.
pub const FUTURE: &str = "\"2099-01-01 00:00:00\"";
/// How long a test waits for a condition before it fails.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// Where a job goes among [`NAMES`].
pub fn placed(job: &str) -> usize {
    placement::place(job.as_bytes(), &NAMES).expect("three servers")
}

/// A runtime, three `TestServer`s and a proxy in front of them.
pub struct Fixture {
    pub rt: tokio::runtime::Runtime,
    pub servers: Vec<TestServer>,
    proxy: Option<Proxy>,
    pub addr: SocketAddr,
}

impl Fixture {
    /// The default settings, two connections per server.
    pub fn three() -> Fixture {
        Fixture::with(|b| b, ServeOptions::default())
    }

    /// The upstream client's builder changed by `client` (two
    /// connections per server unless it says otherwise), the downstream
    /// side served with `options`.
    pub fn with(
        client: impl FnOnce(ClientBuilder) -> ClientBuilder,
        options: ServeOptions,
    ) -> Fixture {
        Fixture::build(client, options, false)
    }

    /// As [`Fixture::with`], the proxy's sockets with small buffers (the
    /// accepted sockets take the listener's), so that the proxy, not the
    /// kernel, holds what a client does not read.
    pub fn with_small_buffers(options: ServeOptions) -> Fixture {
        Fixture::build(|b| b, options, true)
    }

    fn build(
        client: impl FnOnce(ClientBuilder) -> ClientBuilder,
        options: ServeOptions,
        small: bool,
    ) -> Fixture {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let servers: Vec<TestServer> = NAMES
            .iter()
            .map(|_| TestServer::start().expect("a test server"))
            .collect();
        let upstream: Vec<(&str, SocketAddr)> = NAMES
            .iter()
            .copied()
            .zip(servers.iter().map(TestServer::addr))
            .collect();
        let builder = client(
            Client::builder()
                .connections(2)
                .config(Proxy::upstream_config(&options)),
        );
        let proxy = rt.block_on(async {
            let client = builder
                .connect_servers(upstream)
                .await
                .expect("the upstream client");
            let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
            if small {
                socket.set_recv_buffer_size(4096).expect("a receive buffer");
                socket.set_send_buffer_size(4096).expect("a send buffer");
            }
            socket.bind("127.0.0.1:0".parse().unwrap()).expect("bind");
            let listener = socket.listen(1024).expect("listen");
            Proxy::start(listener, client, options).expect("the proxy")
        });
        let addr = proxy.local_addr();
        Fixture {
            rt,
            servers,
            proxy: Some(proxy),
            addr,
        }
    }

    pub fn proxy(&self) -> &Proxy {
        self.proxy.as_ref().expect("running")
    }

    /// Stops the proxy gracefully and returns what its stop returned.
    pub fn stop(&mut self) -> std::io::Result<()> {
        match self.proxy.take() {
            Some(proxy) => self.rt.block_on(proxy.stop()),
            None => Ok(()),
        }
    }

    /// The servers that hold the job `id`.
    pub fn holders(&self, id: &str) -> Vec<usize> {
        (0..self.servers.len())
            .filter(|&n| self.servers[n].job(id).is_some())
            .collect()
    }

    /// A downstream connection whose socket buffers are small, so that
    /// the proxy, not the kernel, holds what the client does not read.
    pub fn connect_small(&self) -> TcpStream {
        let stream = self.rt.block_on(async {
            let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
            socket.set_recv_buffer_size(4096).expect("a receive buffer");
            socket.set_send_buffer_size(4096).expect("a send buffer");
            socket.connect(self.addr).await.expect("connect")
        });
        let stream = stream.into_std().expect("a std stream");
        stream.set_nonblocking(false).expect("blocking");
        stream
    }

    /// Requests received by the three servers.
    pub fn upstream_requests(&self) -> u64 {
        self.servers.iter().map(TestServer::requests_received).sum()
    }

    /// Connections the three servers accepted.
    pub fn upstream_accepted(&self) -> usize {
        self.servers
            .iter()
            .map(TestServer::connections_accepted)
            .sum()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// Waits until `condition` holds, at most [`PATIENCE`].
pub fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !condition() {
        assert!(Instant::now() < deadline, "not within {PATIENCE:?}: {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A downstream connection driven by hand.
pub struct Raw {
    writer: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Raw {
    pub fn connect(addr: SocketAddr) -> Raw {
        let writer = TcpStream::connect(addr).expect("connect to the proxy");
        writer
            .set_read_timeout(Some(PATIENCE))
            .expect("a read timeout");
        let reader = BufReader::new(writer.try_clone().expect("clone"));
        Raw { writer, reader }
    }

    pub fn send(&mut self, bytes: impl AsRef<[u8]>) {
        self.writer
            .write_all(bytes.as_ref())
            .expect("write to the proxy");
    }

    /// The next line, without its line feed; `None` at the end of the
    /// stream.
    pub fn line(&mut self) -> Option<String> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => None,
            Ok(_) => Some(line.trim_end_matches('\n').to_owned()),
            Err(e) => panic!("reading from the proxy: {e}"),
        }
    }

    /// The next `n` lines.
    pub fn lines(&mut self, n: usize) -> Vec<String> {
        (0..n)
            .map(|i| {
                self.line()
                    .unwrap_or_else(|| panic!("the stream ended after {i} lines"))
            })
            .collect()
    }

    /// Every line until the proxy closes the connection.
    pub fn rest(&mut self) -> Vec<String> {
        std::iter::from_fn(|| self.line()).collect()
    }
}

//! The listening socket, its accept loop, and the connections it
//! accepted: each served on a thread of its own, and all closed and
//! joined when the listener stops, at a shutdown or when the server is
//! taken down.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::connection;
use crate::lock;
use crate::shared::Shared;

/// The connections: a handle to close each open one (removed by its
/// thread as it ends, so that an ended connection's socket closes at
/// once), every thread not yet joined, and the flags that tell the accept
/// loop, then the connections, to stop.
#[derive(Debug, Default)]
struct Registry {
    /// Set first: the accept loop ends and the listening socket closes.
    closing: AtomicBool,
    /// Set once the listening socket is closed: the connections end, so
    /// that a client that reconnects at once finds no listener.
    stopping: AtomicBool,
    open: Mutex<HashMap<u64, TcpStream>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Registry {
    /// Closes every open connection.
    fn close_all(&self) {
        for stream in lock(&self.open).values() {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

/// A bound listener, accepting on a thread of its own.
#[derive(Debug)]
pub(crate) struct Listener {
    addr: SocketAddr,
    accept: Option<JoinHandle<()>>,
    connections: Arc<Registry>,
    shared: Arc<Shared>,
}

impl Listener {
    /// Accepts on `listener`, serving each connection on a thread.
    pub(crate) fn start(listener: TcpListener, shared: &Arc<Shared>) -> io::Result<Listener> {
        let addr = listener.local_addr()?;
        let connections = Arc::new(Registry::default());
        let accept = {
            let shared = Arc::clone(shared);
            let connections = Arc::clone(&connections);
            thread::Builder::new()
                .name("kairoi-test-accept".into())
                .spawn(move || accept_loop(&listener, &shared, &connections))?
        };
        Ok(Listener {
            addr,
            accept: Some(accept),
            connections,
            shared: Arc::clone(shared),
        })
    }

    /// Stops accepting and closes the listening socket (a connect is then
    /// refused), closes every connection at once, answered or not, and
    /// joins their threads.
    pub(crate) fn stop(mut self) {
        self.connections.closing.store(true, Ordering::Release);
        if let Some(accept) = self.accept.take() {
            // Wake the blocking accept. If even that fails the thread is
            // left to end at its next accept: it owns nothing but the
            // listener and a reference to the shared state.
            if TcpStream::connect_timeout(&reachable(self.addr), Duration::from_secs(1)).is_ok() {
                let _ = accept.join();
            }
        }
        self.connections.stopping.store(true, Ordering::Release);
        // A connection blocked in a read ends as its socket closes; one
        // that does not read waits for a change of the faults.
        self.connections.close_all();
        self.shared.faults.wake();
        let threads = std::mem::take(&mut *lock(&self.connections.threads));
        for handle in threads {
            let _ = handle.join();
        }
    }
}

/// Where a client reaches a listener bound to `addr`: `addr` itself, or
/// the loopback address for an unspecified one (`0.0.0.0`, `::`).
fn reachable(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port())
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>, connections: &Arc<Registry>) {
    let mut next_id = 0u64;
    loop {
        let accepted = listener.accept();
        if connections.closing.load(Ordering::Acquire) {
            return;
        }
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(_) => {
                // Out of descriptors or an aborted handshake: try again.
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        let Ok(handle) = stream.try_clone() else {
            continue;
        };
        let id = next_id;
        next_id += 1;
        shared.accepted.fetch_add(1, Ordering::Relaxed);
        shared.open.fetch_add(1, Ordering::AcqRel);
        lock(&connections.open).insert(id, handle);
        let for_thread = Arc::clone(shared);
        let registry = Arc::clone(connections);
        let spawned = thread::Builder::new()
            .name("kairoi-test-conn".into())
            .spawn(move || {
                connection::serve(&for_thread, stream, &registry.stopping);
                // The last handle on the socket: it closes now, and a peer
                // that still writes is reset.
                lock(&registry.open).remove(&id);
                {
                    // Under the lock, so that a waiter cannot miss the change.
                    let _state = lock(&for_thread.state);
                    for_thread.open.fetch_sub(1, Ordering::AcqRel);
                }
                for_thread.changed.notify_all();
            });
        let mut threads = lock(&connections.threads);
        // Forget the threads that ended.
        threads.retain(|h| !h.is_finished());
        match spawned {
            Ok(thread) => threads.push(thread),
            Err(_) => {
                shared.open.fetch_sub(1, Ordering::AcqRel);
                if let Some(handle) = lock(&connections.open).remove(&id) {
                    let _ = handle.shutdown(Shutdown::Both);
                }
            }
        }
        drop(threads);
        // A stop() that closed the connections while this one was being
        // registered missed it: close it here.
        if connections.stopping.load(Ordering::Acquire) {
            connections.close_all();
        }
    }
}

//! [`ReferenceServer`]: the reference server as a child process.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::log::{State, read_log};

/// How long a start (or a restart) may take in all, attempts included.
const START_LIMIT: Duration = Duration::from_secs(30);
/// How long one attempt may take to accept connections before the
/// process is killed and started again (its port may have been busy).
const ATTEMPT_LIMIT: Duration = Duration::from_secs(5);
/// How long the server may take to exit after `SIGTERM` before it is
/// killed.
const TERMINATE_LIMIT: Duration = Duration::from_secs(10);
/// How often a wait checks its condition.
const POLL: Duration = Duration::from_millis(2);

/// How to stop the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// `SIGTERM`, as a deploy or a service manager stops a server (the
    /// reference server does not handle it: it ends at once, as with
    /// `SIGKILL`); `SIGKILL` if it has not exited 10 s later.
    Terminate,
    /// `SIGKILL`.
    Kill,
}

/// A reference server on a loopback port, its database in a folder:
/// started, restarted on the same port with the same folder, stopped.
/// Dropped, its process is killed.
#[derive(Debug)]
pub struct ReferenceServer {
    bin: PathBuf,
    dir: PathBuf,
    addr: SocketAddr,
    child: Option<Child>,
}

impl ReferenceServer {
    /// Starts `bin` on a free loopback port, its database (and its
    /// `configuration.toml` and `server.log`) in `dir`, its database loop
    /// at `framerate` ticks per second (the server's default is 128).
    /// Returns once it accepts connections; panics, with the server's
    /// log, if it does not within 30 s.
    pub fn start(bin: &Path, dir: &Path, framerate: u32) -> ReferenceServer {
        std::fs::create_dir_all(dir).expect("the server's folder");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let config = format!(
            "[log]\nlevel = \"warn\"\n[controller]\nlisten = \"127.0.0.1:{port}\"\n\
             [database]\nfsync_on_persist = false\nframerate = {framerate}\n"
        );
        std::fs::write(dir.join("configuration.toml"), config).expect("the configuration");
        let mut server = ReferenceServer {
            bin: bin.to_owned(),
            dir: dir.to_owned(),
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            child: None,
        };
        server.launch();
        server
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its database folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The jobs and rules in its log (see [`read_log`]). Read while it
    /// runs, the log may lack what the server is writing right now.
    pub fn state(&self) -> State {
        read_log(&self.dir)
    }

    /// What it wrote to its standard output and error, every run of it.
    pub fn server_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    /// How its process ended, if it ended by itself; `None` while it runs
    /// (or once [`ReferenceServer::stop`] stopped it).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()?
            .try_wait()
            .expect("the server's status")
    }

    /// Stops it `how`, and waits until its process has exited. Returns
    /// its exit status (`None` if it was stopped already).
    pub fn stop(&mut self, how: Stop) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        if let Some(status) = child.try_wait().expect("the server's status") {
            return Some(status);
        }
        if how == Stop::Terminate {
            let sent = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status()
                .is_ok_and(|s| s.success());
            let deadline = Instant::now() + TERMINATE_LIMIT;
            while sent && Instant::now() < deadline {
                if let Some(status) = child.try_wait().expect("the server's status") {
                    return Some(status);
                }
                std::thread::sleep(POLL);
            }
        }
        let _ = child.kill();
        Some(child.wait().expect("the server's exit"))
    }

    /// Stops it `how` and starts it again on the same port with the same
    /// folder, as a deploy does; returns once it accepts connections
    /// again, with the time it was away (from the stop to the first
    /// accepted connection). The new process loads the folder's log
    /// first. Panics, with the server's log, if it had exited by itself
    /// before, or does not accept connections again within 30 s.
    pub fn restart(&mut self, how: Stop) -> Duration {
        if let Some(status) = self.exited() {
            panic!(
                "the reference server had exited by itself ({status}) before its restart; its log:\n{}",
                self.server_log()
            );
        }
        let away = Instant::now();
        self.stop(how);
        self.launch();
        away.elapsed()
    }

    /// Spawns the server and waits until it accepts connections, spawning
    /// it again after an attempt that does not (its controller thread dies
    /// if the port is busy, and the process lives on without it).
    fn launch(&mut self) {
        let deadline = Instant::now() + START_LIMIT;
        loop {
            let mut child = self.spawn();
            let attempt_end = (Instant::now() + ATTEMPT_LIMIT).min(deadline);
            while Instant::now() < attempt_end {
                if let Some(status) = child.try_wait().expect("the server's status") {
                    panic!(
                        "the reference server exited ({status}) while starting on {}; its log:\n{}",
                        self.addr,
                        self.server_log()
                    );
                }
                if accepts(self.addr) {
                    self.child = Some(child);
                    return;
                }
                std::thread::sleep(POLL);
            }
            let _ = child.kill();
            let _ = child.wait();
            assert!(
                Instant::now() < deadline,
                "the reference server did not accept connections on {} within {START_LIMIT:?}; its log:\n{}",
                self.addr,
                self.server_log()
            );
        }
    }

    fn spawn(&self) -> Child {
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("server.log"))
            .expect("the server's log");
        let _ = writeln!(log, "-- starting {}", self.bin.display());
        // A malformed message panics the connection's thread: without
        // this, a backtrace asked for by the environment would be
        // resolved first, delaying the close by a tick or more.
        Command::new(&self.bin)
            .env("RUST_BACKTRACE", "0")
            .env_remove("RUST_LIB_BACKTRACE")
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("the server's log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting the reference server {}: {e}", self.bin.display()))
    }
}

/// Whether a server accepts connections at `addr` (a socket connected to
/// itself, which an unused loopback port can give, does not count).
fn accepts(addr: SocketAddr) -> bool {
    match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
        Ok(stream) => stream.local_addr().ok() != Some(addr),
        Err(_) => false,
    }
}

impl Drop for ReferenceServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

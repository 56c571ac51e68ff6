//! The reference Kairoi server: started fresh for a scenario, stopped at
//! its end, its state read from the log it keeps on disk.

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::transcript::{JobLine, RuleLine};

/// A running reference server, killed when dropped.
pub struct Reference {
    child: Child,
    pub addr: SocketAddr,
    dir: PathBuf,
}

impl Reference {
    /// Starts `bin` on a free loopback port, its database in `dir`, its
    /// database loop at `framerate` ticks per second.
    pub fn start(bin: &Path, dir: &Path, framerate: u32) -> Reference {
        std::fs::create_dir_all(dir).expect("the server's directory");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let config = format!(
            "[log]\nlevel = \"warn\"\n[controller]\nlisten = \"127.0.0.1:{port}\"\n\
             [database]\nfsync_on_persist = false\nframerate = {framerate}\n"
        );
        std::fs::write(dir.join("configuration.toml"), config).expect("the configuration");
        let log = std::fs::File::create(dir.join("server.log")).expect("the server's log");
        // A malformed message panics the connection's thread: without
        // this, a backtrace asked for by the environment would be
        // resolved first, delaying the close by a tick or more.
        let child = Command::new(bin)
            .env("RUST_BACKTRACE", "0")
            .env_remove("RUST_LIB_BACKTRACE")
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("the log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting the reference server {}: {e}", bin.display()));
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let reference = Reference {
            child,
            addr,
            dir: dir.to_owned(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the reference server did not listen on {addr} within 20 s; its log: {}",
                std::fs::read_to_string(dir.join("server.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        reference
    }

    /// The jobs and rules in the server's log, the last entry of each
    /// identifier winning.
    pub fn state(&self) -> (Vec<JobLine>, Vec<RuleLine>) {
        let mut jobs = BTreeMap::new();
        let mut rules = BTreeMap::new();
        // Compaction moves older entries to these files first.
        for name in ["logfile.compressed", "logfile.to_compress", "logfile"] {
            let Ok(bytes) = std::fs::read(self.dir.join(name)) else {
                continue;
            };
            decode_log(&bytes, &mut jobs, &mut rules);
        }
        (jobs.into_values().collect(), rules.into_values().collect())
    }
}

impl Drop for Reference {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads the entries of a log: each a 32-bit big-endian length and an
/// entry; a job is `0`, its identifier, its time in nanoseconds and its
/// status; a rule is `1`, its identifier, its pattern and its runner.
/// Strings are a 16-bit big-endian length and UTF-8.
fn decode_log(
    mut bytes: &[u8],
    jobs: &mut BTreeMap<String, JobLine>,
    rules: &mut BTreeMap<String, RuleLine>,
) {
    while bytes.len() >= 4 {
        let len = u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize;
        let Some(entry) = bytes.get(4..4 + len) else {
            return;
        };
        bytes = &bytes[4 + len..];
        let mut r = Reader(entry);
        match r.u8() {
            Some(0) => {
                let (Some(id), Some(nanos), Some(status)) = (r.string(), r.i64(), r.u8()) else {
                    continue;
                };
                let status = ["planned", "triggered", "executed", "failed"]
                    .get(usize::from(status))
                    .copied()
                    .unwrap_or("unknown");
                let job = JobLine {
                    id: id.clone(),
                    unix_seconds: nanos.div_euclid(1_000_000_000),
                    status: status.to_owned(),
                };
                jobs.insert(id, job);
            }
            Some(1) => {
                let (Some(id), Some(pattern)) = (r.string(), r.string()) else {
                    continue;
                };
                let runner = match r.u8() {
                    Some(0) => r.string().map(|c| vec!["shell".to_owned(), c]),
                    Some(1) => match (r.string(), r.string(), r.string()) {
                        (Some(d), Some(e), Some(k)) => Some(vec!["amqp".to_owned(), d, e, k]),
                        _ => None,
                    },
                    _ => None,
                };
                let Some(runner) = runner else { continue };
                let rule = RuleLine {
                    id: id.clone(),
                    pattern,
                    runner,
                };
                rules.insert(id, rule);
            }
            _ => {}
        }
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let (head, rest) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn i64(&mut self) -> Option<i64> {
        self.take(8)
            .map(|b| i64::from_be_bytes(b.try_into().unwrap()))
    }
    fn string(&mut self) -> Option<String> {
        let len = self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))?;
        self.take(usize::from(len))
            .map(|b| String::from_utf8_lossy(b).into_owned())
    }
}

//! What the tests of the binary share: running it, starting
//! `kairoi-cli serve`, temporary files, waiting on conditions.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_kairoi-cli");

/// The binary with `--addr addr` and no `KAIROI_ADDR` nor `KAIROI_LOG`
/// of the caller's.
pub fn cli(addr: &str) -> Command {
    let mut c = Command::new(BIN);
    c.env_remove("KAIROI_ADDR")
        .env_remove("KAIROI_LOG")
        .arg("--addr")
        .arg(addr);
    c
}

/// The binary with one `--addr name=host:port` per server and no
/// `KAIROI_ADDR` nor `KAIROI_LOG` of the caller's.
pub fn cli_servers<N: AsRef<str>, A: std::fmt::Display>(servers: &[(N, A)]) -> Command {
    let mut c = Command::new(BIN);
    c.env_remove("KAIROI_ADDR").env_remove("KAIROI_LOG");
    for (name, addr) in servers {
        c.arg("--addr").arg(format!("{}={addr}", name.as_ref()));
    }
    c
}

/// Runs `command` with no stdin and gives its output.
pub fn run(command: &mut Command) -> Output {
    command
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs")
}

/// stdout and stderr as text.
pub fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The exit code (panics on a signal).
pub fn code(output: &Output) -> i32 {
    output.status.code().expect("exited, not killed")
}

/// A fresh directory for one test, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A new empty directory named after `name`.
    pub fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("kairoi-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    /// A path inside it.
    pub fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Waits up to `timeout` for `check` to give something, polling.
pub fn wait_for<T>(timeout: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(found) = check() {
            return Some(found);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `kairoi-cli serve` on a free port, killed when dropped; its stdout
/// lines arrive on a channel.
pub struct Serve {
    pub child: Child,
    pub addr: String,
    pub lines: mpsc::Receiver<String>,
}

impl Serve {
    /// Starts `serve --listen 127.0.0.1:0` with `extra` arguments and
    /// waits for its `listening on ADDR` line.
    pub fn start(extra: &[&str]) -> Serve {
        Self::try_start("127.0.0.1:0", extra).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Starts `serve --listen listen` with `extra` arguments and waits for
    /// its `listening on ADDR` line; an error when it prints none (it
    /// cannot bind `listen`, for instance: it has then exited).
    pub fn try_start(listen: &str, extra: &[&str]) -> Result<Serve, String> {
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", listen])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("serve starts");
        let lines = forward(child.stdout.take().unwrap());
        let first = lines.recv_timeout(Duration::from_secs(30));
        let addr = first.as_deref().ok().and_then(listening_addr);
        let Some(addr) = addr else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "serve printed no `listening on ADDR` line: {first:?}"
            ));
        };
        Ok(Serve { child, addr, lines })
    }

    /// The next line it prints containing `needle`, within `timeout`.
    pub fn line_with(&self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(_) => panic!("serve printed no line with {needle:?} within {timeout:?}"),
            }
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The address of serve's first line: `listening on ADDR ...`, or with
/// `--json` `{"event": "listening", "addr": ADDR, ...}`.
fn listening_addr(line: &str) -> Option<String> {
    if let Some(rest) = line.strip_prefix("listening on ") {
        return rest.split_whitespace().next().map(str::to_owned);
    }
    let json: serde_json::Value = serde_json::from_str(line).ok()?;
    (json["event"] == "listening").then(|| json["addr"].as_str().map(str::to_owned))?
}

fn forward(stdout: ChildStdout) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Writes `count` JSON lines `{"job": "<prefix><n>", "at": "<at>"}`.
pub fn write_jsonl(path: &Path, prefix: &str, count: usize, at: &str) {
    use std::io::Write;
    let mut w = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for n in 0..count {
        writeln!(w, "{{\"job\": \"{prefix}{n}\", \"at\": \"{at}\"}}").unwrap();
    }
    w.flush().unwrap();
}

/// The `N jobs: ...` (`1 job: ...`) summary line of `stdout`.
pub fn summary(stdout: &str) -> &str {
    stdout
        .lines()
        .find(|l| l.contains(" jobs: ") || l.starts_with("1 job: "))
        .unwrap_or_else(|| panic!("no summary in {stdout:?}"))
}

/// A shell script `name` in `dir` that writes its first argument (the
/// job identifier a shell runner passes) to a file; gives the script's
/// path and the file's.
pub fn recording_script(dir: &TempDir, name: &str) -> (PathBuf, PathBuf) {
    let got = dir.path("got.txt");
    let script = dir.path(name);
    std::fs::write(
        &script,
        format!("printf '%s' \"$1\" > '{}'\n", got.display()),
    )
    .unwrap();
    (script, got)
}

/// What the script of [`recording_script`] wrote, once it has, within
/// `timeout`.
pub fn recorded(got: &Path, timeout: Duration) -> Option<Vec<u8>> {
    wait_for(timeout, || {
        std::fs::read(got).ok().filter(|b| !b.is_empty())
    })
}

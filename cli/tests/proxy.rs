//! `kairoi-cli proxy` as a process, in front of three `TestServer`s: an
//! import through it lands where placement says, a rule on every server;
//! SIGTERM stops it once the request in flight is answered, and it exits
//! 0.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{TempDir, cli, cli_servers, code, run, summary, text, wait_for, write_jsonl};
use kairoi_proto::placement;
use kairoi_test_server::{Clock, TestServer};

const NAMES: [&str; 3] = ["alpha", "beta", "gamma"];
/// How long a condition or the binary may take on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(60);

fn placed(job: &str) -> usize {
    placement::place(job.as_bytes(), &NAMES).expect("three servers")
}

/// The proxy process, its address and its stdout lines.
struct Running {
    child: Child,
    addr: String,
    lines: mpsc::Receiver<String>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(servers: &[(&str, String)]) -> Running {
    let mut child = cli_servers(servers)
        .args(["--timeout", "5s", "proxy", "--listen", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the proxy starts");
    let stdout = child.stdout.take().expect("its stdout");
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let first = lines.recv_timeout(PATIENCE).expect("a first line");
    let addr = first
        .strip_prefix("listening on ")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("not a listening line: {first}"))
        .to_owned();
    assert!(first.contains("3 servers (alpha, beta, gamma)"), "{first}");
    Running { child, addr, lines }
}

#[test]
fn an_import_through_the_proxy_then_sigterm_after_the_request_in_flight() {
    let servers = [(); 3].map(|_| {
        TestServer::builder()
            .clock(Clock::Real)
            .start()
            .expect("a test server")
    });
    let list: Vec<(&str, String)> = NAMES
        .iter()
        .zip(&servers)
        .map(|(name, server)| (*name, server.addr().to_string()))
        .collect();
    let mut proxy = start(&list);

    // An import and a rule, through the proxy, with the one-server syntax.
    let dir = TempDir::new("proxy-import");
    let file = dir.path("jobs.jsonl");
    write_jsonl(&file, "imp.", 2000, "2030-01-01 08:00:00");
    let output = run(cli(&proxy.addr)
        .args(["import", "--connections", "2"])
        .arg(&file));
    let (stdout, stderr) = text(&output);
    assert_eq!(code(&output), 0, "{stdout}{stderr}");
    assert!(
        summary(&stdout).starts_with("2000 jobs: 2000 ok"),
        "{stdout}"
    );
    for n in 0..2000 {
        let job = format!("imp.{n}");
        let holders: Vec<usize> = (0..3).filter(|&s| servers[s].job(&job).is_some()).collect();
        assert_eq!(holders, vec![placed(&job)], "{job}");
    }
    let output = run(cli(&proxy.addr).args(["rule", "imp", "imp.", "shell", "/bin/true"]));
    assert_eq!(code(&output), 0, "{:?}", text(&output));
    for server in &servers {
        assert!(server.rules().iter().any(|r| r.id == "imp"));
    }

    // A request in flight when SIGTERM comes: answered, then exit 0.
    for server in &servers {
        server.faults().set_delay(Duration::from_millis(800));
    }
    let received: u64 = servers.iter().map(TestServer::requests_received).sum();
    let mut raw = TcpStream::connect(&proxy.addr).expect("connect to the proxy");
    raw.set_read_timeout(Some(PATIENCE)).expect("a timeout");
    raw.write_all(b"0 SET inflight \"2030-01-01 08:00:00\"\n")
        .expect("write");
    wait_for(PATIENCE, || {
        let now: u64 = servers.iter().map(TestServer::requests_received).sum();
        (now > received).then_some(())
    })
    .expect("the request reached its server");
    let sent = Instant::now();
    let term = Command::new("kill")
        .args(["-TERM", &proxy.child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(term.success());
    let mut answer = String::new();
    BufReader::new(&raw)
        .read_line(&mut answer)
        .expect("the answer");
    assert_eq!(answer, "0 OK\n");
    let status = wait_for(PATIENCE, || proxy.child.try_wait().ok().flatten())
        .expect("the proxy exits after SIGTERM");
    assert_eq!(status.code(), Some(0), "{status:?}");
    let last = std::iter::from_fn(|| proxy.lines.recv_timeout(PATIENCE).ok())
        .find(|l| l.starts_with("stopped after"))
        .expect("a stopped line");
    assert!(last.contains("2002 ok"), "{last}");
    println!("proxy: stopped {:?} after SIGTERM; {last}", sent.elapsed());
    assert!(TcpStream::connect(&proxy.addr).is_err(), "still listening");
}

/// A listening address that is also a server of --addr is refused.
#[test]
fn a_proxy_to_itself_is_refused() {
    let output = run(cli("127.0.0.1:5999").args(["proxy", "--listen", "127.0.0.1:5999"]));
    let (_, stderr) = text(&output);
    assert_eq!(code(&output), 64, "{stderr}");
    assert!(
        stderr.contains("would send its requests to itself"),
        "{stderr}"
    );
}

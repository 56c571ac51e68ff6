//! `import` through two restarts of `kairoi-cli serve`: 300,000 JSON
//! lines, distinct jobs, imported over two connections while `serve` is
//! killed (SIGKILL) and started again on the same port, twice. Each kill
//! comes once that server has reported (`--report-every`) a given number
//! of requests received, so that it falls in the middle of the import
//! whatever the machine's speed.
//!
//! The import rides the restarts out: no line ends "not sent"; the lines
//! written before a connection ended end "unknown", at most a window per
//! connection per restart; every other line is set; the exit code is 0,
//! or 3 when some lines are unknown; stderr describes the first 10 failed
//! lines and counts the others; and the `--failed` file holds exactly the
//! unknown lines, each a line of the input, once.

mod common;

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{Serve, TempDir, cli, summary, wait_for, write_jsonl};
use kairoi_std::ClientBuilder;

/// Lines of the input.
const LINES: u64 = 300_000;
/// `import --connections`.
const CONNECTIONS: u64 = 2;
/// Restarts of `serve` during the import.
const RESTARTS: u64 = 2;
/// Each server is killed once it has received this many requests: the
/// two kills leave most of the file still to import.
const KILL_AT: u64 = 60_000;
/// `serve --report-every`.
const REPORT_EVERY: &str = "5000";
/// How many failed lines `import` describes on stderr.
const SHOWN: u64 = 10;
/// The longest wait for a server's report or for it to listen again.
const LONG: Duration = Duration::from_secs(60);
/// The longest wait for the import to end (it takes seconds).
const IMPORT_DEADLINE: Duration = Duration::from_secs(300);

/// The import's process, killed when dropped, so that a failed assertion
/// leaves nothing running.
struct Import(Child);

impl Drop for Import {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits for a line of `serve` reporting at least `count` requests
/// received (`received N requests, ...`); gives the count it reports.
fn received_at_least(serve: &Serve, count: u64) -> u64 {
    let deadline = Instant::now() + LONG;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = serve.lines.recv_timeout(left).unwrap_or_else(|e| {
            panic!("serve reported no {count} requests received within {LONG:?} ({e})")
        });
        let received = line
            .strip_prefix("received ")
            .and_then(|rest| rest.split(' ').next())
            .and_then(|n| n.parse().ok());
        if let Some(n) = received.filter(|&n| n >= count) {
            return n;
        }
    }
}

/// `serve` on `addr` again, tried again while the port is still held.
fn start_again(addr: &str) -> Serve {
    let mut last = String::new();
    let serve = wait_for(LONG, || {
        Serve::try_start(addr, &["--report-every", REPORT_EVERY])
            .map_err(|e| last = e)
            .ok()
    });
    serve
        .unwrap_or_else(|| panic!("serve could not listen on {addr} again within {LONG:?}: {last}"))
}

/// The figures of the import's summary,
/// `N jobs: X ok, Y rejected, Z not sent, U unknown, T timed out, B bad input in S s (R jobs/s)`:
/// the counts by name (`jobs` for N), and the seconds.
fn figures(summary: &str) -> (HashMap<String, u64>, f64) {
    let understood = || -> Option<(HashMap<String, u64>, f64)> {
        let (jobs, rest) = summary.split_once(" jobs: ")?;
        let (counts, time) = rest.split_once(" in ")?;
        let mut by_name = HashMap::from([("jobs".to_owned(), jobs.parse().ok()?)]);
        for count in counts.split(", ") {
            let (n, name) = count.split_once(' ')?;
            by_name.insert(name.to_owned(), n.parse().ok()?);
        }
        Some((by_name, time.split_once(" s")?.0.parse().ok()?))
    };
    understood().unwrap_or_else(|| panic!("a summary not understood: {summary:?}"))
}

/// The first lines of `text`, for a failure's message.
fn head(text: &str) -> String {
    let lines: Vec<&str> = text.lines().take(5).collect();
    format!("{} (of {} lines)", lines.join("\n"), text.lines().count())
}

#[test]
fn import_rides_out_two_restarts_of_serve() {
    let dir = TempDir::new("restart");
    let (file, failed) = (dir.path("jobs.jsonl"), dir.path("failed.jsonl"));
    let (out_path, err_path) = (dir.path("stdout.txt"), dir.path("stderr.txt"));
    write_jsonl(&file, "restart.", LINES as usize, "2030-01-01 08:00:00");

    let mut serve = Serve::start(&["--report-every", REPORT_EVERY]);
    let addr = serve.addr.clone();
    // Its output goes to files: thousands of failed lines would fill a pipe.
    let mut import = Import(
        cli(&addr)
            .args(["import", "--connections", &CONNECTIONS.to_string()])
            .arg("--failed")
            .arg(&failed)
            .arg(&file)
            .stdin(Stdio::null())
            .stdout(File::create(&out_path).unwrap())
            .stderr(File::create(&err_path).unwrap())
            .spawn()
            .expect("the import starts"),
    );
    for restart in 1..=RESTARTS {
        let received = received_at_least(&serve, KILL_AT);
        let running = import.0.try_wait().unwrap().is_none();
        assert!(running, "the import ended before restart {restart}");
        let killed = Instant::now();
        drop(serve); // SIGKILL, and waited for.
        serve = start_again(&addr);
        println!(
            "restart {restart}: serve killed after {received} requests, listening again after {:?}",
            killed.elapsed()
        );
    }
    let status = wait_for(IMPORT_DEADLINE, || import.0.try_wait().unwrap());
    let status = status.unwrap_or_else(|| panic!("the import did not end in {IMPORT_DEADLINE:?}"));
    let stdout = std::fs::read_to_string(&out_path).unwrap();
    let stderr = std::fs::read_to_string(&err_path).unwrap();
    let code = status.code().expect("the import exited, not killed");
    let summary = summary(&stdout);
    let (count, seconds) = figures(summary);
    let (ok, unknown, not_sent) = (count["ok"], count["unknown"], count["not sent"]);
    println!(
        "import of {LINES} lines through {RESTARTS} restarts: {ok} ok, {unknown} unknown, \
         {not_sent} not sent, exit code {code}, {seconds:.2} s"
    );

    let context = format!("{summary}\nexit code {code}\nstderr: {}", head(&stderr));
    assert_eq!(not_sent, 0, "{context}");
    assert!(!stderr.contains(": not sent: "), "{context}");
    let others = ["rejected", "timed out", "bad input"].map(|name| count[name]);
    assert_eq!(others, [0, 0, 0], "{context}");
    assert_eq!((count["jobs"], ok + unknown), (LINES, LINES), "{context}");
    assert_eq!(code, if unknown > 0 { 3 } else { 0 }, "{context}");
    // The import uses the client's default window.
    let bound = RESTARTS * CONNECTIONS * ClientBuilder::DEFAULT_WINDOW as u64;
    assert!(
        unknown <= bound,
        "{unknown} unknown, at most {bound}: {context}"
    );

    // At most the first 10 failed lines are described on stderr, then a
    // count of the others; the failed file holds every unknown line, each
    // a distinct line of the input, the described ones among them.
    let input = std::fs::read_to_string(&file).unwrap();
    let input: Vec<&str> = input.lines().collect();
    let described: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains(": unknown: "))
        .map(|l| {
            let n = l.strip_prefix("line ").and_then(|r| r.split_once(':'));
            let n: usize = n.and_then(|(n, _)| n.parse().ok()).expect(l);
            input[n - 1]
        })
        .collect();
    let shown = unknown.min(SHOWN);
    assert_eq!(described.len() as u64, shown, "{context}");
    let hidden = unknown - shown;
    if hidden > 0 {
        let count = format!("... and {hidden} more failed line");
        assert!(stderr.contains(&count), "no {count:?}: {context}");
        let all = format!("all {unknown} are in {}", failed.display());
        assert!(stderr.contains(&all), "no {all:?}: {context}");
    }
    let failed = std::fs::read_to_string(&failed).unwrap_or_default();
    let failed: Vec<&str> = failed.lines().collect();
    let kept: HashSet<&str> = failed.iter().copied().collect();
    assert_eq!(failed.len() as u64, unknown, "{context}");
    assert_eq!(kept.len(), failed.len(), "a line twice in the failed file");
    let input: HashSet<&str> = input.into_iter().collect();
    assert!(kept.is_subset(&input), "a failed line not in the input");
    let described: HashSet<&str> = described.into_iter().collect();
    assert!(
        described.is_subset(&kept),
        "a line described on stderr not in the failed file"
    );
}

//! What idle connections cost a `TestServer`: the CPU time of this
//! process while it holds many open connections on which nothing is sent.
//!
//! ```text
//! cargo run --release -p kairoi-test-server --example idle_cpu -- [CONNECTIONS] [SECONDS]
//! ```
//!
//! It starts a `TestServer` (default settings), opens `CONNECTIONS` (2,000
//! by default) TCP connections to it from this same process, waits until
//! the server serves them all, and then measures for `SECONDS` (10 by
//! default), while nothing is sent:
//!
//! - the CPU time of the whole process (user + system, all threads), from
//!   `/proc/self/stat`, in clock ticks of 1/100 s (`USER_HZ`); the client
//!   side has no thread and the main thread sleeps, so this is what the
//!   server's threads spend;
//! - the context switches of its threads (`/proc/self/task/*/status`),
//!   read before and after the window, that is how often they woke up.
//!
//! It needs Linux (`/proc`) and room for twice `CONNECTIONS` file
//! descriptors (`ulimit -n`).

use std::net::TcpStream;
use std::time::{Duration, Instant};

use kairoi_test_server::TestServer;

/// Clock ticks per second of the times in `/proc/self/stat` (`USER_HZ`,
/// 100 on Linux).
const USER_HZ: f64 = 100.0;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let connections: usize = args.next().map_or(Ok(2000), |a| a.parse())?;
    let seconds: u64 = args.next().map_or(Ok(10), |a| a.parse())?;
    if cpu_ticks().is_none() {
        return Err("this measure needs /proc/self/stat (Linux)".into());
    }

    let server = TestServer::start()?;
    let mut open = Vec::with_capacity(connections);
    for n in 0..connections {
        let stream = TcpStream::connect(server.addr())
            .map_err(|e| format!("connection {n}: {e} (raise `ulimit -n`?)"))?;
        open.push(stream);
    }
    if !server.wait_for_open_connections(connections, Duration::from_secs(60)) {
        return Err(format!(
            "the server serves {} connections, not {connections}",
            server.connections_open()
        )
        .into());
    }
    // Let the threads that just started settle.
    std::thread::sleep(Duration::from_secs(1));

    let switches_before = context_switches();
    let ticks_before = cpu_ticks().ok_or("/proc/self/stat")?;
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs(seconds));
    let ticks_after = cpu_ticks().ok_or("/proc/self/stat")?;
    let elapsed = start.elapsed().as_secs_f64();
    let switches_after = context_switches();

    let cpu = (ticks_after - ticks_before) as f64 / USER_HZ;
    println!(
        "idle_cpu: {connections} idle connections, {} threads, {elapsed:.1} s",
        threads().map_or_else(|| "?".to_owned(), |t| t.to_string()),
    );
    println!(
        "idle_cpu: CPU time (user+sys) {cpu:.2} s = {:.1} % of one core",
        100.0 * cpu / elapsed
    );
    println!(
        "idle_cpu: {} context switches ({:.0} per second)",
        switches_after.saturating_sub(switches_before),
        switches_after.saturating_sub(switches_before) as f64 / elapsed
    );
    drop(open);
    server.shutdown();
    Ok(())
}

/// User + system time of the process so far, in clock ticks.
fn cpu_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name, in parentheses, may hold spaces: count the fields
    // after its closing parenthesis. utime and stime are fields 14 and 15.
    let after = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Context switches of every thread alive now, voluntary or not.
fn context_switches() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(Result::ok)
        .filter_map(|task| std::fs::read_to_string(task.path().join("status")).ok())
        .flat_map(|status| {
            status
                .lines()
                .filter(|l| l.contains("ctxt_switches:"))
                .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                .collect::<Vec<_>>()
        })
        .sum()
}

/// The number of threads of the process.
fn threads() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
}

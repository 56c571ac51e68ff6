//! The baseline of the `import` measurements in BENCHMARKS.md: the same
//! `SET` lines written over plain `TcpStream`s, pipelined with a bounded
//! window, the answers read on another thread and counted. No protocol
//! library, no parsing beyond counting `OK` lines.
//!
//! ```sh
//! cargo run --release -p kairoi-cli --example raw_pipeline -- ADDR JOBS [CONNECTIONS] [WINDOW]
//! ```
//!
//! The jobs are `raw.<n>`, all at `2030-01-01 08:00:00`, as in the files
//! of the measurements; it prints one line with the jobs per second.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize, default: usize| {
        args.get(i)
            .map_or(default, |s| s.parse().expect("a number"))
    };
    let addr = args
        .first()
        .expect("usage: raw_pipeline ADDR JOBS [CONNECTIONS] [WINDOW]")
        .clone();
    let (jobs, connections, window) = (number(1, 100_000), number(2, 1), number(3, 1024));

    // The lines of each connection, made before the clock starts.
    let per = jobs.div_ceil(connections);
    let lines: Vec<Vec<Vec<u8>>> = (0..connections)
        .map(|c| {
            (c * per..((c + 1) * per).min(jobs))
                .enumerate()
                .map(|(id, n)| format!("{id} SET raw.{n} \"2030-01-01 08:00:00\"\n").into_bytes())
                .collect()
        })
        .collect();
    let start = Instant::now();
    let ok: usize = std::thread::scope(|scope| {
        let handles: Vec<_> = lines
            .iter()
            .map(|lines| scope.spawn(|| connection(&addr, lines, window)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a connection"))
            .sum()
    });
    let secs = start.elapsed().as_secs_f64();
    println!(
        "raw: {jobs} jobs over {connections} socket(s) in {secs:.3} s: {:.0} jobs/s, {ok} OK",
        jobs as f64 / secs
    );
}

/// Writes `lines` with at most `window` unanswered, reads the answers on
/// a second thread, and gives how many were `OK`.
fn connection(addr: &str, lines: &[Vec<u8>], window: usize) -> usize {
    let mut writer = TcpStream::connect(addr).expect("connect");
    writer.set_nodelay(true).expect("nodelay");
    let reader = writer.try_clone().expect("clone");
    let answered = Arc::new((Mutex::new(0usize), Condvar::new()));
    let total = lines.len();
    std::thread::scope(|scope| {
        let counter = answered.clone();
        let read = scope.spawn(move || {
            let (mut ok, mut seen) = (0, 0);
            let mut line = String::new();
            let mut reader = BufReader::new(reader);
            while seen < total {
                line.clear();
                if reader.read_line(&mut line).expect("read") == 0 {
                    panic!("the server closed the connection after {seen} answers");
                }
                seen += 1;
                ok += usize::from(line.ends_with(" OK\n"));
                let (count, changed) = &*counter;
                *count.lock().unwrap() = seen;
                changed.notify_one();
            }
            ok
        });
        let mut sent = 0;
        let mut buf = Vec::new();
        while sent < total {
            let (count, changed) = &*answered;
            let mut done = count.lock().unwrap();
            while sent - *done >= window {
                done = changed.wait(done).unwrap();
            }
            let room = window - (sent - *done);
            drop(done);
            buf.clear();
            for line in &lines[sent..(sent + room).min(total)] {
                buf.extend_from_slice(line);
            }
            writer.write_all(&buf).expect("write");
            sent = (sent + room).min(total);
        }
        read.join().expect("the reader")
    })
}

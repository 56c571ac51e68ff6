//! Live cases, against the Kairoi server at `KAIROI_ADDR` (the reference
//! server, in CI). They are `#[ignore]`d unless asked for, and fail when
//! asked for without the variable.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use kairoi_client::{Client, Runtime};
use kairoi_proto::Instruction;

use crate::support::later;

/// The server's address; a case asked for without it fails, naming it.
fn server(case: &str) -> String {
    match std::env::var("KAIROI_ADDR") {
        Ok(addr) if !addr.is_empty() => addr,
        _ => panic!(
            "live: {case} needs KAIROI_ADDR, the address of a Kairoi server (see the README's live check)"
        ),
    }
}

fn runtime<R>() -> &'static str {
    std::any::type_name::<R>()
        .rsplit("::")
        .next()
        .unwrap_or("?")
}

/// How many jobs [`a_quarter_million_jobs_in_one_batch_all_ok`] sends.
const BIG: usize = 250_000;

/// One `execute_all` of 250,000 jobs on one connection: the batch takes
/// far longer than the request timeout, and every job ends `Ok`.
pub async fn a_quarter_million_jobs_in_one_batch_all_ok<R: Runtime + Default>() {
    let addr = server("a_quarter_million_jobs_in_one_batch_all_ok");
    let client = Client::<R>::builder()
        .request_timeout(Duration::from_secs(30))
        .connect(addr)
        .await
        .unwrap();
    let tag = std::process::id();
    let start = Instant::now();
    let results = client
        .execute_all((0..BIG).map(|n| Instruction::set(format!("live.{tag}.big.{n}"), later())))
        .await;
    let secs = start.elapsed().as_secs_f64();
    let failed: Vec<_> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| r.is_err())
        .collect();
    println!(
        "live ({}): {BIG} jobs in {secs:.2} s: {:.0} jobs/s, {} failed",
        runtime::<R>(),
        BIG as f64 / secs,
        failed.len()
    );
    assert!(
        failed.is_empty(),
        "first failures: {:?}",
        &failed[..failed.len().min(3)]
    );
    client.close().await;
}

/// Sends `per_socket` pipelined `SET`s on each of `sockets` plain TCP
/// connections, reading while writing, and returns the time until every
/// answer arrived.
fn raw_sockets(addr: &str, sockets: usize, per_socket: usize, tag: &str) -> Duration {
    let plan: Vec<(&str, Vec<String>)> = (0..sockets)
        .map(|s| {
            let jobs = (0..per_socket)
                .map(|n| format!("raw.{tag}.{s}.{n}"))
                .collect();
            (addr, jobs)
        })
        .collect();
    raw_pipelines(&plan)
}

/// Sends, on one plain TCP connection per entry of `plan`, a pipelined
/// `SET` of each job identifier of the entry, reading while writing, all
/// connections at once; returns the time until every answer arrived (each
/// must be `OK`).
pub(crate) fn raw_pipelines<A: ToSocketAddrs + Sync>(plan: &[(A, Vec<String>)]) -> Duration {
    let start = Instant::now();
    std::thread::scope(|scope| {
        for (addr, jobs) in plan {
            scope.spawn(move || {
                let stream = TcpStream::connect(addr).expect("raw connection");
                stream.set_nodelay(true).unwrap();
                let mut writer = stream.try_clone().unwrap();
                let writing = std::thread::scope(|inner| {
                    let writing = inner.spawn(move || {
                        let mut out = Vec::with_capacity(64 * 1024);
                        for (n, job) in jobs.iter().enumerate() {
                            writeln!(out, "{n} SET {job} \"2999-01-01 00:00:00\"").unwrap();
                            if out.len() > 60 * 1024 {
                                writer.write_all(&out).unwrap();
                                out.clear();
                            }
                        }
                        writer.write_all(&out).unwrap();
                    });
                    let mut lines = BufReader::new(stream).lines();
                    for _ in 0..jobs.len() {
                        let line = lines.next().expect("an answer").expect("a readable answer");
                        assert!(line.ends_with(" OK"), "{line}");
                    }
                    writing.join()
                });
                writing.unwrap();
            });
        }
    });
    start.elapsed()
}

/// A pooled client on four connections against four raw pipelined
/// sockets, in the same run: every job ends `Ok`, and the ratio of the
/// two rates is printed. The figure to watch is that ratio (in
/// BENCHMARKS.md, about 1.0: the server is the bottleneck); the case fails
/// only below 0.85, a gross regression. The server and the client share
/// two cores, and on such a machine runs of the same build spread from
/// about 0.94 to 1.09, so a tighter limit would fail runs that show
/// nothing.
///
/// The reference server slows down as its job store grows (each `SET`
/// scans the planned jobs), so the two are measured in many short turns,
/// in alternating order (raw, pool, pool, raw, ...), and compared over
/// the sum of their turns.
pub async fn a_pool_of_four_keeps_up_with_four_raw_sockets<R: Runtime + Default>() {
    let addr = server("a_pool_of_four_keeps_up_with_four_raw_sockets");
    const SOCKETS: usize = 4;
    const PER_TURN: usize = 8_000;
    const ROUNDS: usize = 10;
    // As deep a pipeline per connection as each raw socket has.
    let client = Client::<R>::builder()
        .connections(SOCKETS)
        .window(PER_TURN / SOCKETS)
        .connect(addr.as_str())
        .await
        .unwrap();
    let (mut raw, mut pooled) = (Duration::ZERO, Duration::ZERO);
    let tag = std::process::id();
    for round in 0..ROUNDS {
        for turn in 0..2 {
            let pool_turn = (round + turn) % 2 == 1;
            let start = Instant::now();
            if pool_turn {
                let jobs = (0..PER_TURN)
                    .map(|n| Instruction::set(format!("pool.{tag}.{round}.{n}"), later()));
                let results = client.execute_all(jobs).await;
                assert!(results.iter().all(Result::is_ok));
                pooled += start.elapsed();
            } else {
                raw += raw_sockets(
                    &addr,
                    SOCKETS,
                    PER_TURN / SOCKETS,
                    &format!("{tag}.{round}"),
                );
            }
        }
    }
    let total = (PER_TURN * ROUNDS) as f64;
    let (raw_rate, pool_rate) = (total / raw.as_secs_f64(), total / pooled.as_secs_f64());
    let ratio = pool_rate / raw_rate;
    println!(
        "live ({}): 4 raw sockets {raw_rate:.0} jobs/s, pooled client on 4 connections {pool_rate:.0} jobs/s: {ratio:.3}x",
        runtime::<R>()
    );
    assert!(ratio >= 0.85, "the pool reached {ratio:.3}x of raw sockets");
    client.close().await;
}

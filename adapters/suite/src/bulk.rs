//! A million requests against a server slower than the request timeout
//! allows for the whole batch: a batch of any size completes, in bounded
//! memory.

use std::time::{Duration, Instant};

use kairoi_client::{Client, Runtime};
use kairoi_proto::{DateTime, Instruction};
use kairoi_test_server::TestServer;

const COUNT: usize = 1_000_000;

/// The request timeout, much shorter than the whole batch takes.
const TIMEOUT: Duration = Duration::from_secs(1);

/// A server that spends a fixed time per request on each connection, so
/// that the million take several request timeouts in all.
fn slow_server() -> TestServer {
    TestServer::builder()
        .per_request_cost(Duration::from_micros(3))
        .start()
        .unwrap()
}

/// A job among a thousand ids, so that the server's store stays small.
fn job(n: usize, when: DateTime) -> Instruction {
    Instruction::set(format!("bulk.{}", n % 1000), when)
}

/// The resident memory of the process, in bytes (Linux), if known.
pub(crate) fn resident() -> Option<usize> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: usize = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// A million requests through each batch call, one after the other (the
/// second measures the process's memory, which the first would disturb
/// if they ran at once).
pub async fn a_million_requests_through_each_batch_call<R: Runtime + Default>() {
    let server = slow_server();
    let client = Client::<R>::builder()
        .request_timeout(TIMEOUT)
        .connect(server.addr())
        .await
        .unwrap();
    a_million_requests_through_execute_all_all_ok(&client).await;
    a_million_lazy_requests_stream_in_a_windows_memory(&client).await;
}

/// `execute_all` of a million: all `Ok`, though the batch takes longer
/// than the request timeout.
async fn a_million_requests_through_execute_all_all_ok<R: Runtime + Default>(client: &Client<R>) {
    let when = crate::support::later();
    let start = Instant::now();
    let results = client.execute_all((0..COUNT).map(|n| job(n, when))).await;
    let took = start.elapsed();
    assert_eq!(results.len(), COUNT);
    let failed: Vec<_> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| r.is_err())
        .take(3)
        .collect();
    assert!(failed.is_empty(), "{failed:?}");
    assert!(
        took > TIMEOUT,
        "the batch must outlast one request timeout: {took:?}"
    );
    println!("{COUNT} requests in {took:?} through execute_all, all Ok");
}

/// `execute_each` fed by a lazy iterator: all `Ok`, and the process grows
/// by about a window's worth, not the batch's.
async fn a_million_lazy_requests_stream_in_a_windows_memory<R: Runtime + Default>(
    client: &Client<R>,
) {
    let when = crate::support::later();
    // Warm up: the connection's buffers at their working size.
    client
        .execute_each((0..10_000).map(|n| job(n, when)), |_, r| r.unwrap())
        .await;
    let before = resident();
    let mut peak = before;
    let mut ok = 0usize;
    let start = Instant::now();
    client
        .execute_each((0..COUNT).map(|n| job(n, when)), |n, r| {
            assert!(r.is_ok(), "{n}: {r:?}");
            ok += 1;
            if ok % 10_000 == 0 {
                peak = peak.max(resident());
            }
        })
        .await;
    let took = start.elapsed();
    assert_eq!(ok, COUNT);
    assert!(
        took > TIMEOUT,
        "the batch must outlast one request timeout: {took:?}"
    );
    match (before, peak) {
        (Some(before), Some(peak)) => {
            let grew = peak.saturating_sub(before);
            println!(
                "{COUNT} lazy requests in {took:?}; resident memory grew by {} KiB",
                grew / 1024
            );
            // A million requests held at once would take hundreds of MB.
            assert!(grew < 32 << 20, "grew by {} KiB", grew / 1024);
        }
        _ => println!("resident memory not measured here (no /proc/self/statm)"),
    }
}

//! The proxy live, in front of three reference servers that each case
//! starts from the binary at `KAIROI_REFERENCE_BIN`: a batch through it
//! lands where placement says (read from the servers' logs), a server
//! killed fails only its share, and its rate next to the sharded client's
//! directly, in the same run. Ignored by default, as every live case:
//!
//! ```text
//! KAIROI_REFERENCE_BIN=$(../shared/reference-server/build.sh | tail -n 1) \
//!     cargo test --release -p kairoi-tokio --test live_proxy -- --ignored --nocapture --test-threads 1
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use kairoi_proto::{DateTime, Instruction, Runner, placement};
use kairoi_suite::reference::{ReferenceServer, ScratchFolder, Stop};
use kairoi_tokio::proxy::Proxy;
use kairoi_tokio::serve::ServeOptions;
use kairoi_tokio::{Client, RequestError, Tally};

const NAMES: [&str; 3] = ["kairoi-a", "kairoi-b", "kairoi-c"];
/// The reference server's database loop rate: its default.
const FRAMERATE: u32 = 128;
/// Connections to each server, from the proxy and from the direct client.
const CONNECTIONS: usize = 2;

fn placed(job: &str) -> usize {
    placement::place(job.as_bytes(), &NAMES).expect("three servers")
}

/// Far ahead, and before 2262 (see `kairoi_suite::reference`).
fn when() -> DateTime {
    "2200-01-01 00:00:00".parse().unwrap()
}

fn reference_bin() -> PathBuf {
    let bin = std::env::var_os("KAIROI_REFERENCE_BIN")
        .filter(|b| !b.is_empty())
        .map(PathBuf::from)
        .expect("live: needs KAIROI_REFERENCE_BIN, the path of the reference server's binary");
    assert!(
        bin.is_file(),
        "KAIROI_REFERENCE_BIN={} is not a file",
        bin.display()
    );
    bin
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

/// Three reference servers, each in a folder of its own.
fn three() -> (Vec<ScratchFolder>, Vec<ReferenceServer>) {
    let bin = reference_bin();
    let folders: Vec<ScratchFolder> = NAMES.iter().map(|n| ScratchFolder::new(n)).collect();
    let servers = folders
        .iter()
        .map(|f| ReferenceServer::start(&bin, f.path(), FRAMERATE))
        .collect();
    (folders, servers)
}

fn named(servers: &[ReferenceServer]) -> Vec<(&'static str, SocketAddr)> {
    NAMES
        .iter()
        .copied()
        .zip(servers.iter().map(ReferenceServer::addr))
        .collect()
}

/// A proxy over `servers`, each request given `timeout` upstream.
async fn start_proxy(servers: &[ReferenceServer], timeout: Duration) -> Proxy {
    let options = ServeOptions::default();
    let client = Client::builder()
        .connections(CONNECTIONS)
        .request_timeout(timeout)
        .config(Proxy::upstream_config(&options))
        .connect_servers(named(servers))
        .await
        .expect("the proxy's client");
    Proxy::bind("127.0.0.1:0", client, options)
        .await
        .expect("the proxy")
}

/// A client of the proxy: any KCP client would do; this one pipelines.
async fn downstream(proxy: &Proxy, connections: usize) -> Client {
    Client::builder()
        .connections(connections)
        .window(512)
        .connect(proxy.local_addr())
        .await
        .expect("a client of the proxy")
}

/// 50,000 jobs and a rule through the proxy: every answer `OK`, each job
/// in its placed server's log and no other, the rule in all three. Then
/// 15,000 more with one server killed after a third (upstream request
/// timeout 2 s): only jobs placed on it are answered `ERROR`.
#[test]
#[ignore = "live: needs KAIROI_REFERENCE_BIN"]
fn a_batch_through_the_proxy_over_three_reference_servers() {
    const JOBS: usize = 50_000;
    const MORE: usize = 15_000;
    let rt = runtime();
    let (_folders, mut servers) = three();
    let proxy = rt.block_on(start_proxy(&servers, Duration::from_secs(2)));
    let client = rt.block_on(downstream(&proxy, 4));
    let items = (0..=JOBS).map(|n| match n {
        0 => Instruction::rule_set("proxied", "x.", Runner::shell("true")),
        n => Instruction::set(format!("x.{n}"), when()),
    });
    let start = Instant::now();
    let mut tally = Tally::default();
    rt.block_on(client.execute_each(items, |_, r| tally.record(&r)));
    let took = start.elapsed();
    println!(
        "live proxy: {JOBS} jobs and a rule through the proxy over 3 reference servers in \
         {:.2} s ({:.0} jobs/s): {tally:?}",
        took.as_secs_f64(),
        JOBS as f64 / took.as_secs_f64()
    );
    assert_eq!(tally.ok, JOBS as u64 + 1, "{tally:?}");
    rt.block_on(client.close());
    rt.block_on(proxy.stop()).expect("the proxy stops");
    for server in &mut servers {
        server.stop(Stop::Terminate);
    }
    let stored = kairoi_suite::live_shards::stored_where_placed(&servers, &NAMES, "proxied");
    assert_eq!(stored, JOBS, "every job in exactly one log");

    // One server killed in the middle of a batch, on fresh servers (one
    // that loads its jobs as it starts again is slow to answer at first).
    let (_fresh, mut servers) = three();
    let proxy = rt.block_on(start_proxy(&servers, Duration::from_secs(2)));
    let client = rt.block_on(downstream(&proxy, 4));
    let killed = 1;
    let done = AtomicUsize::new(0);
    let mut results: Vec<Option<Result<(), RequestError>>> = vec![None; MORE];
    let start = Instant::now();
    std::thread::scope(|scope| {
        let (done, victim) = (&done, &mut servers[killed]);
        scope.spawn(move || {
            while done.load(Ordering::Relaxed) < MORE / 3 {
                std::thread::sleep(Duration::from_millis(1));
            }
            victim.stop(Stop::Kill);
        });
        let items = (0..MORE).map(|n| Instruction::set(format!("k.{n}"), when()));
        rt.block_on(client.execute_each(items, |i, r| {
            results[i] = Some(r);
            done.fetch_add(1, Ordering::Relaxed);
        }));
    });
    let took = start.elapsed();
    let mut tally = Tally::default();
    for (n, result) in results.iter().enumerate() {
        let job = format!("k.{n}");
        let result = result.as_ref().expect("every job reported");
        tally.record(result);
        if let Err(e) = result {
            assert_eq!(placed(&job), killed, "{job}, not on the killed server: {e}");
            assert!(e.is_rejected(), "{job}: the proxy answers ERROR: {e}");
        }
    }
    let share = (0..MORE)
        .filter(|n| placed(&format!("k.{n}")) == killed)
        .count();
    let upstream = proxy.client().stats();
    println!(
        "live proxy: {MORE} jobs, {} killed after a third, in {:.2} s: {tally:?} ({share} placed \
         on it); upstream: {:?}",
        NAMES[killed],
        took.as_secs_f64(),
        upstream.servers[killed].requests
    );
    assert!(
        tally.rejected > 0 && tally.rejected as usize <= share,
        "{tally:?}"
    );
    assert_eq!(
        tally.ok as usize + tally.rejected as usize,
        MORE,
        "{tally:?}"
    );
    rt.block_on(proxy.stop()).expect("the proxy stops");
}

/// The rate of a batch through the proxy next to the same batch from the
/// sharded client directly, both over the three servers with two
/// connections to each, in alternating turns of the same run. Every job
/// ends `OK`; the rates are printed (BENCHMARKS.md reads them).
#[test]
#[ignore = "live: needs KAIROI_REFERENCE_BIN"]
fn the_proxy_against_the_sharded_client_directly() {
    const PER_TURN: usize = 12_000;
    const ROUNDS: usize = 4;
    let rt = runtime();
    let (_folders, servers) = three();
    let proxy = rt.block_on(start_proxy(&servers, Duration::from_secs(30)));
    let through = rt.block_on(downstream(&proxy, 2 * CONNECTIONS * NAMES.len()));
    let direct = rt.block_on(async {
        Client::builder()
            .connections(CONNECTIONS)
            .window(512)
            .connect_servers(named(&servers))
            .await
            .expect("the direct client")
    });
    let mut took = [Duration::ZERO; 2];
    let tag = std::process::id();
    for round in 0..ROUNDS {
        for turn in 0..2 {
            let which = (round + turn) % 2;
            let client = if which == 0 { &direct } else { &through };
            let items = (0..PER_TURN)
                .map(|n| Instruction::set(format!("r.{tag}.{round}.{which}.{n}"), when()));
            let mut tally = Tally::default();
            let start = Instant::now();
            rt.block_on(client.execute_each(items, |_, r| tally.record(&r)));
            took[which] += start.elapsed();
            assert_eq!(tally.ok, PER_TURN as u64, "{tally:?}");
        }
    }
    let total = (PER_TURN * ROUNDS) as f64;
    let [direct_rate, proxy_rate] = took.map(|t| total / t.as_secs_f64());
    println!(
        "live proxy: over three reference servers, {CONNECTIONS} connections to each: the sharded \
         client directly {direct_rate:.0} jobs/s, through the proxy {proxy_rate:.0} jobs/s \
         ({:.2}x)",
        proxy_rate / direct_rate
    );
    rt.block_on(proxy.stop()).expect("the proxy stops");
}

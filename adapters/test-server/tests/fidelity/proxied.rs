//! The scenarios through `kairoi_tokio::proxy::Proxy` in front of one
//! server: the proxy must be transparent, so each transcript must be the
//! one of the server behind it alone.
//!
//! - Offline, the proxy is in front of a `TestServer`, and each transcript
//!   must be the `TestServer`'s recorded one (the reference server's,
//!   `NAME.txt`, or for a documented difference of the `TestServer`,
//!   `NAME.test-server.txt`).
//! - Live (`KAIROI_REFERENCE_BIN`), the proxy is in front of a fresh
//!   reference server, and each transcript must be the reference server's
//!   recording.
//!
//! The harness finds the server's ticks on a connection of its own to the
//! server, not through the proxy, so that each step starts right after a
//! tick of the server whatever the proxy's latency.
//!
//! Each request goes upstream on its own, so the answers the server
//! writes at one tick reach the client in the order they come back to the
//! proxy, not always in the order of the requests: a client matches
//! answers by identifier (`docs/protocol.md` §2). The answers of one
//! connection of one class (`now` or `tick`) within a step are therefore
//! compared in any order. The other differences the proxy keeps on
//! purpose (`kairoi_tokio::proxy` docs) are not exercised by any
//! scenario.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use kairoi_suite::reference::ReferenceServer;
use kairoi_tokio::Client;
use kairoi_tokio::proxy::Proxy;
use kairoi_tokio::serve::ServeOptions;

use crate::run::Server;
use crate::script::Scenario;
use crate::transcript::{JobLine, RuleLine};
use crate::{LIVE_TICK, OFFLINE_TICK, against, embedded, recording, scenarios, transcript};

/// A server with a proxy in front of it, on a runtime of its own.
struct Proxied {
    upstream: Box<dyn Server>,
    rt: tokio::runtime::Runtime,
    proxy: Option<Proxy>,
    addr: SocketAddr,
}

impl Proxied {
    fn new(upstream: Box<dyn Server>) -> Proxied {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime");
        let target = upstream.addr();
        let proxy = rt.block_on(async {
            let options = ServeOptions::default();
            let client = Client::builder()
                .connections(1)
                .config(Proxy::upstream_config(&options))
                .connect(target)
                .await
                .expect("the proxy's client");
            Proxy::bind("127.0.0.1:0", client, options)
                .await
                .expect("the proxy")
        });
        let addr = proxy.local_addr();
        Proxied {
            upstream,
            rt,
            proxy: Some(proxy),
            addr,
        }
    }
}

impl Drop for Proxied {
    fn drop(&mut self) {
        if let Some(proxy) = self.proxy.take() {
            let _ = self.rt.block_on(proxy.stop());
        }
    }
}

impl Server for Proxied {
    fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn probe_addr(&self) -> SocketAddr {
        self.upstream.addr()
    }

    fn state(&self) -> (Vec<JobLine>, Vec<RuleLine>) {
        self.upstream.state()
    }
}

/// Starts a server for one run, in a scratch directory.
type Start = dyn Fn(&Path) -> Box<dyn Server>;

/// The transcript the server behind the proxy gives alone.
fn expected(scenario: &Scenario, live: bool) -> PathBuf {
    recording(scenario.name, !live && scenario.differs.is_some())
}

fn check(scenario: &Scenario, live: Option<&Path>) -> Result<(), String> {
    let (tick, start): (Duration, Box<Start>) = match live {
        Some(bin) => {
            let bin = bin.to_owned();
            let start = move |dir: &Path| -> Box<dyn Server> {
                let framerate = (1.0 / LIVE_TICK.as_secs_f64()).round() as u32;
                let upstream = ReferenceServer::start(&bin, &dir.join("db"), framerate);
                Box::new(Proxied::new(Box::new(upstream)))
            };
            (LIVE_TICK, Box::new(start))
        }
        None => {
            let upstream = embedded(OFFLINE_TICK);
            let start =
                move |dir: &Path| -> Box<dyn Server> { Box::new(Proxied::new(upstream(dir))) };
            (OFFLINE_TICK, Box::new(start))
        }
    };
    let ours = in_any_order(&transcript(scenario, "proxy", tick, &start));
    let path = expected(scenario, live.is_some());
    let theirs = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    if in_any_order(&theirs) == ours {
        return Ok(());
    }
    against(&path, "the proxy (answers of a class sorted)", &ours)
}

/// The transcript with each run of answers that one connection received
/// in one class sorted: `  conn 0 tick "1 OK"` before `  conn 0 tick "0 OK"`
/// and after it compare alike.
fn in_any_order(text: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let mut run: Vec<&str> = Vec::new();
    let mut key = "";
    for line in text.lines() {
        // `  conn N CLASS "answer"`: the key is what comes before the quote.
        let answer_key = line
            .starts_with("  conn ")
            .then(|| line.find(" \"").map(|at| &line[..at]))
            .flatten();
        match answer_key {
            Some(k) if k == key => run.push(line),
            Some(k) => {
                flush(&mut run, &mut out);
                key = k;
                run.push(line);
            }
            None => {
                flush(&mut run, &mut out);
                key = "";
                out.push(line);
            }
        }
    }
    flush(&mut run, &mut out);
    out.join("\n") + "\n"
}

/// Moves a run of answers, sorted, to the output.
fn flush<'a>(run: &mut Vec<&'a str>, out: &mut Vec<&'a str>) {
    run.sort_unstable();
    out.append(run);
}

#[test]
fn fidelity_through_the_proxy() {
    let _alone = crate::ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let live = std::env::var_os("KAIROI_REFERENCE_BIN").map(PathBuf::from);
    let only = std::env::var("KAIROI_FIDELITY_ONLY").unwrap_or_default();
    let scenarios: Vec<Scenario> = scenarios::all()
        .into_iter()
        .filter(|s| s.name.contains(&only))
        .collect();
    let queue = Mutex::new(scenarios.iter());
    let failed = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..3 {
            scope.spawn(|| {
                loop {
                    let Some(scenario) = queue.lock().unwrap().next() else {
                        return;
                    };
                    match check(scenario, live.as_deref()) {
                        Ok(()) => println!("fidelity through the proxy: {}: agreed", scenario.name),
                        Err(why) => {
                            println!(
                                "fidelity through the proxy: {}: DISAGREED\n{why}",
                                scenario.name
                            );
                            failed.lock().unwrap().push(scenario.name);
                        }
                    }
                }
            });
        }
    });
    let failed = failed.into_inner().unwrap();
    let behind = if live.is_some() {
        "a reference server"
    } else {
        "a TestServer (offline; set KAIROI_REFERENCE_BIN to compare live)"
    };
    println!(
        "fidelity through the proxy: {} of {} scenarios agreed with {behind} alone",
        scenarios.len() - failed.len(),
        scenarios.len()
    );
    assert!(
        failed.is_empty(),
        "scenarios that disagree through the proxy: {failed:?}"
    );
}

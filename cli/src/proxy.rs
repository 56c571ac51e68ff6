//! `proxy`: one address in front of the servers of `--addr`, for clients
//! in any language (`kairoi_tokio::proxy`). Each job goes to its placed
//! server and each rule to every server, over `--connections` pooled
//! connections per server however many clients come and go.
//!
//! SIGINT and SIGTERM stop it gracefully: it stops accepting, finishes
//! the requests it has read and writes their answers (within the request
//! timeout), closes its upstream connections and exits 0. Requests that
//! could not be completed upstream are answered `ERROR`, and their reason
//! is logged on stderr (`tracing`, warn).

use std::process::ExitCode;
use std::time::Duration;

use kairoi_tokio::proxy::Proxy;
use kairoi_tokio::serve::ServeOptions;
use kairoi_tokio::{Client, Tally};
use serde_json::json;

use crate::args::Cli;
use crate::outcome::{Failure, Output, tally_json};
use crate::servers::Servers;

/// What a graceful stop waits for beyond the request timeout: the
/// answers' writing.
const DRAIN_MARGIN: Duration = Duration::from_secs(2);

/// `proxy --listen HOST:PORT [--connections N]`: runs until SIGINT or
/// SIGTERM.
pub fn run(cli: &Cli, out: Output, listen: &str, connections: u16) -> Result<ExitCode, Failure> {
    let servers = crate::read_servers(cli)?;
    if let Some(same) = upstream_addrs(&servers).find(|a| *a == listen) {
        return Err(Failure::bad_input(format!(
            "--listen {listen} is also a server of --addr ({same}): the proxy would send its \
             requests to itself"
        )));
    }
    logging();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::io(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(serve(cli, out, &servers, listen, connections))
}

/// The addresses of the servers, as given.
fn upstream_addrs(servers: &Servers) -> impl Iterator<Item = &str> {
    let one = match servers {
        Servers::One(addr) => Some(addr.as_str()),
        Servers::Named(_) => None,
    };
    one.into_iter()
        .chain(servers.named().iter().map(|s| s.addr.as_str()))
}

async fn serve(
    cli: &Cli,
    out: Output,
    servers: &Servers,
    listen: &str,
    connections: u16,
) -> Result<ExitCode, Failure> {
    let options =
        ServeOptions::default().with_drain_timeout(cli.timeout.saturating_add(DRAIN_MARGIN));
    let builder = Client::builder()
        .connections(connections.into())
        .request_timeout(cli.timeout)
        .connect_timeout(cli.connect_timeout)
        .config(Proxy::upstream_config(&options));
    let client = match servers {
        Servers::One(addr) => builder.connect(addr.as_str()).await,
        Servers::Named(named) => {
            builder
                .connect_servers(named.iter().map(|s| (s.name.as_str(), s.addr.as_str())))
                .await
        }
    }
    .map_err(|e| Failure::not_sent(format!("{e}; not listening")))?;
    let proxy = Proxy::bind(listen, client.clone(), options)
        .await
        .map_err(|e| Failure::io(format!("cannot listen on {listen}: {e}")))?;
    let addr = proxy.local_addr();
    let names: Vec<&str> = servers.named().iter().map(|s| s.name.as_str()).collect();
    let to = match servers {
        Servers::One(upstream) => upstream.clone(),
        Servers::Named(_) => format!("{} servers ({})", names.len(), names.join(", ")),
    };
    out.info(
        format_args!("listening on {addr} (forwarding to {to})"),
        json!({"event": "listening", "addr": addr.to_string(), "servers": names}),
    );
    let counters = proxy.counters().clone();
    let served = proxy.stop_on(stop_signal()).await;
    let stats = client.stats();
    stopped(
        out,
        counters.connections_accepted(),
        counters.requests(),
        &stats.requests,
    );
    served.map_err(|e| Failure::io(format!("the proxy stopped: {e}")))?;
    Ok(ExitCode::SUCCESS)
}

/// One line once stopped: connections, requests, and the forwarded ones
/// by outcome.
fn stopped(out: Output, connections: u64, requests: u64, forwarded: &Tally) {
    let mut value = json!({"event": "stopped", "connections": connections, "requests": requests});
    value["forwarded"] = tally_json(forwarded);
    out.info(
        format_args!(
            "stopped after {connections} connections and {requests} requests; forwarded: {} ok, \
             {} rejected, {} not sent, {} unknown, {} timed out",
            forwarded.ok,
            forwarded.rejected,
            forwarded.not_sent,
            forwarded.unknown,
            forwarded.timed_out
        ),
        value,
    );
}

/// Completes on SIGINT or SIGTERM (on Ctrl-C elsewhere).
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// Warnings (requests that could not be completed upstream, connections
/// that ended or failed) on stderr.
fn logging() {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing_subscriber::filter::LevelFilter::WARN)
        .with_ansi(false)
        .try_init();
}

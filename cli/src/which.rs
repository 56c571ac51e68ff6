//! `which JOB...`: the server each job identifier goes to, by the
//! placement the clients use, with no connection.

use std::process::ExitCode;

use serde_json::json;

use crate::args::Cli;
use crate::outcome::Failure;
use crate::servers::Servers;

/// `which JOB...`: a line per identifier, `app.mail.42 => beta
/// (10.0.0.2:5678)`, or with `--json` one object each. Sends nothing, so
/// it works while servers are down.
pub fn run(cli: &Cli, jobs: &[String]) -> Result<ExitCode, Failure> {
    let out = crate::output(cli);
    let servers = crate::read_servers(cli)?;
    for job in jobs {
        let (human, json) = match &servers {
            Servers::One(addr) => (
                format!(
                    "{} => {addr} (the only server, without a name: every job goes to it)",
                    shown(job)
                ),
                json!({"job": job, "server": null, "addr": addr, "placed": false}),
            ),
            Servers::Named(named) => {
                // A named list is never empty: placement finds a server.
                let Some(server) = servers.place(job).and_then(|at| named.get(at)) else {
                    continue;
                };
                (
                    format!("{} => {} ({})", shown(job), server.name, server.addr),
                    json!({"job": job, "server": server.name, "addr": server.addr, "placed": true}),
                )
            }
        };
        if out.json {
            out.json_line(&json);
        } else {
            println!("{human}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// An identifier for a line of output: as it is, or quoted with escapes
/// (as the failure lines of `import` show it) when it is empty or holds
/// white space, a quote or a control character, so that each line reads
/// as one identifier.
fn shown(job: &str) -> String {
    let plain = !job.is_empty()
        && !job
            .chars()
            .any(|c| c.is_whitespace() || c == '"' || c.is_control());
    match plain {
        true => job.to_owned(),
        false => format!("{job:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted_only_when_needed() {
        assert_eq!(shown("app.mail.42"), "app.mail.42");
        assert_eq!(shown("a b"), "\"a b\"");
        assert_eq!(shown("say \"hi\""), "\"say \\\"hi\\\"\"");
        assert_eq!(shown(""), "\"\"");
    }
}

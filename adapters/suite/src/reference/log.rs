//! The reference server's on-disk log: what it holds after its next start.

use std::collections::BTreeMap;
use std::path::Path;

/// The files of a database folder, oldest entries first: compaction moves
/// `logfile` to `logfile.to_compress`, then merges that into
/// `logfile.compressed`. The server loads them in this order.
const FILES: [&str; 3] = ["logfile.compressed", "logfile.to_compress", "logfile"];

/// A job's status in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    /// Waiting for its time.
    Planned,
    /// Its runner was started.
    Triggered,
    /// Its runner ended.
    Executed,
    /// No rule matched it, or its runner could not start.
    Failed,
    /// A status byte the server does not write.
    Other(u8),
}

impl JobStatus {
    fn from_byte(byte: u8) -> JobStatus {
        match byte {
            0 => JobStatus::Planned,
            1 => JobStatus::Triggered,
            2 => JobStatus::Executed,
            3 => JobStatus::Failed,
            other => JobStatus::Other(other),
        }
    }

    /// The status in lower case (`planned`, ...; `unknown` for
    /// [`JobStatus::Other`]).
    pub fn name(self) -> &'static str {
        match self {
            JobStatus::Planned => "planned",
            JobStatus::Triggered => "triggered",
            JobStatus::Executed => "executed",
            JobStatus::Failed => "failed",
            JobStatus::Other(_) => "unknown",
        }
    }
}

/// A job as the log holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// Its identifier.
    pub id: String,
    /// Its execution time, in seconds since 1970 (rounded down).
    pub unix_seconds: i64,
    /// Its status.
    pub status: JobStatus,
}

/// A rule as the log holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Its identifier.
    pub id: String,
    /// The prefix of the jobs it matches.
    pub pattern: String,
    /// The runner's name (`shell`, `amqp`) and its arguments.
    pub runner: Vec<String>,
}

/// The jobs and rules of a log, each sorted by identifier.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    /// The jobs.
    pub jobs: Vec<Job>,
    /// The rules.
    pub rules: Vec<Rule>,
}

/// Reads the log in the database folder `dir`: the last entry of each
/// identifier wins. Missing files are empty; an entry cut short at the
/// end of a file (a write the server did not finish) is left out.
pub fn read_log(dir: &Path) -> State {
    let mut jobs = BTreeMap::new();
    let mut rules = BTreeMap::new();
    for name in FILES {
        let Ok(bytes) = std::fs::read(dir.join(name)) else {
            continue;
        };
        decode(&bytes, &mut jobs, &mut rules);
    }
    State {
        jobs: jobs.into_values().collect(),
        rules: rules.into_values().collect(),
    }
}

/// Reads the entries of one file: each a 32-bit big-endian length and an
/// entry; a job is `0`, its identifier, its time in nanoseconds and its
/// status; a rule is `1`, its identifier, its pattern and its runner.
/// Strings are a 16-bit big-endian length and UTF-8.
fn decode(mut bytes: &[u8], jobs: &mut BTreeMap<String, Job>, rules: &mut BTreeMap<String, Rule>) {
    while bytes.len() >= 4 {
        let len = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
        let Some(entry) = bytes.get(4..4 + len) else {
            return;
        };
        bytes = &bytes[4 + len..];
        let mut r = Reader(entry);
        match r.u8() {
            Some(0) => {
                let (Some(id), Some(nanos), Some(status)) = (r.string(), r.i64(), r.u8()) else {
                    continue;
                };
                let job = Job {
                    id: id.clone(),
                    unix_seconds: nanos.div_euclid(1_000_000_000),
                    status: JobStatus::from_byte(status),
                };
                jobs.insert(id, job);
            }
            Some(1) => {
                let (Some(id), Some(pattern)) = (r.string(), r.string()) else {
                    continue;
                };
                let runner = match r.u8() {
                    Some(0) => r.string().map(|c| vec!["shell".to_owned(), c]),
                    Some(1) => match (r.string(), r.string(), r.string()) {
                        (Some(d), Some(e), Some(k)) => Some(vec!["amqp".to_owned(), d, e, k]),
                        _ => None,
                    },
                    _ => None,
                };
                let Some(runner) = runner else { continue };
                let rule = Rule {
                    id: id.clone(),
                    pattern,
                    runner,
                };
                rules.insert(id, rule);
            }
            _ => {}
        }
    }
}

/// The fields of one entry, in order.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let (head, rest) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = rest;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn i64(&mut self) -> Option<i64> {
        let b = self.take(8)?;
        Some(i64::from_be_bytes([
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
        ]))
    }

    fn string(&mut self) -> Option<String> {
        let len = self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))?;
        self.take(usize::from(len))
            .map(|b| String::from_utf8_lossy(b).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(out: &mut Vec<u8>, s: &str) {
        out.extend_from_slice(&(s.len() as u16).to_be_bytes());
        out.extend_from_slice(s.as_bytes());
    }

    fn entry(out: &mut Vec<u8>, body: &[u8]) {
        out.extend_from_slice(&(body.len() as u32).to_be_bytes());
        out.extend_from_slice(body);
    }

    fn job(id: &str, seconds: i64, status: u8) -> Vec<u8> {
        let mut body = vec![0];
        string(&mut body, id);
        body.extend_from_slice(&(seconds * 1_000_000_000).to_be_bytes());
        body.push(status);
        body
    }

    #[test]
    fn the_last_entry_of_each_identifier_wins_across_files() {
        let dir = crate::reference::ScratchFolder::new("log-test");
        let mut compressed = Vec::new();
        entry(&mut compressed, &job("a", 10, 0));
        entry(&mut compressed, &job("b", 20, 0));
        let mut rule = vec![1];
        string(&mut rule, "r");
        string(&mut rule, "a");
        rule.push(0);
        string(&mut rule, "true");
        entry(&mut compressed, &rule);
        let mut log = Vec::new();
        entry(&mut log, &job("a", 30, 2));
        entry(&mut log, &job("c", 40, 0));
        // A write cut short by a kill.
        log.extend_from_slice(&[0, 0, 0, 9, 0]);
        std::fs::write(dir.path().join("logfile.compressed"), compressed).unwrap();
        std::fs::write(dir.path().join("logfile"), log).unwrap();
        let state = read_log(dir.path());
        let jobs: Vec<(&str, i64, &str)> = state
            .jobs
            .iter()
            .map(|j| (j.id.as_str(), j.unix_seconds, j.status.name()))
            .collect();
        assert_eq!(
            jobs,
            [
                ("a", 30, "executed"),
                ("b", 20, "planned"),
                ("c", 40, "planned")
            ]
        );
        assert_eq!(state.rules.len(), 1);
        assert_eq!(state.rules[0].runner, ["shell", "true"]);
    }
}

//! What a client observes of a scenario, written as text: what each
//! connection received at each step, and when (`now`: written as soon as
//! the request was read; `tick`: at the scheduler's next tick), whether it
//! closed, and the state the server ended with.

use std::fmt::Write as _;

/// A job in a server's final state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobLine {
    pub id: String,
    pub unix_seconds: i64,
    pub status: String,
}

/// A rule in a server's final state: the runner's name and arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleLine {
    pub id: String,
    pub pattern: String,
    pub runner: Vec<String>,
}

/// When something arrived, relative to the writes that caused it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Now,
    Tick,
}

impl Class {
    fn name(self) -> &'static str {
        match self {
            Class::Now => "now",
            Class::Tick => "tick",
        }
    }
}

/// What one connection observed during one step.
#[derive(Debug, Default)]
pub struct Observed {
    /// Complete lines, each with the class of its arrival.
    pub lines: Vec<(Class, Vec<u8>)>,
    /// Bytes after the last line feed so far.
    pub partial: Vec<u8>,
    /// How the connection ended, if it did during the step.
    pub end: Option<(Class, String)>,
}

/// A scenario's transcript, built up as it runs.
#[derive(Debug, Default)]
pub struct Transcript {
    text: String,
}

/// A string as the transcript shows it: escaped, and shortened past 160
/// characters to its start, its length and a hash.
pub fn show(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    if text.chars().count() <= 160 {
        return format!("{text:?}");
    }
    let start: String = text.chars().take(40).collect();
    // FNV-1a, enough to tell two long strings apart.
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{start:?}... ({} bytes, hash {hash:016x})", bytes.len())
}

impl Transcript {
    pub fn step(&mut self, n: usize, what: &str) {
        let _ = writeln!(self.text, "step {n}: {what}");
    }

    /// What connection `conn` observed: the lines of each class in the
    /// order they arrived, `now` before `tick`.
    pub fn observed(&mut self, conn: usize, observed: &Observed) {
        for class in [Class::Now, Class::Tick] {
            for (_, line) in observed.lines.iter().filter(|(c, _)| *c == class) {
                let _ = writeln!(self.text, "  conn {conn} {} {}", class.name(), show(line));
            }
        }
        if !observed.partial.is_empty() {
            let _ = writeln!(
                self.text,
                "  conn {conn} unterminated {}",
                show(&observed.partial)
            );
        }
        if let Some((class, how)) = &observed.end {
            let _ = writeln!(self.text, "  conn {conn} {} {how}", class.name());
        }
    }

    /// The final state; `dir` (the scripts' directory) is shown as `{dir}`.
    pub fn state(&mut self, jobs: &[JobLine], rules: &[RuleLine], runs: &[Vec<u8>], dir: &str) {
        self.text.push_str("state\n");
        for job in jobs {
            let _ = writeln!(
                self.text,
                "  job {} at {} {}",
                show(job.id.as_bytes()),
                job.unix_seconds,
                job.status
            );
        }
        for rule in rules.iter().filter(|r| r.id != crate::run::PROBE_RULE) {
            let runner: Vec<String> = rule
                .runner
                .iter()
                .map(|a| show(a.replace(dir, "{dir}").as_bytes()))
                .collect();
            let _ = writeln!(
                self.text,
                "  rule {} pattern {} runner {}",
                show(rule.id.as_bytes()),
                show(rule.pattern.as_bytes()),
                runner.join(" ")
            );
        }
        for run in runs {
            let _ = writeln!(self.text, "  ran {}", show(run));
        }
    }

    pub fn text(&self) -> &str {
        &self.text
    }
}

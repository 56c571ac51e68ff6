//! The jobs of an import file, read one record at a time: JSON Lines or
//! CSV, with each record's line number and its original form (to write
//! it back to a file of failed lines).

use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use jiff::Timestamp;
use kairoi_proto::DateTime;
use serde::Deserialize;

use crate::args::Format;
use crate::outcome::Failure;
use crate::when::parse_when;

/// Why an input cannot be imported at all.
#[derive(Debug)]
pub enum OpenError {
    /// It cannot be opened or read: a local I/O error.
    Io(String),
    /// It is read, and its content cannot be imported (a CSV header
    /// without the columns `job` and `at`).
    BadInput(String),
}

impl From<OpenError> for Failure {
    fn from(e: OpenError) -> Failure {
        match e {
            OpenError::Io(message) => Failure::io(message),
            OpenError::BadInput(message) => Failure::bad_input(message),
        }
    }
}

/// The message of a read error at `line`.
pub fn read_error(line: u64, e: &dyn std::fmt::Display) -> String {
    format!("read error at line {line}: {e}; the lines after it were not read")
}

/// One job of the file, or why its line cannot be sent.
#[derive(Debug)]
pub struct Record {
    /// The line it starts on, from 1.
    pub line: u64,
    /// The record as it was read.
    pub raw: Raw,
    /// The job and its UTC time, or what is wrong with the line.
    pub job: Result<(String, DateTime), String>,
}

/// A record in its input form.
#[derive(Debug)]
pub enum Raw {
    /// Not kept: no file of failed lines was asked for.
    Dropped,
    /// A line of JSON Lines, without its line feed.
    Line(Vec<u8>),
    /// A CSV record.
    Csv(csv::ByteRecord),
}

/// A JSON Lines object.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonJob {
    job: String,
    at: String,
}

/// The longest line read, in bytes: far beyond any job the server can
/// store (identifiers of up to 65,535 bytes), and a bound on the memory a
/// file without line feeds can take.
pub const MAX_LINE: u64 = 16 << 20;

/// A reader that counts the bytes read through it, for the progress bar,
/// and refuses a line longer than [`MAX_LINE`].
struct Counting<R> {
    inner: R,
    read: Arc<AtomicU64>,
    /// Bytes since the last line feed.
    line: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        self.line = match buf[..n].iter().rposition(|&b| b == b'\n') {
            Some(lf) => (n - lf - 1) as u64,
            None => self.line.saturating_add(n as u64),
        };
        if self.line > MAX_LINE {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("a line longer than {MAX_LINE} bytes (16 MiB) with no line feed"),
            ));
        }
        Ok(n)
    }
}

type Source = BufReader<Counting<Box<dyn Read + Send>>>;

/// The records of a file, lazily; a read error ends them and is kept.
pub struct Records {
    format: Format,
    now: Timestamp,
    body: Body,
    keep_raw: bool,
    /// A read error that ended the records, with the line it happened on.
    pub error: Option<(u64, io::Error)>,
}

enum Body {
    Lines {
        source: Source,
        line: u64,
        buf: Vec<u8>,
    },
    Csv {
        reader: csv::Reader<Source>,
        record: csv::ByteRecord,
        job: usize,
        at: usize,
    },
}

impl Records {
    /// Opens `input` (`None`: stdin) in `format`, else the format of its
    /// extension, else of its first non-blank byte (`{`: JSON Lines).
    /// Relative times count from `now`; `read` counts the bytes read;
    /// each record's [`Raw`] form is kept only with `keep_raw`.
    pub fn open(
        input: Option<&Path>,
        format: Option<Format>,
        now: Timestamp,
        read: Arc<AtomicU64>,
        keep_raw: bool,
    ) -> Result<Records, OpenError> {
        let inner: Box<dyn Read + Send> = match input {
            Some(path) => Box::new(
                std::fs::File::open(path)
                    .map_err(|e| OpenError::Io(format!("cannot open {}: {e}", path.display())))?,
            ),
            None => Box::new(io::stdin()),
        };
        let mut source = BufReader::with_capacity(
            64 * 1024,
            Counting {
                inner,
                read,
                line: 0,
            },
        );
        let format = match format.or_else(|| input.and_then(format_of_extension)) {
            Some(format) => format,
            None => format_of_content(&mut source).map_err(|e| OpenError::Io(read_error(1, &e)))?,
        };
        let body = match format {
            Format::Jsonl => Body::Lines {
                source,
                line: 0,
                buf: Vec::new(),
            },
            Format::Csv => {
                let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(source);
                let header = reader.byte_headers().map_err(|e| match e.kind() {
                    // A file that cannot be read (a line longer than
                    // MAX_LINE, too) is an I/O error, as for JSON Lines.
                    csv::ErrorKind::Io(_) => OpenError::Io(read_error(1, &e)),
                    _ => OpenError::BadInput(format!("line 1: cannot read the CSV header: {e}")),
                })?;
                let column = |name: &str| {
                    header
                        .iter()
                        .position(|h| h.trim_ascii() == name.as_bytes())
                };
                let (Some(job), Some(at)) = (column("job"), column("at")) else {
                    return Err(OpenError::BadInput(format!(
                        "line 1: the CSV header is {:?}, expected the columns `job,at`",
                        String::from_utf8_lossy(header.as_slice())
                    )));
                };
                Body::Csv {
                    reader,
                    record: csv::ByteRecord::new(),
                    job,
                    at,
                }
            }
        };
        Ok(Records {
            format,
            now,
            body,
            keep_raw,
            error: None,
        })
    }

    /// The format being read.
    pub fn format(&self) -> Format {
        self.format
    }
}

fn format_of_extension(path: &Path) -> Option<Format> {
    match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
        "jsonl" | "ndjson" | "json" => Some(Format::Jsonl),
        "csv" => Some(Format::Csv),
        _ => None,
    }
}

fn format_of_content(source: &mut impl BufRead) -> io::Result<Format> {
    let head = source.fill_buf()?;
    Ok(match head.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') | None => Format::Jsonl,
        Some(_) => Format::Csv,
    })
}

impl Iterator for Records {
    type Item = Record;

    fn next(&mut self) -> Option<Record> {
        if self.error.is_some() {
            return None;
        }
        let (now, keep) = (self.now, self.keep_raw);
        match &mut self.body {
            Body::Lines { source, line, buf } => loop {
                buf.clear();
                *line += 1;
                match source.read_until(b'\n', buf) {
                    Ok(0) => return None,
                    Ok(_) => {}
                    Err(e) => {
                        self.error = Some((*line, e));
                        return None;
                    }
                }
                if buf.last() == Some(&b'\n') {
                    buf.pop();
                }
                if buf.trim_ascii().is_empty() {
                    continue;
                }
                let job = json_job(buf, now);
                return Some(Record {
                    line: *line,
                    raw: if keep {
                        Raw::Line(buf.clone())
                    } else {
                        Raw::Dropped
                    },
                    job,
                });
            },
            Body::Csv {
                reader,
                record,
                job,
                at,
            } => match reader.read_byte_record(record) {
                Ok(false) => None,
                Ok(true) => {
                    let line = record.position().map_or(0, |p| p.line());
                    let parsed = csv_job(record, *job, *at, now);
                    Some(Record {
                        line,
                        raw: if keep {
                            Raw::Csv(record.clone())
                        } else {
                            Raw::Dropped
                        },
                        job: parsed,
                    })
                }
                Err(e) => {
                    // An I/O error has no position: the record being read
                    // has the line it started on.
                    let line = e.position().or(record.position()).map_or(0, |p| p.line());
                    self.error = Some((line, io::Error::other(e)));
                    None
                }
            },
        }
    }
}

fn json_job(line: &[u8], now: Timestamp) -> Result<(String, DateTime), String> {
    let parsed: JsonJob = serde_json::from_slice(line).map_err(|e| {
        // serde_json counts lines within the line: keep only the column.
        let text = e.to_string();
        let message = text.split(" at line ").next().unwrap_or(&text);
        format!(
            "invalid JSON ({message}, column {}): expected {{\"job\": \"...\", \"at\": \"...\"}}",
            e.column()
        )
    })?;
    let at = parse_when(&parsed.at, now)?;
    Ok((parsed.job, at))
}

fn csv_job(
    record: &csv::ByteRecord,
    job: usize,
    at: usize,
    now: Timestamp,
) -> Result<(String, DateTime), String> {
    let field = |i: usize, name: &str| {
        let bytes = record.get(i).ok_or_else(|| {
            format!(
                "{} field(s), expected the columns of the header (no `{name}`)",
                record.len()
            )
        })?;
        std::str::from_utf8(bytes).map_err(|_| {
            format!(
                "the `{name}` field is not UTF-8: {:?}",
                String::from_utf8_lossy(bytes)
            )
        })
    };
    let job = field(job, "job")?.to_owned();
    let at = parse_when(field(at, "at")?, now)?;
    Ok((job, at))
}

impl Records {
    /// The CSV columns of `job` and `at` (unused for JSON Lines).
    pub fn columns(&self) -> (usize, usize) {
        match self.body {
            Body::Csv { job, at, .. } => (job, at),
            Body::Lines { .. } => (0, 1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(text: &str, format: Option<Format>) -> Vec<(u64, Result<String, String>)> {
        let dir = std::env::temp_dir().join(format!("kairoi-cli-input-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{}.txt", text.len()));
        std::fs::write(&path, text).unwrap();
        let now = "2030-01-01T00:00:00Z".parse().unwrap();
        let r = Records::open(Some(&path), format, now, Arc::default(), false).unwrap();
        r.map(|r| (r.line, r.job.map(|(j, at)| format!("{j}@{at}"))))
            .collect()
    }

    #[test]
    fn json_lines_by_content_with_line_numbers() {
        let got = records(
            "{\"job\": \"a b\", \"at\": \"+1h\"}\n\n{\"job\": 7, \"at\": \"now\"}\r\n{\"job\": \"c\", \"at\": \"x\"}\n",
            None,
        );
        assert_eq!(got[0], (1, Ok("a b@2030-01-01 01:00:00".into())));
        assert_eq!(got[1].0, 3);
        assert!(
            got[1]
                .1
                .as_ref()
                .unwrap_err()
                .contains("invalid type: integer"),
            "{got:?}"
        );
        assert_eq!(got[2].0, 4);
        assert!(got[2].1.as_ref().unwrap_err().starts_with("bad time \"x\""));
    }

    #[test]
    fn csv_by_content_with_a_header_in_any_order() {
        let got = records("at,job\nnow,\"x, \"\"y\"\"\nz\"\n+1d\n", None);
        assert_eq!(got[0], (2, Ok("x, \"y\"\nz@2030-01-01 00:00:00".into())));
        assert_eq!(got[1].0, 4);
        assert!(
            got[1].1.as_ref().unwrap_err().contains("no `job`"),
            "{got:?}"
        );
    }
}

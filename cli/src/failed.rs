//! The file of failed lines of `import`: each failed record written back
//! in its input format, to be fixed and imported again.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::args::Format;
use crate::input::Raw;

/// Writes records back in their input format: the file of failed lines,
/// which `import` reads again.
pub struct FailedWriter {
    path: PathBuf,
    out: FailedOut,
    written: u64,
}

enum FailedOut {
    Lines(io::BufWriter<std::fs::File>),
    Csv(Box<csv::Writer<std::fs::File>>),
}

impl FailedWriter {
    /// Creates `path` for records of `format` (a CSV file starts with the
    /// header `job,at`).
    pub fn create(path: &Path, format: Format) -> io::Result<FailedWriter> {
        let file = std::fs::File::create(path)?;
        let out = match format {
            Format::Jsonl => FailedOut::Lines(io::BufWriter::new(file)),
            Format::Csv => {
                let mut w = csv::Writer::from_writer(file);
                w.write_record(["job", "at"])?;
                FailedOut::Csv(Box::new(w))
            }
        };
        Ok(FailedWriter {
            path: path.to_owned(),
            out,
            written: 0,
        })
    }

    /// Writes one record; a CSV record is written as `job,at` when it has
    /// those fields at `columns`, else as it was.
    pub fn write(&mut self, raw: &Raw, columns: (usize, usize)) -> io::Result<()> {
        if !matches!(raw, Raw::Dropped) {
            self.written += 1;
        }
        match (&mut self.out, raw) {
            (_, Raw::Dropped) => Ok(()),
            (FailedOut::Lines(w), Raw::Line(line)) => {
                w.write_all(line)?;
                w.write_all(b"\n")
            }
            (FailedOut::Csv(w), Raw::Csv(record)) => {
                match (record.get(columns.0), record.get(columns.1)) {
                    (Some(job), Some(at)) => w.write_record([job, at]).map_err(io::Error::other),
                    _ => w.write_byte_record(record).map_err(io::Error::other),
                }
            }
            _ => Err(io::Error::other("a record of another format")),
        }
    }

    /// Flushes the file; when no record was written, removes it if it is
    /// a regular file (not a device, a pipe or a link), so that no empty
    /// file, nor an older file of failed lines, is left under its name.
    pub fn finish(self) -> io::Result<()> {
        match self.out {
            FailedOut::Lines(mut w) => w.flush()?,
            FailedOut::Csv(mut w) => w.flush()?,
        }
        let regular = std::fs::symlink_metadata(&self.path).is_ok_and(|m| m.is_file());
        if self.written == 0 && regular {
            std::fs::remove_file(&self.path)?;
        }
        Ok(())
    }
}

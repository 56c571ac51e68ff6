//! Responses in: matching them to requests and ending those requests.

use super::id::RequestId;
use super::table::{Entry, Lookup};
use super::{Client, Event, Outcome};
use crate::error::{ConnectionError, excerpt};

impl<I: Copy + Ord> Client<I> {
    /// The fast path of [`Client::poll_event`]: the next message is a
    /// well-formed `<id> OK` or `<id> ERROR` answering a written request.
    /// Anything else is left to the general path, so errors are reported
    /// the same way whatever the shape.
    #[inline]
    pub(super) fn matched_response(&mut self) -> Option<Event> {
        let (identifier, status, len) = self.decoder.peek_pair()?;
        let outcome = match status {
            b"OK" => Outcome::Ok,
            b"ERROR" => Outcome::Rejected,
            _ => return None,
        };
        let id = RequestId::parse(identifier)?;
        let Lookup::At(i) = self.table.lookup(id.0) else {
            return None;
        };
        if !self.table.is_written(i) {
            return None;
        }
        self.decoder.skip_peeked(len);
        self.table.finish_written(i);
        self.maybe_finish_close();
        Some(Event::Outcome { id, outcome })
    }

    /// Handles the response just decoded; returns its request's outcome
    /// event, if it ends one.
    pub(super) fn on_response(&mut self, count: usize) -> Option<Event> {
        if count != 2 {
            self.fail(ConnectionError::WrongArgumentCount { count });
            return None;
        }
        let identifier = self.decoder.argument(0);
        let Some(id) = RequestId::parse(identifier) else {
            self.fail(ConnectionError::UnmatchedResponse {
                identifier: excerpt(identifier),
            });
            return None;
        };
        let outcome = match self.decoder.argument(1) {
            b"OK" => Outcome::Ok,
            b"ERROR" => Outcome::Rejected,
            status => {
                self.fail(ConnectionError::UnknownStatus {
                    identifier: excerpt(identifier),
                    status: excerpt(status),
                });
                return None;
            }
        };
        let slot = match self.table.lookup(id.0) {
            Lookup::At(i) => {
                if self.table.is_written(i) {
                    self.table.finish_written(i);
                    self.maybe_finish_close();
                    return Some(Event::Outcome { id, outcome });
                }
                self.table.get(id.0)
            }
            Lookup::Below if self.table.absorb_forgotten() => return None,
            Lookup::Below => Some(Entry::Done),
            Lookup::Beyond => None,
        };
        match slot {
            // Handled above.
            Some(Entry::Written { .. }) => {}
            Some(Entry::Abandoned) => self.table.set(id.0, Entry::Done),
            Some(Entry::Done) => self.fail(ConnectionError::DuplicateResponse {
                identifier: excerpt(identifier),
            }),
            Some(Entry::Queued { .. }) | None => self.fail(ConnectionError::UnmatchedResponse {
                identifier: excerpt(identifier),
            }),
        }
        None
    }

    pub(super) fn on_eof(&mut self) {
        if let Err(e) = self.decoder.finish() {
            return self.fail(ConnectionError::Malformed(e));
        }
        match self.table.active() {
            0 => self.finish(None),
            active => self.fail(ConnectionError::ClosedWithActive { active }),
        }
    }
}

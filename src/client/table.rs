//! The table of requests that have no final state yet, indexed by sequence.

use alloc::collections::VecDeque;

/// The state of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Entry<I> {
    /// Queued; its last byte has not been written yet.
    Queued { deadline: Option<I> },
    /// Fully written; waiting for the response.
    Written { deadline: Option<I> },
    /// Its outcome was given (timed out or cancelled after a byte left);
    /// a late response is absorbed.
    Abandoned,
    /// Finished.
    Done,
}

impl<I: Copy> Entry<I> {
    pub(crate) fn deadline(&self) -> Option<I> {
        match *self {
            Entry::Queued { deadline } | Entry::Written { deadline } => deadline,
            _ => None,
        }
    }

    pub(crate) fn is_active(&self) -> bool {
        matches!(self, Entry::Queued { .. } | Entry::Written { .. })
    }
}

/// Requests with sequence numbers in `base..base + slots.len()`. Finished
/// requests at the front are popped, so lookups are O(1) and the table
/// allocates nothing in steady state.
#[derive(Debug)]
pub(crate) struct Table<I> {
    slots: VecDeque<Entry<I>>,
    base: u64,
    active: usize,
    abandoned: usize,
    /// Abandoned requests dropped from the front to bound the table; a
    /// response below `base` is absorbed while this is non-zero.
    forgotten: u64,
}

/// Where a sequence number falls.
pub(crate) enum Lookup {
    /// Below the table: finished, or abandoned and forgotten.
    Below,
    /// Inside the table.
    At(usize),
    /// Never issued.
    Beyond,
}

impl<I: Copy + Ord> Table<I> {
    pub(crate) fn new() -> Self {
        Table {
            slots: VecDeque::new(),
            base: 0,
            active: 0,
            abandoned: 0,
            forgotten: 0,
        }
    }

    pub(crate) fn next_sequence(&self) -> u64 {
        self.base + self.slots.len() as u64
    }

    pub(crate) fn span(&self) -> usize {
        self.slots.len()
    }

    pub(crate) fn active(&self) -> usize {
        self.active
    }

    pub(crate) fn abandoned(&self) -> usize {
        self.abandoned
    }

    pub(crate) fn oldest(&self) -> u64 {
        self.base
    }

    pub(crate) fn push(&mut self, deadline: Option<I>) -> u64 {
        let seq = self.next_sequence();
        self.slots.push_back(Entry::Queued { deadline });
        self.active += 1;
        seq
    }

    pub(crate) fn lookup(&self, seq: u64) -> Lookup {
        if seq < self.base {
            Lookup::Below
        } else if seq - self.base < self.slots.len() as u64 {
            Lookup::At((seq - self.base) as usize)
        } else {
            Lookup::Beyond
        }
    }

    pub(crate) fn get(&self, seq: u64) -> Option<Entry<I>> {
        match self.lookup(seq) {
            Lookup::At(i) => Some(self.slots[i]),
            _ => None,
        }
    }

    /// Sets a request's state, keeping the counters right.
    pub(crate) fn set(&mut self, seq: u64, slot: Entry<I>) {
        let Lookup::At(i) = self.lookup(seq) else {
            return;
        };
        let old = core::mem::replace(&mut self.slots[i], slot);
        self.active -= usize::from(old.is_active());
        self.active += usize::from(slot.is_active());
        self.abandoned -= usize::from(old == Entry::Abandoned);
        self.abandoned += usize::from(slot == Entry::Abandoned);
        self.pop_done();
    }

    /// Whether the request at index `i` (from [`Table::lookup`]) is
    /// `Written`.
    #[inline]
    pub(crate) fn is_written(&self, i: usize) -> bool {
        matches!(self.slots.get(i), Some(Entry::Written { .. }))
    }

    /// Ends the written request at index `i` (from [`Table::lookup`]): the
    /// same as `set(seq, Entry::Done)` for a `Written` slot, on the path of
    /// every response.
    #[inline(always)]
    pub(crate) fn finish_written(&mut self, i: usize) {
        self.active -= 1;
        if i == 0 {
            self.slots.pop_front();
            self.base += 1;
            self.pop_done();
        } else {
            self.slots[i] = Entry::Done;
        }
    }

    /// Pops finished requests from the front.
    #[inline(always)]
    fn pop_done(&mut self) {
        while let Some(Entry::Done) = self.slots.front() {
            self.slots.pop_front();
            self.base += 1;
        }
    }

    /// Takes one forgotten request's late response, if any is expected.
    pub(crate) fn absorb_forgotten(&mut self) -> bool {
        if self.forgotten > 0 {
            self.forgotten -= 1;
            true
        } else {
            false
        }
    }

    /// Drops abandoned requests from the front until the table spans fewer
    /// than `max_span` sequence numbers, or the front is active.
    pub(crate) fn trim(&mut self, max_span: usize) {
        while self.slots.len() >= max_span && self.slots.front() == Some(&Entry::Abandoned) {
            self.slots.pop_front();
            self.base += 1;
            self.abandoned -= 1;
            self.forgotten += 1;
            while self.slots.front() == Some(&Entry::Done) {
                self.slots.pop_front();
                self.base += 1;
            }
        }
    }

    /// Empties the table, yielding every active request in order.
    pub(crate) fn drain_active(&mut self) -> impl Iterator<Item = (u64, Entry<I>)> + '_ {
        let base = self.base;
        self.base += self.slots.len() as u64;
        self.active = 0;
        self.abandoned = 0;
        self.slots
            .drain(..)
            .enumerate()
            .map(move |(i, s)| (base + i as u64, s))
            .filter(|(_, s)| s.is_active())
    }
}

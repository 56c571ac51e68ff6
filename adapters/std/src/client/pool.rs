//! A call over the pool: the engine's [`Feeder`] hands requests to the
//! slots (each the connection of one server), one in the caller's thread
//! or one scoped thread per slot, and every result reaches the caller's
//! thread.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, mpsc};
use std::time::Instant;

use kairoi_client::Settings;
use kairoi_client::feed::{Feeder, Next};
use kairoi_client::mux::Payload;

use super::slot::Slot;
use crate::RequestError;

/// Where the results of a call go.
type Out<'a> = dyn FnMut(usize, Result<(), RequestError>) + 'a;

/// One result of a call.
type Done = (usize, Result<(), RequestError>);

/// How many results a slot's thread hands over at once.
const HANDOFF: usize = 256;

/// Where a slot puts the results it has: straight to the caller's
/// callback, or, from a slot's own thread, to the caller's thread in
/// batches (one wake-up per batch, not per result).
trait Output {
    /// One result.
    fn put(&mut self, index: usize, result: Result<(), RequestError>);
    /// Hands over what is held, before the slot waits.
    fn flush(&mut self) {}
}

impl Output for &mut Out<'_> {
    fn put(&mut self, index: usize, result: Result<(), RequestError>) {
        self(index, result);
    }
}

/// The results of a slot's thread, on their way to the caller's thread.
struct Handoff {
    tx: mpsc::Sender<Vec<Done>>,
    held: Vec<Done>,
}

impl Output for Handoff {
    fn put(&mut self, index: usize, result: Result<(), RequestError>) {
        self.held.push((index, result));
        if self.held.len() >= HANDOFF {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if !self.held.is_empty() {
            // The caller's thread outlives the scope: a send cannot fail.
            let _ = self.tx.send(std::mem::take(&mut self.held));
        }
    }
}

/// What the slots of one call share.
struct Call<'a, I> {
    feeder: Mutex<Feeder<I>>,
    /// Slots with a connection up, by server.
    up: Vec<AtomicUsize>,
    settings: &'a Settings,
}

impl<I> Call<'_, I> {
    fn feeder(&self) -> MutexGuard<'_, Feeder<I>> {
        // A panic in a caller's iterator poisons the lock; the feeder is
        // still whole (each step is one change).
        self.feeder.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn connected(&self, server: usize) -> bool {
        self.up[server].load(Ordering::Relaxed) > 0
    }
}

/// Which slots a call runs on.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Over {
    /// Every slot, each in a thread of its own.
    Every,
    /// One slot of each server (an open one if there is any).
    EachServer,
    /// One slot of this server only.
    Server(usize),
}

/// Runs `feeder` to its end over `slots` (of `servers` servers), every
/// result to `on_result` in the caller's thread. A call on one slot runs
/// in the caller's thread; on several, each has a thread of its own.
pub(crate) fn run<I>(
    slots: &mut [Slot],
    servers: usize,
    settings: &Settings,
    feeder: Feeder<I>,
    over: Over,
    on_result: &mut Out<'_>,
) where
    I: Iterator<Item = Payload> + Send,
{
    let up: Vec<AtomicUsize> = (0..servers).map(|_| AtomicUsize::new(0)).collect();
    for slot in slots.iter_mut() {
        slot.refresh();
        if slot.is_up() {
            up[slot.server].fetch_add(1, Ordering::Relaxed);
        }
    }
    let mut feeder = feeder;
    for (server, up) in up.iter().enumerate() {
        feeder.set_connected(server, up.load(Ordering::Relaxed) > 0);
    }
    let call = Call {
        feeder: Mutex::new(feeder),
        up,
        settings,
    };
    let mut chosen: Vec<&mut Slot> = match over {
        Over::Every => slots.iter_mut().collect(),
        Over::EachServer => one_per_server(slots, 0..servers),
        Over::Server(server) => one_per_server(slots, server..server + 1),
    };
    if let [slot] = chosen.as_mut_slice() {
        return drive(slot, &call, &mut &mut *on_result);
    }
    let (tx, rx) = mpsc::channel();
    std::thread::scope(|scope| {
        for slot in chosen {
            let (tx, call) = (tx.clone(), &call);
            scope.spawn(move || {
                let mut out = Handoff {
                    tx,
                    held: Vec::new(),
                };
                drive(slot, call, &mut out);
                out.flush();
            });
        }
        drop(tx);
        // The caller's callback runs here, in its own thread.
        for (index, result) in rx.into_iter().flatten() {
            on_result(index, result);
        }
    });
}

/// One slot of each of `servers`: an open one if there is any, else its
/// first.
fn one_per_server(slots: &mut [Slot], servers: std::ops::Range<usize>) -> Vec<&mut Slot> {
    let pick: Vec<usize> = servers
        .filter_map(|server| {
            let of = || slots.iter().enumerate().filter(|(_, s)| s.server == server);
            of().find(|(_, s)| s.is_up())
                .or_else(|| of().next())
                .map(|(i, _)| i)
        })
        .collect();
    slots
        .iter_mut()
        .enumerate()
        .filter(|(i, _)| pick.contains(i))
        .map(|(_, slot)| slot)
        .collect()
}

/// Drives one slot until the call's feeder is done: takes its server's
/// requests while the window has room, turns the engine, and hands each
/// result back.
fn drive<I>(slot: &mut Slot, call: &Call<'_, I>, out: &mut impl Output)
where
    I: Iterator<Item = Payload>,
{
    let (window, server) = (call.settings.window(), slot.server);
    let mut up = slot.is_up();
    loop {
        let (done, retry) = {
            let mut feeder = call.feeder();
            feeder.set_connected(server, call.connected(server));
            let now = Instant::now();
            // A slot that is down takes one request, to make a connection.
            while slot.mux.load() < window && (slot.is_up() || slot.mux.load() == 0) {
                match feeder.next_for(server, now) {
                    Some(Next::Submit {
                        index, body, span, ..
                    }) => {
                        slot.submit(index, body, span, feeder.deadline());
                    }
                    Some(Next::Report(index, result)) => out.put(index, result),
                    None => break,
                }
            }
            (feeder.is_done(), feeder.next_retry())
        };
        if done {
            return;
        }
        // A slot that holds nothing wakes soon on its own: another slot's
        // retry may be due, or another server's slot may have taken
        // requests for this one.
        out.flush();
        slot.turn(call.settings, retry);
        if slot.is_up() != up {
            up = slot.is_up();
            match up {
                true => call.up[server].fetch_add(1, Ordering::Relaxed),
                false => call.up[server].fetch_sub(1, Ordering::Relaxed),
            };
        }
        while let Some((index, result, body)) = slot.finished() {
            let mut feeder = call.feeder();
            feeder.set_connected(server, call.connected(server));
            if let Some((index, result)) =
                feeder.complete(Instant::now(), index, server, result, body)
            {
                out.put(index, result);
            }
        }
    }
}

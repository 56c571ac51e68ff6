//! A call over the pool: the engine's [`Feeder`] hands requests to the
//! slots, one in the caller's thread or one scoped thread per slot, and
//! every result reaches the caller's thread.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, mpsc};
use std::time::Instant;

use kairoi_client::feed::{Feeder, Next};
use kairoi_client::mux::Payload;
use kairoi_client::{ServerAddr, Settings};

use super::slot::Slot;
use crate::RequestError;

/// Where the results of a call go.
type Out<'a> = dyn FnMut(usize, Result<(), RequestError>) + 'a;

/// What the slots of one call share.
struct Call<'a, I> {
    feeder: Mutex<Feeder<I>>,
    /// Slots with a connection up.
    up: AtomicUsize,
    target: &'a ServerAddr,
    settings: &'a Settings,
}

impl<I> Call<'_, I> {
    fn feeder(&self) -> MutexGuard<'_, Feeder<I>> {
        // A panic in a caller's iterator poisons the lock; the feeder is
        // still whole (each step is one change).
        self.feeder.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn connected(&self) -> bool {
        self.up.load(Ordering::Relaxed) > 0
    }
}

/// Runs `feeder` to its end over `slots`, every result to `on_result` in
/// the caller's thread. With `spread`, each slot has a thread of its own;
/// else the call runs on one slot, an open one if there is any.
pub(crate) fn run<I>(
    slots: &mut [Slot],
    target: &ServerAddr,
    settings: &Settings,
    feeder: Feeder<I>,
    spread: bool,
    on_result: &mut Out<'_>,
) where
    I: Iterator<Item = Payload> + Send,
{
    for slot in slots.iter_mut() {
        slot.refresh();
    }
    let call = Call {
        feeder: Mutex::new(feeder),
        up: AtomicUsize::new(slots.iter().filter(|s| s.is_up()).count()),
        target,
        settings,
    };
    if !spread || slots.len() == 1 {
        let open = slots.iter().position(Slot::is_up).unwrap_or(0);
        return drive(&mut slots[open], &call, on_result);
    }
    let (tx, rx) = mpsc::channel();
    std::thread::scope(|scope| {
        for slot in slots.iter_mut() {
            let (tx, call) = (tx.clone(), &call);
            scope.spawn(move || {
                drive(slot, call, &mut |i, r| {
                    let _ = tx.send((i, r));
                })
            });
        }
        drop(tx);
        // The caller's callback runs here, in its own thread.
        for (index, result) in rx {
            on_result(index, result);
        }
    });
}

/// Drives one slot until the call's feeder is done: takes requests while
/// the window has room, turns the engine, and hands each result back.
fn drive<I>(slot: &mut Slot, call: &Call<'_, I>, out: &mut Out<'_>)
where
    I: Iterator<Item = Payload>,
{
    let window = call.settings.window();
    let mut up = slot.is_up();
    loop {
        let (done, retry) = {
            let mut feeder = call.feeder();
            let (now, connected) = (Instant::now(), call.connected());
            while slot.mux.load() < window {
                let may_pull = slot.is_up() || slot.mux.load() == 0;
                match feeder.next(now, connected, may_pull) {
                    Some(Next::Submit(index, body)) => {
                        slot.submit(index, body, feeder.deadline());
                    }
                    Some(Next::Report(index, result)) => out(index, result),
                    None => break,
                }
            }
            (feeder.is_done(), feeder.next_retry())
        };
        if done {
            return;
        }
        // A slot that holds nothing wakes soon on its own: another slot's
        // retry may be due.
        slot.turn(call.target, call.settings, retry);
        if slot.is_up() != up {
            up = slot.is_up();
            match up {
                true => call.up.fetch_add(1, Ordering::Relaxed),
                false => call.up.fetch_sub(1, Ordering::Relaxed),
            };
        }
        while let Some((index, result, body)) = slot.finished() {
            let reported =
                call.feeder()
                    .complete(Instant::now(), call.connected(), index, result, body);
            if let Some((index, result)) = reported {
                out(index, result);
            }
        }
    }
}

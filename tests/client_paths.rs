//! The client takes well-formed responses through a fast path when a whole
//! one is buffered, and through the general decoder otherwise. Fed the same
//! bytes whole or one byte at a time, two clients must report exactly the
//! same events, whatever the responses hold.

use kairoi_proto::{Client, Config, Event, RequestId};

/// A small deterministic generator.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// One response line, usually well-formed, sometimes not.
fn response(rng: &mut XorShift, sent: u64) -> String {
    let id = RequestId::from_sequence(rng.next() % (sent + 4)).to_string();
    let status = ["OK", "ERROR", "OK", "ERROR", "FAIL", "ok"][rng.below(6)];
    match rng.below(24) {
        0 => format!("{id}  {status}\n"),
        1 => format!(" {id} {status}\n"),
        2 => format!("{id} {status} \n"),
        3 => format!("{id} {status} extra\n"),
        4 => format!("\"{id}\" {status}\n"),
        5 => format!("{id} \"{status}\"\n"),
        6 => format!("0{id} {status}\n"),
        7 => format!("{id}é {status}\n"),
        8 => format!("{id}\n"),
        9 => format!("{id} {status}\r\n"),
        10 => format!("{}{id} {status}\n", "z".repeat(12)),
        _ => format!("{id} {status}\n"),
    }
}

/// A client with `sent` requests written, some of them then cancelled.
fn client(sent: u64, rng: &mut XorShift) -> Client<u64> {
    let mut client = Client::with_time_type(Config::default());
    let ids: Vec<_> = (0..sent)
        .map(|_| client.send_arguments(["X"]).unwrap())
        .collect();
    let n = client.buffered_transmit();
    client.consume_transmit(n);
    for id in ids {
        if rng.below(8) == 0 {
            client.cancel(id);
        }
    }
    client
}

fn events(client: &mut Client<u64>) -> Vec<Event> {
    std::iter::from_fn(|| client.poll_event()).collect()
}

#[test]
fn whole_and_byte_by_byte_give_the_same_events() {
    // Outcomes compared, so that the comparison is not vacuous.
    let mut outcomes_compared = 0;
    for seed in 1..400u64 {
        let mut rng = XorShift(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let sent = 1 + rng.below(40) as u64;
        let lines = 1 + rng.below(30);
        let wire: String = (0..lines).map(|_| response(&mut rng, sent)).collect();

        let cancel_seed = rng.next();
        let mut whole = client(sent, &mut XorShift(cancel_seed));
        let mut bytewise = client(sent, &mut XorShift(cancel_seed));
        whole.receive(wire.as_bytes());
        let got = events(&mut whole);
        let mut want = Vec::new();
        for b in wire.as_bytes() {
            bytewise.receive(std::slice::from_ref(b));
            want.extend(events(&mut bytewise));
        }
        assert_eq!(got, want, "{wire:?}");
        whole.receive_eof();
        bytewise.receive_eof();
        assert_eq!(events(&mut whole), events(&mut bytewise), "{wire:?}");
        outcomes_compared += got
            .iter()
            .filter(|e| matches!(e, Event::Outcome { .. }))
            .count();
    }
    assert!(outcomes_compared > 1000, "{outcomes_compared}");
}

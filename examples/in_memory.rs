//! A `Client` and a `Server` wired together with no sockets: how to test
//! code that speaks KCP without any I/O.
//!
//! Run with `cargo run --example in_memory`.

use kairoi_proto::{
    Client, Config, DateTime, Event, Instruction, Runner, Server, ServerEvent, Status,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut client = Client::new(Config::default());
    let mut server = Server::new(Config::default());

    let when: DateTime = "2030-01-01 08:00:00".parse()?;
    let rule = client.send(&Instruction::rule_set(
        "mail",
        "app.mail.",
        Runner::shell("send.sh"),
    ))?;
    let job = client.send(&Instruction::set("app.mail.\"welcome\" 42", when))?;
    let unknown = client.send_arguments(["UNSET", "app.mail.41"])?;

    // Client to server: every byte the client would write.
    while let Some(bytes) = client.poll_transmit() {
        // The server takes what it can hold (all of it, here).
        let n = server.receive(bytes);
        client.consume_transmit(n);
    }

    // The server decodes typed requests, and answers in any order: here
    // the last one first, as the reference server does for invalid bodies.
    let mut requests = Vec::new();
    while let Some(ServerEvent::Request(request)) = server.poll_event() {
        println!(
            "server got {}: {:?}",
            request.token.identifier(),
            request.instruction
        );
        requests.push(request);
    }
    for request in requests.into_iter().rev() {
        let status = if request.instruction.is_ok() {
            Status::Ok
        } else {
            Status::Error
        };
        server.respond(request.token, status)?;
    }

    // Server to client.
    while let Some(bytes) = server.poll_transmit() {
        let n = bytes.len();
        client.receive(bytes);
        server.consume_transmit(n);
    }
    while let Some(event) = client.poll_event() {
        if let Event::Outcome { id, outcome } = event {
            let what = match id {
                id if id == rule => "rule",
                id if id == job => "job",
                id if id == unknown => "UNSET",
                _ => "?",
            };
            println!("client: {what} request {id} -> {outcome:?}");
        }
    }
    assert_eq!(client.in_flight(), 0);
    Ok(())
}

//! Handing pipe ends and mailslots to a child process and taking them over
//! there (S19, S133, S153): `handoff` then `adopt`. The adopting side runs
//! in this process here, standing in for the child; the C program
//! `pipeslot-win32/tests/inherit.c` does the same across real processes.
//!
//! Every test uses its own namespace root.

use std::time::Duration;

use pipeslot::mailslot::{Mailslot, MailslotOptions, MailslotWriter};
use pipeslot::pipe::{PipeConnection, PipeEnd, ReadMode};
use pipeslot::{ErrorKind, MailslotName};

mod util;
use util::pipe::*;
use util::*;

#[test]
fn a_client_end_handed_over_keeps_unread_messages_and_their_boundaries() {
    let root = Root::new();
    let Pair { server, client } = root.pipe("handoff-client").message().pair();
    // S29: the client came first; the connection is good.
    expect_err(server.connect(), ErrorKind::PipeConnected, 535);
    client.set_read_mode(ReadMode::Message).unwrap();
    server.send(b"first").unwrap();
    server.send(b"second message").unwrap();
    // A peek pulls what arrived into the client's own buffer: the handoff
    // must carry it.
    eventually("both messages arrive", || {
        client.peek(&mut []).unwrap().total_available == 19
    });
    let handoff = client.handoff().unwrap();
    drop(client);
    let adopted = PipeConnection::adopt(handoff).unwrap();
    assert_eq!(adopted.end(), PipeEnd::Client);
    assert_eq!(adopted.client_process_id().unwrap(), std::process::id());
    let mut buf = [0u8; 8];
    let read = adopted.read_message(&mut buf).unwrap();
    assert_eq!((read.bytes, read.complete), (5, true));
    // S62: a short buffer gets part of the message.
    let read = adopted.read_message(&mut buf).unwrap();
    assert_eq!((read.bytes, read.complete), (8, false));
    let read = adopted.read_message(&mut buf).unwrap();
    assert_eq!(&buf[..read.bytes], b"essage");
    // Both directions go on working.
    adopted.send(b"from the child").unwrap();
    let mut reply = [0u8; 32];
    let read = server.read_message(&mut reply).unwrap();
    assert_eq!(&reply[..read.bytes], b"from the child");
}

#[test]
fn the_peer_sees_the_end_only_when_every_holder_closed() {
    let root = Root::new();
    let Pair { server, client } = root.pipe("handoff-close").pair();
    // S29: the client came first; the connection is good.
    expect_err(server.connect(), ErrorKind::PipeConnected, 535);
    let adopted = PipeConnection::adopt(client.handoff().unwrap()).unwrap();
    // The original closes: the connection stays, through the other holder.
    drop(client);
    adopted.send(b"still here").unwrap();
    let mut buf = [0u8; 16];
    let read = server.read_message(&mut buf).unwrap();
    assert_eq!(&buf[..read.bytes], b"still here");
    drop(adopted);
    // S80: now the server's read reports the pipe broken.
    expect_err(server.read_message(&mut buf), ErrorKind::BrokenPipe, 109);
}

#[test]
fn a_connected_server_end_handed_over_serves_its_client_and_can_disconnect_it() {
    let root = Root::new();
    let Pair { server, client } = root.pipe("handoff-server").message().pair();
    // S29: the client came first; the connection is good.
    expect_err(server.connect(), ErrorKind::PipeConnected, 535);
    client.send(b"request").unwrap();
    let adopted = PipeConnection::adopt(server.handoff().unwrap()).unwrap();
    assert_eq!(adopted.end(), PipeEnd::Server);
    assert_eq!(adopted.server_process_id().unwrap(), std::process::id());
    let info = adopted.info().unwrap();
    assert_eq!(info.end, PipeEnd::Server);
    let mut buf = [0u8; 16];
    let read = adopted.read_message(&mut buf).unwrap();
    assert_eq!(&buf[..read.bytes], b"request");
    adopted.send(b"reply").unwrap();
    let read = client.read_message(&mut buf).unwrap();
    assert_eq!(&buf[..read.bytes], b"reply");
    // S50: DisconnectNamedPipe through the adopted end reaches the client.
    adopted.disconnect().unwrap();
    expect_err(
        client.read_message(&mut buf),
        ErrorKind::PipeNotConnected,
        233,
    );
    expect_err(adopted.disconnect(), ErrorKind::PipeNotConnected, 233);
}

#[test]
fn a_listening_instance_cannot_be_handed_over() {
    let root = Root::new();
    let server = root.pipe("handoff-listening").server();
    expect_err(server.handoff(), ErrorKind::PipeListening, 536);
}

#[test]
fn a_client_end_cannot_disconnect() {
    let root = Root::new();
    let Pair { server, client } = root.pipe("handoff-client-disconnect").pair();
    // S29: the client came first; the connection is good.
    expect_err(server.connect(), ErrorKind::PipeConnected, 535);
    let adopted = PipeConnection::adopt(client.handoff().unwrap()).unwrap();
    expect_err(adopted.disconnect(), ErrorKind::InvalidFunction, 1);
}

#[test]
fn a_mailslot_handed_over_keeps_its_queue_and_its_name() {
    let root = Root::new();
    let name: MailslotName = r"\\.\mailslot\handoff\reader".parse().unwrap();
    let slot = MailslotOptions::new()
        .root(root.path())
        .read_timeout(Some(Duration::ZERO))
        .create(&name)
        .unwrap();
    let writer = MailslotWriter::open_in(root.path(), &name).unwrap();
    writer.write(b"one").unwrap();
    writer.write(b"two").unwrap();
    // info() moves both into the reader's own queue.
    assert_eq!(slot.info().unwrap().message_count, 2);
    let handoff = slot.handoff().unwrap();
    drop(slot);
    // The original is closed, the adopted end holds the name (S153).
    let adopted = Mailslot::adopt(handoff).unwrap();
    let late = MailslotWriter::open_in(root.path(), &name).unwrap();
    late.write(b"three").unwrap();
    for expected in [&b"one"[..], b"two", b"three"] {
        assert_eq!(adopted.read_message().unwrap(), expected);
    }
    assert_eq!(adopted.read_timeout(), Some(Duration::ZERO));
    expect_err(adopted.read_message(), ErrorKind::SemTimeout, 121);
    drop(adopted);
    // S155: nobody holds the name any more.
    expect_err(
        MailslotWriter::open_in(root.path(), &name).map(drop),
        ErrorKind::FileNotFound,
        2,
    );
    // And it can be created again: the files left behind are stale.
    MailslotOptions::new()
        .root(root.path())
        .create(&name)
        .unwrap();
}

#[test]
fn a_mailslot_writer_handed_over_writes_to_the_same_mailslot() {
    let root = Root::new();
    let name: MailslotName = r"\\.\mailslot\handoff\writer".parse().unwrap();
    let slot = MailslotOptions::new()
        .root(root.path())
        .create(&name)
        .unwrap();
    let writer = MailslotWriter::open_in(root.path(), &name).unwrap();
    let adopted = MailslotWriter::adopt(writer.handoff().unwrap()).unwrap();
    drop(writer);
    assert_eq!(adopted.name(), &name);
    adopted.write(b"through the copy").unwrap();
    assert_eq!(slot.read_message().unwrap(), b"through the copy");
}

#[test]
fn a_shared_mailslot_has_one_read_timeout() {
    // S152: SetMailslotInfo applies to inherited handles too, both ways.
    let root = Root::new();
    let name: MailslotName = r"\\.\mailslot\handoff\timeout".parse().unwrap();
    let slot = MailslotOptions::new()
        .root(root.path())
        .read_timeout(Some(Duration::from_millis(300)))
        .create(&name)
        .unwrap();
    let adopted = Mailslot::adopt(slot.handoff().unwrap()).unwrap();
    assert_eq!(adopted.read_timeout(), Some(Duration::from_millis(300)));
    adopted.set_read_timeout(Some(Duration::ZERO));
    assert_eq!(slot.read_timeout(), Some(Duration::ZERO));
    assert_eq!(slot.info().unwrap().read_timeout, Some(Duration::ZERO));
    slot.set_read_timeout(None);
    assert_eq!(adopted.read_timeout(), None);
    slot.set_read_timeout(Some(Duration::from_millis(5)));
    assert_eq!(adopted.read_timeout(), Some(Duration::from_millis(5)));
}

//! Named pipes: names, CreateNamedPipe parameters, instances, client open
//! and WaitNamedPipe (S1-S40; Wine scenarios §21 items 1, 3, 11 and 12).
//!
//! Every test uses its own namespace root through `ServerOptions::root` /
//! `ClientOptions::root`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pipeslot::pipe::{
    ClientOptions, PipeMode, ReadMode, ServerOptions, WaitTimeout, UNLIMITED_INSTANCES,
};
use pipeslot::{ErrorKind, PipeName};

mod util;
use util::pipe::*;
use util::*;

fn ms(millis: u64) -> WaitTimeout {
    WaitTimeout::Duration(Duration::from_millis(millis))
}

#[test]
fn a_server_cannot_create_a_pipe_on_another_computer() {
    // S1: the server part of a creation name must be `.`. The spec names no
    // code; pipeslot answers ERROR_INVALID_NAME, as for mailslots (S139).
    let root = Root::new();
    for text in [r"\\otherhost\pipe\x", r"\\*\pipe\x"] {
        let Ok(remote) = PipeName::parse(text) else {
            continue; // not even a client name
        };
        let result = ServerOptions::new().root(root.path()).create(&remote);
        expect_open_err(result, ErrorKind::InvalidName, 123);
    }
}

#[test]
fn opening_a_pipe_on_another_host_is_bad_net_path() {
    // S2: remote server names are valid client names; with no gateway the
    // host cannot be reached: ERROR_BAD_NETPATH (53).
    let root = Root::new();
    let remote = PipeName::parse(r"\\otherhost\pipe\x").unwrap();
    expect_open_err(
        ClientOptions::new().root(root.path()).open(&remote),
        ErrorKind::BadNetPath,
        53,
    );
}

#[test]
fn pipe_names_match_without_case() {
    // S4: Wine creates \\.\PiPe\tests_pipe.c; any case opens it.
    let root = Root::new();
    let server = ServerOptions::new()
        .root(root.path())
        .create(&PipeName::parse(r"\\.\PiPe\tests_pipe.c").unwrap())
        .unwrap();
    let client = ClientOptions::new()
        .root(root.path())
        .open(&PipeName::parse(r"\\.\pipe\TESTS_PIPE.C").unwrap())
        .unwrap();
    expect_err(server.connect(), ErrorKind::PipeConnected, 535);
    client.send(b"x").unwrap();
    assert_eq!(server.recv_message().unwrap(), b"x");
}

#[test]
fn special_characters_in_the_name_part_work_end_to_end() {
    // S5 (§21 item 1): \\.\pipe\a<>*?|"/b can be created and opened.
    let root = Root::new();
    let _server = root.pipe(r#"a<>*?|"/b"#).server();
    let _client = root.client(r#"a<>*?|"/b"#);
}

#[test]
fn a_pipe_with_no_direction_is_invalid_parameter() {
    // S12 [I]: access bits 0 (neither inbound nor outbound) ->
    // ERROR_INVALID_PARAMETER, as in Wine. Other bits cannot be expressed.
    let root = Root::new();
    let result = root
        .pipe("no-direction")
        .with(|o| o.access_inbound(false).access_outbound(false))
        .create();
    expect_open_err(result, ErrorKind::InvalidParameter, 87);
}

#[test]
fn byte_type_with_message_read_mode_is_invalid_parameter() {
    // S13: PIPE_TYPE_BYTE | PIPE_READMODE_MESSAGE -> ERROR_INVALID_PARAMETER.
    let root = Root::new();
    let result = root
        .pipe("byte-message")
        .with(|o| o.pipe_mode(PipeMode::Byte).read_mode(ReadMode::Message))
        .create();
    expect_open_err(result, ErrorKind::InvalidParameter, 87);
    // Nothing was created: the name does not exist.
    expect_open_err(root.open("byte-message"), ErrorKind::FileNotFound, 2);
}

#[test]
fn message_type_takes_either_read_mode() {
    // S14
    let root = Root::new();
    for (i, read_mode) in [ReadMode::Byte, ReadMode::Message].into_iter().enumerate() {
        let server = root
            .pipe(&format!("message-{i}"))
            .with(|o| o.pipe_mode(PipeMode::Message).read_mode(read_mode))
            .server();
        assert_eq!(server.handle_state().unwrap().read_mode, read_mode);
    }
}

#[test]
fn max_instances_must_be_1_to_255() {
    // S15: 0 (ReactOS) and anything above 255 -> ERROR_INVALID_PARAMETER.
    let root = Root::new();
    for bad in [0, 256, 1000, u32::MAX] {
        let result = root.pipe(&format!("max-{bad}")).max_instances(bad).create();
        expect_open_err(result, ErrorKind::InvalidParameter, 87);
    }
    for good in [1, 2, 254, UNLIMITED_INSTANCES] {
        let server = root
            .pipe(&format!("max-{good}"))
            .max_instances(good)
            .server();
        assert_eq!(server.info().unwrap().max_instances, good);
    }
}

#[test]
fn default_timeout_zero_means_50_ms() {
    // S16, S39: NMPWAIT_USE_DEFAULT_WAIT uses the server's default timeout,
    // 50 ms when it gave 0. Lower bounds only.
    let root = Root::new();
    let _server = root
        .pipe("default-0")
        .max_instances(1)
        .with(|o| o.default_timeout(Duration::ZERO))
        .server();
    let _busy = root.client("default-0");
    let start = Instant::now();
    expect_err(
        root.wait("default-0", WaitTimeout::Default),
        ErrorKind::SemTimeout,
        121,
    );
    assert!(
        start.elapsed() >= Duration::from_millis(45),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn default_wait_uses_the_servers_default_timeout() {
    // S39: NMPWAIT_USE_DEFAULT_WAIT waits the nDefaultTimeOut of the server.
    let root = Root::new();
    let _server = root
        .pipe("default-400")
        .max_instances(1)
        .with(|o| o.default_timeout(Duration::from_millis(400)))
        .server();
    let _busy = root.client("default-400");
    let start = Instant::now();
    expect_err(
        root.wait("default-400", WaitTimeout::Default),
        ErrorKind::SemTimeout,
        121,
    );
    assert!(
        start.elapsed() >= Duration::from_millis(380),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn identical_instances_up_to_the_limit_then_pipe_busy() {
    // S21, S22 (§21 item 3), T16: nMaxInstances instances, then ERROR_PIPE_BUSY.
    let root = Root::new();
    let make = || root.pipe("two").max_instances(2).create();
    let _first = make().unwrap();
    let _second = make().unwrap();
    expect_open_err(make(), ErrorKind::PipeBusy, 231);
    let single = || root.pipe("one").max_instances(1).create();
    let _only = single().unwrap();
    expect_open_err(single(), ErrorKind::PipeBusy, 231);
}

#[test]
fn access_mode_must_match_between_instances() {
    // S23 (§21 item 3), T16: DUPLEX then INBOUND -> ERROR_ACCESS_DENIED.
    let root = Root::new();
    let _duplex = root.pipe("mismatch").max_instances(4).server();
    let inbound = root
        .pipe("mismatch")
        .max_instances(4)
        .with(|o| o.access_outbound(false))
        .create();
    expect_open_err(inbound, ErrorKind::AccessDenied, 5);
    let outbound = root
        .pipe("mismatch")
        .max_instances(4)
        .with(|o| o.access_inbound(false))
        .create();
    expect_open_err(outbound, ErrorKind::AccessDenied, 5);
}

#[test]
fn other_parameters_need_not_match_between_instances() {
    // S24 (C2; §21 item 3): Windows accepts a second instance with another
    // type, instance count, buffer sizes and timeout.
    let root = Root::new();
    let _first = root
        .pipe("everything-else")
        .quotas(1024, 1024)
        .max_instances(4)
        .with(|o| o.pipe_mode(PipeMode::Byte))
        .server();
    let _second = root
        .pipe("everything-else")
        .quotas(24, 102)
        .max_instances(3)
        .with(|o| {
            o.pipe_mode(PipeMode::Message)
                .default_timeout(Duration::from_millis(1234))
        })
        .server();
}

#[test]
fn first_pipe_instance_fails_when_the_name_exists() {
    // S25, T1: FILE_FLAG_FIRST_PIPE_INSTANCE -> ERROR_ACCESS_DENIED when an
    // instance exists; it succeeds for a new name.
    let root = Root::new();
    let first = root
        .pipe("first")
        .max_instances(4)
        .with(|o| o.first_pipe_instance(true))
        .server();
    let again = root
        .pipe("FIRST")
        .max_instances(4)
        .with(|o| o.first_pipe_instance(true))
        .create();
    expect_open_err(again, ErrorKind::AccessDenied, 5);
    drop(first);
    let _new = root
        .pipe("first")
        .with(|o| o.first_pipe_instance(true))
        .server();
}

#[test]
fn a_closed_server_stops_counting_while_its_client_stays_open() {
    // S26: max 1; close the server while the client stays open; the client
    // reports 0 instances and a new instance with other parameters can be
    // created.
    let root = Root::new();
    let Pair { server, client } = root.pipe("closing").max_instances(1).pair();
    assert_eq!(client.handle_state().unwrap().instances, 1);
    drop(server);
    eventually("the client sees 0 instances", || {
        client.handle_state().unwrap().instances == 0
    });
    let _other = root
        .pipe("closing")
        .max_instances(3)
        .with(|o| o.pipe_mode(PipeMode::Message))
        .server();
}

#[test]
fn the_name_lives_while_an_instance_exists() {
    // S27 (§21 item 17, serverThreadMain2): create the next instance, close
    // the previous one; clients never see ERROR_FILE_NOT_FOUND. Once the last
    // instance is gone, the name is.
    let root = Root::new();
    let make = || root.pipe("rollover").max_instances(2).server();
    let mut current = make();
    for round in 0..5u8 {
        let client = root.client("rollover");
        expect_err(current.connect(), ErrorKind::PipeConnected, 535);
        client.send(&[round]).unwrap();
        assert_eq!(current.recv_message().unwrap(), [round]);
        let next = make();
        drop(std::mem::replace(&mut current, next));
    }
    drop(current);
    expect_open_err(root.open("rollover"), ErrorKind::FileNotFound, 2);
}

#[test]
fn opening_or_waiting_for_a_missing_pipe_is_file_not_found_at_once() {
    // S28, S35 (§21 items 1, 12): CreateFile and WaitNamedPipe give
    // ERROR_FILE_NOT_FOUND, the wait at once whatever its timeout.
    let root = Root::new();
    expect_open_err(root.open("nobody"), ErrorKind::FileNotFound, 2);
    for timeout in [WaitTimeout::Forever, ms(2000), WaitTimeout::Default] {
        expect_err(root.wait_10s("nobody", timeout), ErrorKind::FileNotFound, 2);
    }
}

#[test]
fn a_new_instance_listens_before_connect() {
    // S29 (§21 item 1): the client opens before ConnectNamedPipe, which then
    // gives ERROR_PIPE_CONNECTED, and the connection is good.
    let root = Root::new();
    let Pair { server, client } = root.pipe("early").pair();
    expect_err(server.connect(), ErrorKind::PipeConnected, 535);
    client.send(b"ping").unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(server.read_message(&mut buf).unwrap().bytes, 4);
    server.send(b"pong").unwrap();
    assert_eq!(client.read_message(&mut buf).unwrap().bytes, 4);
    assert_eq!(&buf[..4], b"pong");
}

#[test]
fn one_client_per_instance_in_the_three_busy_cases() {
    // S30 (§21 item 1, "picky conformance"), T15: ERROR_PIPE_BUSY while the
    // client is connected, after it closed without a disconnect, and after
    // a disconnect without a new connect.
    let root = Root::new();
    let server = Arc::new(root.pipe("picky").max_instances(1).server());
    let open = || root.open("picky");
    let first = open().unwrap();
    expect_open_err(open(), ErrorKind::PipeBusy, 231);
    drop(first);
    expect_open_err(open(), ErrorKind::PipeBusy, 231);
    server.disconnect().unwrap();
    expect_open_err(open(), ErrorKind::PipeBusy, 231);
    // A connect makes the instance listen again (S44).
    let (second, connected) = root.connect_next_client(&server, "picky");
    connected.unwrap();
    second.send(b"x").unwrap();
    assert_eq!(server.recv_message().unwrap(), b"x");
}

#[test]
fn clients_get_instances_in_listening_order() {
    // S31 (§21 item 11, test_multiple_instances): 4 instances; clients get
    // 0, 1, 2; instances 2 then 0 are disconnected and re-listened; the next
    // clients get 3, 2, 0; then with 0 disconnected and not re-listened and
    // 1-3 held by closed clients, the next open is ERROR_PIPE_BUSY.
    let root = Root::new();
    let servers: Vec<_> = (0..4)
        .map(|_| root.pipe("queue").max_instances(4).server())
        .collect();
    let mut tag = 0u8;
    let mut open_and_find = |expected: usize| {
        tag += 1;
        let client = root.client("queue");
        client.send(&[tag]).unwrap();
        let seen = wait_available(|| servers[expected].peek(&mut []), 1);
        assert_eq!(seen.total_available, 1, "instance {expected}");
        assert_eq!(
            servers[expected].recv_message().unwrap(),
            [tag],
            "instance {expected}"
        );
        client
    };
    let clients: Vec<_> = [0, 1, 2].into_iter().map(&mut open_and_find).collect();
    // Re-listen 2, then 0, without blocking: a PIPE_NOWAIT connect puts the
    // instance back into listening (S47).
    for i in [2, 0] {
        servers[i].disconnect().unwrap();
        servers[i].set_nowait(true).unwrap();
        expect_err(servers[i].connect(), ErrorKind::PipeListening, 536);
        servers[i].set_nowait(false).unwrap();
    }
    drop(clients);
    let clients: Vec<_> = [3, 2, 0].into_iter().map(&mut open_and_find).collect();
    drop(clients);
    servers[0].disconnect().unwrap();
    expect_open_err(root.open("queue"), ErrorKind::PipeBusy, 231);
}

#[test]
fn client_access_must_match_the_pipe_direction() {
    // S32: write needs INBOUND or DUPLEX, read needs OUTBOUND or DUPLEX;
    // access 0 is always accepted; a refused open leaves the instance
    // listening. The code for a refusal is ERROR_ACCESS_DENIED [I].
    let root = Root::new();
    let open = |path: &str, read: bool, write: bool| {
        root.client_options()
            .read(read)
            .write(write)
            .open(&name(path))
    };
    let _inbound = root
        .pipe("inbound")
        .max_instances(UNLIMITED_INSTANCES)
        .with(|o| o.access_outbound(false))
        .server();
    expect_open_err(open("inbound", true, false), ErrorKind::AccessDenied, 5);
    expect_open_err(open("inbound", true, true), ErrorKind::AccessDenied, 5);
    let writer = open("inbound", false, true).unwrap();
    let _inbound2 = root
        .pipe("inbound")
        .max_instances(UNLIMITED_INSTANCES)
        .with(|o| o.access_outbound(false))
        .server();
    let _zero = open("inbound", false, false).unwrap();
    drop(writer);

    let _outbound = root
        .pipe("outbound")
        .max_instances(UNLIMITED_INSTANCES)
        .with(|o| o.access_inbound(false))
        .server();
    expect_open_err(open("outbound", false, true), ErrorKind::AccessDenied, 5);
    expect_open_err(open("outbound", true, true), ErrorKind::AccessDenied, 5);
    let _reader = open("outbound", true, false).unwrap();
    let _outbound2 = root
        .pipe("outbound")
        .max_instances(UNLIMITED_INSTANCES)
        .with(|o| o.access_inbound(false))
        .server();
    let _zero = open("outbound", false, false).unwrap();

    let _duplex = root.pipe("duplex").server();
    let _both = open("duplex", true, true).unwrap();
}

#[test]
fn an_inbound_pipe_carries_data_from_client_to_server_only() {
    // S32 with S12: on an INBOUND pipe the write-only client writes and the
    // server reads.
    let root = Root::new();
    let server = root
        .pipe("one-way")
        .with(|o| o.access_outbound(false))
        .server();
    let writer = root
        .client_options()
        .read(false)
        .open(&name("one-way"))
        .unwrap();
    writer.send(b"upstream").unwrap();
    assert_eq!(server.recv_message().unwrap(), b"upstream");
}

#[test]
fn clients_start_in_byte_read_mode_and_blocking() {
    // S33: whatever the server's modes, a client starts Byte and PIPE_WAIT.
    let root = Root::new();
    let _server = root.pipe("modes").message().nowait().server();
    let state = root.client("modes").handle_state().unwrap();
    assert_eq!((state.read_mode, state.nowait), (ReadMode::Byte, false));
}

#[test]
fn wait_succeeds_at_once_while_an_instance_listens() {
    // S36 (§21 item 12): a newly created instance or one with a pending
    // ConnectNamedPipe; timeouts 1 and 2000 ms; no timeout needed at all.
    let root = Root::new();
    let server = Arc::new(root.pipe("listening").server());
    for timeout in [ms(1), ms(2000), WaitTimeout::Forever] {
        root.wait_10s("listening", timeout).unwrap();
    }
    let connect = on_thread(&server, |s| s.connect());
    root.wait_10s("listening", WaitTimeout::Forever).unwrap();
    let _client = root.client("listening");
    let _ = join_10s(connect);
}

#[test]
fn wait_times_out_while_every_instance_is_busy() {
    // S37 (§21 items 1, 12): connected, or disconnected without a new
    // connect: ERROR_SEM_TIMEOUT once the timeout passes (lower bound only).
    let root = Root::new();
    let Pair { server, client } = root.pipe("busy").max_instances(1).pair();
    let start = Instant::now();
    expect_err(root.wait("busy", ms(100)), ErrorKind::SemTimeout, 121);
    assert!(
        start.elapsed() >= Duration::from_millis(90),
        "{:?}",
        start.elapsed()
    );
    expect_err(root.wait("busy", ms(1)), ErrorKind::SemTimeout, 121);
    drop(client);
    server.disconnect().unwrap();
    expect_err(root.wait("busy", ms(100)), ErrorKind::SemTimeout, 121);
}

#[test]
fn a_new_instance_wakes_a_waiter() {
    // S38 (§21 item 12): CreateNamedPipe of a new instance wakes a waiter.
    let root = Root::new();
    let make = || root.pipe("wake-new").max_instances(2).server();
    let _first = make();
    let _busy = root.client("wake-new");
    let waiter = root.spawn_wait("wake-new", WaitTimeout::Forever);
    assert_still_blocked(&waiter, "WaitNamedPipe on a busy name");
    let _second = make();
    join_10s(waiter).unwrap();
    let _client = root.client("wake-new");
}

#[test]
fn connect_after_disconnect_wakes_a_waiter() {
    // S38, S44 (§21 item 12): ConnectNamedPipe after a disconnect wakes a
    // waiter.
    let root = Root::new();
    let server = Arc::new(root.pipe("wake-relisten").max_instances(1).server());
    drop(root.client("wake-relisten"));
    server.disconnect().unwrap();
    let waiter = root.spawn_wait("wake-relisten", WaitTimeout::Forever);
    assert_still_blocked(&waiter, "WaitNamedPipe on a disconnected instance");
    let connect = on_thread(&server, |s| s.connect());
    join_10s(waiter).unwrap();
    let _client = root.client("wake-relisten");
    join_10s(connect).unwrap();
}

#[test]
fn a_successful_wait_reserves_nothing() {
    // S40: another client can take the instance between the wait and the
    // open; the open then fails with ERROR_PIPE_BUSY.
    let root = Root::new();
    let _server = root.pipe("not-reserved").max_instances(1).server();
    root.wait("not-reserved", ms(1000)).unwrap();
    let _other = root.client("not-reserved");
    expect_open_err(root.open("not-reserved"), ErrorKind::PipeBusy, 231);
}

#[test]
fn the_wait_ends_when_the_last_instance_closes() {
    // S35, T14: a waiter on a busy name whose instances all close wakes with
    // an error instead of hanging (the name no longer exists).
    let root = Root::new();
    let server = root.pipe("vanishing").max_instances(1).server();
    let _busy = root.client("vanishing");
    let waiter = root.spawn_wait("vanishing", WaitTimeout::Forever);
    assert_still_blocked(&waiter, "WaitNamedPipe on a busy name");
    drop(server);
    let result = join_10s(waiter);
    assert!(result.is_err(), "the wait must fail once the name is gone");
}

// The same tests with the client reaching the pipe as another host's,
// through the gateway's legs (`util::remote`). Left out:
//   opening_a_pipe_on_another_host_is_bad_net_path: it is about a host without a gateway
remote_too!(
    a_closed_server_stops_counting_while_its_client_stays_open,
    a_server_cannot_create_a_pipe_on_another_computer,
    pipe_names_match_without_case,
    special_characters_in_the_name_part_work_end_to_end,
    a_pipe_with_no_direction_is_invalid_parameter,
    byte_type_with_message_read_mode_is_invalid_parameter,
    message_type_takes_either_read_mode,
    max_instances_must_be_1_to_255,
    default_timeout_zero_means_50_ms,
    default_wait_uses_the_servers_default_timeout,
    identical_instances_up_to_the_limit_then_pipe_busy,
    access_mode_must_match_between_instances,
    other_parameters_need_not_match_between_instances,
    first_pipe_instance_fails_when_the_name_exists,
    the_name_lives_while_an_instance_exists,
    opening_or_waiting_for_a_missing_pipe_is_file_not_found_at_once,
    a_new_instance_listens_before_connect,
    one_client_per_instance_in_the_three_busy_cases,
    clients_get_instances_in_listening_order,
    client_access_must_match_the_pipe_direction,
    an_inbound_pipe_carries_data_from_client_to_server_only,
    clients_start_in_byte_read_mode_and_blocking,
    wait_succeeds_at_once_while_an_instance_listens,
    wait_times_out_while_every_instance_is_busy,
    a_new_instance_wakes_a_waiter,
    connect_after_disconnect_wakes_a_waiter,
    a_successful_wait_reserves_nothing,
    the_wait_ends_when_the_last_instance_closes,
);

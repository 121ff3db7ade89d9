//! Instances of one pipe name in several processes (S19-S31): the process
//! that created the first instance owns the name, another process's
//! `CreateNamedPipe` adds its instance there, and clients are bound to
//! the instances of both in the order of S31. The other processes are this
//! test binary re-executed (`subprocess_entry`), under the test's root.

use std::process::Stdio;
use std::thread;
use std::time::Duration;

use pipeslot::pipe::{PipeMode, PipeServer, ReadMode, ServerOptions, WaitTimeout};
use pipeslot::ErrorKind;

mod util;
use util::child::*;
use util::pipe::*;
use util::*;

/// A message client of `path`, opened once an instance listens.
fn message_client(root: &Root, path: &str) -> pipeslot::pipe::PipeClient {
    root.wait_10s(path, WaitTimeout::Forever).unwrap();
    let client = root.client(path);
    client.set_read_mode(ReadMode::Message).unwrap();
    client
}

/// ConnectNamedPipe's outcome on another thread: a client that came
/// before the call is ERROR_PIPE_CONNECTED (S29), and connected too.
#[track_caller]
fn connected(result: pipeslot::Result<()>) {
    if let Err(e) = result {
        assert_eq!(e.kind(), ErrorKind::PipeConnected, "{e}");
    }
}

/// `request` through `client`, and the reply.
fn ask(client: &pipeslot::pipe::PipeClient, request: &[u8]) -> Vec<u8> {
    let mut reply = [0u8; 64];
    let read = client.transact(request, &mut reply).unwrap();
    reply[..read.bytes].to_vec()
}

#[test]
fn instances_in_two_processes_serve_one_name_in_listening_order() {
    // S21: identical instances in two processes; S31: the one listening
    // longest gets the next client, whichever process serves it; S30: busy
    // when none listens; S44: an instance in the other process listens
    // again after its client went; S104: the count covers both processes.
    let root = Root::new();
    let spec = root.pipe("procs-echo").message().max_instances(4);
    let mine = std::sync::Arc::new(spec.server());
    let child = spawn_ready(&mut root.scenario("echo-instance"));
    let child_pid = child.0.id();

    let first = message_client(&root, "procs-echo");
    expect_err(mine.connect(), ErrorKind::PipeConnected, 535);
    first.send(b"to the owner").unwrap();
    assert_eq!(mine.recv_message().unwrap(), b"to the owner");
    assert_eq!(first.server_process_id().unwrap(), std::process::id());

    let second = message_client(&root, "procs-echo");
    assert_eq!(ask(&second, b"b"), b"child:b");
    assert_eq!(second.server_process_id().unwrap(), child_pid);
    assert_eq!(second.handle_state().unwrap().instances, 2);
    assert_eq!(mine.handle_state().unwrap().instances, 2);

    expect_err(root.open("procs-echo"), ErrorKind::PipeBusy, 231);

    drop(second);
    let third = message_client(&root, "procs-echo");
    assert_eq!(ask(&third, b"c"), b"child:c");
    drop(third);
    drop(child);
    // The child's instance is gone with it: one instance again, and its
    // slot does not keep the name busy.
    mine.disconnect().unwrap();
    eventually("the child's instance is removed", || {
        mine.handle_state().unwrap().instances == 1
    });
    let connecting = on_thread(&mine, |m| m.connect());
    let fourth = message_client(&root, "procs-echo");
    connected(join_10s(connecting));
    fourth.send(b"owner again").unwrap();
    assert_eq!(mine.recv_message().unwrap(), b"owner again");
}

#[test]
fn an_async_instance_in_another_process_serves_the_name() {
    // S21, S31 through the async API (`pipeslot::tokio`): the child's
    // instance, created and connected on a tokio runtime, is bound the
    // second client and serves it.
    let root = Root::new();
    let mine = std::sync::Arc::new(root.pipe("procs-async").message().max_instances(4).server());
    let child = spawn_ready(&mut root.scenario("async-echo-instance"));
    let connecting = on_thread(&mine, |m| m.connect());
    let first = message_client(&root, "procs-async");
    connected(join_10s(connecting));
    let second = message_client(&root, "procs-async");
    assert_eq!(ask(&second, b"x"), b"async:x");
    assert_eq!(second.server_process_id().unwrap(), child.0.id());
    first.send(b"y").unwrap();
    assert_eq!(mine.recv_message().unwrap(), b"y");
}

#[test]
fn another_process_gets_the_same_refusals_as_the_owner() {
    // S22: at the instance limit, ERROR_PIPE_BUSY; S23: another access
    // mode, ERROR_ACCESS_DENIED; S25: FILE_FLAG_FIRST_PIPE_INSTANCE on an
    // existing name, ERROR_ACCESS_DENIED — from another process too.
    let root = Root::new();
    let _full = root.pipe("procs-full").max_instances(1).server();
    let _duplex = root.pipe("procs-access").server();
    let output = root
        .scenario("try-instances")
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains(CHILD_DONE), "{stdout}");
    assert!(
        stdout.contains("full=231 inbound=5 first=5 added=ok"),
        "{stdout}"
    );
}

#[test]
fn the_name_lives_on_in_another_process_when_its_owner_ends() {
    // S27: the name lives while an instance does. When the process that
    // owns the name ends, an instance in another process keeps its client
    // and takes the name over: once disconnected it listens again and is
    // bound the next client (S44), whose server process it is.
    let root = Root::new();
    let owner = spawn_ready(&mut root.scenario("owner"));
    let mine = std::sync::Arc::new(root.pipe("procs-owner").message().max_instances(4).server());
    // S31: the owner's instance listens longer and gets the first client.
    let first = message_client(&root, "procs-owner");
    assert_eq!(ask(&first, b"1"), b"owner:1");
    let second = message_client(&root, "procs-owner");
    expect_err(mine.connect(), ErrorKind::PipeConnected, 535);
    second.send(b"2").unwrap();
    assert_eq!(mine.recv_message().unwrap(), b"2");
    assert_eq!(mine.client_process_id().unwrap(), std::process::id());

    owner.kill_9();
    mine.send(b"still here").unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(second.read_message(&mut buf).unwrap().bytes, 10);
    mine.disconnect().unwrap();
    let connecting = on_thread(&mine, |m| m.connect());
    let mut third = None;
    eventually("a client opens the name again", || {
        third = root.open("procs-owner").ok();
        third.is_some()
    });
    connected(join_10s(connecting));
    let third = third.unwrap();
    third.send(b"3").unwrap();
    assert_eq!(mine.recv_message().unwrap(), b"3");
    assert_eq!(third.server_process_id().unwrap(), std::process::id());
    assert_eq!(mine.handle_state().unwrap().instances, 1);
}

#[test]
fn a_listening_instance_handed_over_serves_from_its_new_holder() {
    // S19: a listening instance handed to a child (here taken over in this
    // process, as the C API's CreateProcess hands it to a real child:
    // `pipeslot-win32/tests/inherit.c`) serves the name's clients from
    // there; the old handle can neither connect nor hand it again, and
    // closing it leaves the instance alone (S26: still one instance).
    let root = Root::new();
    let spec = root.pipe("procs-handed").message().max_instances(1);
    let original = spec.server();
    let handoff = original.hand_off_instance().unwrap();
    assert!(handoff.state.listening);
    expect_err(original.connect(), ErrorKind::NotSupported, 50);
    expect_err(original.hand_off_instance(), ErrorKind::NotSupported, 50);
    drop(original);
    let adopted = std::sync::Arc::new(PipeServer::adopt_instance(handoff).unwrap());
    let connecting = on_thread(&adopted, |s| s.connect());
    let client = message_client(&root, "procs-handed");
    connected(join_10s(connecting));
    client.send(b"to the new holder").unwrap();
    assert_eq!(adopted.recv_message().unwrap(), b"to the new holder");
    expect_err(spec.create(), ErrorKind::PipeBusy, 231);
    // Disconnected, it listens again at its next connect (S44).
    drop(client);
    adopted.disconnect().unwrap();
    let connecting = on_thread(&adopted, |s| s.connect());
    let again = message_client(&root, "procs-handed");
    connected(join_10s(connecting));
    again.send(b"again").unwrap();
    assert_eq!(adopted.recv_message().unwrap(), b"again");
    drop(again);
    drop(adopted);
    // S27: its last instance closed, the name is gone.
    eventually("the name goes with its last instance", || {
        root.open("procs-handed")
            .is_err_and(|e| e.kind() == ErrorKind::FileNotFound)
    });
}

/// Subprocess scenarios, run by the tests above. Does nothing otherwise.
#[test]
#[ignore = "subprocess entry point, run by other tests"]
fn subprocess_entry() {
    match std::env::var(CHILD_ENV).as_deref() {
        Ok("echo-instance") => {
            let server = ServerOptions::new()
                .pipe_mode(PipeMode::Message)
                .read_mode(ReadMode::Message)
                .max_instances(4)
                .create(&name("procs-echo"))
                .unwrap();
            println!("{READY}");
            loop {
                match server.connect() {
                    Ok(()) => {}
                    Err(e) if e.kind() == ErrorKind::PipeConnected => {}
                    Err(e) => panic!("connect: {e}"),
                }
                while let Ok(request) = server.recv_message() {
                    let mut reply = b"child:".to_vec();
                    reply.extend_from_slice(&request);
                    if server.send(&reply).is_err() {
                        break;
                    }
                }
                server.disconnect().unwrap();
            }
        }
        Ok("async-echo-instance") => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let server = pipeslot::tokio::ServerOptions::new()
                    .pipe_mode(PipeMode::Message)
                    .read_mode(ReadMode::Message)
                    .max_instances(4)
                    .create(r"\\.\pipe\procs-async")
                    .unwrap();
                println!("{READY}");
                loop {
                    server.connect().await.unwrap();
                    while let Ok(request) = server.recv_message(64).await {
                        let mut reply = b"async:".to_vec();
                        reply.extend_from_slice(&request);
                        if server.send_msg(&reply).await.is_err() {
                            break;
                        }
                    }
                    server.disconnect().unwrap();
                }
            });
        }
        Ok("try-instances") => {
            let code = |result: pipeslot::Result<pipeslot::pipe::PipeServer>| match result {
                Ok(_) => "ok".to_string(),
                Err(e) => e.win32_code().to_string(),
            };
            let full = code(
                ServerOptions::new()
                    .max_instances(1)
                    .create(&name("procs-full")),
            );
            let inbound = code(
                ServerOptions::new()
                    .access_outbound(false)
                    .create(&name("procs-access")),
            );
            let first = code(
                ServerOptions::new()
                    .first_pipe_instance(true)
                    .create(&name("procs-access")),
            );
            let added = code(ServerOptions::new().create(&name("procs-access")));
            println!("full={full} inbound={inbound} first={first} added={added}");
            println!("{CHILD_DONE}");
        }
        Ok("owner") => {
            let server = ServerOptions::new()
                .pipe_mode(PipeMode::Message)
                .read_mode(ReadMode::Message)
                .max_instances(4)
                .create(&name("procs-owner"))
                .unwrap();
            println!("{READY}");
            let _ = server.connect();
            while let Ok(request) = server.recv_message() {
                let mut reply = b"owner:".to_vec();
                reply.extend_from_slice(&request);
                if server.send(&reply).is_err() {
                    break;
                }
            }
            thread::sleep(Duration::from_secs(60));
        }
        _ => {}
    }
}

//! `pipeslot ls`, run as the real binary against names created by the
//! test (over the library, in the test's own PIPESLOT_ROOT) and by other
//! `pipeslot` processes, live and killed.

mod util;

use std::path::Path;
use std::process::Stdio;

use pipeslot::mailslot::MailslotOptions;
use pipeslot::pipe::{ClientOptions, PipeMode, PipeServer, ServerOptions};
use pipeslot::{MailslotName, PipeName};
use serde_json::Value;
use util::{assert_no_panic, command, pipeslot, sandbox, stderr, stdout, wait};

fn pipe_name(path: &str) -> PipeName {
    PipeName::local(path).expect("pipe name")
}

/// `pipeslot ls ARGS --json`, parsed.
fn ls_json(root: &Path, args: &[&str]) -> Value {
    let mut all = vec!["ls", "--json"];
    all.extend_from_slice(args);
    let output = pipeslot(root, &all);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    serde_json::from_str(&stdout(&output)).expect("ls --json prints JSON")
}

/// The entry named `name` (compared without case) of a listing.
fn entry<'a>(listing: &'a Value, name: &str) -> &'a Value {
    listing["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .find(|e| {
            e["name"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
        .unwrap_or_else(|| panic!("{name} not listed: {listing:#}"))
}

/// The table line that starts with `name`.
fn table_line(output: &str, name: &str) -> String {
    output
        .lines()
        .find(|line| line.starts_with(name))
        .unwrap_or_else(|| panic!("no line for {name}:\n{output}"))
        .to_string()
}

/// A message pipe in `root` with room for four instances.
fn four_instance_pipe(root: &Path, name: &PipeName) -> PipeServer {
    ServerOptions::new()
        .pipe_mode(PipeMode::Message)
        .max_instances(4)
        .in_buffer_size(1024)
        .out_buffer_size(2048)
        .root(root)
        .create(name)
        .expect("creating the pipe")
}

#[test]
fn empty_namespace_says_so() {
    let root = sandbox();
    let output = pipeslot(root.path(), &["ls"]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(
        stdout(&output).starts_with("no pipes or mailslots in the private namespace"),
        "{output:?}"
    );
    let listing = ls_json(root.path(), &[]);
    assert_eq!(listing["version"], 1);
    assert_eq!(listing["entries"], Value::Array(vec![]));
    assert_eq!(listing["namespaces"][0]["scope"], "private");
}

#[test]
fn pipe_shows_owner_instances_clients_and_quotas_as_they_change() {
    let root = sandbox();
    let name = pipe_name("Listed/Server");
    let first = four_instance_pipe(root.path(), &name);
    let _second = four_instance_pipe(root.path(), &name);
    let _third = four_instance_pipe(root.path(), &name);
    let client = ClientOptions::new()
        .root(root.path())
        .open(&name)
        .expect("opening the pipe");
    // The longest-listening instance took the client (S31); it came
    // before ConnectNamedPipe, which says so (S29).
    if let Err(e) = first.connect() {
        assert_eq!(e.kind(), pipeslot::ErrorKind::PipeConnected, "{e}");
    }

    let listing = ls_json(root.path(), &[]);
    let pipe = entry(&listing, r"\\.\pipe\Listed/Server");
    // The name as created, not case-folded.
    assert_eq!(pipe["name"], r"\\.\pipe\Listed/Server");
    assert_eq!(pipe["kind"], "pipe");
    assert_eq!(pipe["state"], "live");
    assert_eq!(pipe["pid"], std::process::id());
    assert_eq!(
        pipe["user"],
        pipeslot::host::user_name(pipe["uid"].as_u64().unwrap() as u32)
    );
    let details = &pipe["pipe"];
    assert_eq!(details["type"], "message");
    assert_eq!(details["access"], "duplex");
    assert_eq!(details["max_instances"], 4);
    assert_eq!(details["instances"], 3);
    assert_eq!(details["listening"], 2);
    assert_eq!(details["busy"], 1);
    assert_eq!(details["connected"], 1);
    assert_eq!(details["in_quota"], 1024);
    assert_eq!(details["out_quota"], 2048);
    assert_eq!(details["remote_clients"], "reject");

    let table = stdout(&pipeslot(root.path(), &["ls"]));
    let line = table_line(&table, r"\\.\pipe\Listed/Server");
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        words[1..],
        [
            "message",
            "duplex",
            "1/2/4",
            "1",
            &std::process::id().to_string(),
            &pipeslot::host::user_name(pipe["uid"].as_u64().unwrap() as u32),
            "1024/2048",
            "reject",
            "live"
        ],
        "{table}"
    );

    // DisconnectNamedPipe: no client, and the instance is busy (not
    // listening) until ConnectNamedPipe (S30).
    first.disconnect().expect("DisconnectNamedPipe");
    drop(client);
    let details = ls_json(root.path(), &[])["entries"][0]["pipe"].clone();
    assert_eq!(
        (
            &details["connected"],
            &details["busy"],
            &details["listening"]
        ),
        (&Value::from(0), &Value::from(1), &Value::from(2))
    );
    // Closing an instance's handle removes it (S29).
    drop(first);
    let details = ls_json(root.path(), &[])["entries"][0]["pipe"].clone();
    assert_eq!(
        (
            &details["instances"],
            &details["busy"],
            &details["listening"]
        ),
        (&Value::from(2), &Value::from(0), &Value::from(2))
    );
}

#[test]
fn last_instance_closed_leaves_nothing_listed() {
    let root = sandbox();
    let server = four_instance_pipe(root.path(), &pipe_name("gone"));
    assert_eq!(
        ls_json(root.path(), &[])["entries"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    drop(server);
    assert_eq!(ls_json(root.path(), &[])["entries"], Value::Array(vec![]));
}

#[test]
fn mailslot_shows_reader_queue_and_size_limit() {
    let root = sandbox();
    let name = MailslotName::parse(r"\\.\mailslot\Listed\Slot").unwrap();
    let slot = MailslotOptions::new()
        .max_message_size(424)
        .root(root.path())
        .create(&name)
        .expect("CreateMailslot");
    let writer = pipeslot::mailslot::MailslotWriter::open_in(root.path(), &name).unwrap();
    writer.write(b"one").unwrap();
    writer.write(b"two").unwrap();
    // GetMailslotInfo counts them, and publishes the count.
    assert_eq!(slot.info().unwrap().message_count, 2);

    let listing = ls_json(root.path(), &[]);
    let listed = entry(&listing, r"\\.\mailslot\Listed\Slot");
    assert_eq!(listed["kind"], "mailslot");
    assert_eq!(listed["state"], "live");
    assert_eq!(listed["pid"], std::process::id());
    assert_eq!(listed["mailslot"]["queued_messages"], 2);
    assert_eq!(listed["mailslot"]["max_message_size"], 424);
    let table = stdout(&pipeslot(root.path(), &["ls"]));
    let line = table_line(&table, r"\\.\mailslot\Listed\Slot");
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        words[1..4],
        ["2", "424", &std::process::id().to_string()],
        "{table}"
    );

    // Reading both empties the queue, and the count follows.
    let mut buf = [0u8; 424];
    slot.read(&mut buf).unwrap();
    slot.read(&mut buf).unwrap();
    let _ = slot.info().unwrap();
    let listing = ls_json(root.path(), &[]);
    assert_eq!(
        entry(&listing, r"\\.\mailslot\Listed\Slot")["mailslot"]["queued_messages"],
        0
    );
}

#[test]
fn a_killed_owner_is_listed_as_stale() {
    let root = sandbox();
    let mut reader = command(root.path(), &["mailslot", "recv", "Stale/Slot"])
        .stdout(Stdio::null())
        .spawn()
        .expect("starting a reader");
    // Wait until its name is claimed.
    let deadline = std::time::Instant::now() + util::HANG;
    while ls_json(root.path(), &[])["entries"]
        .as_array()
        .unwrap()
        .is_empty()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the reader never claimed its name"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(
        entry(&ls_json(root.path(), &[]), r"\\.\mailslot\Stale/Slot")["state"],
        "live"
    );
    reader.kill().unwrap();
    reader.wait().unwrap();
    let listing = ls_json(root.path(), &[]);
    let listed = entry(&listing, r"\\.\mailslot\Stale/Slot");
    assert_eq!(listed["state"], "stale");
    assert_eq!(listed["pid"], reader.id());
    let table = stdout(&pipeslot(root.path(), &["ls"]));
    assert!(
        table_line(&table, r"\\.\mailslot\Stale/Slot").ends_with("stale"),
        "{table}"
    );
}

#[test]
fn an_unreadable_lock_file_is_listed_not_trusted() {
    let root = sandbox();
    // Make the namespace, then plant garbage where a record would be.
    let _ = pipeslot(root.path(), &["ls"]);
    let dir = root
        .path()
        .join(format!("user-{}", current_uid()))
        .join("pipe");
    std::fs::write(dir.join("garbage.lock"), b"\x1b[2J not a record").unwrap();
    let listing = ls_json(root.path(), &[]);
    let listed = &listing["entries"][0];
    assert_eq!(listed["state"], "unreadable");
    assert_eq!(listed["name"], Value::Null);
    let table = stdout(&pipeslot(root.path(), &["ls"]));
    assert!(table.contains("? (garbage.lock)"), "{table}");
    assert!(!table.contains('\x1b'), "{table:?}");
}

fn current_uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").unwrap().uid()
}

#[test]
fn scopes_are_listed_as_asked() {
    let root = sandbox();
    let _private = four_instance_pipe(root.path(), &pipe_name("mine"));
    let _shared = ServerOptions::new()
        .machine_wide(true)
        .root(root.path())
        .create(&pipe_name("shared"))
        .expect("creating a machine-wide pipe");
    let names = |listing: &Value| -> Vec<String> {
        listing["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                format!(
                    "{} {}",
                    e["scope"].as_str().unwrap(),
                    e["name"].as_str().unwrap()
                )
            })
            .collect()
    };
    assert_eq!(
        names(&ls_json(root.path(), &[])),
        [r"private \\.\pipe\mine"]
    );
    assert_eq!(
        names(&ls_json(root.path(), &["--machine-wide"])),
        [r"machine-wide \\.\pipe\shared"]
    );
    assert_eq!(
        names(&ls_json(root.path(), &["--all"])),
        [r"private \\.\pipe\mine", r"machine-wide \\.\pipe\shared"]
    );
    let table = stdout(&pipeslot(root.path(), &["ls", "--all"]));
    assert!(table.starts_with("SCOPE"), "{table}");
    assert!(
        table_line(&table, "machine-wide").contains(r"\\.\pipe\shared"),
        "{table}"
    );
}

#[test]
fn bad_flags_are_usage_errors() {
    let root = sandbox();
    for args in [
        &["ls", "--bogus"][..],
        &["ls", "--all", "--machine-wide"],
        &["ls", "extra"],
    ] {
        let output = pipeslot(root.path(), args);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {output:?}");
        assert!(stderr(&output).contains("error:"), "{output:?}");
    }
}

#[test]
fn ls_with_closed_stdout_ends_quietly() {
    let root = sandbox();
    let _servers: Vec<PipeServer> = (0..50)
        .map(|i| four_instance_pipe(root.path(), &pipe_name(&format!("many/{i}"))))
        .collect();
    for args in [&["ls"][..], &["ls", "--json"]] {
        let mut child = command(root.path(), args)
            .spawn()
            .expect("running pipeslot");
        drop(child.stdout.take());
        let output = wait(child);
        assert_no_panic(output.status.code(), &stderr(&output));
        assert_eq!(output.status.code(), Some(0), "{output:?}");
    }
}

#[test]
fn help_documents_the_json_schema() {
    let output = pipeslot(sandbox().path(), &["help", "ls"]);
    let help = stdout(&output);
    for field in [
        "\"version\"",
        "\"entries\"",
        "\"queued_messages\"",
        "\"listening\"",
        "stale",
    ] {
        assert!(help.contains(field), "{field} missing from:\n{help}");
    }
}

//! The thread that accepts a name's connections ends once the name's last
//! instance is closed, instead of polling its shut-down socket forever
//! (found by the C inheritance test: ~85% of a CPU spent after the close).
//!
//! Alone in its test binary: it counts this process's threads by name.

use std::time::{Duration, Instant};

use pipeslot::pipe::ServerOptions;
use pipeslot::PipeName;

/// How many threads of this process are named `name`.
fn threads_named(name: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|comm| comm.trim_end() == name)
        .count()
}

#[test]
fn the_acceptor_ends_with_the_last_instance() {
    let root = tempfile::tempdir().unwrap();
    let name = PipeName::local("acceptor-exit").unwrap();
    let first = ServerOptions::new()
        .root(root.path())
        .create(&name)
        .unwrap();
    let second = ServerOptions::new()
        .root(root.path())
        .create(&name)
        .unwrap();
    // The thread names itself once it runs: wait for that.
    let start = Instant::now();
    while threads_named("pipeslot-accept") == 0 && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(threads_named("pipeslot-accept"), 1, "one acceptor per name");
    drop(first);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        threads_named("pipeslot-accept"),
        1,
        "the name still has an instance"
    );
    drop(second);
    let start = Instant::now();
    while threads_named("pipeslot-accept") > 0 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the acceptor still runs 10 s after the last instance closed"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

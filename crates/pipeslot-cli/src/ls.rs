//! `pipeslot ls`: every named pipe and mailslot of a namespace, from the
//! lock files alone.
//!
//! Every name's owner keeps a lock file in the namespace directory with its
//! record: the name as created, its pid and uid, its creation parameters
//! and a live status it rewrites in place as instances connect and
//! messages queue (`pipeslot::namespace`, "Live status"). `ls` reads those
//! files and asks no owner anything, so it costs the servers nothing and
//! works when they are stuck. A lock file whose lock nobody holds belongs to
//! an owner that died: it is listed as `stale`, with what it last said.
//!
//! The text output is a table per kind (pipes, then mailslots), one line
//! per name; `--json` prints one object whose shape is documented in
//! [`LONG_ABOUT`] and stays stable (fields are only ever added).

use std::path::Path;

use pipeslot::namespace::{Entry, Namespace, ObjectKind, Scope};
use pipeslot::pipe::UNLIMITED_INSTANCES;
use serde_json::{json, Value};

use crate::failure::Failure;
use crate::output::say;

/// The arguments of `pipeslot ls`.
#[derive(clap::Args)]
pub struct LsArgs {
    /// Print one JSON object (schema in `pipeslot help ls`).
    #[arg(long)]
    json: bool,
    /// List the machine-wide namespace instead of your private one.
    #[arg(long, conflicts_with = "all")]
    machine_wide: bool,
    /// List both namespaces, private first.
    #[arg(long)]
    all: bool,
}

/// One-line help of `pipeslot ls`.
pub const ABOUT: &str = "List named pipes and mailslots: owner, instances, clients, queues";

/// Full help of `pipeslot ls`, with the JSON schema.
pub const LONG_ABOUT: &str = r#"List every named pipe and mailslot in the namespace: the name as created,
its owner (pid and user), and what it is doing now.

Pipes: type (byte/message), access (duplex/inbound/outbound), instances
busy/listening/max, connected clients (instances bound to a client until
the server disconnects them), the first instance's quotas (in/out bytes,
0 = as needed) and whether remote clients are rejected (REMOTE; `,exported` when
this host's gateway exports the pipe).
Mailslots: the reader's pid, queued messages and the maximum message size.
The queued count is the reader's own, exact when it was last published (at
each GetMailslotInfo and each read that emptied the kernel's queue).

Everything comes from the names' lock files, which their owners keep
current; no owner is contacted. A name whose owner died without cleaning
up is listed with state `stale` and the counts it last published.

By default the private namespace ($XDG_RUNTIME_DIR/pipeslot, or
$PIPESLOT_ROOT/user-<uid>) is listed; --machine-wide lists the shared one
(/run/pipeslot, or $PIPESLOT_ROOT/machine) and --all both.

--json prints one object (fields are only ever added, never changed):
  {
    "version": 1,
    "namespaces": [ { "scope": "private" | "machine-wide", "dir": "/path" } ],
    "entries": [ {
      "scope": "private" | "machine-wide",
      "kind": "pipe" | "mailslot",
      "name": "\\\\.\\pipe\\Server",     // as created; null if unreadable
      "state": "live" | "stale" | "unreadable",
      "pid": 4242, "uid": 1000, "user": "alice",   // null if unreadable
      "pipe": {                                     // pipes only
        "type": "byte" | "message", "access": "duplex" | "inbound" | "outbound",
        "max_instances": 4,                         // null = unlimited
        "instances": 2, "listening": 1, "busy": 1, "connected": 1,
        "in_quota": 0, "out_quota": 0,
        "remote_clients": "reject" | "accept",
        "exported": true | false              // by this host's gateway;
                                              // null: no gateway runs
      },
      "mailslot": {                                 // mailslots only
        "max_message_size": 424,                    // 0 = any size
        "queued_messages": 0,
        "senders": "owner" | "any"
      }
    } ]
  }
Counts a record lacks (an owner that published none) are null."#;

/// Examples and exit codes of `pipeslot ls`.
pub const AFTER_HELP: &str = "Examples:
  pipeslot ls
  pipeslot ls --json | jq '.entries[] | select(.kind == \"pipe\") | .name'

Exit status: 0 listed (possibly nothing), 1 a namespace could not be read.";

/// Lists the namespaces `args` asks for.
pub fn run(args: LsArgs) -> Result<u8, Failure> {
    let scopes: &[Scope] = if args.all {
        &[Scope::Private, Scope::MachineWide]
    } else if args.machine_wide {
        &[Scope::MachineWide]
    } else {
        &[Scope::Private]
    };
    let exported = exported_stems();
    let mut listed = Vec::new();
    for &scope in scopes {
        let namespace = Namespace::open(scope).map_err(|e| {
            Failure::os(
                format!("ls: cannot open the {} namespace", scope_name(scope)),
                1,
                e,
            )
        })?;
        let mut entries = Vec::new();
        for kind in [ObjectKind::Pipe, ObjectKind::Mailslot] {
            let found = namespace.entries(kind).map_err(|e| {
                Failure::os(
                    format!("ls: cannot list {}", namespace.kind_dir(kind).display()),
                    1,
                    e,
                )
            })?;
            entries.extend(found.iter().map(|entry| {
                let mut listed = Listed::new(scope, kind, entry);
                if kind == ObjectKind::Pipe {
                    listed.exported = exported.as_ref().map(|stems| stems.contains(&entry.stem));
                }
                listed
            }));
        }
        listed.push((scope, namespace.dir().to_path_buf(), entries));
    }
    if args.json {
        print_json(&listed);
    } else {
        print_table(&listed, args.all);
    }
    Ok(0)
}

/// One name, as listed: what its record says, decoded for display.
struct Listed {
    scope: Scope,
    kind: ObjectKind,
    /// The name as created; `None` when the lock file was unreadable.
    name: Option<String>,
    /// The file stem, shown when the name is unknown.
    stem: String,
    state: &'static str,
    pid: Option<u32>,
    uid: Option<u32>,
    user: Option<String>,
    params: Vec<(String, String)>,
    status: Option<Vec<u32>>,
    /// Whether this host's gateway exports the pipe; `None` when no gateway
    /// runs.
    exported: Option<bool>,
}

/// The file stems of the pipes this host's gateway exports (its record in
/// the machine-wide namespace says), or `None` when no gateway runs.
fn exported_stems() -> Option<Vec<String>> {
    let namespace = Namespace::open(Scope::MachineWide).ok()?;
    let gateway = pipeslot::PipeName::parse(pipeslot_proto::relay::GATEWAY_PIPE).ok()?;
    let stem = gateway.file_stem();
    let entry = namespace
        .entries(ObjectKind::Pipe)
        .ok()?
        .into_iter()
        .find(|entry| entry.live && entry.stem == stem)?;
    let exports = entry
        .record?
        .param("exports")
        .unwrap_or_default()
        .to_string();
    Some(
        exports
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
    )
}

impl Listed {
    fn new(scope: Scope, kind: ObjectKind, entry: &Entry) -> Listed {
        let record = entry.record.as_ref();
        Listed {
            scope,
            kind,
            name: record.map(|r| r.name.clone()),
            stem: entry.stem.clone(),
            state: match (record, entry.live) {
                (None, _) => "unreadable",
                (Some(_), true) => "live",
                (Some(_), false) => "stale",
            },
            pid: record.map(|r| r.pid),
            uid: record.map(|r| r.uid),
            user: record.map(|r| pipeslot::host::user_name(r.uid)),
            params: record.map(|r| r.params.clone()).unwrap_or_default(),
            status: record.and_then(|r| r.status()),
            exported: None,
        }
    }

    fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn number(&self, key: &str) -> Option<u32> {
        self.param(key)?.parse().ok()
    }

    /// A live status counter (pipes: instances, listening, connected;
    /// mailslots: queued).
    fn count(&self, index: usize) -> Option<u32> {
        self.status.as_ref()?.get(index).copied()
    }

    /// Instances not listening: connected, or disconnected and not yet
    /// listening again.
    fn busy(&self) -> Option<u32> {
        let (all, listening) = (self.count(0)?, self.count(1)?);
        Some(all.saturating_sub(listening))
    }

    /// The name for the table: control characters (which another user
    /// could put in a machine-wide name to rewrite the terminal) escaped.
    fn display_name(&self) -> String {
        match &self.name {
            Some(name) => name
                .chars()
                .map(|c| {
                    if c.is_control() {
                        c.escape_default().to_string()
                    } else {
                        c.to_string()
                    }
                })
                .collect(),
            None => format!("? ({}.lock)", self.stem),
        }
    }

    /// `max_instances`, `None` meaning unlimited.
    fn max_instances(&self) -> Option<Option<u32>> {
        let max = self.number("max_instances")?;
        Some((max != UNLIMITED_INSTANCES).then_some(max))
    }

    fn json(&self) -> Value {
        let mut entry = json!({
            "scope": scope_name(self.scope),
            "kind": self.kind.as_str(),
            "name": self.name,
            "state": self.state,
            "pid": self.pid,
            "uid": self.uid,
            "user": self.user,
        });
        let (key, details) = match self.kind {
            ObjectKind::Pipe => (
                "pipe",
                json!({
                    "type": self.param("type"),
                    "access": self.param("access"),
                    "max_instances": self.max_instances().flatten(),
                    "instances": self.count(0),
                    "listening": self.count(1),
                    "busy": self.busy(),
                    "connected": self.count(2),
                    "in_quota": self.number("in_quota"),
                    "out_quota": self.number("out_quota"),
                    "remote_clients": self.param("remote_clients"),
                    "exported": self.exported,
                }),
            ),
            ObjectKind::Mailslot => (
                "mailslot",
                json!({
                    "max_message_size": self.number("max_message_size"),
                    "queued_messages": self.count(0),
                    "senders": self.param("senders"),
                }),
            ),
        };
        entry[key] = details;
        entry
    }
}

fn scope_name(scope: Scope) -> &'static str {
    match scope {
        Scope::Private => "private",
        Scope::MachineWide => "machine-wide",
    }
}

type Listing = (Scope, std::path::PathBuf, Vec<Listed>);

fn print_json(listed: &[Listing]) {
    let namespaces: Vec<Value> = listed
        .iter()
        .map(|(scope, dir, _)| json!({ "scope": scope_name(*scope), "dir": path_text(dir) }))
        .collect();
    let entries: Vec<Value> = listed
        .iter()
        .flat_map(|(_, _, entries)| entries.iter().map(Listed::json))
        .collect();
    let document = json!({ "version": 1, "namespaces": namespaces, "entries": entries });
    say!(
        "{}",
        serde_json::to_string_pretty(&document).unwrap_or_default()
    );
}

fn path_text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// A missing value: `-`.
fn or_dash<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_string(), |v| v.to_string())
}

fn print_table(listed: &[Listing], show_scope: bool) {
    let all: Vec<&Listed> = listed.iter().flat_map(|(_, _, e)| e).collect();
    if all.is_empty() {
        for (scope, dir, _) in listed {
            say!(
                "no pipes or mailslots in the {} namespace ({})",
                scope_name(*scope),
                dir.display()
            );
        }
        return;
    }
    let pipes: Vec<Vec<String>> = all
        .iter()
        .filter(|e| e.kind == ObjectKind::Pipe)
        .map(|e| {
            let max = match e.max_instances() {
                Some(None) => "unlimited".to_string(),
                other => or_dash(other.flatten()),
            };
            let quotas = format!(
                "{}/{}",
                or_dash(e.number("in_quota")),
                or_dash(e.number("out_quota"))
            );
            let mut row = vec![
                e.display_name(),
                or_dash(e.param("type")),
                or_dash(e.param("access")),
                format!("{}/{}/{}", or_dash(e.busy()), or_dash(e.count(1)), max),
                or_dash(e.count(2)),
                or_dash(e.pid),
                or_dash(e.user.clone()),
                quotas,
                match (e.param("remote_clients"), e.exported) {
                    (Some(policy), Some(true)) => format!("{policy},exported"),
                    (policy, _) => or_dash(policy),
                },
                e.state.to_string(),
            ];
            if show_scope {
                row.insert(0, scope_name(e.scope).to_string());
            }
            row
        })
        .collect();
    let mailslots: Vec<Vec<String>> = all
        .iter()
        .filter(|e| e.kind == ObjectKind::Mailslot)
        .map(|e| {
            let max = match e.number("max_message_size") {
                Some(0) => "any".to_string(),
                other => or_dash(other),
            };
            let mut row = vec![
                e.display_name(),
                or_dash(e.count(0)),
                max,
                or_dash(e.pid),
                or_dash(e.user.clone()),
                e.state.to_string(),
            ];
            if show_scope {
                row.insert(0, scope_name(e.scope).to_string());
            }
            row
        })
        .collect();
    let scope_header: &[&str] = if show_scope { &["SCOPE"] } else { &[] };
    if !pipes.is_empty() {
        let header: Vec<&str> = scope_header
            .iter()
            .copied()
            .chain([
                "PIPE",
                "TYPE",
                "ACCESS",
                "BUSY/LISTENING/MAX",
                "CLIENTS",
                "PID",
                "USER",
                "QUOTA IN/OUT",
                "REMOTE",
                "STATE",
            ])
            .collect();
        print_rows(&header, &pipes);
    }
    if !mailslots.is_empty() {
        if !pipes.is_empty() {
            say!();
        }
        let header: Vec<&str> = scope_header
            .iter()
            .copied()
            .chain([
                "MAILSLOT",
                "QUEUED",
                "MAX MESSAGE",
                "READER PID",
                "USER",
                "STATE",
            ])
            .collect();
        print_rows(&header, &mailslots);
    }
}

/// Prints `rows` under `header`, each column as wide as its widest cell
/// (counted in characters), two spaces apart; the last column unpadded.
fn print_rows(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let last = cells.len().saturating_sub(1);
        let mut text = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i == last {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<width$}  ", width = widths[i]));
            }
        }
        say!("{}", text);
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

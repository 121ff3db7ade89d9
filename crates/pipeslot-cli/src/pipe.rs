//! `pipeslot pipe CMD1 [ARGS] = CMD2 [ARGS] [= CMD3 ...]`: the classic Win32
//! "Redirect" program.
//!
//! Each `=` (a whole argument) ends one command. Every command but the last
//! writes its standard output into an anonymous pipe
//! ([`pipeslot::anon::pipe`]) whose read end is the next command's standard
//! input. No shell is involved: a command is found on `PATH` and gets its
//! arguments exactly as given, non-UTF-8 bytes included. The first command's
//! stdin, every command's stderr and the last command's stdout are
//! inherited.
//!
//! As in the Win32 program, the parent must not keep any pipe end: a reader
//! sees end of data only when every copy of the write end is closed (S135).
//! The ends are close-on-exec (T19), each one reaches only the child it is
//! handed to, and the parent's copies go away with each `Command`, dropped
//! right after its spawn.
//!
//! Exit status: the last command's (128 + N when signal N killed it). The
//! children get the default `SIGPIPE` action back (std resets it), so
//! `pipeslot pipe yes = head -n1` ends when `head` does.

use std::ffi::{OsStr, OsString};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, ExitStatus};

use pipeslot::anon::{self, PipeReader};

use crate::failure::Failure;

/// The arguments of `pipeslot pipe`.
#[derive(clap::Args)]
pub struct PipeArgs {
    /// The commands, each with its arguments, separated by `=` as a
    /// separate argument.
    #[arg(
        value_name = "CMD_OR_ARG",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    words: Vec<OsString>,
}

/// One-line help of `pipeslot pipe`.
pub const ABOUT: &str = "Run commands connected by anonymous pipes (the Win32 Redirect program)";

/// Usage line of `pipeslot pipe`.
pub const USAGE: &str = "pipeslot pipe CMD1 [ARGS]... = CMD2 [ARGS]... [= CMD3 [ARGS]...]...";

/// Full help of `pipeslot pipe`.
pub const LONG_ABOUT: &str = "\
Run commands connected by anonymous pipes (the Win32 Redirect program).

CMD1's standard output feeds CMD2's standard input through an anonymous pipe,
and so on for more commands, like the shell's `|` but with no shell: each
command is found on PATH and gets its arguments exactly as given. Separate the
commands with `=`, written as an argument of its own. The first command reads
this program's stdin, the last one writes to its stdout, and all of them write
to its stderr.";

/// Examples and exit codes of `pipeslot pipe`.
pub const AFTER_HELP: &str = "\
Examples:
  pipeslot pipe ls -l = sort -k5 -n
      list the files, smallest first
  pipeslot pipe cat /etc/passwd = cut -d: -f1 = sort
      three commands: the user names, sorted

Exit status: the last command's (128+N if signal N killed it);
2 on a usage error, 3 if the pipe cannot be created, 4 if the first command
cannot be started, 5 if a later one cannot be started.";

/// Runs the commands and returns the last one's exit status.
pub fn run(args: PipeArgs) -> Result<u8, Failure> {
    let stages = split_stages(&args.words)?;
    let children = start_all(&stages)?;
    wait_all(children)
}

/// One command of the pipeline.
struct Stage<'a> {
    program: &'a OsStr,
    args: &'a [OsString],
}

/// Splits the words at each `=` argument into non-empty commands.
fn split_stages(words: &[OsString]) -> Result<Vec<Stage<'_>>, Failure> {
    if !words.iter().any(|word| is_separator(word)) {
        return Err(Failure::usage("No command separator found.", USAGE_HINT));
    }
    let mut stages = Vec::new();
    for (index, words) in words.split(|word| is_separator(word)).enumerate() {
        let Some((program, args)) = words.split_first() else {
            let message = match index {
                0 => "First command not found.".to_owned(),
                1 => "Second command not found.".to_owned(),
                n => format!("Command {} not found.", n + 1),
            };
            return Err(Failure::usage(message, USAGE_HINT));
        };
        stages.push(Stage { program, args });
    }
    Ok(stages)
}

/// Starts every stage, each with its stdout into a new pipe whose read end
/// becomes the next stage's stdin. If a pipe or a stage fails, the stages
/// already started are killed and reaped.
fn start_all(stages: &[Stage<'_>]) -> Result<Vec<Child>, Failure> {
    let mut started = Started(Vec::with_capacity(stages.len()));
    let mut previous_reader: Option<PipeReader> = None;
    for (index, stage) in stages.iter().enumerate() {
        let number = index + 1;
        let (next_reader, writer) = if number < stages.len() {
            let (reader, writer) = anon::pipe()
                .map_err(|e| Failure::os("Anon pipe create failed.", EXIT_PIPE_CREATE, e))?;
            (Some(reader), Some(writer))
        } else {
            (None, None)
        };
        let mut command = Command::new(stage.program);
        command.args(stage.args);
        if let Some(reader) = previous_reader.take() {
            command.stdin(reader);
        }
        if let Some(writer) = writer {
            command.stdout(writer);
        }
        let spawned = command.spawn();
        // The Command holds the parent's copies of the ends it was given;
        // they must go now, or the next stage never sees end of data (S135).
        drop(command);
        let child = spawned.map_err(|e| {
            let context = format!("starting {}", stage.program.to_string_lossy());
            let exit_code = if number == 1 {
                EXIT_START_FIRST
            } else {
                EXIT_START_LATER
            };
            Failure::os(
                format!("CreateProc{number} failed."),
                exit_code,
                pipeslot::Error::from_io(e, context),
            )
        })?;
        started.0.push(child);
        previous_reader = next_reader;
    }
    Ok(std::mem::take(&mut started.0))
}

/// Waits for every stage, in order, and returns the last one's status.
fn wait_all(children: Vec<Child>) -> Result<u8, Failure> {
    let mut last = None;
    for (index, mut child) in children.into_iter().enumerate() {
        let status = child.wait().map_err(|e| {
            let context = format!("waiting for command {}", index + 1);
            Failure::os(
                "Wait failed.",
                EXIT_WAIT,
                pipeslot::Error::from_io(e, context),
            )
        })?;
        last = Some(status);
    }
    Ok(last.map_or(0, exit_code_of))
}

/// The shell's convention: the exit code, or 128 + the signal that killed.
fn exit_code_of(status: ExitStatus) -> u8 {
    let code = match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(signal)) => 128 + signal,
        (None, None) => 1,
    };
    // Exit codes are 0..=255 and signals 1..=64, so this always fits.
    u8::try_from(code).unwrap_or(u8::MAX)
}

/// Stages started so far; killed and reaped if dropped before the hand-over.
struct Started(Vec<Child>);

impl Drop for Started {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn is_separator(word: &OsStr) -> bool {
    word == SEPARATOR
}

/// The argument that separates two commands.
const SEPARATOR: &str = "=";

const USAGE_HINT: &str =
    "Usage: pipeslot pipe CMD1 [ARGS]... = CMD2 [ARGS]... (see `pipeslot pipe --help`)";

const EXIT_PIPE_CREATE: u8 = 3;
const EXIT_START_FIRST: u8 = 4;
const EXIT_START_LATER: u8 = 5;
const EXIT_WAIT: u8 = 1;

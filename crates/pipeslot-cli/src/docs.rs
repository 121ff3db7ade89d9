//! `pipeslot completions SHELL` and `pipeslot manpage`: a shell completion
//! script ([`clap_complete`]) and a roff man page ([`clap_mangen`]), both
//! generated from the clap definitions the parser uses, so that they always
//! list the real subcommands and flags. Either is written to stdout through
//! [`crate::output`], so a closed stdout ends it quietly.

use clap_complete::Shell;

use crate::output;

/// The arguments of `pipeslot completions`.
#[derive(clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_name = "SHELL")]
    shell: Shell,
}

/// One-line help of `pipeslot completions`.
pub const COMPLETIONS_ABOUT: &str = "Print a shell completion script (bash, zsh, fish)";

/// Full help of `pipeslot completions`.
pub const COMPLETIONS_LONG_ABOUT: &str = "\
Print a completion script for SHELL on stdout: bash, zsh and fish (elvish and
powershell too), generated from pipeslot's own command-line definitions.";

/// Examples of `pipeslot completions`.
pub const COMPLETIONS_AFTER_HELP: &str = "Examples:
  source <(pipeslot completions bash)
      completion in the current bash
  pipeslot completions zsh > \"${fpath[1]}/_pipeslot\"
  pipeslot completions fish > ~/.config/fish/completions/pipeslot.fish";

/// One-line help of `pipeslot manpage`.
pub const MANPAGE_ABOUT: &str = "Print the man page (roff)";

/// Full help of `pipeslot manpage`.
pub const MANPAGE_LONG_ABOUT: &str = "\
Print pipeslot's man page, in roff, on stdout: generated from the same
command-line definitions as this help.";

/// Examples of `pipeslot manpage`.
pub const MANPAGE_AFTER_HELP: &str = "Examples:
  pipeslot manpage | man -l -
      read it now
  pipeslot manpage > /usr/local/share/man/man1/pipeslot.1";

/// Prints the completion script for `args.shell`.
pub fn completions(args: CompletionsArgs, mut command: clap::Command) -> u8 {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "pipeslot", &mut script);
    output::raw(&script);
    0
}

/// Prints the man page.
pub fn manpage(command: clap::Command) -> u8 {
    let mut page = Vec::new();
    if let Err(e) = clap_mangen::Man::new(command).render(&mut page) {
        eprintln!("pipeslot: rendering the man page failed: {e}");
        return 1;
    }
    output::raw(&page);
    0
}

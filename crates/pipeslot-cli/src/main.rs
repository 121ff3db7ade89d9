//! `pipeslot`: the classic Win32 interprocess-communication programs on
//! Linux. `main` only parses the command line, hands the subcommand to its
//! module, and turns a `failure::Failure` into a message and an exit code.

mod bcast;
mod bench;
mod call;
mod classic;
mod client;
mod demo;
mod demo_hosts;
mod docs;
mod domain;
mod failure;
mod gateway;
mod ls;
mod mailslot;
mod netlab;
mod output;
mod pipe;
mod server;
mod server_async;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

/// The whole command line.
#[derive(Parser)]
#[command(
    name = "pipeslot",
    version,
    about = "The Win32 IPC model on Linux: anonymous pipes, named pipes and mailslots",
    long_about = "The Win32 interprocess-communication model on Linux: anonymous pipes with \
                  I/O redirection, named pipes and mailslots, with the behaviour and error \
                  codes Windows programs rely on. Each subcommand is one of the classic \
                  programs.",
    after_help = "Example:\n  pipeslot pipe ls -l = sort -k5 -n\n      \
                  runs `ls -l` with its output piped into `sort -k5 -n`\n\n\
                  Run `pipeslot help <COMMAND>` for the details of a subcommand, \
                  `pipeslot manpage`\nfor the man page, and `pipeslot completions \
                  bash|zsh|fish` for a completion script.",
    arg_required_else_help = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The subcommands, one module each.
#[derive(Subcommand)]
enum Command {
    #[command(
        about = pipe::ABOUT,
        long_about = pipe::LONG_ABOUT,
        after_help = pipe::AFTER_HELP,
        override_usage = pipe::USAGE,
    )]
    Pipe(pipe::PipeArgs),
    #[command(
        about = mailslot::ABOUT,
        long_about = mailslot::LONG_ABOUT,
        after_help = mailslot::AFTER_HELP,
        arg_required_else_help = true,
    )]
    Mailslot(mailslot::MailslotArgs),
    #[command(
        about = server::ABOUT,
        long_about = server::LONG_ABOUT,
        after_help = server::AFTER_HELP,
    )]
    Server(server::ServerArgs),
    #[command(
        about = client::ABOUT,
        long_about = client::LONG_ABOUT,
        after_help = client::AFTER_HELP,
    )]
    Client(client::ClientArgs),
    #[command(
        about = bcast::ABOUT,
        long_about = bcast::LONG_ABOUT,
        after_help = bcast::AFTER_HELP,
    )]
    Bcast(bcast::BcastArgs),
    #[command(
        about = demo::ABOUT,
        long_about = demo::LONG_ABOUT,
        after_help = demo::AFTER_HELP,
    )]
    Demo(demo::DemoArgs),
    #[command(
        about = call::ABOUT,
        long_about = call::LONG_ABOUT,
        after_help = call::AFTER_HELP,
    )]
    Call(call::CallArgs),
    #[command(
        about = ls::ABOUT,
        long_about = ls::LONG_ABOUT,
        after_help = ls::AFTER_HELP,
    )]
    Ls(ls::LsArgs),
    #[command(
        about = domain::ABOUT,
        long_about = domain::LONG_ABOUT,
        after_help = domain::AFTER_HELP,
        arg_required_else_help = true,
    )]
    Domain(domain::DomainArgs),
    #[command(
        about = gateway::ABOUT,
        long_about = gateway::LONG_ABOUT,
        after_help = gateway::AFTER_HELP,
    )]
    Gateway(gateway::GatewayArgs),
    #[command(
        about = bench::ABOUT,
        long_about = bench::LONG_ABOUT,
        after_help = bench::AFTER_HELP,
    )]
    Bench(bench::BenchArgs),
    #[command(
        about = docs::COMPLETIONS_ABOUT,
        long_about = docs::COMPLETIONS_LONG_ABOUT,
        after_help = docs::COMPLETIONS_AFTER_HELP,
    )]
    Completions(docs::CompletionsArgs),
    #[command(
        visible_alias = "man",
        about = docs::MANPAGE_ABOUT,
        long_about = docs::MANPAGE_LONG_ABOUT,
        after_help = docs::MANPAGE_AFTER_HELP,
    )]
    Manpage,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Pipe(args) => pipe::run(args),
        Command::Mailslot(args) => mailslot::run(args),
        Command::Server(args) => server::run(args),
        Command::Client(args) => client::run(args),
        Command::Bcast(args) => bcast::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Call(args) => Ok(call::run(args)),
        Command::Ls(args) => ls::run(args),
        Command::Domain(args) => Ok(domain::run(args)),
        Command::Gateway(args) => Ok(gateway::run(args)),
        Command::Bench(args) => Ok(bench::run(args)),
        Command::Completions(args) => Ok(docs::completions(args, Cli::command())),
        Command::Manpage => Ok(docs::manpage(Cli::command())),
    };
    match outcome {
        Ok(status) => ExitCode::from(status),
        Err(failure) => {
            failure.report();
            ExitCode::from(failure.exit_code())
        }
    }
}

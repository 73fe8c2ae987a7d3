// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! vhost-famfs: the command-line entry point.

mod cli;
mod logging;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

fn main() -> ExitCode {
    // The packaging-only `gen-assets` is added here, outside the documented
    // commands, so that the man pages it writes do not list it.
    let matches = cli::args::Cli::command()
        .subcommand(cli::assets::command())
        .get_matches();
    if let Some(dir) = cli::assets::requested(&matches) {
        return match cli::assets::generate(dir) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("vhost-famfs: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    let args = cli::args::Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    if args.print_capabilities {
        print!("{}", cli::capabilities::json());
        return ExitCode::SUCCESS;
    }
    if args.command.is_none() {
        cli::args::Cli::command()
            .error(
                clap::error::ErrorKind::MissingSubcommand,
                "a command is required (or --print-capabilities)",
            )
            .exit();
    }
    if !matches!(args.command, Some(cli::args::Command::Serve { .. })) {
        // Listing commands end quietly when their reader goes away
        // (`vhost-famfs ls | head`), like other Unix tools. The daemon
        // keeps SIGPIPE ignored: a VMM hanging up must not kill it.
        // SAFETY: setting a signal's disposition to its default has no
        // preconditions; no handler runs.
        let _ = unsafe {
            nix::sys::signal::signal(
                nix::sys::signal::Signal::SIGPIPE,
                nix::sys::signal::SigHandler::SigDfl,
            )
        };
    }
    let level = match args.verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    if let Err(e) = logging::init(args.log_level, level, args.syslog) {
        eprintln!("vhost-famfs: {e:#}");
        return ExitCode::FAILURE;
    }
    match cli::run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("vhost-famfs: {e:#}");
            ExitCode::FAILURE
        }
    }
}

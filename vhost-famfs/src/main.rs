// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! vhost-famfs: the command-line entry point.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::args::Cli::parse();
    let level = match args.verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(level))
        .format_timestamp_millis()
        .init();
    match cli::run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("vhost-famfs: {e:#}");
            ExitCode::FAILURE
        }
    }
}

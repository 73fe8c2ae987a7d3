// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! `vhost-famfs gen-assets DIR`: the man pages and shell completions,
//! generated from the clap definitions (so they list whatever commands
//! and options exist). Packaging runs it; it is hidden from `--help` and
//! from what it generates.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Arg, ArgMatches, Command, CommandFactory};
use clap_complete::Shell;

use super::args::Cli;

/// The hidden subcommand's name.
pub const NAME: &str = "gen-assets";

/// The program's name in man pages and completions.
const BIN: &str = "vhost-famfs";

/// The hidden subcommand, to be added to the parsed command.
pub fn command() -> Command {
    Command::new(NAME)
        .hide(true)
        .about("Write man pages (DIR/man1) and shell completions (DIR/completions)")
        .arg(
            Arg::new("dir")
                .value_name("DIR")
                .required(true)
                .value_parser(clap::value_parser!(PathBuf)),
        )
}

/// The output directory if `matches` asked for the assets.
pub fn requested(matches: &ArgMatches) -> Option<&Path> {
    match matches.subcommand() {
        Some((NAME, m)) => m.get_one::<PathBuf>("dir").map(PathBuf::as_path),
        _ => None,
    }
}

/// Writes DIR/man1/vhost-famfs{,-SUBCOMMAND}.1 and
/// DIR/completions/{vhost-famfs.bash,_vhost-famfs,vhost-famfs.fish}.
pub fn generate(dir: &Path) -> Result<()> {
    let cmd = Cli::command().name(BIN).bin_name(BIN);
    let man = dir.join("man1");
    fs::create_dir_all(&man).with_context(|| format!("creating {}", man.display()))?;
    clap_mangen::generate_to(cmd.clone(), &man)
        .with_context(|| format!("writing man pages to {}", man.display()))?;
    let completions = dir.join("completions");
    fs::create_dir_all(&completions)
        .with_context(|| format!("creating {}", completions.display()))?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        clap_complete::generate_to(shell, &mut cmd.clone(), BIN, &completions)
            .with_context(|| format!("writing {shell} completions"))?;
    }
    Ok(())
}

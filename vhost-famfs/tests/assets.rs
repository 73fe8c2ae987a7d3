// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! `vhost-famfs gen-assets`: man pages and completions for every
//! documented subcommand, none for the hidden generator itself.

use std::fs;
use std::path::Path;
use std::process::Command;

fn vhost_famfs() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vhost-famfs"))
}

/// The subcommand names `--help` lists.
fn listed_subcommands() -> Vec<String> {
    let out = vhost_famfs().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    let commands = help
        .split("Commands:")
        .nth(1)
        .expect("--help lists commands")
        .split("\n\n")
        .next()
        .unwrap();
    commands
        .lines()
        // A command's line starts "  name"; a wrapped description goes on
        // under it, indented further.
        .filter(|l| l.starts_with("  ") && !l[2..].starts_with(' '))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_string)
        .collect()
}

fn read(p: &Path) -> String {
    fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn gen_assets_covers_every_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let status = vhost_famfs()
        .arg("gen-assets")
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(status.success());

    let subcommands = listed_subcommands();
    assert!(subcommands.iter().any(|c| c == "serve"), "{subcommands:?}");
    // roff escapes hyphens; compare names without the escapes.
    let main = read(&dir.path().join("man1/vhost-famfs.1")).replace("\\-", "-");
    assert!(main.contains(".TH vhost-famfs 1"), "{main}");
    let bash = read(&dir.path().join("completions/vhost-famfs.bash"));
    let zsh = read(&dir.path().join("completions/_vhost-famfs"));
    let fish = read(&dir.path().join("completions/vhost-famfs.fish"));
    for c in &subcommands {
        let page = read(&dir.path().join(format!("man1/vhost-famfs-{c}.1")));
        assert!(page.contains(&format!(".TH vhost-famfs-{c} 1")), "{c}");
        assert!(main.contains(c), "main page lacks {c}");
        assert!(
            bash.contains(c) && zsh.contains(c) && fish.contains(c),
            "{c}"
        );
    }
    // The generator documents the product only.
    let mut names: Vec<_> = fs::read_dir(dir.path().join("man1"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names.len(), subcommands.len() + 1, "{names:?}");
    for text in [&main, &bash, &zsh, &fish] {
        assert!(!text.contains("gen-assets"));
    }
}

#[test]
fn gen_assets_is_hidden_and_needs_a_directory() {
    let out = vhost_famfs().arg("--help").output().unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains("gen-assets"));
    let out = vhost_famfs().arg("gen-assets").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    // A file where the directory should be: a clear error, exit 1.
    let file = tempfile::NamedTempFile::new().unwrap();
    let out = vhost_famfs()
        .arg("gen-assets")
        .arg(file.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("creating"), "{err}");
}

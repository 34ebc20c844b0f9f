//! The files beside the binary — completions, man pages, the systemd unit and its drop-in,
//! the OpenRC script — are what the command-line definitions generate (`scripts/gen-dist`),
//! and they work: systemd accepts the unit with the site drop-in, the drop-in's options start
//! a server that allows those networks, the shell scripts parse.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::programs::manifest_dir;
use crate::support::{Cmd, distfarm_bin, free_port, require, text};

fn dist() -> PathBuf {
    manifest_dir().join("dist")
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push(path.strip_prefix(dist()).unwrap().to_path_buf());
        }
    }
    found.sort();
    found
}

#[test]
fn dist_holds_exactly_what_the_command_line_generates() {
    let mut expected: Vec<PathBuf> = Vec::new();
    for (path, contents) in distfarm::app::dist_files::files() {
        let on_disk = std::fs::read(dist().join(&path)).unwrap_or_default();
        assert!(
            on_disk == contents,
            "dist/{} is not what the options generate: run scripts/gen-dist",
            path.display()
        );
        expected.push(path);
    }
    expected.sort();
    assert_eq!(
        files_under(&dist()),
        expected,
        "dist/ has files the generator does not write: run scripts/gen-dist"
    );
}

#[test]
fn systemd_accepts_the_serve_unit_with_the_site_drop_in() {
    let analyze = require("systemd-analyze", "systemd");
    let dir = crate::support::temp_dir("unit");
    let unit = std::fs::read_to_string(dist().join("systemd/distfarm-serve.service")).unwrap();
    let unit = unit.replace("/usr/local/bin/distfarm", distfarm_bin().to_str().unwrap());
    std::fs::write(dir.path().join("distfarm-serve.service"), unit).unwrap();
    let drop_in = dir.path().join("distfarm-serve.service.d");
    std::fs::create_dir(&drop_in).unwrap();
    std::fs::copy(
        dist().join("systemd/distfarm-serve.service.d/site.conf.example"),
        drop_in.join("site.conf"),
    )
    .unwrap();
    let out = Cmd::new(analyze)
        .args(["verify", "--man=no"])
        .arg(dir.path().join("distfarm-serve.service"))
        .output_unchecked()
        .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "systemd-analyze verify: {}",
        text(&out.stderr)
    );
}

/// The drop-in's `DISTFARM_SERVE_ARGS`, split into words as systemd splits an unbraced
/// `$VAR`, is a command line `distfarm serve` takes: both networks are allowed.
#[test]
fn the_drop_in_options_start_a_server_for_those_networks() {
    let drop_in =
        std::fs::read_to_string(dist().join("systemd/distfarm-serve.service.d/site.conf.example"))
            .unwrap();
    let args = drop_in
        .lines()
        .find_map(|l| l.strip_prefix("Environment=\"DISTFARM_SERVE_ARGS="))
        .and_then(|l| l.strip_suffix('"'))
        .expect("the drop-in sets DISTFARM_SERVE_ARGS");
    let port = free_port().to_string();
    let out = Cmd::new(distfarm_bin())
        .args(["serve", "--no-detach", "--log-stderr", "--lifetime", "1"])
        .args(["--listen", "127.0.0.1", "-p", &port])
        .args(args.split_whitespace())
        .timeout(Duration::from_secs(20))
        .run();
    let log = text(&out.stderr);
    assert!(
        log.contains("for clients from 192.168.0.0/24, 10.0.0.0/8; 8 jobs at once"),
        "{log}"
    );
}

#[test]
fn the_shell_files_parse() {
    // (shell, its Debian package, file): zsh and fish are no base packages, so a missing one
    // fails with the command that installs it rather than skipping.
    for (shell, package, file) in [
        ("bash", "bash", "completions/distfarm.bash"),
        ("zsh", "zsh", "completions/_distfarm"),
        ("fish", "fish", "completions/distfarm.fish"),
        ("sh", "dash", "openrc/init.d/distfarm"),
        ("sh", "dash", "openrc/conf.d/distfarm"),
    ] {
        let out = Cmd::new(require(shell, package))
            .arg("-n")
            .arg(dist().join(file))
            .output_unchecked()
            .unwrap();
        assert!(
            out.status.success(),
            "{shell} -n {file}: {}",
            text(&out.stderr)
        );
    }
}

/// The offer's template unit, instantiated for a client as `systemctl enable
/// distfarm-offer@me@workstation` would.
#[test]
fn systemd_accepts_the_offer_template_for_a_client() {
    let analyze = require("systemd-analyze", "systemd");
    let dir = crate::support::temp_dir("offer-unit");
    let unit = std::fs::read_to_string(dist().join("systemd/distfarm-offer@.service")).unwrap();
    let unit = unit.replace("/usr/local/bin/distfarm", distfarm_bin().to_str().unwrap());
    std::fs::write(dir.path().join("distfarm-offer@.service"), unit).unwrap();
    let instance = dir.path().join("distfarm-offer@me@workstation.service");
    std::os::unix::fs::symlink("distfarm-offer@.service", &instance).unwrap();
    let out = Cmd::new(analyze)
        .args(["verify", "--man=no"])
        .arg(&instance)
        .output_unchecked()
        .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "systemd-analyze verify: {}",
        text(&out.stderr)
    );
}

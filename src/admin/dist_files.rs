//! The files a packager or an administrator installs beside the binary, written by one
//! command (`distfarm dist-files DIR`, run by `scripts/gen-dist`) from the command-line
//! definitions (handed down by the application layer, the only one that knows the command
//! line), so they cannot drift from the options: shell completions (bash, zsh, fish),
//! man pages, a systemd unit for `distfarm serve` with a drop-in for the site's networks and
//! environment, a template unit for `distfarm offer@CLIENT`, and an OpenRC init script with
//! its `conf.d`. A test checks that `dist/`
//! holds exactly what this writes.

use std::path::{Path, PathBuf};

use clap_complete::Shell;

/// Every file, as (path under the output directory, contents), for the command line
/// `cli` (the whole `distfarm` command).
pub fn files(cli: &clap::Command) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    for (shell, name) in [
        (Shell::Bash, "distfarm.bash"),
        (Shell::Zsh, "_distfarm"),
        (Shell::Fish, "distfarm.fish"),
    ] {
        let mut text = Vec::new();
        clap_complete::generate(shell, &mut cli.clone(), "distfarm", &mut text);
        files.push((Path::new("completions").join(name), text));
    }
    for (name, page) in man_pages(cli) {
        files.push((Path::new("man").join(name), page));
    }
    files.push(("systemd/distfarm-serve.service".into(), SERVE_UNIT.into()));
    files.push((
        "systemd/distfarm-serve.service.d/site.conf.example".into(),
        SERVE_DROP_IN.into(),
    ));
    files.push(("systemd/distfarm-offer@.service".into(), OFFER_UNIT.into()));
    files.push(("openrc/init.d/distfarm".into(), OPENRC_INIT.into()));
    files.push(("openrc/conf.d/distfarm".into(), OPENRC_CONF.into()));
    files
}

/// `distfarm.1`, and `distfarm-SUBCOMMAND.1` for each visible subcommand.
fn man_pages(top: &clap::Command) -> Vec<(String, Vec<u8>)> {
    let mut pages = vec![("distfarm.1".to_string(), render(top.clone()))];
    for sub in top.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("distfarm-{}", sub.get_name());
        let page = render(sub.clone().name(name.clone()).bin_name(name.clone()));
        pages.push((format!("{name}.1"), page));
    }
    pages
}

fn render(command: clap::Command) -> Vec<u8> {
    let mut page = Vec::new();
    clap_mangen::Man::new(command)
        .render(&mut page)
        .expect("writing to memory");
    page
}

/// Writes every file for the command line `cli` under `dir`; returns their paths.
pub fn write_all(dir: &Path, cli: &clap::Command) -> std::io::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for (path, contents) in files(cli) {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        crate::user_files::write(&path, &contents)?;
        if path.starts_with(dir.join("openrc/init.d")) {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
        }
        written.push(path);
    }
    Ok(written)
}

/// The server as a systemd service. Started as root it becomes the `distcc` user (or
/// `nobody`) itself, after binding the port; the site's settings go in a drop-in.
const SERVE_UNIT: &str = "\
[Unit]
Description=distfarm compile server (distccd-compatible)
Documentation=man:distfarm-serve(1)
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
# Extra options for `distfarm serve`, set in a drop-in (see site.conf.example): the networks
# allowed to send jobs, the number of jobs. Empty: loopback clients only.
Environment=DISTFARM_SERVE_ARGS=
ExecStart=/usr/local/bin/distfarm serve --no-detach --log-stderr $DISTFARM_SERVE_ARGS
Restart=on-failure
# distfarm serve confines each compiler itself (Landlock, else a mount namespace); these keep
# the server in its lane.
NoNewPrivileges=yes
ProtectSystem=full
PrivateTmp=yes

[Install]
WantedBy=multi-user.target
";

/// A drop-in for `systemctl edit distfarm-serve`: each case of the Gentoo guide as a plain
/// variable, no `bash -c` wrapper.
const SERVE_DROP_IN: &str = "\
# Copy to /etc/systemd/system/distfarm-serve.service.d/site.conf and adjust.
[Service]
# Who may send jobs (the guide's ALLOWED_SERVERS): several networks after one --allow.
Environment=\"DISTFARM_SERVE_ARGS=--allow 192.168.0.0/24 10.0.0.0/8 --jobs 8\"
# ccache on the server: compilers are found through ccache's masquerade directory, and
# ccache keeps its cache where the server's user may write.
Environment=DISTCCD_PATH=/usr/lib/ccache/bin:/usr/bin
Environment=CCACHE_DIR=/var/cache/ccache
";

/// One offer per client machine (`distfarm-offer@CLIENT`), restarted when it exits.
const OFFER_UNIT: &str = r#"# distfarm offer: lend this machine's CPUs to CLIENT (the instance name: an ssh_config alias,
# a host name, or user@host), which connects to nothing: the offer dials out to CLIENT's sshd.
#
#   sudo cp dist/systemd/distfarm-offer@.service /etc/systemd/system/
#   sudo systemctl enable --now distfarm-offer@me@workstation.service
#
# The service user (User= below, "distfarm" by default) needs a key CLIENT accepts and
# CLIENT's host key in ~/.ssh/known_hosts (log in once with ssh as that user). Options for
# every offer go in /etc/default/distfarm-offer, e.g. DISTFARM_OFFER_ARGS="--slots 8 --lzo".
[Unit]
Description=distfarm offer: lend this machine's CPUs to %I
Wants=network-online.target
After=network-online.target

[Service]
Type=simple
User=distfarm
EnvironmentFile=-/etc/default/distfarm-offer
ExecStart=/usr/local/bin/distfarm offer $DISTFARM_OFFER_ARGS %I
# SIGTERM withdraws the entry on the client and lets running jobs finish (--drain, 60 s).
KillSignal=SIGTERM
TimeoutStopSec=90
# The offer reconnects by itself while it runs; systemd restarts it if it ever exits.
Restart=on-failure
RestartSec=10
Nice=5
NoNewPrivileges=yes
PrivateTmp=yes
ProtectSystem=full

[Install]
WantedBy=multi-user.target
"#;

const OPENRC_INIT: &str = "\
#!/sbin/openrc-run
# distfarm compile server (distccd-compatible). Settings: /etc/conf.d/distfarm.

description=\"distfarm compile server\"
command=\"/usr/local/bin/distfarm\"
command_args=\"serve --no-detach --log-stderr ${DISTFARM_SERVE_ARGS}\"
command_background=true
pidfile=\"/run/${RC_SVCNAME}.pid\"
output_log=\"/var/log/distfarm.log\"
error_log=\"/var/log/distfarm.log\"

depend() {
\tneed net
}

start_pre() {
\texport DISTCCD_PATH CCACHE_DIR
}
";

const OPENRC_CONF: &str = "\
# Options for `distfarm serve`: who may send jobs (several networks after one --allow), how
# many jobs at once. Empty: loopback clients only.
DISTFARM_SERVE_ARGS=\"--allow 192.168.0.0/24 --jobs 8\"

# Where compilers are found (e.g. ccache's masquerade directory first) and ccache's cache.
#DISTCCD_PATH=\"/usr/lib/ccache/bin:/usr/bin\"
#CCACHE_DIR=\"/var/cache/ccache\"
";

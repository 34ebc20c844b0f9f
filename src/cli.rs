//! Command-line definitions. Nothing else in the crate reads argv; `main.rs` decides which
//! of these applies (the compiler-wrapper command lines are not clap's to parse).

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "distfarm",
    version,
    propagate_version = true,
    about = "An SSH-first, distcc-compatible compile farm",
    long_about = "An SSH-first, distcc-compatible compile farm.\n\n\
        As a compiler wrapper: distfarm gcc -c foo.c -o foo.o (or a gcc/cc/g++ symlink).\n\
        As a server: distfarm serve (or a distccd symlink)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the distccd-compatible compile server.
    Serve(ServeArgs),
    /// The per-user agent that keeps SSH connections open (started by the wrapper).
    #[command(hide = true)]
    Agent {
        /// Unix socket to serve on.
        #[arg(long)]
        socket: PathBuf,
        /// Exit after this many seconds without jobs.
        #[arg(long, default_value_t = 600)]
        idle: u64,
        /// distcc's lock directory, where the agent's slots are mirrored as lock files.
        #[arg(long)]
        lock_dir: Option<PathBuf>,
    },
    /// Lend this machine's CPUs to clients that cannot reach it (NAT): connect out to each
    /// client's sshd and offer a loopback port there.
    Offer(OfferArgs),
    /// The client's side of an offer (run by `distfarm offer` over SSH).
    #[command(hide = true, subcommand)]
    Offers(OffersCommand),
    /// Create masquerade links (gcc, cc, g++, x86_64-linux-gnu-gcc-12 …) to distfarm in DIR.
    InstallLinks {
        /// Where to put the links, e.g. /usr/lib/distfarm/bin; put it first on PATH.
        dir: PathBuf,
        /// Also a `distcc-config` link (distfarm's `config` under Gentoo's name).
        #[arg(long)]
        distcc_config: bool,
    },
    /// Set or show the host list, DISTCC_VERBOSE and DISTCC_LOG (also as `distcc-config`).
    Config(ConfigArgs),
    /// Set up SSH for a service account (portage …): key, ssh config, known_hosts, and the
    /// key installed on each build host.
    Keys(KeysArgs),
    /// Check every host in the list: reachable, logged in, host key, server, compilers.
    Doctor(DoctorArgs),
    /// Show the farm: each host's slots, counters and backoff, the queue and the running
    /// jobs (from the agent, and from distcc's state files).
    Mon(MonArgs),
    /// The live full-screen monitor (`distfarm mon --live`).
    Top(MonArgs),
    /// Run a build in pump mode, as distcc's `pump` does (also as a `pump` link): checks that
    /// the host list has `,cpp,lzo` hosts, starts the agent and its include scanner, runs
    /// COMMAND. distfarm needs no include server: `,cpp` hosts get pump mode anyway.
    Pump(PumpArgs),
    /// The background mDNS browser behind `+zeroconf` (started by the wrapper when the agent,
    /// which browses otherwise, is disabled).
    #[command(hide = true)]
    ZeroconfBrowser {
        /// The DISTCC_DIR whose zeroconf/hosts it keeps.
        #[arg(long)]
        distcc_dir: PathBuf,
    },
    /// Write shell completions, man pages and service files into DIR (for packagers).
    #[command(hide = true)]
    DistFiles {
        /// Where to write them (the repository's dist/).
        dir: PathBuf,
    },
}

/// `distfarm pump` (and a `pump`/`distcc-pump` link): distcc-pump's forms.
#[derive(Debug, Clone, Args)]
#[command(
    about = "Run COMMAND in pump mode, as distcc's pump does",
    after_help = "distfarm scans includes itself (in its agent), so hosts with ,cpp,lzo get \
        pump-mode jobs with or without this command; it exists for scripts and habits that \
        call pump. `eval $(distfarm pump --startup)` prints the environment to export; \
        `--shutdown` is accepted and does nothing."
)]
pub struct PumpArgs {
    /// Print `export` lines for the shell (PATH with distfarm's directory first, and
    /// DISTCC_HOSTS when set), as `pump --startup` does.
    #[arg(long, conflicts_with_all = ["shutdown", "command"])]
    pub startup: bool,
    /// The end of the `--startup` form; nothing to stop.
    #[arg(long, conflicts_with = "command")]
    pub shutdown: bool,
    /// The build command and its arguments.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    pub command: Vec<std::ffi::OsString>,
}

/// Gentoo's `distcc-config` options.
#[derive(Debug, Clone, Args)]
#[command(
    about = "Set or show distcc's host list and logging, as Gentoo's distcc-config does",
    after_help = "The host list is written to $DISTCC_DIR/hosts when DISTCC_DIR is set, \
        /etc/distcc/hosts as root, else ~/.distcc/hosts, after checking every entry. \
        DISTCC_VERBOSE and DISTCC_LOG are kept in /etc/env.d/02distcc (root; run env-update)."
)]
#[command(group(
    clap::ArgGroup::new("action")
        .required(true)
        .args(["set_hosts", "get_hosts", "set_verbose", "get_verbose", "set_log", "get_log", "update_masquerade"])
))]
pub struct ConfigArgs {
    /// Check LIST with distcc's host grammar and make it the host list.
    #[arg(long, value_name = "LIST")]
    pub set_hosts: Option<String>,
    /// Print the host list in use.
    #[arg(long)]
    pub get_hosts: bool,
    /// DISTCC_VERBOSE for every login (0 or 1).
    #[arg(long, value_name = "0|1", value_parser = ["0", "1"])]
    pub set_verbose: Option<String>,
    #[arg(long)]
    pub get_verbose: bool,
    /// DISTCC_LOG for every login: a file to log to.
    #[arg(long, value_name = "FILE")]
    pub set_log: Option<String>,
    #[arg(long)]
    pub get_log: bool,
    /// Refresh the masquerade links: one per compiler on PATH, stale ones removed.
    #[arg(long)]
    pub update_masquerade: bool,
    /// The masquerade directory for --update-masquerade.
    #[arg(long, value_name = "DIR", default_value = "/usr/lib/distfarm/bin")]
    pub masquerade_dir: PathBuf,
}

/// `distfarm keys`.
#[derive(Debug, Clone, Args)]
#[command(
    about = "Set up SSH for a service account such as portage, idempotently",
    after_help = "For each [USER@]HOST (resolved through your own ssh config): a Host block in \
        the account's ~/.ssh/config, the host key from your known_hosts pinned in the account's \
        (a host pinned nowhere is fetched and shown, and pinned only with --accept-new; a \
        different key already pinned is an error), and the account's key installed in the \
        host's ~/.ssh/authorized_keys with your own login. Then the account logs in once to \
        check. A second run changes nothing."
)]
pub struct KeysArgs {
    /// The local account that runs the builds (its home from the password database).
    #[arg(
        long = "for",
        value_name = "ACCOUNT",
        required_unless_present = "check"
    )]
    pub account: Option<String>,
    /// The account's home, instead of the one in the password database.
    #[arg(long, value_name = "DIR")]
    pub home: Option<PathBuf>,
    /// Pin the host key of a host pinned nowhere (after checking the fingerprint shown).
    #[arg(long)]
    pub accept_new: bool,
    /// Print what would be done; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Only check that the current account logs in to each host with its own ~/.ssh.
    #[arg(long, conflicts_with_all = ["account", "accept_new", "dry_run"])]
    pub check: bool,
    /// The build hosts, as you reach them with ssh.
    #[arg(value_name = "[USER@]HOST", required = true)]
    pub hosts: Vec<String>,
}

/// `distfarm doctor`.
#[derive(Debug, Clone, Args)]
#[command(
    about = "Check every host in the list and the flags that keep jobs local",
    after_help = "One line per host: reachable, logged in, host key pinned, the server and its \
        version, and each compiler this machine uses with its version and target there. Also \
        -march=native, -mtune=native and -mcpu=native in CFLAGS, CXXFLAGS and \
        /etc/portage/make.conf, with the explicit flags they mean here. Exits non-zero when \
        anything is wrong; each problem comes with its next step."
)]
pub struct DoctorArgs {
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `distfarm mon`.
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Reads the agent's live view when an agent runs (it is never started for \
        this), and distcc's state files in $DISTCC_DIR/state otherwise and besides, so jobs of \
        plain distcc clients sharing the DISTCC_DIR show too. Hosts come from the host list as \
        a build would read it. --json prints one JSON document per refresh (docs/mon-json.md). \
        With nothing to show, says so and exits 0."
)]
pub struct MonArgs {
    /// Refresh every SECONDS (fractions allowed) until interrupted; once without.
    #[arg(value_name = "SECONDS")]
    pub interval: Option<f64>,
    /// One JSON document per refresh, one per line.
    #[arg(long, conflicts_with = "live")]
    pub json: bool,
    /// The full-screen live view (q quits; h, j, b, f sort; also `distfarm top`).
    #[arg(long)]
    pub live: bool,
    /// Show a server's counters per client instead (jobs, failures, refusals with reasons,
    /// bytes, compile time). An SSH entry as in the host list (@host, user@host,
    /// @host:COMMAND, @host:tcp:PORT) is reached as its jobs are, and the distfarm there
    /// answers for your session servers and its daemon's --stats port; HOST[:PORT] asks a
    /// `distfarm serve --stats` over TCP (PORT its --stats-port, default 3633), which answers
    /// only clients its --allow list admits.
    #[arg(long, value_name = "@HOST|HOST[:PORT]", conflicts_with = "live")]
    pub server: Option<String>,
    /// The daemon's --stats-port that --server asks (default 3633): for a HOST without
    /// :PORT, and the daemon of an SSH host.
    #[arg(long, value_name = "PORT", requires = "server")]
    pub stats_port: Option<u16>,
}

/// distccd's options, with the same names and meanings.
#[derive(Debug, Clone, Args)]
#[command(
    about = "The distccd-compatible compile server",
    after_help = "Environment: DISTCCD_PATH (where compilers are found), TMPDIR (job directories), \
        DISTCC_IO_TIMEOUT, DISTCC_SAVE_TEMPS, DISTCC_CMDLIST and DISTCC_CMDLIST_NUMWORDS (the only \
        commands that run), as distccd; DISTFARM_CONFINE=0 is --unconfined. Compilers run \
        confined (they read only the system and their installation, and write only their job \
        directory): with Landlock where it works, else in a mount namespace; with neither, \
        the server refuses to start unless given --unconfined. A client must send its command \
        line within 30 s and its whole request within DISTCC_IO_TIMEOUT (300 s, also the most \
        any one read or write may wait); requests are at most 10,000 arguments, a 512 MiB \
        body (1 GiB after LZO) or 100,000 pump-mode files. SIGTERM: refuse new clients, let \
        running jobs finish (--stop-timeout), exit; SIGHUP: open --log-file again."
)]
pub struct ServeArgs {
    /// Listen on a TCP port (the default unless stdin is a socket).
    #[arg(long, conflicts_with = "inetd")]
    pub daemon: bool,
    /// Serve one job on stdin/stdout (how sshd and inetd start it).
    #[arg(long)]
    pub inetd: bool,
    /// Stay in the foreground.
    #[arg(long)]
    pub no_detach: bool,
    /// Accepted for distccd compatibility: every connection already gets its own task.
    #[arg(long, hide = true)]
    pub no_fork: bool,
    /// Address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0")]
    pub listen: IpAddr,
    /// TCP port to listen on.
    #[arg(short = 'p', long, default_value_t = 3632)]
    pub port: u16,
    /// Allow clients from ADDR[/BITS] (repeatable, or several after one --allow; IPv4 or
    /// IPv6). Without any, only loopback.
    #[arg(short = 'a', long = "allow", value_name = "ADDR[/BITS]", num_args = 1..)]
    pub allow: Vec<String>,
    /// Allow clients from private networks (RFC 1918, loopback, link-local, ULA).
    #[arg(long)]
    pub allow_private: bool,
    /// Compiles to run at once (default: number of CPUs).
    #[arg(short = 'j', long)]
    pub jobs: Option<usize>,
    /// Lower the server's priority by this much.
    #[arg(short = 'N', long, default_value_t = 5, allow_negative_numbers = true)]
    pub nice: i32,
    /// Append the log to this file.
    #[arg(long, value_name = "FILE")]
    pub log_file: Option<PathBuf>,
    /// emerg, alert, crit, err, warning, notice, info or debug.
    #[arg(long, value_name = "LEVEL", default_value = "notice")]
    pub log_level: String,
    /// Log to stderr.
    #[arg(long)]
    pub log_stderr: bool,
    /// Log at debug level.
    #[arg(long)]
    pub verbose: bool,
    /// Write the daemon's pid here.
    #[arg(short = 'P', long, value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// When started as root, run as this user (default: distcc, else nobody).
    #[arg(long)]
    pub user: Option<String>,
    /// As distccd: no compiler whitelist; any program on DISTCCD_PATH/PATH or any absolute
    /// path runs as the compiler (distcc passes it over SSH). Argument rules and confinement
    /// still apply.
    #[arg(long, alias = "make-me-a-botnet")]
    pub enable_tcp_insecure: bool,
    #[command(flatten)]
    pub job_limits: JobLimitArgs,
    /// Connections held at once (reading requests, waiting for a slot, compiling); more
    /// wait in the kernel's backlog.
    #[arg(long, value_name = "N", default_value_t = crate::server::settings::DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,
    /// Connections held at once from one client address; more are closed at once.
    #[arg(long, value_name = "N", default_value_t = crate::server::settings::DEFAULT_MAX_PER_ADDRESS)]
    pub max_per_address: usize,
    /// After SIGTERM or SIGINT, wait this long for running jobs before exiting anyway.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub stop_timeout: u64,
    /// Also allow this compiler (a bare name or an absolute path; repeatable).
    #[arg(long = "compiler", value_name = "NAME")]
    pub compilers: Vec<String>,
    /// Serve every job of one SSH connection from one process (started by distfarm's agent).
    #[arg(long, hide = true, conflicts_with_all = ["daemon", "inetd"])]
    pub ssh_session: bool,
    /// Print the per-client counters of this machine's distfarm servers that this user may
    /// see (their session servers, the daemon on --stats-port) as JSON and exit (run over
    /// SSH by `distfarm mon --server @host`).
    #[arg(long, hide = true, conflicts_with_all = ["daemon", "inetd", "ssh_session"])]
    pub client_counters: bool,
    /// Serve distccd's statistics page over HTTP (daemon only; clients from --allow).
    #[arg(long)]
    pub stats: bool,
    /// The statistics port (also where --client-counters asks the daemon).
    #[arg(long, value_name = "PORT", default_value_t = 3633)]
    pub stats_port: u16,
    /// Keep successful answers in DIR (created 0700) and give them again to any client
    /// that sends the same job.
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// The most the cache keeps, e.g. 500M or 2G (least recently used go first).
    #[arg(long, value_name = "SIZE", requires = "cache", value_parser = byte_size, default_value = "1G")]
    pub cache_size: u64,
    /// Exit after this many seconds (for tests).
    #[arg(long, value_name = "SECONDS", hide = true)]
    pub lifetime: Option<u64>,
    #[command(flatten)]
    pub confinement: ConfinementArgs,
    /// Announce this daemon on the local network over mDNS/DNS-SD, as distccd --zeroconf
    /// (`_distcc._tcp`, its slots and compiler), for clients with +zeroconf in their host
    /// list. Clients still need --allow.
    #[arg(long, conflicts_with_all = ["inetd", "ssh_session"])]
    pub zeroconf: bool,
}

/// A size as `byte_size` takes it, or 0 for "no limit".
fn byte_size_or_zero(text: &str) -> Result<u64, String> {
    match text {
        "0" => Ok(0),
        _ => byte_size(text),
    }
}

/// How the compilers of every job are confined (`serve` and `offer`).
#[derive(Debug, Clone, Args)]
pub struct ConfinementArgs {
    /// How compilers are confined: auto (Landlock if it works, else a mount namespace,
    /// else refuse to start), or only landlock or only namespaces (refuse to start if it
    /// does not work).
    #[arg(long, value_name = "HOW", value_enum, default_value_t = ConfinementArg::Auto)]
    pub confinement: ConfinementArg,
    /// Run compilers unconfined: they may then read any file this user can (and send it
    /// back in an answer) and write wherever it may. Also DISTFARM_CONFINE=0.
    #[arg(long, conflicts_with = "confinement")]
    pub unconfined: bool,
}

/// The limits every program of a job runs under (`serve` and `offer`).
#[derive(Debug, Clone, Args)]
pub struct JobLimitArgs {
    /// Kill a compiler that runs longer than this many seconds.
    #[arg(long, value_name = "SECONDS")]
    pub job_lifetime: Option<u64>,
    /// Address space of each program a job runs (RLIMIT_AS), e.g. 2G; 0: no limit.
    #[arg(long, value_name = "SIZE", value_parser = byte_size_or_zero, default_value = "4G")]
    pub limit_memory: u64,
    /// CPU seconds of each program a job runs (RLIMIT_CPU, then SIGXCPU); 0: no limit.
    #[arg(long, value_name = "SECONDS", default_value_t = crate::server::job_limits::DEFAULT_CPU_SECS)]
    pub limit_cpu: u64,
    /// Largest file a job's program may write (RLIMIT_FSIZE: object, assembly, messages);
    /// 0: no limit.
    #[arg(long, value_name = "SIZE", value_parser = byte_size_or_zero, default_value = "1G")]
    pub limit_output: u64,
}

/// `1G`, `500M`, `64K` (powers of 1024) or a number of bytes.
fn byte_size(text: &str) -> Result<u64, String> {
    let digits = text.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit: u64 = match &text[digits.len()..].to_ascii_uppercase()[..] {
        "" | "B" => 1,
        "K" | "KB" | "KIB" => 1 << 10,
        "M" | "MB" | "MIB" => 1 << 20,
        "G" | "GB" | "GIB" => 1 << 30,
        "T" | "TB" | "TIB" => 1 << 40,
        other => return Err(format!("unknown unit {other:?} (use K, M, G or T)")),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(unit))
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("{text:?} is not a size such as 500M or 1G"))
}

/// `distfarm offer`'s options.
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Each client needs only sshd (AllowTcpForwarding, the default) and, to \
    see the offer without editing anything, distfarm: the offer runs `distfarm offers hold` \
    there to record `127.0.0.1:PORT/N` for that user (`distfarm --show-hosts` lists it; \
    DISTFARM_OFFERS=0 leaves it out). The SSH connection is made as for `@host` entries: \
    ~/.ssh/config (or DISTFARM_SSH_CONFIG), strict known_hosts, ssh-agent or key files. \
    A dead link is noticed within ServerAliveInterval × ServerAliveCountMax (without them \
    in the ssh config: 10 s × 3 = 30 s), and the offer reconnects. \
    Compilers are found on DISTCCD_PATH or PATH, as for `distfarm serve`; DISTCC_CMDLIST, \
    TMPDIR, DISTCC_IO_TIMEOUT and DISTFARM_CONFINE apply too."
)]
pub struct OfferArgs {
    /// The machines to lend CPUs to, as ssh reaches them (ssh_config aliases work).
    #[arg(value_name = "[USER@]CLIENT", required = true)]
    pub clients: Vec<String>,
    /// Compiles at once over all clients (default: number of CPUs).
    #[arg(long, value_name = "N")]
    pub slots: Option<usize>,
    /// The loopback port on each client (default: the first free one of 3640-3699).
    #[arg(long, value_name = "P", conflicts_with = "socket")]
    pub port: Option<u16>,
    /// Forward a Unix socket instead of a port, in the client user's private (0700)
    /// $DISTCC_DIR/offers: only that user can send jobs. The entry is unix:PATH/N, which
    /// distfarm clients use and plain distcc cannot. Needs distfarm on the client.
    #[arg(long)]
    pub socket: bool,
    /// Offer LZO-compressed jobs (the entry gets `,lzo`).
    #[arg(long)]
    pub lzo: bool,
    /// Also keep the entry in the client's distcc hosts file ($DISTCC_DIR/hosts), in a
    /// marked block, so that plain distcc uses it too (not with --socket: plain distcc
    /// cannot use a socket).
    #[arg(long)]
    pub hosts_file: bool,
    /// How to run distfarm on the client (a path, or `env DISTCC_DIR=... distfarm`).
    #[arg(long, value_name = "COMMAND", default_value = "distfarm")]
    pub client_command: String,
    /// Also allow this compiler (a bare name or an absolute path; repeatable).
    #[arg(long = "compiler", value_name = "NAME")]
    pub compilers: Vec<String>,
    #[command(flatten)]
    pub job_limits: JobLimitArgs,
    /// On SIGINT/SIGTERM, let running jobs finish for at most this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub drain: u64,
    /// Lower this process's priority by this much.
    #[arg(short = 'N', long, default_value_t = 5, allow_negative_numbers = true)]
    pub nice: i32,
    /// Also log every job.
    #[arg(long)]
    pub verbose: bool,
    /// Seconds between heartbeats to the client's holder (it withdraws after three missed).
    #[arg(long, value_name = "SECONDS", default_value_t = 10, hide = true)]
    pub heartbeat: u64,
    /// The longest wait between reconnection attempts, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub max_backoff: u64,
    #[command(flatten)]
    pub confinement: ConfinementArgs,
}

/// `--confinement`: how a server confines its compilers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ConfinementArg {
    Auto,
    Landlock,
    Namespaces,
}

/// The client's side of an offer.
#[derive(Debug, Clone, Subcommand)]
pub enum OffersCommand {
    /// Record an offer for this user while stdin stays open.
    Hold {
        /// The offer's id (letters and digits).
        #[arg(long)]
        id: String,
        /// The host-list entry offered; with --socket, what follows the socket's path
        /// (/N[,lzo]).
        #[arg(long)]
        entry: String,
        /// Place a socket in $DISTCC_DIR/offers (0700) and say its path; record the entry
        /// unix:PATH/N once the next line arrives.
        #[arg(long)]
        socket: bool,
        /// Also keep a block in $DISTCC_DIR/hosts (not for --socket entries).
        #[arg(long)]
        hosts_file: bool,
        /// Withdraw when stdin brought nothing for this many seconds.
        #[arg(long, value_name = "SECONDS", default_value_t = 30)]
        heartbeat_timeout: u64,
    },
}

#[cfg(test)]
mod tests {
    use super::byte_size;
    use clap::Parser;

    #[test]
    fn an_offer_cannot_be_announced_over_zeroconf() {
        // A reverse tunnel's port is on the client's loopback: announcing it would send the
        // LAN to a port that is not there. `serve` has the flag; `offer` must not grow it.
        let serve = super::Cli::try_parse_from(["distfarm", "serve", "--daemon", "--zeroconf"]);
        assert!(serve.is_ok(), "{:?}", serve.err());
        let offer = super::Cli::try_parse_from(["distfarm", "offer", "--zeroconf", "me@client"]);
        let Err(err) = offer else {
            panic!("offer --zeroconf is refused");
        };
        let err = err.to_string();
        assert!(err.contains("--zeroconf"), "{err}");
    }

    #[test]
    fn cache_sizes_take_binary_units_and_refuse_nonsense() {
        assert_eq!(byte_size("1G"), Ok(1 << 30));
        assert_eq!(byte_size("500M"), Ok(500 << 20));
        assert_eq!(byte_size("64k"), Ok(64 << 10));
        assert_eq!(byte_size("4096"), Ok(4096));
        for bad in ["", "G", "0", "12X", "-1M", "1.5G", "99999999999T"] {
            let err = byte_size(bad).unwrap_err();
            assert!(!err.is_empty(), "{bad}");
        }
    }
}

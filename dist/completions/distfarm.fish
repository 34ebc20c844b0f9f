# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_distfarm_global_optspecs
    string join \n h/help V/version
end

function __fish_distfarm_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_distfarm_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_distfarm_using_subcommand
    set -l cmd (__fish_distfarm_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c distfarm -n "__fish_distfarm_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c distfarm -n "__fish_distfarm_needs_command" -s V -l version -d 'Print version'
complete -c distfarm -n "__fish_distfarm_needs_command" -f -a "serve" -d 'Run the distccd-compatible compile server'
complete -c distfarm -n "__fish_distfarm_needs_command" -f -a "agent" -d 'The per-user agent that keeps SSH connections open (started by the wrapper)'
complete -c distfarm -n "__fish_distfarm_needs_command" -f -a "offer" -d 'Lend this machine\'s CPUs to clients that cannot reach it (NAT): connect out to each client\'s sshd and offer a loopback port there'
complete -c distfarm -n "__fish_distfarm_needs_command" -f -a "offers" -d 'The client\'s side of an offer (run by `distfarm offer` over SSH)'
complete -c distfarm -n "__fish_distfarm_needs_command" -f -a "install-links" -d 'Create masquerade links (gcc, cc, g++, x86_64-linux-gnu-gcc-12 …) to distfarm in DIR'
complete -c distfarm -n "__fish_distfarm_needs_command" -f -a "config" -d 'Set or show the host list, DISTCC_VERBOSE and DISTCC_LOG (also as `distcc-config`)'
complete -c distfarm -n "__fish_distfarm_needs_command" -f -a "keys" -d 'Set up SSH for a service account (portage …): key, ssh config, known_hosts, and the key installed on each build host'
complete -c distfarm -n "__fish_distfarm_needs_command" -f -a "doctor" -d 'Check every host in the list: reachable, logged in, host key, server, compilers'
complete -c distfarm -n "__fish_distfarm_needs_command" -f -a "mon" -d 'Show the farm: each host\'s slots, counters and backoff, the queue and the running jobs (from the agent, and from distcc\'s state files)'
complete -c distfarm -n "__fish_distfarm_needs_command" -f -a "top" -d 'The live full-screen monitor (`distfarm mon --live`)'
complete -c distfarm -n "__fish_distfarm_needs_command" -f -a "pump" -d 'Run a build in pump mode, as distcc\'s `pump` does (also as a `pump` link): checks that the host list has `,cpp,lzo` hosts, starts the agent and its include scanner, runs COMMAND. distfarm needs no include server: `,cpp` hosts get pump mode anyway'
complete -c distfarm -n "__fish_distfarm_needs_command" -f -a "zeroconf-browser" -d 'The background mDNS browser behind `+zeroconf` (started by the wrapper when the agent, which browses otherwise, is disabled)'
complete -c distfarm -n "__fish_distfarm_needs_command" -f -a "dist-files" -d 'Write shell completions, man pages and service files into DIR (for packagers)'
complete -c distfarm -n "__fish_distfarm_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c distfarm -n "__fish_distfarm_using_subcommand serve" -l listen -d 'Address to listen on' -r
complete -c distfarm -n "__fish_distfarm_using_subcommand serve" -s p -l port -d 'TCP port to listen on' -r
complete -c distfarm -n "__fish_distfarm_using_subcommand serve" -s a -l allow -d 'Allow clients from ADDR[/BITS] (repeatable, or several after one --allow; IPv4 or IPv6). Without any, only loopback' -r
complete -c distfarm -n "__fish_distfarm_using_subcommand serve" -s j -l jobs -d 'Compiles to run at once (default: number of CPUs)' -r
complete -c distfarm -n "__fish_distfarm_using_subcommand serve" -s N -l nice -d 'Lower the server\'s priority by this much' -r
complete -c distfarm -n "__fish_distfarm_using_subcommand serve" -l log-file -d 'Append the log to this file' -r -F
complete -c distfarm -n "__fish_distfarm_using_subcommand serve" -l log-level -d 'emerg, alert, crit, err, warning, notice, info or debug' -r
complete -c distfarm -n "__fish_distfarm_using_subcommand serve" -s P -l pid-file -d 'Write the daemon\'s pid here' -r -F
complete -c distfarm -n "__fish_distfarm_using_subcommand serve" -l user -d 'When started as root, run as this user (default: distcc, else nobody)' -r
complete -c distfarm -n "__fish_distfarm_using_subcommand serve" -l job-lifetime -d 'Kill a compiler that runs longer than this many seconds' -r
complete -c distfarm -n "__fish_distfarm_using_subcommand serve" -l limit-memory -d 'Address space of each program a job runs (RLIMIT_AS), e.g. 2G; 0: no limit' -r
complete -c distfarm -n "__fish_distfarm_using_subcommand serve" -l limit-cpu -d 'CPU seconds of each program a job runs (RLIMIT_CPU, then SIGXCPU); 0: no limit' -r
complete -c distfarm -n "__fish_distfarm_using_subcommand serve" -l limit-output -d 'Largest file a job\'s program may write (RLIMIT_FSIZE: object, assembly, messages); 0: no limit' -r
complete -c distfarm -n "__fish_distfarm_using_subcommand serve" -l max-connections -d 'Connections held at once (reading requests, waiting for a slot, compiling); more wait in the kernel\'s backlog' -r
complete -c distfarm -n "__fish_distfarm_using_subcommand serve" -l max-per-address -d 'Connections held at once from one client address; more are closed at once' -r
complete -c distfarm -n "__fish_distfarm_using_subcommand serve" -l stop-timeout -d 'After SIGTERM or SIGINT, wait this long for running jobs before exiting anyway' -r
complete -c distfarm -n "__fish_distfarm_using_subcommand serve" -l compiler -d 'Also allow this compiler (a bare name or an absolute path; repeatable)' -r
complete -c distfarm -n "__fish_distfarm_using_subcommand serve" -l stats-port -d 'The statistics port (also where --client-counters asks the daemon)' -r
complete -c distfarm -n "__fish_distfarm_using_subcommand serve" -l cache -d 'Keep successful answers in DIR (created 0700) and give them again to any client that sends the same job' -r -F
complete -c distfarm -n "__fish_distfarm_using_subcommand serve" -l cache-size -d 'The most the cache keeps, e.g. 500M or 2G (least recently used go first)' -r
complete -c distfarm -n "__fish_distfarm_using_subcommand serve" -l lifetime -d 'Exit after this many seconds (for tests)' -r
complete -c distfarm -n "__fish_distfarm_using_subcommand serve" -l confinement -d 'How compilers are confined: auto (Landlock if it works, else a mount namespace, else refuse to start), or only landlock or only namespaces (refuse to start if it does not work)' -r -f -a "auto\t''
landlock\t''
namespaces\t''"
complete -c distfarm -n "__fish_distfarm_using_subcommand serve" -l daemon -d 'Listen on a TCP port (the default unless stdin is a socket)'
complete -c distfarm -n "__fish_distfarm_using_subcommand serve" -l inetd -d 'Serve one job on stdin/stdout (how sshd and inetd start it)'
complete -c distfarm -n "__fish_distfarm_using_subcommand serve" -l no-detach -d 'Stay in the foreground'
complete -c distfarm -n "__fish_distfarm_using_subcommand serve" -l no-fork -d 'Accepted for distccd compatibility: every connection already gets its own task'
complete -c distfarm -n "__fish_distfarm_using_subcommand serve" -l allow-private -d 'Allow clients from private networks (RFC 1918, loopback, link-local, ULA)'
complete -c distfarm -n "__fish_distfarm_using_subcommand serve" -l log-stderr -d 'Log to stderr'
complete -c distfarm -n "__fish_distfarm_using_subcommand serve" -l verbose -d 'Log at debug level'
complete -c distfarm -n "__fish_distfarm_using_subcommand serve" -l enable-tcp-insecure -d 'As distccd: no compiler whitelist; any program on DISTCCD_PATH/PATH or any absolute path runs as the compiler (distcc passes it over SSH). Argument rules and confinement still apply'
complete -c distfarm -n "__fish_distfarm_using_subcommand serve" -l ssh-session -d 'Serve every job of one SSH connection from one process (started by distfarm\'s agent)'
complete -c distfarm -n "__fish_distfarm_using_subcommand serve" -l client-counters -d 'Print the per-client counters of this machine\'s distfarm servers that this user may see (their session servers, the daemon on --stats-port) as JSON and exit (run over SSH by `distfarm mon --server @host`)'
complete -c distfarm -n "__fish_distfarm_using_subcommand serve" -l stats -d 'Serve distccd\'s statistics page over HTTP (daemon only; clients from --allow)'
complete -c distfarm -n "__fish_distfarm_using_subcommand serve" -l unconfined -d 'Run compilers unconfined: they may then read any file this user can (and send it back in an answer) and write wherever it may. Also DISTFARM_CONFINE=0'
complete -c distfarm -n "__fish_distfarm_using_subcommand serve" -l zeroconf -d 'Announce this daemon on the local network over mDNS/DNS-SD, as distccd --zeroconf (`_distcc._tcp`, its slots and compiler), for clients with +zeroconf in their host list. Clients still need --allow'
complete -c distfarm -n "__fish_distfarm_using_subcommand serve" -s h -l help -d 'Print help'
complete -c distfarm -n "__fish_distfarm_using_subcommand serve" -s V -l version -d 'Print version'
complete -c distfarm -n "__fish_distfarm_using_subcommand agent" -l socket -d 'Unix socket to serve on' -r -F
complete -c distfarm -n "__fish_distfarm_using_subcommand agent" -l idle -d 'Exit after this many seconds without jobs' -r
complete -c distfarm -n "__fish_distfarm_using_subcommand agent" -l lock-dir -d 'distcc\'s lock directory, where the agent\'s slots are mirrored as lock files' -r -F
complete -c distfarm -n "__fish_distfarm_using_subcommand agent" -s h -l help -d 'Print help'
complete -c distfarm -n "__fish_distfarm_using_subcommand agent" -s V -l version -d 'Print version'
complete -c distfarm -n "__fish_distfarm_using_subcommand offer" -l slots -d 'Compiles at once over all clients (default: number of CPUs)' -r
complete -c distfarm -n "__fish_distfarm_using_subcommand offer" -l port -d 'The loopback port on each client (default: the first free one of 3640-3699)' -r
complete -c distfarm -n "__fish_distfarm_using_subcommand offer" -l client-command -d 'How to run distfarm on the client (a path, or `env DISTCC_DIR=... distfarm`)' -r
complete -c distfarm -n "__fish_distfarm_using_subcommand offer" -l compiler -d 'Also allow this compiler (a bare name or an absolute path; repeatable)' -r
complete -c distfarm -n "__fish_distfarm_using_subcommand offer" -l job-lifetime -d 'Kill a compiler that runs longer than this many seconds' -r
complete -c distfarm -n "__fish_distfarm_using_subcommand offer" -l limit-memory -d 'Address space of each program a job runs (RLIMIT_AS), e.g. 2G; 0: no limit' -r
complete -c distfarm -n "__fish_distfarm_using_subcommand offer" -l limit-cpu -d 'CPU seconds of each program a job runs (RLIMIT_CPU, then SIGXCPU); 0: no limit' -r
complete -c distfarm -n "__fish_distfarm_using_subcommand offer" -l limit-output -d 'Largest file a job\'s program may write (RLIMIT_FSIZE: object, assembly, messages); 0: no limit' -r
complete -c distfarm -n "__fish_distfarm_using_subcommand offer" -l drain -d 'On SIGINT/SIGTERM, let running jobs finish for at most this many seconds' -r
complete -c distfarm -n "__fish_distfarm_using_subcommand offer" -s N -l nice -d 'Lower this process\'s priority by this much' -r
complete -c distfarm -n "__fish_distfarm_using_subcommand offer" -l heartbeat -d 'Seconds between heartbeats to the client\'s holder (it withdraws after three missed)' -r
complete -c distfarm -n "__fish_distfarm_using_subcommand offer" -l max-backoff -d 'The longest wait between reconnection attempts, in seconds' -r
complete -c distfarm -n "__fish_distfarm_using_subcommand offer" -l confinement -d 'How compilers are confined: auto (Landlock if it works, else a mount namespace, else refuse to start), or only landlock or only namespaces (refuse to start if it does not work)' -r -f -a "auto\t''
landlock\t''
namespaces\t''"
complete -c distfarm -n "__fish_distfarm_using_subcommand offer" -l socket -d 'Forward a Unix socket instead of a port, in the client user\'s private (0700) $DISTCC_DIR/offers: only that user can send jobs. The entry is unix:PATH/N, which distfarm clients use and plain distcc cannot. Needs distfarm on the client'
complete -c distfarm -n "__fish_distfarm_using_subcommand offer" -l lzo -d 'Offer LZO-compressed jobs (the entry gets `,lzo`)'
complete -c distfarm -n "__fish_distfarm_using_subcommand offer" -l hosts-file -d 'Also keep the entry in the client\'s distcc hosts file ($DISTCC_DIR/hosts), in a marked block, so that plain distcc uses it too (not with --socket: plain distcc cannot use a socket)'
complete -c distfarm -n "__fish_distfarm_using_subcommand offer" -l verbose -d 'Also log every job'
complete -c distfarm -n "__fish_distfarm_using_subcommand offer" -l unconfined -d 'Run compilers unconfined: they may then read any file this user can (and send it back in an answer) and write wherever it may. Also DISTFARM_CONFINE=0'
complete -c distfarm -n "__fish_distfarm_using_subcommand offer" -s h -l help -d 'Print help'
complete -c distfarm -n "__fish_distfarm_using_subcommand offer" -s V -l version -d 'Print version'
complete -c distfarm -n "__fish_distfarm_using_subcommand offers; and not __fish_seen_subcommand_from hold help" -s h -l help -d 'Print help'
complete -c distfarm -n "__fish_distfarm_using_subcommand offers; and not __fish_seen_subcommand_from hold help" -s V -l version -d 'Print version'
complete -c distfarm -n "__fish_distfarm_using_subcommand offers; and not __fish_seen_subcommand_from hold help" -f -a "hold" -d 'Record an offer for this user while stdin stays open'
complete -c distfarm -n "__fish_distfarm_using_subcommand offers; and not __fish_seen_subcommand_from hold help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c distfarm -n "__fish_distfarm_using_subcommand offers; and __fish_seen_subcommand_from hold" -l id -d 'The offer\'s id (letters and digits)' -r
complete -c distfarm -n "__fish_distfarm_using_subcommand offers; and __fish_seen_subcommand_from hold" -l entry -d 'The host-list entry offered; with --socket, what follows the socket\'s path (/N[,lzo])' -r
complete -c distfarm -n "__fish_distfarm_using_subcommand offers; and __fish_seen_subcommand_from hold" -l heartbeat-timeout -d 'Withdraw when stdin brought nothing for this many seconds' -r
complete -c distfarm -n "__fish_distfarm_using_subcommand offers; and __fish_seen_subcommand_from hold" -l socket -d 'Place a socket in $DISTCC_DIR/offers (0700) and say its path; record the entry unix:PATH/N once the next line arrives'
complete -c distfarm -n "__fish_distfarm_using_subcommand offers; and __fish_seen_subcommand_from hold" -l hosts-file -d 'Also keep a block in $DISTCC_DIR/hosts (not for --socket entries)'
complete -c distfarm -n "__fish_distfarm_using_subcommand offers; and __fish_seen_subcommand_from hold" -s h -l help -d 'Print help'
complete -c distfarm -n "__fish_distfarm_using_subcommand offers; and __fish_seen_subcommand_from hold" -s V -l version -d 'Print version'
complete -c distfarm -n "__fish_distfarm_using_subcommand offers; and __fish_seen_subcommand_from help" -f -a "hold" -d 'Record an offer for this user while stdin stays open'
complete -c distfarm -n "__fish_distfarm_using_subcommand offers; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c distfarm -n "__fish_distfarm_using_subcommand install-links" -l distcc-config -d 'Also a `distcc-config` link (distfarm\'s `config` under Gentoo\'s name)'
complete -c distfarm -n "__fish_distfarm_using_subcommand install-links" -s h -l help -d 'Print help'
complete -c distfarm -n "__fish_distfarm_using_subcommand install-links" -s V -l version -d 'Print version'
complete -c distfarm -n "__fish_distfarm_using_subcommand config" -l set-hosts -d 'Check LIST with distcc\'s host grammar and make it the host list' -r
complete -c distfarm -n "__fish_distfarm_using_subcommand config" -l set-verbose -d 'DISTCC_VERBOSE for every login (0 or 1)' -r -f -a "0\t''
1\t''"
complete -c distfarm -n "__fish_distfarm_using_subcommand config" -l set-log -d 'DISTCC_LOG for every login: a file to log to' -r
complete -c distfarm -n "__fish_distfarm_using_subcommand config" -l masquerade-dir -d 'The masquerade directory for --update-masquerade' -r -F
complete -c distfarm -n "__fish_distfarm_using_subcommand config" -l get-hosts -d 'Print the host list in use'
complete -c distfarm -n "__fish_distfarm_using_subcommand config" -l get-verbose
complete -c distfarm -n "__fish_distfarm_using_subcommand config" -l get-log
complete -c distfarm -n "__fish_distfarm_using_subcommand config" -l update-masquerade -d 'Refresh the masquerade links: one per compiler on PATH, stale ones removed'
complete -c distfarm -n "__fish_distfarm_using_subcommand config" -s h -l help -d 'Print help'
complete -c distfarm -n "__fish_distfarm_using_subcommand config" -s V -l version -d 'Print version'
complete -c distfarm -n "__fish_distfarm_using_subcommand keys" -l for -d 'The local account that runs the builds (its home from the password database)' -r
complete -c distfarm -n "__fish_distfarm_using_subcommand keys" -l home -d 'The account\'s home, instead of the one in the password database' -r -F
complete -c distfarm -n "__fish_distfarm_using_subcommand keys" -l accept-new -d 'Pin the host key of a host pinned nowhere (after checking the fingerprint shown)'
complete -c distfarm -n "__fish_distfarm_using_subcommand keys" -l dry-run -d 'Print what would be done; change nothing'
complete -c distfarm -n "__fish_distfarm_using_subcommand keys" -l check -d 'Only check that the current account logs in to each host with its own ~/.ssh'
complete -c distfarm -n "__fish_distfarm_using_subcommand keys" -s h -l help -d 'Print help'
complete -c distfarm -n "__fish_distfarm_using_subcommand keys" -s V -l version -d 'Print version'
complete -c distfarm -n "__fish_distfarm_using_subcommand doctor" -l json -d 'Print the report as JSON'
complete -c distfarm -n "__fish_distfarm_using_subcommand doctor" -s h -l help -d 'Print help'
complete -c distfarm -n "__fish_distfarm_using_subcommand doctor" -s V -l version -d 'Print version'
complete -c distfarm -n "__fish_distfarm_using_subcommand mon" -l server -d 'Show a server\'s counters per client instead (jobs, failures, refusals with reasons, bytes, compile time). An SSH entry as in the host list (@host, user@host, @host:COMMAND, @host:tcp:PORT) is reached as its jobs are, and the distfarm there answers for your session servers and its daemon\'s --stats port; HOST[:PORT] asks a `distfarm serve --stats` over TCP (PORT its --stats-port, default 3633), which answers only clients its --allow list admits' -r
complete -c distfarm -n "__fish_distfarm_using_subcommand mon" -l stats-port -d 'The daemon\'s --stats-port that --server asks (default 3633): for a HOST without :PORT, and the daemon of an SSH host' -r
complete -c distfarm -n "__fish_distfarm_using_subcommand mon" -l json -d 'One JSON document per refresh, one per line'
complete -c distfarm -n "__fish_distfarm_using_subcommand mon" -l live -d 'The full-screen live view (q quits; h, j, b, f sort; also `distfarm top`)'
complete -c distfarm -n "__fish_distfarm_using_subcommand mon" -s h -l help -d 'Print help'
complete -c distfarm -n "__fish_distfarm_using_subcommand mon" -s V -l version -d 'Print version'
complete -c distfarm -n "__fish_distfarm_using_subcommand top" -l server -d 'Show a server\'s counters per client instead (jobs, failures, refusals with reasons, bytes, compile time). An SSH entry as in the host list (@host, user@host, @host:COMMAND, @host:tcp:PORT) is reached as its jobs are, and the distfarm there answers for your session servers and its daemon\'s --stats port; HOST[:PORT] asks a `distfarm serve --stats` over TCP (PORT its --stats-port, default 3633), which answers only clients its --allow list admits' -r
complete -c distfarm -n "__fish_distfarm_using_subcommand top" -l stats-port -d 'The daemon\'s --stats-port that --server asks (default 3633): for a HOST without :PORT, and the daemon of an SSH host' -r
complete -c distfarm -n "__fish_distfarm_using_subcommand top" -l json -d 'One JSON document per refresh, one per line'
complete -c distfarm -n "__fish_distfarm_using_subcommand top" -l live -d 'The full-screen live view (q quits; h, j, b, f sort; also `distfarm top`)'
complete -c distfarm -n "__fish_distfarm_using_subcommand top" -s h -l help -d 'Print help'
complete -c distfarm -n "__fish_distfarm_using_subcommand top" -s V -l version -d 'Print version'
complete -c distfarm -n "__fish_distfarm_using_subcommand pump" -l startup -d 'Print `export` lines for the shell (PATH with distfarm\'s directory first, and DISTCC_HOSTS when set), as `pump --startup` does'
complete -c distfarm -n "__fish_distfarm_using_subcommand pump" -l shutdown -d 'The end of the `--startup` form; nothing to stop'
complete -c distfarm -n "__fish_distfarm_using_subcommand pump" -s h -l help -d 'Print help'
complete -c distfarm -n "__fish_distfarm_using_subcommand pump" -s V -l version -d 'Print version'
complete -c distfarm -n "__fish_distfarm_using_subcommand zeroconf-browser" -l distcc-dir -d 'The DISTCC_DIR whose zeroconf/hosts it keeps' -r -F
complete -c distfarm -n "__fish_distfarm_using_subcommand zeroconf-browser" -s h -l help -d 'Print help'
complete -c distfarm -n "__fish_distfarm_using_subcommand zeroconf-browser" -s V -l version -d 'Print version'
complete -c distfarm -n "__fish_distfarm_using_subcommand dist-files" -s h -l help -d 'Print help'
complete -c distfarm -n "__fish_distfarm_using_subcommand dist-files" -s V -l version -d 'Print version'
complete -c distfarm -n "__fish_distfarm_using_subcommand help; and not __fish_seen_subcommand_from serve agent offer offers install-links config keys doctor mon top pump zeroconf-browser dist-files help" -f -a "serve" -d 'Run the distccd-compatible compile server'
complete -c distfarm -n "__fish_distfarm_using_subcommand help; and not __fish_seen_subcommand_from serve agent offer offers install-links config keys doctor mon top pump zeroconf-browser dist-files help" -f -a "agent" -d 'The per-user agent that keeps SSH connections open (started by the wrapper)'
complete -c distfarm -n "__fish_distfarm_using_subcommand help; and not __fish_seen_subcommand_from serve agent offer offers install-links config keys doctor mon top pump zeroconf-browser dist-files help" -f -a "offer" -d 'Lend this machine\'s CPUs to clients that cannot reach it (NAT): connect out to each client\'s sshd and offer a loopback port there'
complete -c distfarm -n "__fish_distfarm_using_subcommand help; and not __fish_seen_subcommand_from serve agent offer offers install-links config keys doctor mon top pump zeroconf-browser dist-files help" -f -a "offers" -d 'The client\'s side of an offer (run by `distfarm offer` over SSH)'
complete -c distfarm -n "__fish_distfarm_using_subcommand help; and not __fish_seen_subcommand_from serve agent offer offers install-links config keys doctor mon top pump zeroconf-browser dist-files help" -f -a "install-links" -d 'Create masquerade links (gcc, cc, g++, x86_64-linux-gnu-gcc-12 …) to distfarm in DIR'
complete -c distfarm -n "__fish_distfarm_using_subcommand help; and not __fish_seen_subcommand_from serve agent offer offers install-links config keys doctor mon top pump zeroconf-browser dist-files help" -f -a "config" -d 'Set or show the host list, DISTCC_VERBOSE and DISTCC_LOG (also as `distcc-config`)'
complete -c distfarm -n "__fish_distfarm_using_subcommand help; and not __fish_seen_subcommand_from serve agent offer offers install-links config keys doctor mon top pump zeroconf-browser dist-files help" -f -a "keys" -d 'Set up SSH for a service account (portage …): key, ssh config, known_hosts, and the key installed on each build host'
complete -c distfarm -n "__fish_distfarm_using_subcommand help; and not __fish_seen_subcommand_from serve agent offer offers install-links config keys doctor mon top pump zeroconf-browser dist-files help" -f -a "doctor" -d 'Check every host in the list: reachable, logged in, host key, server, compilers'
complete -c distfarm -n "__fish_distfarm_using_subcommand help; and not __fish_seen_subcommand_from serve agent offer offers install-links config keys doctor mon top pump zeroconf-browser dist-files help" -f -a "mon" -d 'Show the farm: each host\'s slots, counters and backoff, the queue and the running jobs (from the agent, and from distcc\'s state files)'
complete -c distfarm -n "__fish_distfarm_using_subcommand help; and not __fish_seen_subcommand_from serve agent offer offers install-links config keys doctor mon top pump zeroconf-browser dist-files help" -f -a "top" -d 'The live full-screen monitor (`distfarm mon --live`)'
complete -c distfarm -n "__fish_distfarm_using_subcommand help; and not __fish_seen_subcommand_from serve agent offer offers install-links config keys doctor mon top pump zeroconf-browser dist-files help" -f -a "pump" -d 'Run a build in pump mode, as distcc\'s `pump` does (also as a `pump` link): checks that the host list has `,cpp,lzo` hosts, starts the agent and its include scanner, runs COMMAND. distfarm needs no include server: `,cpp` hosts get pump mode anyway'
complete -c distfarm -n "__fish_distfarm_using_subcommand help; and not __fish_seen_subcommand_from serve agent offer offers install-links config keys doctor mon top pump zeroconf-browser dist-files help" -f -a "zeroconf-browser" -d 'The background mDNS browser behind `+zeroconf` (started by the wrapper when the agent, which browses otherwise, is disabled)'
complete -c distfarm -n "__fish_distfarm_using_subcommand help; and not __fish_seen_subcommand_from serve agent offer offers install-links config keys doctor mon top pump zeroconf-browser dist-files help" -f -a "dist-files" -d 'Write shell completions, man pages and service files into DIR (for packagers)'
complete -c distfarm -n "__fish_distfarm_using_subcommand help; and not __fish_seen_subcommand_from serve agent offer offers install-links config keys doctor mon top pump zeroconf-browser dist-files help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c distfarm -n "__fish_distfarm_using_subcommand help; and __fish_seen_subcommand_from offers" -f -a "hold" -d 'Record an offer for this user while stdin stays open'

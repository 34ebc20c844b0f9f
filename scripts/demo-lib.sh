# shellcheck shell=bash
# The steps of scripts/demo, one function each, sourced by it (and run by tests/demo.rs with a
# tiny project). Everything the demo makes lives in one temp dir, $DEMO_WORK; every process it
# starts carries DISTFARM_DEMO_WORK=$DEMO_WORK in its environment, even those that leave its
# process group (distfarm's agent, the servers behind sshd), and sshd's per-connection
# processes are the listener's descendants, so demo_cleanup finds and stops exactly those,
# and nothing else, however the demo ends (not after a SIGKILL, which no script survives).
#
# Knobs (all optional):
#   DEMO_DISTFARM=path    use this distfarm binary instead of building the release one
#   DEMO_PROJECT=dir      compile dir/*.c instead of Lua 5.4's library
#   DEMO_CFLAGS="…"       flags for DEMO_PROJECT (default -O2)
#   DEMO_SMALL_JOBS=n     sequential one-function compiles timed per way (default 10)
#   DEMO_NO_INSTALL=1     never install missing packages; fail with the command instead

DEMO_JOBS=4
DEMO_WORK=""
DEMO_BG=()    # background subshells of this shell (they have no marker of their own)
DEMO_WAYS=()  # the ways that ran, in order
declare -A DEMO_HOSTS DEMO_WALL DEMO_PER_JOB DEMO_SAME

demo_say() { printf '==> %s\n' "$*"; }
demo_note() { printf '    %s\n' "$*"; }
demo_fail() { printf 'demo: %s\n' "$*" >&2; exit 1; }

# $EPOCHREALTIME, with a dot whatever the locale's decimal separator.
demo_now() { local t=$EPOCHREALTIME; printf '%s' "${t/,/.}"; }

# demo_ms START END → whole milliseconds between two demo_now values.
demo_ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%d", (b - a) * 1000 + 0.5 }'; }

# 1234 → "1.23 s"; 87 → "87 ms".
demo_human_ms() {
  awk -v ms="$1" 'BEGIN { if (ms >= 1000) printf "%.2f s", ms / 1000; else printf "%d ms", ms }'
}

# Installs OpenSSH's server and client when missing, as scripts/test does: with sudo unless
# already root, and only for that (everything else runs as the invoking user).
demo_require_programs() {
  local need=()
  [ -x /usr/sbin/sshd ] || need+=(openssh-server)
  { command -v ssh && command -v ssh-keygen; } >/dev/null 2>&1 || need+=(openssh-client)
  command -v gcc >/dev/null 2>&1 || need+=(gcc)
  [ ${#need[@]} -eq 0 ] && return 0
  if [ "${DEMO_NO_INSTALL:-0}" = 1 ]; then
    demo_fail "missing ${need[*]}; install with: sudo apt-get install -y ${need[*]}"
  fi
  demo_say "installing ${need[*]} (the demo runs a private sshd on 127.0.0.1)"
  local sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq || true
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
}

# Sets DEMO_BIN: the given binary, or a release build with cargo's own progress on screen.
demo_build_distfarm() {
  if [ -n "${DEMO_DISTFARM:-}" ]; then
    DEMO_BIN=$(realpath "$DEMO_DISTFARM")
    [ -x "$DEMO_BIN" ] || demo_fail "DEMO_DISTFARM=$DEMO_DISTFARM is not an executable"
    demo_say "using $DEMO_BIN"
    return 0
  fi
  demo_say "building distfarm (release; a few minutes the first time, cargo shows its progress)"
  cargo build --release --locked
  DEMO_BIN=$PWD/target/release/distfarm
}

# Sets DEMO_SRC (a directory), DEMO_SOURCES (its .c files to compile), DEMO_FLAGS and
# DEMO_PROJECT_NAME.
demo_find_project() {
  if [ -n "${DEMO_PROJECT:-}" ]; then
    DEMO_SRC=$(realpath "$DEMO_PROJECT")
    DEMO_PROJECT_NAME=$(basename "$DEMO_SRC")
    read -r -a DEMO_FLAGS <<<"${DEMO_CFLAGS:--O2}"
    mapfile -t DEMO_SOURCES < <(cd "$DEMO_SRC" && printf '%s\n' *.c)
  else
    demo_say "locating Lua 5.4's sources (the lua-src crate; cargo fetches it if needed)"
    local host version manifest
    host=$(rustc -vV | sed -n 's/^host: //p')
    # Only this platform's crates: a fresh clone need not download Windows' too.
    cargo fetch --locked --target "$host"
    version=$(awk '$0 == "name = \"lua-src\"" { getline; print $3 }' Cargo.lock | tr -d '"')
    DEMO_SRC=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/"lua-src-$version"/lua-5.4.* \
      2>/dev/null | head -1)
    if [ -z "$DEMO_SRC" ]; then
      # Elsewhere (a vendored or relocated registry): ask cargo, no JSON tool needed.
      manifest=$(cargo metadata --format-version 1 --locked --filter-platform "$host" 2>/dev/null |
        grep -o '"manifest_path":"[^"]*/lua-src-[^"/]*/Cargo.toml"' | head -1 | cut -d'"' -f4)
      [ -n "$manifest" ] || demo_fail "cargo metadata does not list lua-src"
      DEMO_SRC=$(ls -d "$(dirname "$manifest")"/lua-5.4.* | head -1)
    fi
    DEMO_PROJECT_NAME="Lua $(basename "$DEMO_SRC" | sed 's/^lua-//')"
    DEMO_FLAGS=(-O2 -std=gnu99 -DLUA_COMPAT_5_3 -DLUA_USE_LINUX)
    # The library only, as Lua's makefile builds it: lua.c and luac.c are the programs.
    mapfile -t DEMO_SOURCES < <(cd "$DEMO_SRC" && printf '%s\n' *.c | grep -v -x -e lua.c -e luac.c)
  fi
  [ ${#DEMO_SOURCES[@]} -gt 0 ] || demo_fail "no .c files in $DEMO_SRC"
  demo_note "$DEMO_PROJECT_NAME: ${#DEMO_SOURCES[@]} files, ${DEMO_FLAGS[*]}"
}

# Makes $DEMO_WORK and arms the traps that undo everything from here on.
demo_make_work() {
  local base=${TMPDIR:-/tmp}
  # The agent's socket goes under the work dir; a long path would move it to /tmp.
  [ ${#base} -le 40 ] || base=/tmp
  DEMO_WORK=$(mktemp -d "$base/distfarm-demo.XXXXXX")
  export DISTFARM_DEMO_WORK=$DEMO_WORK
  trap demo_cleanup EXIT
  trap 'demo_on_signal INT' INT
  trap 'demo_on_signal TERM' TERM
  trap 'demo_on_signal HUP' HUP
  # Run as root, distccd drops to an unprivileged user: it must reach tmp/.
  chmod 755 "$DEMO_WORK"
  mkdir -p "$DEMO_WORK"/{src,small,out,bin,remote-bin,tmp}
  chmod 1777 "$DEMO_WORK/tmp"
  cp "$DEMO_SRC"/*.c "$DEMO_WORK/src/"
  cp "$DEMO_SRC"/*.h "$DEMO_WORK/src/" 2>/dev/null || true
  local i
  for ((i = 0; i < ${DEMO_SMALL_JOBS:-10}; i++)); do
    printf 'int f%d(int x) { return x * %d + 1; }\n' "$i" "$i" >"$DEMO_WORK/small/f$i.c"
  done
  demo_say "working in $DEMO_WORK (removed at the end, also on Ctrl-C)"
}

demo_on_signal() {
  trap - INT TERM HUP
  printf '\n==> interrupted (%s): stopping everything the demo started\n' "$1" >&2
  demo_cleanup
  trap - EXIT
  [ "$1" = INT ] && exit 130
  exit 143
}

# The pids of every process that carries this demo's marker (never this shell: its environment
# is the one it was started with). Root sees everyone's; others see their own, which is all
# the demo starts. grep itself runs without the marker: the glob may list its own pid.
demo_marked_pids() {
  local file
  env -u DISTFARM_DEMO_WORK grep -l -z -x -F "DISTFARM_DEMO_WORK=$DEMO_WORK" \
    /proc/[0-9]*/environ 2>/dev/null | while read -r file; do
    file=${file#/proc/}
    echo "${file%/environ}"
  done
}

# demo_descendants PID…: every process below these (by parent pid, read from /proc).
demo_descendants() {
  local stat line pid ppid rest
  local -A children=()
  for stat in /proc/[0-9]*/stat; do
    { read -r line <"$stat"; } 2>/dev/null || continue
    pid=${line%% *}
    rest=${line##*) } # after the command name, which may hold spaces
    read -r _ ppid _ <<<"$rest"
    children[$ppid]+=" $pid"
  done
  local -a queue=("$@")
  while [ ${#queue[@]} -gt 0 ]; do
    pid=${queue[0]}
    queue=("${queue[@]:1}")
    for ppid in ${children[$pid]:-}; do
      echo "$ppid"
      queue+=("$ppid")
    done
  done
}

# Stops every marked process, and sshd's per-connection processes (they rewrite their
# environment area for their process title, so they carry no marker that can be read):
# TERM, then KILL after 5 s; then the background subshells; then removes the work dir.
# Safe to run twice.
demo_cleanup() {
  [ -n "$DEMO_WORK" ] || return 0
  set +e
  local pids tree="" tries=0 pid
  [ -n "${DEMO_SSHD_PID:-}" ] && tree="$DEMO_SSHD_PID $(demo_descendants "$DEMO_SSHD_PID")"
  # shellcheck disable=SC2086 # lists of pids
  {
    pids="$(demo_marked_pids) $tree"
    while [ -n "${pids// /}" ] && [ $tries -lt 50 ]; do
      kill -TERM $pids 2>/dev/null
      sleep 0.1
      tries=$((tries + 1))
      pids=$(demo_marked_pids)
      for pid in $tree; do kill -0 "$pid" 2>/dev/null && pids+=" $pid"; done
    done
    [ -n "${pids// /}" ] && kill -KILL $pids 2>/dev/null
  }
  [ ${#DEMO_BG[@]} -gt 0 ] && kill "${DEMO_BG[@]}" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$DEMO_WORK"
  DEMO_WORK=""
  demo_say "stopped what the demo started and removed its files"
}

# A port for a server of the demo, below the kernel's ephemeral range: ports that other
# programs are handed for their own servers (bind to port 0) and outgoing connections.
demo_random_port() {
  local low=32768
  { read -r low _ </proc/sys/net/ipv4/ip_local_port_range; } 2>/dev/null || true
  [ "$low" -gt 12000 ] || low=32768
  echo $((10000 + RANDOM % (low - 10000)))
}

# A private OpenSSH sshd on 127.0.0.1, running as this user, with throwaway host and user
# keys; its sessions find distfarm as `distccd` first on PATH, like a build server that has
# distfarm installed. Writes ssh/ssh_config (`Host demo-host`) and bin/ssh (for DISTCC_SSH).
# Nothing in ~/.ssh is read or written.
demo_start_sshd() {
  demo_say "starting a private sshd on 127.0.0.1 (throwaway keys; ~/.ssh untouched)"
  local ssh=$DEMO_WORK/ssh user port pid
  mkdir -m 700 "$ssh"
  ssh-keygen -q -t ed25519 -N '' -C demo-host-key -f "$ssh/host_key"
  ssh-keygen -q -t ed25519 -N '' -C demo-user-key -f "$ssh/user_key"
  cp "$ssh/user_key.pub" "$ssh/authorized_keys"
  ln -s "$DEMO_BIN" "$DEMO_WORK/remote-bin/distccd"
  printf '#!/bin/sh\n# distcc runs this for @demo-host (DISTCC_SSH).\nexec ssh -F %s "$@"\n' \
    "$ssh/ssh_config" >"$DEMO_WORK/bin/ssh"
  chmod +x "$DEMO_WORK/bin/ssh"
  user=$(id -un)
  # Root's sshd insists on its privilege separation directory; a user's sshd does not use it.
  [ "$(id -u)" -ne 0 ] || mkdir -p -m 0755 /run/sshd
  for _ in 1 2 3 4 5; do
    port=$(demo_random_port)
    cat >"$ssh/sshd_config" <<EOF
Port $port
ListenAddress 127.0.0.1
HostKey $ssh/host_key
AuthorizedKeysFile $ssh/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
PidFile none
PrintMotd no
MaxSessions 64
MaxStartups 64
SetEnv PATH=$DEMO_WORK/remote-bin:/usr/local/bin:/usr/bin:/bin TMPDIR=$DEMO_WORK/tmp DISTFARM_DEMO_WORK=$DEMO_WORK
EOF
    cat >"$ssh/ssh_config" <<EOF
Host demo-host
    HostName 127.0.0.1
    Port $port
    User $user
    IdentityFile $ssh/user_key
    IdentitiesOnly yes
    UserKnownHostsFile $ssh/known_hosts
    GlobalKnownHostsFile /dev/null
    StrictHostKeyChecking yes
    BatchMode yes
    ConnectTimeout 10
    LogLevel ERROR
EOF
    echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$ssh/host_key.pub")" >"$ssh/known_hosts"
    /usr/sbin/sshd -D -e -f "$ssh/sshd_config" 2>"$ssh/sshd.log" &
    pid=$!
    DEMO_BG+=("$pid")
    DEMO_SSHD_PID=$pid
    local deadline=$((SECONDS + 30))
    while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do
      if ssh -F "$ssh/ssh_config" -o ConnectTimeout=5 demo-host true 2>/dev/null </dev/null; then
        DEMO_SSH_PORT=$port
        demo_note "sshd on 127.0.0.1:$port as $user; ssh config: $ssh/ssh_config (Host demo-host)"
        return 0
      fi
      sleep 0.1
    done
    grep -q 'Address already in use' "$ssh/sshd.log" && continue
    demo_fail "sshd did not let $user log in:
$(cat "$ssh/sshd.log")"
  done
  demo_fail "sshd found no free port in 5 attempts"
}

# distcc 3.4's own daemon on 127.0.0.1, for distcc over TCP. Sets DEMO_DISTCCD_PORT.
demo_start_distccd() {
  local port pid deadline
  for _ in 1 2 3 4 5; do
    port=$(demo_random_port)
    TMPDIR=$DEMO_WORK/tmp distccd --daemon --no-detach --listen 127.0.0.1 -p "$port" \
      --allow 127.0.0.1 --jobs "$DEMO_JOBS" --log-stderr 2>"$DEMO_WORK/distccd.log" &
    pid=$!
    DEMO_BG+=("$pid")
    deadline=$((SECONDS + 10))
    while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do
      # Something answers; still ours only if distccd did not exit for want of the port.
      if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && sleep 0.2 && kill -0 "$pid"; then
        DEMO_DISTCCD_PORT=$port
        demo_note "distccd on 127.0.0.1:$port"
        return 0
      fi
      sleep 0.1
    done
    kill "$pid" 2>/dev/null || true
  done
  demo_fail "distccd did not start:
$(cat "$DEMO_WORK/distccd.log")"
}

# demo_way_command WAY → the compiler command of one way, one word a line.
demo_way_command() {
  local w=$DEMO_WORK
  case $1 in
  local) echo gcc ;;
  distfarm-ssh)
    # A private agent (its socket is under DISTCC_DIR); it would idle-exit, but the demo
    # stops it itself. No fallback: a job that is not compiled remotely fails.
    printf '%s\n' env DISTCC_HOSTS="${DEMO_HOSTS[$1]}" DISTFARM_SSH_CONFIG="$w/ssh/ssh_config" \
      DISTCC_DIR="$w/dir-$1" DISTFARM_AGENT_IDLE=120 DISTCC_FALLBACK=0 TMPDIR="$w/tmp" \
      "$DEMO_BIN" gcc
    ;;
  distcc-tcp | distcc-ssh)
    printf '%s\n' env DISTCC_HOSTS="${DEMO_HOSTS[$1]}" DISTCC_SSH="$w/bin/ssh" \
      DISTCC_DIR="$w/dir-$1" DISTCC_FALLBACK=0 DISTCC_SKIP_LOCAL_RETRY=1 TMPDIR="$w/tmp" \
      distcc gcc
    ;;
  esac
}

# demo_run_batch WAY KIND PARALLEL: compiles KIND (project or small) in the background with
# PARALLEL jobs, showing a count of finished files; leaves the wall time in ms in
# $DEMO_BATCH_MS. Fails with the compilers' messages if any file failed.
demo_run_batch() {
  local way=$1 kind=$2 parallel=$3 dir out log total pid rc done_count=0 shown=-1
  local -a cmd files
  mapfile -t cmd < <(demo_way_command "$way")
  if [ "$kind" = project ]; then
    dir=$DEMO_WORK/src
    files=("${DEMO_SOURCES[@]}")
  else
    dir=$DEMO_WORK/small
    mapfile -t files < <(cd "$dir" && printf '%s\n' *.c)
  fi
  out=$DEMO_WORK/out/$way-$kind
  log=$DEMO_WORK/out/$way-$kind.log
  # distcc does not create its DISTCC_DIR.
  mkdir -p "$out" "$DEMO_WORK/dir-$way"
  : >"$out.done"
  total=${#files[@]}
  # Each finished file prints its name; the time is taken inside, so polling costs nothing.
  (
    start=$(demo_now)
    rc=0
    cd "$dir" && printf '%s\n' "${files[@]}" |
      xargs -P "$parallel" -I{} sh -c 'src=$0 to=$1; shift; "$@" -c "$src" -o "$to/$src.o" && echo "$src"' \
        {} "$out" \
        "${cmd[@]}" "${DEMO_FLAGS[@]}" >"$out.done" 2>"$log" || rc=$?
    demo_ms "$start" "$(demo_now)" >"$out.ms"
    exit "$rc"
  ) &
  pid=$!
  DEMO_BG+=("$pid")
  while kill -0 "$pid" 2>/dev/null; do
    done_count=$(wc -l <"$out.done")
    if [ -t 1 ] && [ "$done_count" != "$shown" ]; then
      printf '\r    %d/%d files compiled' "$done_count" "$total"
      shown=$done_count
    fi
    sleep 0.2
  done
  rc=0
  wait "$pid" || rc=$?
  done_count=$(wc -l <"$out.done")
  DEMO_BATCH_MS=$(cat "$out.ms")
  [ -t 1 ] && printf '\r'
  demo_note "$done_count/$total files compiled in $(demo_human_ms "$DEMO_BATCH_MS")"
  if [ "$rc" -ne 0 ] || [ "$done_count" -ne "$total" ]; then
    sed 's/^/    | /' "$log" | head -20
    demo_fail "$(demo_label "$way"): $((total - done_count)) of $total files failed"
  fi
}

demo_label() {
  case $1 in
  local) echo "local gcc" ;;
  distfarm-ssh) echo "distfarm over SSH" ;;
  distcc-tcp) echo "distcc over TCP" ;;
  distcc-ssh) echo "distcc over SSH" ;;
  esac
}

# demo_check_objects WAY: each object against the local build's; sets DEMO_SAME[WAY].
demo_check_objects() {
  local way=$1 src obj same=0
  for src in "${DEMO_SOURCES[@]}"; do
    obj=$src.o
    if cmp -s "$DEMO_WORK/out/$way-project/$obj" "$DEMO_WORK/out/local-project/$obj"; then
      same=$((same + 1))
    else
      demo_note "DIFFERENT from local: ${src%.c}.o"
    fi
  done
  DEMO_SAME[$way]=$same
  demo_note "$same of ${#DEMO_SOURCES[@]} objects are byte-identical to local gcc -c"
  [ "$same" -eq "${#DEMO_SOURCES[@]}" ] || demo_fail "$(demo_label "$way") made different objects"
}

# demo_way WAY HOSTS: the project with -j4, checked against local, then the small compiles
# one after another for the cost of one job.
demo_way() {
  local way=$1 small=${DEMO_SMALL_JOBS:-10}
  DEMO_HOSTS[$way]=$2
  DEMO_WAYS+=("$way")
  if [ "$way" = local ]; then
    demo_say "local gcc: $DEMO_PROJECT_NAME with -j$DEMO_JOBS (the reference objects and times)"
  else
    demo_say "$(demo_label "$way"): DISTCC_HOSTS=\"$2\", $DEMO_PROJECT_NAME with -j$DEMO_JOBS"
  fi
  demo_run_batch "$way" project "$DEMO_JOBS"
  DEMO_WALL[$way]=$DEMO_BATCH_MS
  if [ "$way" = local ]; then
    DEMO_SAME[$way]=${#DEMO_SOURCES[@]}
  else
    demo_check_objects "$way"
  fi
  demo_say "$(demo_label "$way"): $small one-function files, one after another"
  demo_run_batch "$way" small 1
  DEMO_PER_JOB[$way]=$((DEMO_BATCH_MS / small))
}

# Says what answered on demo-host, from the agent's log: distfarm's session server (one SSH
# connection, a channel per job) unless the host's login shell put some other distccd before
# distfarm on PATH (then each job ran its own process there, as with distcc).
demo_check_session() {
  local log=$DEMO_WORK/dir-distfarm-ssh/agent/agent.log
  if grep -q 'distfarm session server' "$log" 2>/dev/null; then
    demo_note "the agent kept one SSH connection to demo-host, each job a channel on it"
  elif grep -q 'is not distfarm' "$log" 2>/dev/null; then
    demo_note "note: demo-host's login shell found another distccd before distfarm on PATH"
  fi
}

demo_columns() {
  local cols=80
  if [ -t 1 ]; then cols=$(tput cols 2>/dev/null || echo 80); fi
  [[ $cols =~ ^[0-9]+$ ]] || cols=80
  [ "$cols" -gt 120 ] && cols=120
  [ "$cols" -lt 50 ] && cols=50
  echo "$cols"
}

# The side-by-side table.
demo_table() {
  local way n=${#DEMO_SOURCES[@]}
  demo_say "side by side ($DEMO_PROJECT_NAME, $n files, -j$DEMO_JOBS; one-function file, sequential)"
  printf '    %-18s %-32s %9s %9s  %s\n' way DISTCC_HOSTS "-j$DEMO_JOBS wall" "per job" identical
  for way in "${DEMO_WAYS[@]}"; do
    printf '    %-18s %-32s %9s %9s  %s\n' "$(demo_label "$way")" "${DEMO_HOSTS[$way]:--}" \
      "$(demo_human_ms "${DEMO_WALL[$way]}")" "$(demo_human_ms "${DEMO_PER_JOB[$way]}")" \
      "$([ "$way" = local ] && echo reference || echo "${DEMO_SAME[$way]}/$n")"
  done
  demo_note "(distfarm's -j$DEMO_JOBS time includes starting its agent and its one SSH login; later"
  demo_note " builds reuse both.$([ -n "${DEMO_WALL[distcc-ssh]:-}" ] &&
    echo " distcc over SSH starts an ssh, and a distccd there, per job."))"
}

# demo_bars TITLE ARRAY-NAME: one bar per way, in eighths of a block, scaled to the terminal.
demo_bars() {
  local title=$1 way width
  local -n values=$2
  width=$(($(demo_columns) - 36))
  printf '\n    %s\n' "$title"
  for way in "${DEMO_WAYS[@]}"; do
    printf '%s\t%s\n' "$(demo_label "$way")" "${values[$way]}"
  done | awk -F'\t' -v width="$width" '
    { label[NR] = $1; ms[NR] = $2; if ($2 > max) max = $2 }
    END {
      split("▏ ▎ ▍ ▌ ▋ ▊ ▉", part, " ")
      for (i = 1; i <= NR; i++) {
        eighths = max > 0 ? int(ms[i] / max * width * 8 + 0.5) : 0
        if (eighths < 1) eighths = 1
        bar = ""
        for (j = 0; j < int(eighths / 8); j++) bar = bar "█"
        if (eighths % 8) bar = bar part[eighths % 8]
        shown = ms[i] >= 1000 ? sprintf("%.2f s", ms[i] / 1000) : sprintf("%d ms", ms[i])
        printf "    %-18s %s %s\n", label[i], bar, shown
      }
    }'
}

demo_chart() {
  demo_bars "$DEMO_PROJECT_NAME, -j$DEMO_JOBS, wall time" DEMO_WALL
  demo_bars "one small compile, per job" DEMO_PER_JOB
  echo
}

# The whole demo, in order.
demo_main() {
  demo_require_programs
  demo_build_distfarm
  demo_find_project
  demo_make_work
  demo_start_sshd
  demo_way local ""
  demo_way distfarm-ssh "@demo-host/$DEMO_JOBS"
  demo_check_session
  if command -v distcc >/dev/null 2>&1 && command -v distccd >/dev/null 2>&1; then
    demo_say "distcc 3.4 for comparison: its distccd on 127.0.0.1, and over SSH to demo-host"
    demo_start_distccd
    demo_way distcc-tcp "127.0.0.1:$DEMO_DISTCCD_PORT/$DEMO_JOBS"
    # The real distccd, named: on demo-host's PATH `distccd` is distfarm.
    demo_way distcc-ssh "@demo-host/$DEMO_JOBS:$(command -v distccd)"
  else
    demo_say "distcc is not installed: no comparison with it (apt-get install distcc to see one)"
  fi
  demo_table
  demo_chart
}

# shellcheck shell=bash
# The set-up a fresh Debian or Ubuntu machine needs before tokenbot builds, runs and tests:
# sourced by scripts/run (the README's two commands) and by .ci/run, so both do the same.
#
#   setup_machine    installs what is missing in one apt-get call (a C compiler for the crates
#                    that build C, Postgres, nats-server; curl for rustup), installs Rust with
#                    rustup when there is no cargo, then starts Postgres (127.0.0.1:5432, trust
#                    auth for 127.0.0.1) and NATS with JetStream (127.0.0.1:4222) unless
#                    something already answers there.
#
# Settings (environment):
#   SETUP_DRY_RUN=1     print every command that would change the machine, run none of them
#   SETUP_PG_PORT, SETUP_NATS_PORT
#                       where to look for running servers (5432, 4222)
#   SETUP_SERVER_DIRS   directories searched after PATH for the server binaries (default: the
#                       newest /usr/lib/postgresql/*/bin, where Debian keeps Postgres' tools off
#                       PATH, and /usr/sbin, Debian's nats-server); empty: PATH only
# Other systems: see README.md, "On a fresh machine".

SETUP_DRY_RUN=${SETUP_DRY_RUN:-0}
SETUP_PG_PORT=${SETUP_PG_PORT:-5432}
SETUP_NATS_PORT=${SETUP_NATS_PORT:-4222}
if [ -z "${SETUP_SERVER_DIRS+set}" ]; then
  SETUP_SERVER_DIRS="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1) /usr/sbin"
fi
# The toolchain the workspace needs (Cargo.toml: rust-version).
SETUP_RUST_VERSION=1.95

setup_log() { echo "setup: $*" >&2; }

# Runs a command that changes the machine, as root (through sudo when not root), or only prints
# it in a dry run.
setup_do() {
  local prefix=()
  if [ "$(id -u)" != 0 ]; then prefix=(sudo); fi
  if [ "$SETUP_DRY_RUN" = 1 ]; then
    setup_log "would run: ${prefix[*]}${prefix:+ }$*"
    return 0
  fi
  if [ ${#prefix[@]} -gt 0 ] && ! command -v sudo >/dev/null; then
    setup_log "needs root for: $* (run as root, or install sudo)"
    return 1
  fi
  "${prefix[@]}" "$@"
}

# The binary `name`: on PATH, else in SETUP_SERVER_DIRS.
setup_find() {
  local name=$1 dir
  if command -v "$name" 2>/dev/null; then return 0; fi
  for dir in $SETUP_SERVER_DIRS; do
    if [ -x "$dir/$name" ]; then
      echo "$dir/$name"
      return 0
    fi
  done
  return 1
}

setup_answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Bounded wait: up to 60 tries, 0.5 s apart.
setup_wait_for() { # setup_wait_for <what> <command...>
  local what=$1
  shift
  for _ in $(seq 1 60); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  setup_log "$what did not come up within 30 s"
  return 1
}

# The Debian packages this machine lacks, one per line.
setup_missing_packages() {
  command -v cc >/dev/null || echo gcc libc6-dev
  if ! command -v cargo >/dev/null && ! command -v curl >/dev/null; then echo curl ca-certificates; fi
  if ! setup_answers "$SETUP_PG_PORT" && ! setup_find postgres >/dev/null; then echo postgresql; fi
  if ! setup_answers "$SETUP_NATS_PORT" && ! setup_find nats-server >/dev/null; then echo nats-server; fi
}

setup_packages() {
  local packages
  packages=$(setup_missing_packages | tr '\n' ' ' | sed 's/ *$//')
  if [ -z "$packages" ]; then return 0; fi
  if ! command -v apt-get >/dev/null; then
    setup_log "this is not Debian or Ubuntu (no apt-get): install by hand what this needs: $packages (see README.md)"
    return 1
  fi
  setup_log "installing $packages"
  # shellcheck disable=SC2086 # one word per package
  setup_apt_install $packages
}

setup_apt_updated=0
# apt-get install, after one apt-get update per run.
setup_apt_install() {
  if [ "$setup_apt_updated" = 0 ]; then
    setup_do apt-get update -qq
    setup_apt_updated=1
  fi
  setup_do env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" </dev/null
}

setup_rust() {
  if [ -f "$HOME/.cargo/env" ]; then
    # shellcheck source=/dev/null
    source "$HOME/.cargo/env"
  fi
  if command -v cargo >/dev/null; then return 0; fi
  setup_log "installing Rust $SETUP_RUST_VERSION with rustup (for this user, in ~/.cargo)"
  if [ "$SETUP_DRY_RUN" = 1 ]; then
    setup_log "would run: curl --proto =https --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile default --default-toolchain $SETUP_RUST_VERSION"
    return 0
  fi
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs \
    | sh -s -- -y --profile default --default-toolchain "$SETUP_RUST_VERSION"
  # shellcheck source=/dev/null
  source "$HOME/.cargo/env"
}

setup_pg_trust() {
  psql -h 127.0.0.1 -p "$SETUP_PG_PORT" -U postgres -d postgres -w -tAc 'select 1' </dev/null
}

setup_postgres() {
  if setup_answers "$SETUP_PG_PORT"; then
    setup_log "postgres answers on 127.0.0.1:$SETUP_PG_PORT"
  else
    local version
    version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -1 || true)
    if [ -z "$version" ]; then
      # Installed without a cluster (e.g. create_main_cluster = false): make one.
      version=$(ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -1 || true)
      setup_log "creating cluster ${version:-<newest>}/main"
      setup_do pg_createcluster "${version:-<newest>}" main >/dev/null
    fi
    setup_log "starting postgresql ${version:-<newest>}/main"
    # Fails when the package's postinst already started it; the wait below decides.
    setup_do pg_ctlcluster --skip-systemctl-redirect "${version:-<newest>}" main start || true
    if [ "$SETUP_DRY_RUN" = 1 ]; then return 0; fi
    setup_wait_for postgres setup_answers "$SETUP_PG_PORT"
  fi
  if [ "$SETUP_DRY_RUN" != 1 ] && ! setup_pg_trust >/dev/null 2>&1; then
    setup_log "allowing trust auth for 127.0.0.1 in pg_hba.conf (the tests connect as postgres without a password)"
    local hba
    # As the postgres user over the Unix socket (peer auth), which Debian allows by default.
    hba=$(cd / && setup_do runuser -u postgres -- psql -p "$SETUP_PG_PORT" -tAc 'show hba_file' </dev/null)
    setup_do sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
    (cd / && setup_do runuser -u postgres -- psql -p "$SETUP_PG_PORT" -tAc 'select pg_reload_conf()' </dev/null) >/dev/null
    setup_wait_for "postgres trust auth" setup_pg_trust
  fi
}

setup_nats() {
  if setup_answers "$SETUP_NATS_PORT"; then
    setup_log "nats answers on 127.0.0.1:$SETUP_NATS_PORT"
    return 0
  fi
  local bin
  bin=$(setup_find nats-server || echo /usr/sbin/nats-server)
  setup_log "starting nats-server with JetStream"
  setup_do mkdir -p /var/lib/nats-server
  # The pid file makes --oknodo look at this server only, not at any other nats-server.
  setup_do start-stop-daemon --start --oknodo --background \
    --make-pidfile --pidfile /run/nats-server-tokenbot.pid --exec "$bin" -- \
    -a 127.0.0.1 -p "$SETUP_NATS_PORT" -js -sd /var/lib/nats-server -l /var/log/nats-server.log
  if [ "$SETUP_DRY_RUN" = 1 ]; then return 0; fi
  setup_wait_for nats setup_answers "$SETUP_NATS_PORT"
}

setup_machine() {
  setup_packages
  setup_rust
  setup_postgres
  setup_nats
}

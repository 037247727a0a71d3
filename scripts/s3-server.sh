#!/usr/bin/env bash
# s3-server.sh -- a throwaway, real S3 server for tests: a single-node Ceph cluster (one monitor,
# one OSD, no manager) with a RADOS Gateway in front, built from Debian's own packages.
#
#   scripts/s3-server.sh start [--bluestore] [--random-keys] DIR PORT [BUCKET]
#       Builds the cluster under DIR (config, data, logs, sockets, pid files: nothing outside it)
#       and serves S3 on http://127.0.0.1:PORT. Once a SigV4-signed request succeeds (and BUCKET,
#       if given, exists) it prints ONE line on stdout and exits 0; the daemons keep running:
#           endpoint=http://127.0.0.1:PORT access_key=... secret_key=...
#       It also writes DIR/env (S3_ENDPOINT=, S3_ACCESS_KEY=, S3_SECRET_KEY=, and S3_BUCKET= when
#       a bucket was given) for `source`. Progress and errors go to stderr. Starting a DIR that
#       is already up just prints its line again; a stale DIR made by this script is rebuilt.
#       --bluestore    OSD on BlueStore over a sparse file in DIR instead of memstore (RAM):
#                      for suites that write many GB. DIR must not be on tmpfs (O_DIRECT).
#       --random-keys  random access/secret keys instead of the fixed test ones.
#   scripts/s3-server.sh stop DIR
#       SIGKILLs exactly the processes started for DIR, waits until they are gone, removes DIR.
#
# Environment (optional): S3_ACCESS_KEY / S3_SECRET_KEY (the keys to create), S3_START_TIMEOUT
# (seconds, default 60), S3_STORE_BYTES (OSD capacity; memstore only counts it, BlueStore's file
# is sparse), S3_KEEP_FAILED=1 (keep DIR and its logs after a failed start), S3_PYTHON (the
# interpreter that has python3-rados and python3-botocore; default Debian's /usr/bin/python3).
#
# Requirements: Debian 12 (Ceph 16.2 "Pacific"), root. Missing packages are installed on first
# use: ceph-mon ceph-osd radosgw ceph-common python3-botocore (--no-install-recommends; ceph-mgr
# is not needed by radosgw). No systemd: the daemons are plain processes in their own session,
# and every one of them listens on 127.0.0.1 only. Several clusters can run at once in
# different DIRs with different PORTs (each gets its own fsid, monitor port and pid files);
# keep PORT outside 6800-7300, where the OSDs of other clusters pick their ports.
set -euo pipefail

readonly PACKAGES=(ceph-mon ceph-osd radosgw ceph-common python3-botocore)
# The Debian interpreter: python3-rados and python3-botocore are installed for it, whatever
# python3 comes first in PATH (pyenv, a venv, ...).
readonly PY=${S3_PYTHON:-/usr/bin/python3}
readonly MARKER=.s3-server            # marks a DIR this script made (stop refuses any other)
readonly FIXED_ACCESS_KEY=BERTHS3TESTACCESSKEY
readonly FIXED_SECRET_KEY=berth-s3-test-secret-key-000000000000000
readonly START_TIMEOUT=${S3_START_TIMEOUT:-60}

# Keep the real stdout on fd 3 for the single result line; everything else goes to stderr.
# fd 4 keeps stderr for the exit handler: bash may run a signal trap while the redirections of
# the interrupted command (e.g. 2>DIR/log/setup.log) are still in effect.
exec 3>&1 4>&2 1>&2

T0=$(date +%s%3N)
say() { printf 's3-server: [%5.1fs] %s\n' "$(( $(date +%s%3N) - T0 ))e-3" "$*" >&2; }
die() { echo "s3-server: error: $*" >&2; exit 1; }

# --- python helpers (one program, several subcommands) -----------------------------------------
read -r -d '' HELPER <<'PYEOF' || true
import json, os, secrets, socket, string, subprocess, sys, time

def alive(pid):
    try:
        with open("/proc/%s/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False

def check_pids(pids, deadline, what, last):
    dead = [p for p in pids if not alive(p)]
    if dead:
        sys.exit("%s: daemon pid %s died (last error: %s)" % (what, ",".join(dead), last))
    if time.time() > deadline:
        sys.exit("%s: timed out (last error: %s)" % (what, last))

cmd, args = sys.argv[1], sys.argv[2:]
if cmd == "freeport":            # a port nobody listens on right now (kernel's choice)
    s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])
elif cmd == "portfree":          # exit 0 if 127.0.0.1:PORT can be bound
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try: s.bind(("127.0.0.1", int(args[0])))
    except OSError: sys.exit(1)
elif cmd == "uuid":
    import uuid; print(uuid.uuid4())
elif cmd == "keys":              # random access key (20) and secret key (40), shell-safe
    a = string.ascii_uppercase + string.digits
    print("".join(secrets.choice(a) for _ in range(20)),
          "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(40)))
elif cmd == "spawn":             # spawn LOG CMD...: detached daemon, no inherited fds, prints pid
    log = open(args[0], "ab")
    p = subprocess.Popen(args[1:], stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                         close_fds=True, start_new_session=True)
    print(p.pid)
elif cmd == "setup":             # setup CONF OSD_UUID DEADLINE MON_PID: osd id + rgw pools
    import rados
    conf, osd_uuid, deadline, mon_pid = args[0], args[1], float(args[2]), args[3]
    last = None
    while True:                  # the monitor needs a moment before it accepts clients
        c = rados.Rados(conffile=conf, name="client.admin")
        try:
            c.connect(timeout=3); break
        except Exception as e:
            last = e
        check_pids([mon_pid], deadline, "connect to monitor", last)
        time.sleep(0.1)
    def mon(**kw):
        r, out, err = c.mon_command(json.dumps(kw), b"", timeout=max(1, int(deadline - time.time())))
        if r not in (0, -17):    # -17: already exists
            sys.exit("mon_command %s failed: %d %s" % (kw, r, err))
    mon(prefix="osd new", uuid=osd_uuid, id=0)
    # Created here in one session, 8 PGs each, instead of radosgw creating them one by one.
    for p in (".rgw.root", "default.rgw.control", "default.rgw.meta", "default.rgw.log",
              "default.rgw.buckets.index", "default.rgw.buckets.data",
              "default.rgw.buckets.non-ec"):
        mon(prefix="osd pool create", pool=p, pg_num=8, pgp_num=8)
        mon(prefix="osd pool application enable", pool=p, app="rgw")
    c.shutdown()
elif cmd == "http":              # http URL DEADLINE PID...: wait for any HTTP answer
    import urllib.request, urllib.error
    url, deadline, pids = args[0], float(args[1]), args[2:]
    last = None
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).read(); break
        except urllib.error.HTTPError:
            break                # 403 etc.: the gateway is serving
        except Exception as e:
            last = e
        check_pids(pids, deadline, "waiting for radosgw", last)
        time.sleep(0.1)
elif cmd == "s3":                # s3 ENDPOINT AK SK DEADLINE BUCKET PID...: signed request (+ bucket)
    import botocore.session
    from botocore.config import Config
    endpoint, ak, sk, deadline, bucket, pids = args[0], args[1], args[2], float(args[3]), args[4], args[5:]
    c = botocore.session.get_session().create_client(
        "s3", region_name="us-east-1", endpoint_url=endpoint,
        aws_access_key_id=ak, aws_secret_access_key=sk,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                      retries={"total_max_attempts": 1}, connect_timeout=2, read_timeout=10))
    last = None
    while True:
        try:
            c.list_buckets(); break
        except Exception as e:
            last = e
        check_pids(pids, deadline, "signed S3 request", last)
        time.sleep(0.1)
    if bucket:
        c.create_bucket(Bucket=bucket)   # 200 as well when we already own it
        c.head_bucket(Bucket=bucket)
else:
    sys.exit("unknown helper command " + cmd)
PYEOF
helper() { "$PY" -c "$HELPER" "$@"; }

# --- packages, root -----------------------------------------------------------------------------
missing_packages() {
  local p
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || echo "$p"
  done
}

ensure_packages() {
  [ -z "$(missing_packages)" ] && return 0
  command -v apt-get >/dev/null || die "missing packages ($(missing_packages | xargs)) and no apt-get"
  # One installer at a time when two clusters start together on a fresh machine.
  (
    flock -w 900 9 || die "timed out waiting for another s3-server.sh package install"
    local missing
    missing=$(missing_packages | xargs)
    [ -n "$missing" ] || exit 0
    say "installing $missing (first use only)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 $missing
  ) 9>/var/lock/s3-server-apt.lock
  [ -z "$(missing_packages)" ] || die "could not install: $(missing_packages | xargs)"
  [ -x "$PY" ] || die "$PY not found"
}

require_root() { [ "$(id -u)" = 0 ] || die "must run as root (it installs packages and runs Ceph daemons)"; }

# --- process bookkeeping ------------------------------------------------------------------------
# proc_state PID: the one-letter state of PID ("" if there is no such process)
proc_state() {
  local stat
  { read -r stat < "/proc/$1/stat"; } 2>/dev/null || return 0
  stat=${stat##*) }; echo "${stat%% *}"
}

# uses_conf DIR PID: one of PID's arguments is DIR/ceph.conf (bash builtins only, so that no
# helper process of ours, whose own arguments would contain the path, is ever matched)
uses_conf() {
  local arg args=()
  mapfile -d '' args 2>/dev/null < "/proc/$2/cmdline" || return 1
  for arg in "${args[@]}"; do [ "$arg" = "$1/ceph.conf" ] && return 0; done
  return 1
}

# pid_ours DIR PID: PID is a live process started with DIR's config
pid_ours() {
  local st
  [ -n "$2" ] || return 1
  st=$(proc_state "$2")
  [ -n "$st" ] && [ "$st" != Z ] && uses_conf "$1" "$2"
}

# pid_gone PID: no such process, or only its zombie is left (nobody may reap it in a container)
pid_gone() {
  local st
  st=$(proc_state "$1")
  [ -z "$st" ] || [ "$st" = Z ]
}

any_listed() { # any_listed PID...: one of them still has a process-table entry (maybe a zombie)
  local pid
  for pid in "$@"; do [ -e "/proc/$pid" ] && return 0; done
  return 1
}

daemon_pids() { # the recorded pids of DIR's daemons
  local f
  for f in "$1"/pids/*.pid; do [ -e "$f" ] && cat "$f"; done
  return 0
}

all_alive() {
  local pid n=0
  for pid in $(daemon_pids "$1"); do pid_ours "$1" "$pid" || return 1; n=$((n + 1)); done
  [ "$n" -ge 3 ]
}

spawn() { # spawn DIR NAME CMD...: start a daemon detached (own session, no fds), record its pid
  local dir=$1 name=$2 pid; shift 2
  pid=$(helper spawn "$dir/log/$name.out" "$@")
  echo "$pid" > "$dir/pids/$name.pid"
}

stop_dir() {
  local dir=$1 pid p pids=() i
  if [ ! -d "$dir" ]; then say "$dir: nothing to stop"; return 0; fi
  if [ ! -e "$dir/$MARKER" ]; then
    [ -z "$(ls -A "$dir")" ] && { rmdir "$dir"; return 0; }
    die "refusing to touch $dir: not made by s3-server.sh (no $MARKER)"
  fi
  # The recorded daemons, plus any straggler started with DIR's config
  # (an OSD mkfs or radosgw-admin left by an interrupted start).
  for pid in $(daemon_pids "$dir"); do pid_ours "$dir" "$pid" && pids+=("$pid"); done
  for p in /proc/[0-9]*; do
    pid=${p#/proc/}
    [[ " ${pids[*]} " == *" $pid "* ]] && continue
    [ "$pid" != $$ ] && uses_conf "$dir" "$pid" && pids+=("$pid")
  done
  # SIGKILL, not SIGTERM: radosgw ignores SIGTERM for ~5 s, and a memstore OSD writes its whole
  # RAM store into DIR on a clean shutdown; the data is thrown away anyway.
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  # Wait until they are really dead: a dying OSD with GBs of memstore takes a while to free its
  # memory and its ports (its cmdline reads empty meanwhile, so wait on the pid itself).
  for pid in "${pids[@]}"; do
    for i in $(seq 1 600); do pid_gone "$pid" && break; sleep 0.05; done
    pid_gone "$pid" || echo "s3-server: warning: pid $pid still exiting after 30 s" >&2
  done
  # The daemons were orphaned to PID 1, which may reap its zombies lazily (about 1 s in some
  # containers): give it a few seconds so that pgrep shows nothing right after a stop.
  for i in $(seq 1 100); do any_listed "${pids[@]}" || break; sleep 0.05; done
  rm -rf "$dir"
  say "stopped ${#pids[@]} process(es), removed $dir"
}

# --- configuration ------------------------------------------------------------------------------
write_conf() { # write_conf DIR PORT MON_PORT FSID STORE BYTES
  local d=$1 port=$2 monport=$3 fsid=$4 store=$5 bytes=$6 pmin=6800 pmax=7300
  # OSD messengers take ports from [pmin, pmax]: keep the gateway's port out of that range.
  if [ "$port" -ge "$pmin" ] && [ "$port" -le "$pmax" ]; then pmin=7301; pmax=7800; fi
  cat > "$d/ceph.conf" <<EOF
# written by s3-server.sh; a throwaway single-node cluster
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$monport
mon initial members = a
# loopback only, msgr v2 only
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv6 = false
ms bind msgr1 = false
ms bind port min = $pmin
ms bind port max = $pmax
# no cephx. radosgw's monitor link defaults to "secure" mode, which auth "none" cannot give:
# without crc it retries "get_initial_auth_request returned -13" forever.
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc secure
# everything under DIR
run dir = $d/run
admin socket = $d/run/\$name.asok
pid file = $d/run/\$name.pid
log file = $d/log/\$name.log
crash dir = $d/crash
# one OSD: no replication, few PGs, no placement by host
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
# paxos defaults make every osdmap change (pool create, OSD boot) wait ~1 s: 14 s for the pools
paxos propose interval = 0.05
paxos min wait = 0.01

[mon]
mon data = $d/mon/\$id

[osd]
osd data = $d/osd/\$id
osd objectstore = $store
osd crush update on start = true
osd op num shards = 2
osd op num threads per shard = 1
memstore device bytes = $bytes
# (not DIR/osd/N/block: mkfs makes that a symlink to this path)
bluestore block path = $d/osd/\$id/block.file
bluestore block create = true
bluestore block size = $bytes
bluestore fsck on mount = false
osd memory target = 1073741824

[client]
# librados looks for a newer osdmap every 5 s by default: radosgw's first request would stall
# until then after the OSD boots
objecter tick interval = 0.2
# reclaim the RADOS data of deleted objects within seconds, not after 2 h (memstore is RAM)
rgw gc obj min wait = 5
rgw gc processor period = 10
rgw gc processor max time = 10

[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$port
rgw data = $d/rgw
rgw thread pool size = 64
rgw enable usage log = false
rgw init timeout = $START_TIMEOUT
EOF
}

# --- start --------------------------------------------------------------------------------------
STARTING=   # the DIR being built; on a failed exit its logs are shown and it is torn down

dump_logs() {
  local f
  for f in "$1"/log/*; do
    [ -s "$f" ] || continue
    echo "----- tail of ${f#"$1"/} -----" >&2
    tail -n 15 "$f" >&2
  done
}

on_exit() {
  local rc=$?
  exec 1>&4 2>&4
  if [ "$rc" -ne 0 ] && [ -n "$STARTING" ] && [ -d "$STARTING" ]; then
    echo "s3-server: start failed after $(( ($(date +%s%3N) - T0) / 1000 )) s; daemon logs:" >&2
    dump_logs "$STARTING"
    if [ "${S3_KEEP_FAILED:-0}" = 1 ]; then
      echo "s3-server: kept $STARTING (S3_KEEP_FAILED=1); '$0 stop $STARTING' cleans it" >&2
    else
      stop_dir "$STARTING" || true
    fi
  fi
}

print_result() { # print_result DIR: the line on the real stdout, from DIR/env
  (
    # shellcheck disable=SC1091
    . "$1/env"
    echo "endpoint=$S3_ENDPOINT access_key=$S3_ACCESS_KEY secret_key=$S3_SECRET_KEY" >&3
  )
}

start_dir() { # start_dir DIR PORT BUCKET STORE RANDOM_KEYS
  local dir=$1 port=$2 bucket=$3 store=$4 random_keys=$5
  local ak sk fsid osd_uuid monport bytes deadline mkfs_pid endpoint

  [[ "$port" =~ ^[0-9]+$ ]] && [ "$port" -ge 1 ] && [ "$port" -le 65535 ] || die "bad PORT '$port'"
  if [ -n "$bucket" ]; then
    [[ "$bucket" =~ ^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$ ]] || die "bad bucket name '$bucket'"
  fi
  require_root
  ensure_packages
  endpoint=http://127.0.0.1:$port

  if [ -e "$dir/$MARKER" ]; then
    if [ -e "$dir/env" ] && all_alive "$dir" && grep -qxF "S3_ENDPOINT=$endpoint" "$dir/env"; then
      say "$dir is already up"
      local a s
      a=$(sed -n 's/^S3_ACCESS_KEY=//p' "$dir/env"); s=$(sed -n 's/^S3_SECRET_KEY=//p' "$dir/env")
      helper s3 "$endpoint" "$a" "$s" "$(( $(date +%s) + 10 ))" "$bucket" $(daemon_pids "$dir") \
        || die "$dir is up but S3 does not answer; '$0 stop $dir' first"
      [ -z "$bucket" ] || grep -q '^S3_BUCKET=' "$dir/env" || echo "S3_BUCKET=$bucket" >> "$dir/env"
      print_result "$dir"; return 0
    fi
    say "$dir is stale, rebuilding"
    stop_dir "$dir"
  elif [ -d "$dir" ] && [ -n "$(ls -A "$dir")" ]; then
    die "$dir exists, is not empty and was not made by s3-server.sh"
  fi
  helper portfree "$port" || die "port $port on 127.0.0.1 is already in use"

  if [ "$random_keys" = 1 ]; then
    read -r ak sk < <(helper keys)
  else
    ak=${S3_ACCESS_KEY:-$FIXED_ACCESS_KEY}; sk=${S3_SECRET_KEY:-$FIXED_SECRET_KEY}
  fi
  [[ "$ak$sk" =~ ^[A-Za-z0-9._+/=-]+$ ]] || die "keys may only use A-Z a-z 0-9 . _ + / = -"
  if [ "$store" = bluestore ]; then bytes=${S3_STORE_BYTES:-34359738368}; else bytes=${S3_STORE_BYTES:-8589934592}; fi

  mkdir -p "$dir"; touch "$dir/$MARKER"; STARTING=$dir
  mkdir -p "$dir"/{mon/a,osd/0,run,log,rgw,crash,pids}
  deadline=$(( $(date +%s) + START_TIMEOUT ))
  fsid=$(helper uuid); osd_uuid=$(helper uuid)
  monport=$(helper freeport)
  write_conf "$dir" "$port" "$monport" "$fsid" "$store" "$bytes"
  local C=(-c "$dir/ceph.conf")

  monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$monport]" "$dir/monmap" \
    >"$dir/log/monmaptool.log" 2>&1 || die "monmaptool failed"
  ceph-mon "${C[@]}" --mkfs -i a --monmap "$dir/monmap" >"$dir/log/mkfs-mon.log" 2>&1 \
    || die "ceph-mon --mkfs failed"
  # The OSD's mkfs (2-3 s for BlueStore) runs while the monitor starts and the pools are made;
  # --no-mon-config: it needs nothing from the monitor.
  ceph-osd "${C[@]}" --no-mon-config -i 0 --mkfs --osd-uuid "$osd_uuid" \
    </dev/null >"$dir/log/mkfs-osd.log" 2>&1 3>&- 4>&- &
  mkfs_pid=$!
  spawn "$dir" mon.a ceph-mon "${C[@]}" -i a -f
  say "monitor up on 127.0.0.1:$monport ($store OSD)"
  helper setup "$dir/ceph.conf" "$osd_uuid" "$deadline" "$(cat "$dir/pids/mon.a.pid")" \
    >"$dir/log/setup.log" 2>&1 || die "creating the OSD id and the rgw pools failed"
  say "OSD id and rgw pools created"
  wait "$mkfs_pid" || die "ceph-osd --mkfs failed"
  spawn "$dir" osd.0 ceph-osd "${C[@]}" -i 0 -f
  spawn "$dir" rgw.a radosgw "${C[@]}" -n client.rgw.a -f
  say "OSD and radosgw started"

  helper http "$endpoint/" "$deadline" $(daemon_pids "$dir") || die "radosgw did not come up on $endpoint"
  say "radosgw answers"
  timeout "$(( deadline - $(date +%s) > 1 ? deadline - $(date +%s) : 1 ))" \
    radosgw-admin "${C[@]}" user create --uid=test --display-name="s3-server test user" \
    --access-key="$ak" --secret-key="$sk" >"$dir/log/user-create.json" 2>"$dir/log/user-create.err" \
    || die "radosgw-admin user create failed"
  helper s3 "$endpoint" "$ak" "$sk" "$deadline" "$bucket" $(daemon_pids "$dir") \
    || die "signed S3 request${bucket:+ or creating bucket $bucket} failed"
  {
    echo "S3_ENDPOINT=$endpoint"
    echo "S3_ACCESS_KEY=$ak"
    echo "S3_SECRET_KEY=$sk"
    [ -z "$bucket" ] || echo "S3_BUCKET=$bucket"
  } > "$dir/env"
  STARTING=
  say "S3 ready at $endpoint${bucket:+ (bucket $bucket)}"
  print_result "$dir"
}

usage() {
  die "usage: $0 start [--bluestore] [--random-keys] DIR PORT [BUCKET] | $0 stop DIR"
}

main() {
  local action=${1:-} store=memstore random_keys=0 pos=() a
  [ $# -ge 1 ] && shift
  for a in "$@"; do
    case $a in
      --bluestore) store=bluestore ;;
      --memstore) store=memstore ;;
      --random-keys) random_keys=1 ;;
      -*) usage ;;
      *) pos+=("$a") ;;
    esac
  done
  case $action in
    start)
      [ ${#pos[@]} -ge 2 ] && [ ${#pos[@]} -le 3 ] || usage
      trap on_exit EXIT
      trap 'exit 130' INT TERM
      start_dir "$(realpath -m "${pos[0]}")" "${pos[1]}" "${pos[2]:-}" "$store" "$random_keys" ;;
    stop)
      [ ${#pos[@]} -eq 1 ] && [ "$store$random_keys" = memstore0 ] || usage
      require_root
      stop_dir "$(realpath -m "${pos[0]}")" ;;
    *) usage ;;
  esac
}

main "$@"

#!/bin/sh
# Tether agent installer.
#
#   curl -fsSk https://BACKEND/install.sh | sudo sh -s -- --backend https://BACKEND --token TOKEN --ca-pin sha256:HEX
#
# Downloads the backend's CA certificate, checks it against --ca-pin (sha256 of its SPKI),
# then downloads the agent bundle over TLS verified by that CA only, installs it under
# /opt/tether-agent, creates the tether-agent system user, writes a hardened systemd unit,
# registers the device (once: an existing state.json keeps its identity on upgrade) and
# starts the service.
#
# Options:
#   --backend URL     backend base URL (https://host:port)
#   --token TOKEN     registration token (first install only)
#   --ca-pin PIN      sha256:<hex> pin of the backend CA (always checked before downloading)
#   --name NAME       device name (default: host name)
#   --bundle FILE     install this tether-agent.tar.gz instead of downloading it
#   --prefix ROOT     install everything under ROOT (image building, tests): no user, no systemctl
#   --no-start        do not enable or start the service
#   --uninstall       stop and remove the agent, its unit, state and user
#   -h, --help
#
# Needs: Node.js >= 20 on the device (not downloaded by this script), curl, openssl, tar.
set -eu

BACKEND=""
TOKEN=""
CA_PIN=""
NAME=""
BUNDLE=""
ROOT=""
START=1
UNINSTALL=0
SERVICE_USER=tether-agent

say() { printf 'tether-install: %s\n' "$*"; }
die() { printf 'tether-install: error: %s\n' "$*" >&2; exit 1; }
usage() {
  cat <<'USAGE'
usage: install.sh --backend URL --token TOKEN --ca-pin sha256:HEX [--name NAME]
                  [--bundle FILE] [--prefix ROOT] [--no-start]
       install.sh --uninstall [--prefix ROOT]
Rerun to upgrade in place (the device keeps its identity). Needs Node.js >= 20, curl, openssl, tar.
USAGE
}

while [ $# -gt 0 ]; do
  case "$1" in
    --backend) [ $# -ge 2 ] || die "$1 needs a value"; BACKEND=${2%/}; shift 2 ;;
    --token) [ $# -ge 2 ] || die "$1 needs a value"; TOKEN=$2; shift 2 ;;
    --ca-pin) [ $# -ge 2 ] || die "$1 needs a value"; CA_PIN=$2; shift 2 ;;
    --name) [ $# -ge 2 ] || die "$1 needs a value"; NAME=$2; shift 2 ;;
    --bundle) [ $# -ge 2 ] || die "$1 needs a value"; BUNDLE=$2; shift 2 ;;
    --prefix) [ $# -ge 2 ] || die "$1 needs a value"; ROOT=${2%/}; shift 2 ;;
    --no-start) START=0; shift ;;
    --uninstall) UNINSTALL=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done

if [ -n "$ROOT" ]; then
  mkdir -p "$ROOT" || die "cannot create $ROOT"
  ROOT=$(CDPATH='' cd -- "$ROOT" && pwd)
fi
APP_DIR="$ROOT/opt/tether-agent"
STATE_DIR="$ROOT/var/lib/tether-agent"
UNIT_FILE="$ROOT/etc/systemd/system/tether-agent.service"

# A real system: root, no --prefix. Otherwise users and systemctl are left alone.
SYSTEM=0
if [ -z "$ROOT" ] && [ "$(id -u)" -eq 0 ]; then SYSTEM=1; fi
has_systemd() { [ "$SYSTEM" -eq 1 ] && command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; }

uninstall() {
  if has_systemd; then
    systemctl disable --now tether-agent.service >/dev/null 2>&1 || true
  fi
  rm -f "$UNIT_FILE"
  if has_systemd; then systemctl daemon-reload || true; fi
  rm -rf "$APP_DIR" "$APP_DIR.new" "$APP_DIR.old" "$STATE_DIR"
  if [ "$SYSTEM" -eq 1 ] && id "$SERVICE_USER" >/dev/null 2>&1; then
    userdel "$SERVICE_USER" >/dev/null 2>&1 || say "could not remove user $SERVICE_USER"
  fi
  # Leave no empty folders of ours behind in a --prefix root.
  if [ -n "$ROOT" ]; then
    for d in "$ROOT/etc/systemd/system" "$ROOT/etc/systemd" "$ROOT/etc" "$ROOT/opt" "$ROOT/var/lib" "$ROOT/var"; do
      rmdir "$d" 2>/dev/null || true
    done
  fi
  say "uninstalled"
}

if [ "$UNINSTALL" -eq 1 ]; then
  uninstall
  exit 0
fi

# ── prerequisites ──
NODE=$(command -v node || true)
[ -n "$NODE" ] || die "Node.js >= 20 is required on this device (install it from your distribution or nodejs.org, then rerun)"
NODE_MAJOR=$("$NODE" -p 'process.versions.node.split(".")[0]')
[ "$NODE_MAJOR" -ge 20 ] || die "Node.js >= 20 is required, found $("$NODE" --version) at $NODE"
command -v tar >/dev/null 2>&1 || die "tar is required"

REGISTERED=0
[ -f "$STATE_DIR/state.json" ] && REGISTERED=1
if [ "$REGISTERED" -eq 0 ]; then
  [ -n "$BACKEND" ] || die "--backend is required for a first install"
  [ -n "$TOKEN" ] || die "--token is required for a first install"
  [ -n "$CA_PIN" ] || die "--ca-pin is required for a first install"
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tether-install.XXXXXX")
trap 'rm -rf "$WORK"' EXIT INT TERM

# ── fetch and verify ──
if [ -z "$BUNDLE" ]; then
  [ -n "$BACKEND" ] || die "--backend is required to download the agent (or pass --bundle FILE)"
  [ -n "$CA_PIN" ] || die "--ca-pin is required to download the agent"
  command -v curl >/dev/null 2>&1 || die "curl is required"
  command -v openssl >/dev/null 2>&1 || die "openssl is required to check the CA pin"
  # The CA certificate itself is public; -k only for this one download, and it is trusted
  # only once its key matches the pin the admin gave us.
  curl -fsSk --proto '=https' "$BACKEND/ca.crt" -o "$WORK/ca.crt" || die "cannot download the CA certificate from $BACKEND/ca.crt"
  GOT=$(openssl x509 -in "$WORK/ca.crt" -noout -pubkey | openssl pkey -pubin -outform DER | openssl dgst -sha256 -hex | sed 's/^.*= *//')
  [ "sha256:$GOT" = "$CA_PIN" ] || die "the backend CA does not match the pin (CA_PIN_MISMATCH): got sha256:$GOT"
  say "backend CA matches the pin"
  curl -fsS --proto '=https' --cacert "$WORK/ca.crt" "$BACKEND/agent/tether-agent.tar.gz" -o "$WORK/tether-agent.tar.gz" || die "cannot download the agent bundle"
  BUNDLE="$WORK/tether-agent.tar.gz"
fi
[ -f "$BUNDLE" ] || die "no bundle at $BUNDLE"
mkdir -p "$WORK/unpack"
tar -xzf "$BUNDLE" -C "$WORK/unpack" || die "the agent bundle is not a valid .tar.gz"
[ -f "$WORK/unpack/tether-agent/tether-agent.mjs" ] || die "the agent bundle has no tether-agent.mjs"
VERSION=$(cat "$WORK/unpack/tether-agent/VERSION" 2>/dev/null || echo unknown)

# ── user ──
if [ "$SYSTEM" -eq 1 ]; then
  if ! id "$SERVICE_USER" >/dev/null 2>&1; then
    # A real shell: the remote shell feature opens PTYs as this user.
    useradd --system --user-group --home-dir /var/lib/tether-agent --no-create-home --shell /bin/sh "$SERVICE_USER" || die "cannot create user $SERVICE_USER"
    say "created system user $SERVICE_USER"
  fi
  # Reading the systemd journal for log forwarding, where the group exists.
  if getent group systemd-journal >/dev/null 2>&1; then usermod -a -G systemd-journal "$SERVICE_USER" || true; fi
else
  say "not creating the $SERVICE_USER user ($( [ -n "$ROOT" ] && echo "--prefix given" || echo "not root"))"
fi

# ── files: the new release replaces the old one in one rename ──
mkdir -p "$(dirname "$APP_DIR")"
rm -rf "$APP_DIR.new" "$APP_DIR.old"
mv "$WORK/unpack/tether-agent" "$APP_DIR.new"
printf '%s\n' "$NODE" > "$APP_DIR.new/node.path"
chmod -R go-w "$APP_DIR.new"
if [ -d "$APP_DIR" ]; then mv "$APP_DIR" "$APP_DIR.old"; fi
mv "$APP_DIR.new" "$APP_DIR"
rm -rf "$APP_DIR.old"
mkdir -p "$STATE_DIR"
chmod 700 "$STATE_DIR"

mkdir -p "$(dirname "$UNIT_FILE")"
cp "$APP_DIR/tether-agent.service" "$UNIT_FILE"
chmod 644 "$UNIT_FILE"

# ── register once; an upgrade keeps the device identity ──
if [ "$REGISTERED" -eq 1 ]; then
  say "already registered ($STATE_DIR/state.json): keeping this device's identity"
else
  set -- register --backend "$BACKEND" --token "$TOKEN" --ca-pin "$CA_PIN" --state "$STATE_DIR"
  if [ -n "$NAME" ]; then set -- "$@" --name "$NAME"; fi
  "$APP_DIR/bin/tether-agent" "$@" || die "registration failed"
fi
if [ "$SYSTEM" -eq 1 ]; then chown -R "$SERVICE_USER:$SERVICE_USER" "$STATE_DIR"; fi

# ── start ──
if [ "$START" -eq 1 ] && has_systemd; then
  systemctl daemon-reload
  systemctl enable tether-agent.service >/dev/null
  systemctl restart tether-agent.service
  say "tether-agent $VERSION installed and running (systemctl status tether-agent)"
else
  say "tether-agent $VERSION installed in $APP_DIR; not started ($( [ "$START" -eq 0 ] && echo "--no-start" || echo "no systemd here")): run $APP_DIR/bin/tether-agent run --state $STATE_DIR"
fi

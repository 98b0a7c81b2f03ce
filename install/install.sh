#!/usr/bin/env bash
# Open ACE agent installer for Linux and macOS: downloads the prebuilt agent from the server,
# verifies it against SHA256SUMS, registers the machine, installs the AI CLI and a service.
#   curl -fsSL http://<server>:5000/api/remote/agent/install.sh | bash -s -- --server http://<server>:5000 --token <token>
# Re-running upgrades in place and keeps the machine id. install.ps1 is the Windows twin:
# keep the two step-for-step parallel.
set -euo pipefail

# Everything lives in functions and runs from the last line, so a download cut short runs nothing.

readonly STEPS=8
readonly SERVICE_NAME=open-ace-agent
readonly LAUNCHD_LABEL=com.open-ace.agent
readonly ONLINE_TIMEOUT_SECONDS="${OPENACE_ONLINE_TIMEOUT:-60}"
readonly AGENT_FILES_PATH=/api/remote/agent/files
readonly AGENT_STATUS_PATH=/api/remote/agent/status

SERVER="${OPENACE_SERVER_URL:-${OPENACE_SERVER:-}}"
TOKEN="${OPENACE_REGISTRATION_TOKEN:-${OPENACE_TOKEN:-}}"
NAME="${OPENACE_NAME:-}"
INSTALL_CLI="${OPENACE_INSTALL_CLI:-qwen-code-cli}"
DIR="${OPENACE_DIR:-}"
NO_SERVICE="${OPENACE_NO_SERVICE:-}"

usage() {
  cat <<'EOF'
Install the Open ACE remote agent on this machine.

Usage: install.sh --server URL --token TOKEN [options]

  --server URL         Open ACE server address, e.g. http://ace.example.com:5000   (required)
  --token TOKEN        registration token from an administrator                      (required)
  --name NAME          machine display name (default: this host's name)
  --install-cli TOOL   qwen-code-cli | claude-code | openclaw | none (default: qwen-code-cli)
  --dir DIR            install directory (default: ~/.open-ace-agent)
  --no-service         do not install or start a system service
  --help               show this help

Every option can also come from the environment: OPENACE_SERVER_URL, OPENACE_REGISTRATION_TOKEN,
OPENACE_NAME, OPENACE_INSTALL_CLI, OPENACE_DIR, OPENACE_NO_SERVICE=1.
Re-running upgrades the agent in place and keeps the machine's identity.
EOF
}

step() { printf '[%s/%s] %s\n' "$1" "$STEPS" "$2"; }
info() { printf '      %s\n' "$*"; }
warn() { printf '      warning: %s\n' "$*" >&2; }
die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

parse_args() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --help | -h)
        usage
        exit 0
        ;;
      --no-service) NO_SERVICE=1 ;;
      --server | --token | --name | --install-cli | --dir)
        [ $# -ge 2 ] || die "$1 needs a value (see --help)"
        set_option "$1" "$2"
        shift
        ;;
      --server=* | --token=* | --name=* | --install-cli=* | --dir=*) set_option "${1%%=*}" "${1#*=}" ;;
      *) die "unknown option: $1 (see --help)" ;;
    esac
    shift
  done
}

set_option() {
  case "$1" in
    --server) SERVER="$2" ;;
    --token) TOKEN="$2" ;;
    --name) NAME="$2" ;;
    --install-cli) INSTALL_CLI="$2" ;;
    --dir) DIR="$2" ;;
  esac
}

validate_args() {
  [ -n "$SERVER" ] || die "--server is required, e.g. --server http://ace.example.com:5000 (see --help)"
  case "$SERVER" in
    http://* | https://*) ;;
    *) die "--server must start with http:// or https:// (got: $SERVER)" ;;
  esac
  SERVER="${SERVER%/}"
  [ -n "$TOKEN" ] || die "--token is required: ask an administrator for a registration token (see --help)"
  case "$INSTALL_CLI" in
    qwen-code-cli | claude-code | openclaw | none) ;;
    *) die "--install-cli must be one of qwen-code-cli, claude-code, openclaw, none (got: $INSTALL_CLI)" ;;
  esac
  case "$ONLINE_TIMEOUT_SECONDS" in
    '' | *[!0-9]*) die "OPENACE_ONLINE_TIMEOUT must be a whole number of seconds (got: $ONLINE_TIMEOUT_SECONDS)" ;;
  esac
  [ -n "$NAME" ] || NAME="$(hostname 2>/dev/null || uname -n)"
  [ -n "$DIR" ] || DIR="$HOME/.open-ace-agent"
  case "$DIR" in
    /*) ;;
    *) DIR="$PWD/$DIR" ;;
  esac
  AGENT="$DIR/open-ace-agent"
  CONFIG="$DIR/config.json"
}

# --- HTTP: curl or wget, with the server's own error message on failure ----------------------

# fetch URL OUT [resume] [bearer-token]: writes the body to OUT and the status to HTTP_STATUS;
# dies when the server cannot be reached at all. A token goes through a file, never argv (ps).
fetch() {
  local url="$1" out="$2" resume="${3:-}" bearer="${4:-}" rc=0
  HTTP_STATUS=000
  if command -v curl >/dev/null 2>&1; then
    local args=(-sSL --connect-timeout 15 --retry 2 -o "$out" -w '%{http_code}')
    if [ -n "$bearer" ]; then
      printf 'Authorization: Bearer %s\n' "$bearer" >"$TMP/auth-header"
      args+=(-H @"$TMP/auth-header")
    fi
    local resume_args=()
    [ -n "$resume" ] && [ -s "$out" ] && resume_args=(-C -)
    # ${a[@]+...}: an empty array is "unbound" under set -u in macOS's bash 3.2.
    HTTP_STATUS="$(curl "${args[@]}" ${resume_args[@]+"${resume_args[@]}"} "$url" 2>"$TMP/curl.err")" || rc=$?
    # 33: the server ignored the resume request; start over.
    if [ "$rc" = 33 ]; then
      rm -f "$out"
      rc=0
      HTTP_STATUS="$(curl "${args[@]}" "$url" 2>"$TMP/curl.err")" || rc=$?
    fi
    [ "$rc" = 0 ] || unreachable "$(cat "$TMP/curl.err")"
  elif command -v wget >/dev/null 2>&1; then
    local args=(-q -S --content-on-error -O "$out")
    if [ -n "$bearer" ]; then
      printf 'header = Authorization: Bearer %s\n' "$bearer" >"$TMP/wgetrc"
      args=(--config="$TMP/wgetrc" "${args[@]}")
    fi
    wget "${args[@]}" "$url" 2>"$TMP/wget.err" || rc=$?
    HTTP_STATUS="$(sed -n 's/^ *HTTP\/[0-9.]* \([0-9][0-9][0-9]\).*/\1/p' "$TMP/wget.err" | tail -n 1)"
    [ -n "$HTTP_STATUS" ] || unreachable "wget exit code $rc"
  else
    die "neither curl nor wget is installed; install one of them and run this again"
  fi
}

unreachable() {
  die "cannot reach the Open ACE server at $SERVER ($1). Check the --server address, that the server is running, and that this machine can reach it (firewall, proxy)."
}

# The "message" of a JSON error body, or the body itself when it is short text.
server_message() {
  local message
  message="$(sed -n 's/.*"message" *: *"\([^"]*\)".*/\1/p' "$1" | head -n 1)"
  [ -n "$message" ] || message="$(head -c 300 "$1" | tr -d '\r')"
  printf '%s' "$message"
}

# --- Steps -----------------------------------------------------------------------------------

detect_platform() {
  step 1 "Detecting platform"
  local os arch
  case "$(uname -s)" in
    Linux) os=linux ;;
    Darwin) os=darwin ;;
    *) die "unsupported operating system $(uname -s); the agent runs on Linux, macOS and Windows (use install.ps1)" ;;
  esac
  case "$(uname -m)" in
    x86_64 | amd64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) die "unsupported CPU architecture $(uname -m); prebuilt agents exist for x64 and arm64" ;;
  esac
  # A shell running under Rosetta reports x86_64 on Apple silicon; the native build is better.
  if [ "$os" = darwin ] && [ "$arch" = x64 ] && [ "$(sysctl -n sysctl.proc_translated 2>/dev/null || echo 0)" = 1 ]; then
    arch=arm64
    info "Rosetta detected: using the native Apple silicon build"
  fi
  BINARY="open-ace-agent-$os-$arch"
  OS="$os"
  info "$os-$arch; installing into $DIR"
}

download_agent() {
  step 2 "Downloading $BINARY from $SERVER"
  mkdir -p "$DIR"
  chmod 700 "$DIR"
  PART="$DIR/.$BINARY.part"
  RESUMED=""
  if [ -s "$PART" ]; then
    RESUMED=1
    info "resuming an interrupted download ($(wc -c <"$PART" | tr -d ' ') bytes already here)"
  fi
  fetch_binary
  info "$(wc -c <"$PART" | tr -d ' ') bytes"
}

fetch_binary() {
  fetch "$SERVER$AGENT_FILES_PATH/$BINARY" "$PART" resume
  local message
  case "$HTTP_STATUS" in
    200 | 206) return ;;
    # Resuming a download that was already complete: the checksum decides.
    416) [ -n "$RESUMED" ] && return ;;
  esac
  message="$(server_message "$PART")"
  rm -f "$PART"
  case "$HTTP_STATUS:$message" in
    404:*build:agent*) die "the server has no $BINARY to offer: $message" ;;
    404:*) die "$SERVER does not serve the agent (HTTP 404). Is --server the Open ACE server's address? Without the install route, follow the manual install in the README." ;;
    *) die "downloading $BINARY failed: HTTP $HTTP_STATUS $message" ;;
  esac
}

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d ' ' -f 1
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1" | cut -d ' ' -f 1
  else
    openssl dgst -sha256 "$1" | sed 's/.*= *//'
  fi
}

verify_checksum() {
  step 3 "Verifying SHA-256 checksum"
  fetch "$SERVER$AGENT_FILES_PATH/SHA256SUMS" "$TMP/SHA256SUMS"
  [ "$HTTP_STATUS" = 200 ] || die "cannot get SHA256SUMS from the server (HTTP $HTTP_STATUS): $(server_message "$TMP/SHA256SUMS")"
  local expected actual
  expected="$(awk -v n="$BINARY" '$2 == n || $2 == "*" n { print tolower($1) }' "$TMP/SHA256SUMS" | head -n 1)"
  [ -n "$expected" ] || die "SHA256SUMS on the server lists no checksum for $BINARY; rebuild the agents on the server (bun run build:agent)"
  actual="$(sha256_of "$PART")"
  if [ "$actual" != "$expected" ] && [ -n "$RESUMED" ]; then
    # The interrupted download may have been of an older build: start over once.
    info "the resumed download does not match; downloading it again from the start"
    rm -f "$PART"
    RESUMED=""
    fetch_binary
    actual="$(sha256_of "$PART")"
  fi
  if [ "$actual" != "$expected" ]; then
    rm -f "$PART"
    die "checksum mismatch for $BINARY: expected $expected, got $actual. The download is corrupt or was altered; nothing was installed. Try again, and if it persists ask the server's administrator to rebuild the agents."
  fi
  chmod 755 "$PART"
  # A rename is atomic and safe while an older agent runs from the same path.
  mv -f "$PART" "$AGENT"
  info "OK ($actual)"
}

json_escape() { printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' | tr -d '\000-\037'; }

# A string field of config.json: the agent writes it with one key per line.
config_field() { sed -n "s/^ *\"$1\" *: *\"\\([^\"]*\\)\".*/\\1/p" "$CONFIG" 2>/dev/null | head -n 1; }

# Sets string fields of config.json (key value ...), keeping every other setting (the agent's own,
# its token, the machine id), and rewrites it atomically, readable by its owner only.
set_config_fields() {
  local pairs="" sep=$'\037'
  while [ $# -gt 1 ]; do
    pairs="$pairs$1$sep$(json_escape "$2")$sep"
    shift 2
  done
  if [ ! -s "$CONFIG" ] || [ "$(tr -d ' \t\r\n' <"$CONFIG")" = '{}' ]; then printf '{\n}\n' >"$CONFIG"; fi
  (
    umask 077
    PAIRS="$pairs" awk '
      BEGIN {
        n = split(ENVIRON["PAIRS"], kv, "\037")
        for (i = 1; i < n; i += 2) { m++; key[m] = kv[i]; value[kv[i]] = kv[i + 1] }
      }
      { line[NR] = $0 }
      END {
        for (i = 2; i < NR; i++)
          for (j = 1; j <= m; j++)
            if (index(line[i], "  \"" key[j] "\": ") == 1) {
              line[i] = "  \"" key[j] "\": \"" value[key[j]] "\"" (line[i] ~ /,[ \t]*$/ ? "," : "")
              seen[key[j]] = 1
            }
        for (j = 1; j <= m; j++) if (!(key[j] in seen)) missing[++k] = key[j]
        print line[1]
        for (j = 1; j <= k; j++) print "  \"" missing[j] "\": \"" value[missing[j]] "\"" (j < k || NR > 2 ? "," : "")
        for (i = 2; i <= NR; i++) print line[i]
      }
    ' "$CONFIG" >"$CONFIG.tmp"
  )
  mv -f "$CONFIG.tmp" "$CONFIG"
  chmod 600 "$CONFIG"
}

write_config() {
  step 4 "Writing configuration"
  set_config_fields server_url "$SERVER" machine_name "$NAME" cli_tool "$INSTALL_CLI"
  info "$CONFIG (mode 600)"
}

register_machine() {
  step 5 "Registering this machine"
  local agent_token machine_id rc=0
  agent_token="$(config_field agent_token)"
  machine_id="$(config_field machine_id)"
  if [ -n "$agent_token" ]; then
    fetch "$SERVER$AGENT_STATUS_PATH" "$TMP/self.json" "" "$agent_token"
    if [ "$HTTP_STATUS" = 200 ]; then
      info "already registered as machine $machine_id; keeping it (upgrade in place, token not used)"
      return
    fi
    if [ "$HTTP_STATUS" = 401 ]; then
      info "the server no longer accepts this machine's agent token ($(server_message "$TMP/self.json")); registering again as machine $machine_id"
    else
      info "could not check the existing registration (HTTP $HTTP_STATUS); registering again as machine $machine_id"
    fi
  fi
  "$AGENT" register --dir "$DIR" --server "$SERVER" --token "$TOKEN" --name "$NAME" </dev/null >"$TMP/register.out" 2>&1 || rc=$?
  sed 's/^/      /' "$TMP/register.out"
  if [ "$rc" != 0 ]; then
    case "$(cat "$TMP/register.out")" in
      *"expired or already used"*) die "the registration token was refused: it is wrong, expired, or was already used (each token works once). Ask an administrator for a new one." ;;
      *"already registered"*) die "this machine id ($machine_id) is registered on the server and this directory does not hold its agent token. Ask an administrator to deregister the machine, then run the installer again." ;;
      *"Cannot reach"*) unreachable "$(tail -n 1 "$TMP/register.out")" ;;
      *"No route"* | *"HTTP 404"*) die "$SERVER does not offer agent registration (HTTP 404). Is --server the Open ACE server's address?" ;;
      *) die "registration failed (see the message above)" ;;
    esac
  fi
  chmod 600 "$CONFIG"
}

# bubblewrap gives every session's CLI its own sandbox (the agent finds and tests it at start);
# installed here when we are root and a package manager we know is present, else explained.
install_sandbox() {
  [ "$(uname -s)" = Linux ] || { info "session sandbox: sandbox-exec (part of macOS)"; return; }
  if ! command -v bwrap >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ]; then
      warn "bubblewrap is not installed and this installer is not root: sessions will NOT be isolated from each other or from the agent. Install it (e.g. sudo apt-get install bubblewrap, or sudo dnf install bubblewrap) and restart the agent."
      return
    fi
    info "installing bubblewrap (session sandbox)"
    local rc=0
    if command -v apt-get >/dev/null 2>&1; then
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap) </dev/null >"$TMP/bwrap.log" 2>&1 || rc=$?
    elif command -v dnf >/dev/null 2>&1; then dnf install -y -q bubblewrap </dev/null >"$TMP/bwrap.log" 2>&1 || rc=$?
    elif command -v yum >/dev/null 2>&1; then yum install -y -q bubblewrap </dev/null >"$TMP/bwrap.log" 2>&1 || rc=$?
    elif command -v zypper >/dev/null 2>&1; then zypper -n -q install bubblewrap </dev/null >"$TMP/bwrap.log" 2>&1 || rc=$?
    elif command -v apk >/dev/null 2>&1; then apk add -q bubblewrap </dev/null >"$TMP/bwrap.log" 2>&1 || rc=$?
    elif command -v pacman >/dev/null 2>&1; then pacman -S --noconfirm -q bubblewrap </dev/null >"$TMP/bwrap.log" 2>&1 || rc=$?
    else rc=127; echo "no known package manager" >"$TMP/bwrap.log"; fi
    if [ "$rc" != 0 ] || ! command -v bwrap >/dev/null 2>&1; then
      tail -n 3 "$TMP/bwrap.log" >&2
      warn "could not install bubblewrap (above): sessions will NOT be isolated. Install the package 'bubblewrap' and restart the agent, or set run_as in $CONFIG."
      return
    fi
  fi
  if bwrap --ro-bind / / --dev /dev --proc /proc --unshare-pid -- true >"$TMP/bwrap.log" 2>&1; then
    info "session sandbox: bubblewrap $(bwrap --version 2>/dev/null | awk '{print $2}')"
  else
    warn "bubblewrap cannot start a sandbox here ($(head -n 1 "$TMP/bwrap.log")): sessions will NOT be isolated. Allow unprivileged user namespaces (e.g. sysctl kernel.unprivileged_userns_clone=1) or run the agent as root."
  fi
}

install_cli() {
  step 6 "Installing AI CLI: $INSTALL_CLI"
  install_sandbox
  local package
  case "$INSTALL_CLI" in
    none)
      info "skipped (--install-cli none)"
      return
      ;;
    qwen-code-cli) package=@qwen-code/qwen-code@latest ;;
    claude-code) package=@anthropic-ai/claude-code@latest ;;
    openclaw) package=openclaw@latest ;;
  esac
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    warn "Node.js/npm not found. Install Node.js 20+, then run: npm install -g $package"
    return
  fi
  if npm install -g "$package" </dev/null >"$TMP/npm.log" 2>&1; then
    info "installed $package"
  else
    tail -n 5 "$TMP/npm.log" >&2
    warn "npm could not install $package (above). Install it yourself: npm install -g $package (may need sudo)"
  fi
}

manual_start_hint() {
  info "Start the agent yourself with:"
  info "  nohup \"$AGENT\" run --dir \"$DIR\" >>\"$DIR/service.log\" 2>&1 &"
}

systemd_usable() {
  command -v systemctl >/dev/null 2>&1 || return 1
  if [ "$(id -u)" = 0 ]; then systemctl show-environment >/dev/null 2>&1; else systemctl --user show-environment >/dev/null 2>&1; fi
}

install_service() {
  step 7 "Installing service"
  SERVICE=none
  if [ -n "$NO_SERVICE" ]; then
    info "skipped (--no-service)"
    manual_start_hint
    return
  fi
  if [ "$OS" = darwin ]; then
    install_launchd
  elif systemd_usable; then
    install_systemd
  else
    warn "neither systemd nor launchd is available, so no service was installed"
    manual_start_hint
  fi
}

install_systemd() {
  local unit_dir systemctl_cmd=(systemctl) wanted_by=default.target user_line=""
  if [ "$(id -u)" = 0 ]; then
    unit_dir=/etc/systemd/system
    wanted_by=multi-user.target
    user_line="User=root"
  else
    unit_dir="$HOME/.config/systemd/user"
    systemctl_cmd=(systemctl --user)
  fi
  mkdir -p "$unit_dir"
  UNIT_FILE="$unit_dir/$SERVICE_NAME.service"
  cat >"$UNIT_FILE" <<EOF
# Written by the Open ACE agent installer; re-running the installer rewrites it.
[Unit]
Description=Open ACE remote agent
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
${user_line}
ExecStart="$AGENT" run --dir "$DIR"
WorkingDirectory=$DIR
Environment="PATH=$PATH"
Restart=always
RestartSec=5
# 78: the configuration is wrong or the server revoked this agent; restarting cannot help.
RestartPreventExitStatus=78

[Install]
WantedBy=$wanted_by
EOF
  "${systemctl_cmd[@]}" daemon-reload
  "${systemctl_cmd[@]}" enable "$SERVICE_NAME" >/dev/null 2>&1 || warn "could not enable $SERVICE_NAME at boot"
  SERVICE=systemd
  RESTART_CMD=("${systemctl_cmd[@]}" restart "$SERVICE_NAME")
  info "$UNIT_FILE"
  if [ "$(id -u)" != 0 ]; then
    # Without lingering a user unit stops at logout.
    loginctl enable-linger "$(id -un)" >/dev/null 2>&1 || info "to keep the agent running after you log out: sudo loginctl enable-linger $(id -un)"
  fi
}

xml_escape() { printf '%s' "$1" | sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g'; }

install_launchd() {
  local plist_dir="$HOME/Library/LaunchAgents"
  mkdir -p "$plist_dir"
  PLIST="$plist_dir/$LAUNCHD_LABEL.plist"
  cat >"$PLIST" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>Label</key><string>$LAUNCHD_LABEL</string>
  <key>ProgramArguments</key>
  <array><string>$(xml_escape "$AGENT")</string><string>run</string><string>--dir</string><string>$(xml_escape "$DIR")</string></array>
  <key>WorkingDirectory</key><string>$(xml_escape "$DIR")</string>
  <key>EnvironmentVariables</key><dict><key>PATH</key><string>$(xml_escape "$PATH")</string></dict>
  <key>RunAtLoad</key><true/>
  <key>KeepAlive</key><true/>
  <key>StandardOutPath</key><string>$(xml_escape "$DIR/service.log")</string>
  <key>StandardErrorPath</key><string>$(xml_escape "$DIR/service.log")</string>
</dict>
</plist>
EOF
  SERVICE=launchd
  info "$PLIST"
}

start_and_wait() {
  step 8 "Starting the agent and waiting for the server to report it online"
  case "$SERVICE" in
    none)
      info "skipped: no service was installed"
      return
      ;;
    systemd) "${RESTART_CMD[@]}" ;;
    launchd)
      launchctl unload "$PLIST" >/dev/null 2>&1 || true
      launchctl load -w "$PLIST"
      ;;
  esac
  local agent_token waited=0
  agent_token="$(config_field agent_token)"
  while [ "$waited" -lt "$ONLINE_TIMEOUT_SECONDS" ]; do
    fetch "$SERVER$AGENT_STATUS_PATH" "$TMP/self.json" "" "$agent_token"
    if [ "$HTTP_STATUS" = 200 ] && grep -q '"status" *: *"online"' "$TMP/self.json"; then
      info "the server reports machine $(config_field machine_id) online"
      return
    fi
    sleep 1
    waited=$((waited + 1))
  done
  local log_hint="tail -n 50 \"$DIR/agent-error.log\""
  if [ "$SERVICE" = systemd ]; then
    log_hint="journalctl $([ "$(id -u)" = 0 ] || echo '--user ')-u $SERVICE_NAME -n 50"
  fi
  die "the server does not report the agent online after ${ONLINE_TIMEOUT_SECONDS}s ($(server_message "$TMP/self.json")). See its log: $log_hint"
}

main() {
  parse_args "$@"
  validate_args
  TMP="$(mktemp -d)"
  trap 'rm -rf "$TMP"' EXIT
  detect_platform
  download_agent
  verify_checksum
  write_config
  register_machine
  install_cli
  install_service
  start_and_wait
  printf '\nOpen ACE agent installed in %s as "%s".\n' "$DIR" "$NAME"
}

main "$@"

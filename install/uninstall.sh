#!/usr/bin/env bash
# Open ACE agent uninstaller for Linux and macOS: stops and removes the service, tells the
# server to deregister this machine (when it can be reached), and deletes the install directory.
#   curl -fsSL http://<server>:5000/api/remote/agent/uninstall.sh | bash -s -- --yes
# uninstall.ps1 is the Windows twin: keep the two step-for-step parallel.
set -euo pipefail

readonly STEPS=3
readonly SERVICE_NAME=open-ace-agent
readonly LAUNCHD_LABEL=com.open-ace.agent
readonly DEREGISTER_PATH=/api/remote/agent/deregister

DIR="${OPENACE_DIR:-}"
YES="${OPENACE_YES:-}"

usage() {
  cat <<'EOF'
Remove the Open ACE remote agent from this machine.

Usage: uninstall.sh [--dir DIR] [--yes]

  --dir DIR   install directory (default: ~/.open-ace-agent)
  --yes       do not ask for confirmation
  --help      show this help

The AI CLI installed with npm is left in place (other tools may use it).
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
      --yes | -y) YES=1 ;;
      --dir)
        [ $# -ge 2 ] || die "--dir needs a value (see --help)"
        DIR="$2"
        shift
        ;;
      --dir=*) DIR="${1#*=}" ;;
      *) die "unknown option: $1 (see --help)" ;;
    esac
    shift
  done
  [ -n "$DIR" ] || DIR="$HOME/.open-ace-agent"
  DIR="${DIR%/}"
  CONFIG="$DIR/config.json"
}

confirm() {
  # Refuse to delete anything that is not an agent install, whatever --dir says.
  [ -e "$DIR/open-ace-agent" ] || [ -e "$CONFIG" ] || die "$DIR does not contain an Open ACE agent (no open-ace-agent or config.json); nothing to remove"
  [ -n "$YES" ] && return
  # Piped into bash, stdin is the script itself: ask on the terminal.
  (exec </dev/tty) 2>/dev/null || die "no terminal to ask on; re-run with --yes to remove the agent in $DIR"
  local answer
  printf 'Remove the Open ACE agent in %s, its service and its registration? [y/N] ' "$DIR" >/dev/tty
  read -r answer </dev/tty || answer=""
  case "$answer" in
    y | Y | yes | YES) ;;
    *) die "cancelled; nothing was changed" ;;
  esac
}

remove_service() {
  step 1 "Stopping and removing the service"
  local removed=""
  if [ "$(uname -s)" = Darwin ]; then
    local plist="$HOME/Library/LaunchAgents/$LAUNCHD_LABEL.plist"
    if [ -f "$plist" ]; then
      launchctl unload "$plist" >/dev/null 2>&1 || true
      rm -f "$plist"
      removed="$plist"
    fi
  elif command -v systemctl >/dev/null 2>&1; then
    local unit
    for unit in "/etc/systemd/system/$SERVICE_NAME.service" "$HOME/.config/systemd/user/$SERVICE_NAME.service"; do
      [ -f "$unit" ] || continue
      local systemctl_cmd=(systemctl)
      case "$unit" in "$HOME"/*) systemctl_cmd=(systemctl --user) ;; esac
      "${systemctl_cmd[@]}" disable --now "$SERVICE_NAME" >/dev/null 2>&1 || warn "could not stop $SERVICE_NAME through systemd"
      rm -f "$unit"
      "${systemctl_cmd[@]}" daemon-reload >/dev/null 2>&1 || true
      removed="$removed $unit"
    done
  fi
  if [ -n "$removed" ]; then info "removed$removed"; else info "no service installed"; fi
}

# A flat string field of config.json (the agent writes one key per line, string values).
config_field() { sed -n "s/.*\"$1\" *: *\"\\([^\"]*\\)\".*/\\1/p" "$CONFIG" 2>/dev/null | head -n 1; }

deregister() {
  step 2 "Deregistering this machine from the server"
  local server token machine_id status
  server="$(config_field server_url)"
  token="$(config_field agent_token)"
  machine_id="$(config_field machine_id)"
  if [ -z "$server" ] || [ -z "$token" ]; then
    info "not registered (no server_url/agent_token in $CONFIG); skipped"
    return
  fi
  if ! command -v curl >/dev/null 2>&1; then
    warn "curl is not installed; ask an administrator to delete machine $machine_id on $server"
    return
  fi
  local tmp
  tmp="$(mktemp -d)"
  # The token goes in a header file, not on the command line where ps would show it.
  printf 'Authorization: Bearer %s\n' "$token" >"$tmp/auth"
  status="$(curl -sS --connect-timeout 10 -o "$tmp/body" -w '%{http_code}' -X POST -H @"$tmp/auth" "$server$DEREGISTER_PATH" 2>"$tmp/err")" || status=000
  case "$status" in
    200 | 204) info "machine $machine_id deregistered from $server" ;;
    401) info "the server no longer knows this agent (already deregistered or revoked)" ;;
    000) warn "cannot reach $server ($(cat "$tmp/err")); ask an administrator to delete machine $machine_id" ;;
    *) warn "the server answered HTTP $status; ask an administrator to delete machine $machine_id" ;;
  esac
  rm -rf "$tmp"
}

remove_files() {
  step 3 "Removing $DIR"
  rm -rf "$DIR"
  info "done"
}

main() {
  parse_args "$@"
  confirm
  remove_service
  deregister
  remove_files
  printf '\nOpen ACE agent removed. The AI CLI installed with npm was left in place.\n'
}

main "$@"

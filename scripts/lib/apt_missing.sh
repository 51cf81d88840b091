# Sourced by the install_*_tools.sh scripts: report what is present and ask apt only for what is missing.
# Usage: found "what" ; missing "what" package... ; install_missing  (exits with apt's status on failure).

PACKAGES=()

found() {
  echo "found: $1"
}

missing() {
  local what=$1
  shift
  echo "missing: $what (Debian package: $*)"
  PACKAGES+=("$@")
}

install_missing() {
  if [ ${#PACKAGES[@]} -eq 0 ]; then
    echo "nothing to install"
    return 0
  fi
  local sudo=()
  if [ "$(id -u)" != 0 ]; then
    if ! command -v sudo >/dev/null; then
      echo "could not install: ${PACKAGES[*]} (not root and no sudo); install them as root: apt-get install -y ${PACKAGES[*]}" >&2
      exit 1
    fi
    sudo=(sudo)
  fi
  echo "installing with apt: ${PACKAGES[*]}"
  local status=0
  "${sudo[@]}" apt-get update -q || status=$?
  if [ "$status" = 0 ]; then
    "${sudo[@]}" apt-get install -y --no-install-recommends "${PACKAGES[@]}" || status=$?
  fi
  if [ "$status" != 0 ]; then
    echo "could not install: ${PACKAGES[*]} (apt-get exited with $status, output above)" >&2
    exit "$status"
  fi
  echo "installed: ${PACKAGES[*]}"
}

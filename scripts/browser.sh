# Sourced, not run: headless Chromium (Debian's package) and Playwright (pinned, in a local
# virtualenv) for the HTML report tests. The caller has `cd`'d to the repository root.
#   source scripts/browser.sh
#   ensure_browser       # sets DUPKEY_BROWSER_PYTHON

PLAYWRIGHT_VERSION="1.65.3"
BROWSER_VENV="${DUPKEY_BROWSER_VENV:-.venv-browser}"

ensure_browser() {
  if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
    echo "$0: installing Debian's chromium for the HTML report tests" >&2
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
    $sudo apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
  fi
  if ! "$BROWSER_VENV/bin/python" -c 'import importlib.metadata as m, sys; sys.exit(m.version("playwright") != sys.argv[1])' \
    "$PLAYWRIGHT_VERSION" 2>/dev/null; then
    echo "$0: installing playwright $PLAYWRIGHT_VERSION into $BROWSER_VENV" >&2
    python3 -m venv "$BROWSER_VENV"
    "$BROWSER_VENV/bin/pip" install --quiet --disable-pip-version-check "playwright==$PLAYWRIGHT_VERSION"
  fi
  DUPKEY_BROWSER_PYTHON="$PWD/$BROWSER_VENV/bin/python"
  export DUPKEY_BROWSER_PYTHON
}

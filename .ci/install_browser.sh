#!/usr/bin/env bash
# Installs headless Chromium and its WebDriver (Debian packages chromium, chromium-driver) for tests/test_browser.py.
# Never fails: where apt-get is missing or cannot install, the browser test is skipped and says why.
cd "$(dirname "$0")/.."
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
    exit 0
fi
if ! command -v apt-get >/dev/null; then
    echo "install_browser.sh: no apt-get here; tests/test_browser.py will be skipped (install chromium and chromium-driver to run it)" >&2
    exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo -n"
if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver; } >/tmp/hf_gan_install_browser.log 2>&1; then
    echo "install_browser.sh: could not install chromium and chromium-driver (log: /tmp/hf_gan_install_browser.log); tests/test_browser.py will be skipped" >&2
fi
exit 0

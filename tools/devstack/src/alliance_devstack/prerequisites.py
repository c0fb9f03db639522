"""What the launcher needs from the machine, installed when it may."""

from __future__ import annotations

import os
import shutil
import subprocess

from alliance_devstack.state import log


class Missing(RuntimeError):
    """A prerequisite is missing; the message says how to fix it."""


def apt_install(package: str, why: str) -> None:
    """Installs a Debian package when we may (root with apt-get); otherwise says how to."""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise Missing(f"{why}: apt-get install -y {package}")
    log(f"{why}; installing the Debian package {package}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env, capture_output=True)
    result = subprocess.run(
        ["apt-get", "install", "-y", "-q", package],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise Missing(f"{why}; apt-get install -y {package} failed:\n{result.stderr[-2000:]}")


CHROMIUM = "/usr/bin/chromium"


def ensure_chromium() -> None:
    """Debian's Chromium, for the browser tests (tests/browser/); installed when we may. The
    stack runs without it, so a developer who may not install is told how, not stopped."""
    if os.path.exists(CHROMIUM):
        return
    try:
        apt_install("chromium", "the browser tests need Chromium")
    except Missing as exc:
        log(f"WARNING: {exc}")

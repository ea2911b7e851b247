"""Install the streams-oracle (the real ``amazon-connect-streams`` library) for differential tests.

``python -m hub.testing.oracle_setup DIR`` copies the reference oracle folder
(``../shared/reference/streams-oracle`` relative to the repository root, or ``$CONNECT_HUB_ORACLE_SRC``)
into ``DIR`` and runs ``npm ci`` there. It is idempotent: the files are only rewritten when they
differ, and ``npm ci`` only runs when ``node_modules`` was not installed from the current
``package-lock.json``. This is the only step that uses the network; the tests never do.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

__all__ = [
    "ORACLE_DIR_ENV",
    "ORACLE_SRC_ENV",
    "OracleSetupError",
    "default_oracle_dir",
    "default_oracle_source",
    "is_installed",
    "repo_root",
    "setup_oracle",
]

ORACLE_SRC_ENV = "CONNECT_HUB_ORACLE_SRC"
"""Environment variable naming the read-only reference oracle folder to copy."""
ORACLE_DIR_ENV = "CONNECT_HUB_ORACLE_DIR"
"""Environment variable naming the installed oracle folder (default ``.cache/streams-oracle``)."""

_STAMP = ".connect-hub-installed"
_SKIP_NAMES = frozenset({"node_modules", ".git", _STAMP})


class OracleSetupError(RuntimeError):
    """The oracle could not be installed (source missing, node/npm missing, ``npm ci`` failed)."""


def repo_root() -> Path:
    """The repository root: the folder holding ``pyproject.toml`` above this package."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").is_file() and (parent / "hub").is_dir():
            return parent
    return Path.cwd()


def default_oracle_source() -> Path:
    """The reference oracle: ``$CONNECT_HUB_ORACLE_SRC`` or ``<repo>/../shared/reference/streams-oracle``."""
    env = os.environ.get(ORACLE_SRC_ENV)
    if env:
        return Path(env).resolve()
    return (repo_root().parent / "shared" / "reference" / "streams-oracle").resolve()


def default_oracle_dir() -> Path:
    """Where the oracle is installed: ``$CONNECT_HUB_ORACLE_DIR`` or ``<repo>/.cache/streams-oracle``."""
    env = os.environ.get(ORACLE_DIR_ENV)
    if env:
        return Path(env).resolve()
    return repo_root() / ".cache" / "streams-oracle"


def _lock_digest(folder: Path) -> str:
    return hashlib.sha256((folder / "package-lock.json").read_bytes()).hexdigest()


def is_installed(dest: Path) -> bool:
    """True when ``dest`` holds ``oracle.js`` and a ``node_modules`` installed from its current lock file."""
    stamp = dest / _STAMP
    if not (dest / "oracle.js").is_file() or not (dest / "node_modules").is_dir() or not stamp.is_file():
        return False
    try:
        return stamp.read_text().strip() == _lock_digest(dest)
    except OSError:
        return False


def _sync_tree(src: Path, dest: Path) -> int:
    """Copy every file of ``src`` that differs into ``dest`` (writable copies); returns the number copied."""
    copied = 0
    dest.mkdir(parents=True, exist_ok=True)
    for entry in sorted(src.iterdir()):
        if entry.name in _SKIP_NAMES:
            continue
        target = dest / entry.name
        if entry.is_dir():
            copied += _sync_tree(entry, target)
            continue
        data = entry.read_bytes()
        if target.is_file() and target.read_bytes() == data:
            continue
        if target.exists():
            target.chmod(0o644)
            target.unlink()
        target.write_bytes(data)
        target.chmod(0o644)
        copied += 1
    return copied


def setup_oracle(dest: Path | None = None, src: Path | None = None, *, quiet: bool = False) -> Path:
    """Copy the reference oracle into ``dest`` and run ``npm ci`` there unless already installed.

    Returns the installed folder. Raises :class:`OracleSetupError` when the source folder, ``npm``
    or the install fails.
    """
    dest = (dest or default_oracle_dir()).resolve()
    src = (src or default_oracle_source()).resolve()
    if not (src / "oracle.js").is_file() or not (src / "package-lock.json").is_file():
        raise OracleSetupError(f"no streams-oracle at {src} (set {ORACLE_SRC_ENV} to the folder holding oracle.js)")
    copied = _sync_tree(src, dest)
    if is_installed(dest):
        if not quiet:
            print(f"streams-oracle: up to date in {dest} ({copied} file(s) refreshed)")
        return dest
    npm = shutil.which("npm")
    if npm is None:
        raise OracleSetupError("npm not found: install Node.js >= 18 to run the differential tests")
    (dest / _STAMP).unlink(missing_ok=True)
    cmd = [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"]
    if not quiet:
        print(f"streams-oracle: {' '.join(cmd[1:])} in {dest}")
    proc = subprocess.run(cmd, cwd=dest, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise OracleSetupError(f"npm ci failed in {dest} (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    (dest / _STAMP).write_text(_lock_digest(dest) + "\n")
    if not quiet:
        print(f"streams-oracle: installed in {dest}")
    return dest


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: ``python -m hub.testing.oracle_setup [DIR]``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) > 1 or (args and args[0] in {"-h", "--help"}):
        print("usage: python -m hub.testing.oracle_setup [DIR]", file=sys.stderr)
        return 2
    try:
        setup_oracle(Path(args[0]) if args else None)
    except OracleSetupError as exc:
        print(f"streams-oracle: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""What the figures were measured on, recorded with every result."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib.metadata import version
from pathlib import Path

import psycopg
import redis

from bench.servers import POSTGRES_ADMIN_URL, REDIS_URL, ROOT

PACKAGES = ("Django", "channels", "daphne", "channels-redis", "Twisted", "websockets", "psycopg")


def describe() -> dict[str, str]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next(
        (line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if "model name" in line),
        platform.processor() or "unknown",
    )
    meminfo = Path("/proc/meminfo").read_text().split()
    memory_kib = int(meminfo[meminfo.index("MemTotal:") + 1])
    facts = {
        "CPU": model,
        "cores": str(os.cpu_count()),
        "memory": f"{memory_kib / 1024 / 1024:.1f} GiB",
        "kernel": platform.release(),
        "Python": platform.python_version(),
    }
    facts.update({name: version(name) for name in PACKAGES})
    facts["commit"] = checkout()
    try:
        facts["Redis"] = redis.Redis.from_url(REDIS_URL).info("server")["redis_version"]
    except redis.RedisError as error:
        facts["Redis"] = f"unreachable ({error})"
    try:
        with psycopg.connect(POSTGRES_ADMIN_URL) as db:
            facts["PostgreSQL"] = db.execute("SHOW server_version").fetchone()[0]
    except psycopg.Error as error:
        facts["PostgreSQL"] = f"unreachable ({error})"
    return facts


# Changing these does not change what is measured (nor does any *.md).
NOT_CODE = ("bench/", "docs/", "Makefile", "requirements-bench.txt")


def checkout(commit: str = "HEAD") -> str:
    """The version of the code under test: the last commit at or before ``commit`` that changed
    a file outside bench/, docs/ and *.md, plus any such file changed and not committed.
    Read-only git (no index refresh)."""

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "--no-optional-locks", *args], cwd=ROOT, capture_output=True, text=True
        )
        return done.stdout.rstrip()

    excluded = [f":(exclude){path}" for path in (*NOT_CODE, "*.md")]
    code = git("log", "-1", "--format=%h", commit, "--", ".", *excluded).strip() or "unknown"
    if commit != "HEAD":
        return code
    changed = [
        line[3:]
        for line in git("status", "--porcelain", "--untracked-files=no").splitlines()
        if not line[3:].startswith(NOT_CODE) and not line.endswith(".md")
    ]
    return f"{code} + uncommitted changes to {', '.join(changed)}" if changed else code

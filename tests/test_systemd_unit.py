"""The bundled systemd unit: hardened, and valid to systemd itself where systemd-analyze is."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[1] / "feedsvc" / "systemd" / "feedsvc.service"
TEXT = UNIT.read_text(encoding="utf-8")


def _settings() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in TEXT.splitlines():
        m = re.match(r"^([A-Za-z]+)=(.*)$", line)
        if m:
            out.setdefault(m.group(1), []).append(m.group(2))
    return out


def test_hardening_directives() -> None:
    s = _settings()
    expected = {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "CapabilityBoundingSet": "",
        "RestrictNamespaces": "yes",
        "RestrictSUIDSGID": "yes",
        "LockPersonality": "yes",
        "SystemCallArchitectures": "native",
    }
    for key, value in expected.items():
        assert s.get(key) == [value], key
    # Writable: the database folder and the published output, nothing else.
    assert s["ReadWritePaths"] == ["/srv/feedsvc/db /srv/feedsvc/feeds"]
    assert "@system-service" in s["SystemCallFilter"]
    assert s["ExecReload"] == ["/bin/kill -HUP $MAINPID"]  # `sources add` relies on SIGHUP


@pytest.fixture
def analyze() -> str:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed")
    return tool


def test_systemd_verify_accepts_the_unit(analyze: str, tmp_path: Path) -> None:
    # verify checks that ExecStart exists: point it at a binary that does.
    unit = tmp_path / "feedsvc.service"
    unit.write_text(TEXT.replace("/srv/feedsvc/.venv/bin/feedsvc", "/bin/true"))
    done = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == ""


def test_systemd_security_rates_it_ok(analyze: str) -> None:
    done = subprocess.run(
        [analyze, "security", "--offline=true", str(UNIT)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    m = re.search(r"Overall exposure level for feedsvc\.service: ([\d.]+) (\w+)", done.stdout)
    if m is None:
        pytest.skip(f"systemd-analyze security --offline is not supported here: {done.stderr}")
    assert float(m.group(1)) <= 2.0, done.stdout[-2000:]
    assert m.group(2) == "OK"

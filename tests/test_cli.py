"""The CLI follows common conventions: --help, version, exit codes, doctor."""

from __future__ import annotations

import subprocess
import sys

import pytest

from eligo import __version__
from eligo.cli import main


def test_help_exits_zero(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    assert "doctor" in capsys.readouterr().out


def test_no_command_is_a_usage_error(capsys):
    assert main([]) == 2


def test_unknown_command_is_a_usage_error():
    with pytest.raises(SystemExit) as exc:
        main(["no-such-command"])
    assert exc.value.code == 2


def test_version(capsys):
    assert main(["version"]) == 0
    assert capsys.readouterr().out.strip() == __version__


def test_doctor_reports_every_tool():
    # Run as a user would; every tool must be found in the test environment.
    out = subprocess.run([sys.executable, "-m", "eligo.cli", "doctor"], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    for tool in ("amaranth", "cocotb", "verilator", "icarus", "yosys", "nextpnr-ecp5", "torch"):
        assert tool in out.stdout


def test_software_package_does_not_import_hardware():
    code = "import sys, eligo, eligo.config, eligo.words, eligo.fixed.lif, eligo.cli; print('eligo_hw' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

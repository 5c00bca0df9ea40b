"""`make audit`: run pip-audit and fail on a known vulnerability, but degrade (exit 0 with a
clear message) when the vulnerability service cannot be reached, rather than pass silently.

pip-audit reports a package it could not look up as "skipped" and still says "No known
vulnerabilities found": with every package skipped that line means nothing was audited.
Run: `python -m tests.security.pip_audit_gate [pip-audit args...]`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

# Our own package is not on PyPI: its skip is expected.
OWN_PACKAGES = frozenset({"musicbot"})


def summarise(report: dict[str, Any]) -> tuple[int, int, list[str]]:
    """(audited, skipped, findings) from pip-audit's JSON report."""
    audited = skipped = 0
    findings: list[str] = []
    for dep in report.get("dependencies", []):
        if dep.get("name") in OWN_PACKAGES:
            continue
        if "skip_reason" in dep:
            skipped += 1
            continue
        audited += 1
        for vuln in dep.get("vulns", []):
            fixes = ", ".join(vuln.get("fix_versions", [])) or "no fix yet"
            findings.append(f"{dep['name']} {dep['version']}: {vuln['id']} (fixed in {fixes})")
    return audited, skipped, findings


def main(argv: list[str]) -> int:
    """Exit 1 on a vulnerability, 0 when clean or when the service is unreachable."""
    command = [sys.executable, "-m", "pip_audit", "--progress-spinner", "off", "-f", "json", *argv]
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=600)
    try:
        report = json.loads(done.stdout)
    except ValueError:
        print("pip-audit: could not run or reach its vulnerability service; NOT AUDITED.")
        print(done.stderr.strip().splitlines()[-1:] or "(no error output)")
        return 0
    audited, skipped, findings = summarise(report)
    for line in findings:
        print(f"pip-audit: VULNERABLE {line}")
    if findings:
        return 1
    if audited == 0:
        print(
            f"pip-audit: the vulnerability service answered for none of {skipped} packages "
            "(no route to PyPI's JSON API or OSV from here); NOT AUDITED. Run `make audit` "
            "where pypi.org/pypi/<name>/<version>/json is reachable."
        )
        return 0
    print(f"pip-audit: {audited} packages audited, {skipped} skipped, no known vulnerabilities.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""`make audit`'s pip-audit gate: a finding fails, an unreachable service is said out loud."""

from __future__ import annotations

from tests.security.pip_audit_gate import summarise


def test_a_known_vulnerability_is_a_finding() -> None:
    report = {
        "dependencies": [
            {"name": "musicbot", "version": "0.1.0", "skip_reason": "not on PyPI"},
            {"name": "fastapi", "version": "0.100.0", "vulns": []},
            {
                "name": "jinja2",
                "version": "3.1.2",
                "vulns": [{"id": "GHSA-h5c8-rqwp-cp95", "fix_versions": ["3.1.3"]}],
            },
        ]
    }
    audited, skipped, findings = summarise(report)
    assert (audited, skipped) == (2, 0)
    assert findings == ["jinja2 3.1.2: GHSA-h5c8-rqwp-cp95 (fixed in 3.1.3)"]


def test_every_package_skipped_means_nothing_was_audited() -> None:
    report = {
        "dependencies": [
            {"name": "fastapi", "version": "0.165.0", "skip_reason": "Dependency not found"},
            {"name": "httpx", "version": "0.28.1", "skip_reason": "Dependency not found"},
        ]
    }
    assert summarise(report) == (0, 2, [])

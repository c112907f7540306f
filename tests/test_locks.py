"""The pinned dependency files in requirements/ are those of pyproject.toml (offline: no
resolver, no network). When pyproject.toml's dependencies change, run scripts/lock.sh."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")
FIX = "out of date with pyproject.toml: run scripts/lock.sh"


def inputs(group: str) -> list[str]:
    if group == "build":
        return list(PYPROJECT["build-system"]["requires"])
    reqs = list(PYPROJECT["project"]["dependencies"])
    if group == "dev":
        reqs += PYPROJECT["project"]["optional-dependencies"]["dev"]
    return reqs


def header(text: str) -> list[str]:
    """The requirements the file says it was resolved from."""
    lines = text.splitlines()
    assert lines[0].startswith("# Resolved from:"), "no '# Resolved from:' header"
    out = []
    for line in lines[1:]:
        if not line.startswith("#   "):
            break
        out.append(line[4:])
    return out


def pins(text: str) -> dict[str, str]:
    return {
        canonicalize_name(m.group(1)): m.group(2)
        for line in text.splitlines()
        if (m := PIN.match(line))
    }


@pytest.mark.parametrize("group", ["runtime", "dev", "build"])
def test_each_lock_was_resolved_from_pyprojects_requirements(group: str) -> None:
    text = (ROOT / "requirements" / f"{group}.txt").read_text()
    assert header(text) == sorted(inputs(group), key=str.lower), f"requirements/{group}.txt {FIX}"


@pytest.mark.parametrize("group", ["runtime", "dev", "build"])
def test_each_requirement_is_pinned_within_its_bounds(group: str) -> None:
    pinned = pins((ROOT / "requirements" / f"{group}.txt").read_text())
    for line in inputs(group):
        req = Requirement(line)
        name = canonicalize_name(req.name)
        assert name in pinned, f"{req.name} is not pinned: requirements/{group}.txt {FIX}"
        assert req.specifier.contains(pinned[name], prereleases=True), (
            f"{req.name}=={pinned[name]} is outside {req.specifier}: requirements/{group}.txt {FIX}"
        )


@pytest.mark.parametrize("group", ["runtime", "build"])
def test_what_the_image_installs_is_pinned_with_hashes(group: str) -> None:
    text = (ROOT / "requirements" / f"{group}.txt").read_text()
    entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n\n", 1)[1])
    unhashed = [e.split()[0] for e in entries if PIN.match(e) and "--hash=sha256:" not in e]
    assert unhashed == []


def test_the_tests_run_the_versions_the_image_runs() -> None:
    runtime = pins((ROOT / "requirements" / "runtime.txt").read_text())
    dev = pins((ROOT / "requirements" / "dev.txt").read_text())
    differ = {name: (v, dev.get(name)) for name, v in runtime.items() if dev.get(name) != v}
    assert differ == {}, f"runtime and dev locks disagree: {differ}; run scripts/lock.sh"

"""install.py on both hosts: what it installs, and that it never changes a version the host ships."""

from __future__ import annotations

import importlib.util
import re
import sys
import types

import pytest
from hypothesis import given
from hypothesis import strategies as st
from packaging.version import Version

import install

# What each host has installed before the extension's install.py runs. lllyasviel Forge @dfdcbab6
# (requirements_versions.txt): numpy 1.26.2, Pillow 9.5.0, setuptools 69.5.1; SciPy, imageio and
# PyYAML come unpinned through scikit-image 0.21.0 and omegaconf, so their versions vary by install
# date. Forge Neo (webui/requirements.txt of the v3.5 snapshot): numpy 2.3.5, Pillow 12.2.0, joblib
# 1.5.3, pyyaml 6.0.3, SciPy 1.17.1 and imageio through scikit-image 0.25.2. Neither ships
# scikit-learn, threadpoolctl or imageio-ffmpeg.
FORGE = {
    "numpy": "1.26.2",
    "Pillow": "9.5.0",
    "setuptools": "69.5.1",
    "PyYAML": "6.0.1",
    "imageio": "2.34.1",
}
NEO = {
    "numpy": "2.3.5",
    "Pillow": "12.2.0",
    "setuptools": "69.5.1",
    "joblib": "1.5.3",
    "PyYAML": "6.0.3",
    "scipy": "1.17.1",
    "imageio": "2.37.0",
}
SPEC = re.compile(r'"([A-Za-z0-9._+!-]+)(==|>=)([A-Za-z0-9._+!-]+)"')


def specs(command: str | None) -> dict[str, tuple[str, str]]:
    """{name: (operator, version)} of an install command, every argument checked for its form."""
    if command is None:
        return {}
    verb, *arguments = command.split(" ")
    assert verb == "install"
    parsed = {}
    for argument in arguments:
        match = SPEC.fullmatch(argument)
        assert match is not None, argument
        parsed[match.group(1)] = (match.group(2), match.group(3))
    return parsed


def installed_anew(command: str | None) -> set[str]:
    return {name for name, (operator, _) in specs(command).items() if operator == ">="}


def command_for(host: dict[str, str]) -> str | None:
    versions: dict[str, str | None] = {**host}
    todo = install.needed(install.REQUIREMENTS, versions, importable=lambda module: False)
    return install.install_command(todo, versions)


def assert_changes_nothing_installed(command: str | None, host: dict[str, str]) -> None:
    """Every installed package the command names is held at, or admits, its installed version."""
    for name, (operator, version) in specs(command).items():
        if name not in host:
            continue
        if operator == "==":
            assert version == host[name], (name, version, host[name])
        else:
            assert Version(host[name]) < Version(version), f"{name} is installed and meets its floor"


@pytest.mark.parametrize("scipy", ["1.11.4", "1.15.3"])
def test_lllyasviel_forge_gets_the_walk_extras_around_its_numpy(scipy: str) -> None:
    host = {**FORGE, "scipy": scipy}
    parsed = specs(command_for(host))
    assert installed_anew(command_for(host)) == {"scikit-learn", "imageio-ffmpeg"}
    assert parsed["numpy"] == ("==", "1.26.2")
    assert parsed["Pillow"] == ("==", "9.5.0")
    assert parsed["scipy"] == ("==", scipy)
    assert "imageio" not in parsed  # installed and not a dependency held: not named at all
    assert_changes_nothing_installed(command_for(host), host)


def test_a_host_without_scipy_gets_it_at_its_floor() -> None:
    assert specs(command_for(FORGE))["scipy"] == (">=", "1.8")


def test_neo_keeps_numpy_scipy_pillow_and_joblib() -> None:
    parsed = specs(command_for(NEO))
    assert parsed["numpy"] == ("==", "2.3.5")
    assert parsed["scipy"] == ("==", "1.17.1")
    assert parsed["Pillow"] == ("==", "12.2.0")
    assert parsed["joblib"] == ("==", "1.5.3")
    assert installed_anew(command_for(NEO)) == {"scikit-learn", "imageio-ffmpeg"}
    assert_changes_nothing_installed(command_for(NEO), NEO)


def test_a_host_with_everything_is_left_alone() -> None:
    host = {**NEO, "scikit-learn": "1.8.0", "imageio-ffmpeg": "0.6.0"}
    assert command_for(host) is None


def test_a_package_below_its_floor_is_upgraded_never_pinned_down() -> None:
    host = {**NEO, "scikit-learn": "0.24.2", "imageio-ffmpeg": "0.6.0"}
    assert specs(command_for(host)) == {
        "scikit-learn": (">=", "1.0"),
        **{name: ("==", NEO[name]) for name in install.HELD if name in NEO},
    }


def test_a_module_without_metadata_counts_as_present() -> None:
    versions: dict[str, str | None] = {**NEO}
    todo = install.needed(install.REQUIREMENTS, versions, importable=lambda module: True)
    assert todo == []


versions_text = st.lists(st.integers(0, 30), min_size=1, max_size=4).map(
    lambda parts: ".".join(map(str, parts))
)


NAMES = sorted({requirement.distribution for requirement in install.REQUIREMENTS} | set(install.HELD))


@given(host=st.dictionaries(st.sampled_from(NAMES), versions_text))
def test_no_host_gets_a_downgrade_or_a_change_of_what_fits(host: dict[str, str]) -> None:
    assert_changes_nothing_installed(command_for(host), host)


@given(a=versions_text, b=versions_text, local=st.sampled_from(["", "+cpu", "+cu130", "rc1", ".post2"]))
def test_release_orders_as_pip_does(a: str, b: str, local: str) -> None:
    assert (install.release(a) < install.release(b)) == (Version(a) < Version(b))
    assert install.release(a + local) == install.release(a)


def test_odd_version_text_is_refused_not_passed_to_the_shell() -> None:
    with pytest.raises(ValueError, match="unexpected package name or version"):
        install.install_command(install.REQUIREMENTS[:1], {"numpy": '1.0" && rm -rf ~ "'})


def test_main_runs_one_pip_command_through_the_launcher(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, str]] = []
    launcher = types.ModuleType("launch")
    launcher.run_pip = lambda command, desc: calls.append((command, desc))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "launch", launcher)
    monkeypatch.setattr(install, "host_versions", lambda: {**NEO})
    monkeypatch.setattr(importlib.util, "find_spec", lambda module: None)
    install.main()
    assert len(calls) == 1
    assert specs(calls[0][0])["numpy"] == ("==", "2.3.5")
    assert "scikit-learn, imageio-ffmpeg" in calls[0][1]


def test_this_environment_needs_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "launch", raising=False)
    install.main()  # would import the absent launcher if anything were missing

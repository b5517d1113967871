"""Role policies as data: the shipped ones are complete, a site's own extends one, and nothing invalid loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from dicomaudit.acceptance.policy import (
    GOVERNED,
    OBSERVATIONS,
    PolicyError,
    Requirement,
    load_policy,
    load_role,
    shipped_roles,
)
from dicomaudit.checks.catalogue import load_catalogue

ROLES = ("archive", "modality", "workstation", "worklist", "router")


def write(tmp_path: Path, text: str, name: str = "site.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_five_roles_ship() -> None:
    # Given the installed package / When its roles are listed / Then the five are there
    assert set(ROLES) <= set(shipped_roles())


@pytest.mark.parametrize("role", ROLES)
def test_every_shipped_role_decides_every_catalogue_check(role: str) -> None:
    # Given a shipped role policy
    policy = load_role(role)
    # When its requirements are compared with the catalogue
    named = set(policy.checks) | set(GOVERNED)
    # Then a new catalogue check cannot slip in unjudged: every one is named (or decided by a setting)
    assert named == set(load_catalogue())
    assert all(policy.checks[c].require is Requirement.RECORDED for c in OBSERVATIONS)


def test_archive_requires_tls_and_the_lab_compensation_is_a_user_policy(tmp_path: Path) -> None:
    # Given the shipped archive policy and a site policy that extends it with TLS off
    site = load_policy(
        write(tmp_path, 'extends = "archive"\n[settings]\ntls_required = false\nhttps_required = false\n')
    )
    # Then the shipped one requires TLS, the site's does not, and their hashes differ
    assert load_role("archive").requires("tls_required") and load_role("archive").requires("https_required")
    assert not site.requires("tls_required") and not site.requires("https_required")
    assert site.sha256 != load_role("archive").sha256
    # and the site policy records every file of its chain
    assert [s.name for s in site.sources] == ["base", "archive", "site"]


def test_the_hash_is_of_the_requirements_not_of_the_file_layout(tmp_path: Path) -> None:
    # Given two files that say the same thing in another order, with comments
    a = load_policy(write(tmp_path, 'extends = "archive"\nname = "x"\n[settings]\ntls_required = false\n', "a.toml"))
    b = load_policy(
        write(
            tmp_path, '# site\nname = "x"   # ours\n\nextends = "archive"\n[settings]\ntls_required=false\n', "b.toml"
        )
    )
    # Then the resolved policies hash alike, the files do not
    assert a.sha256 == b.sha256
    assert a.sources[-1].sha256 != b.sources[-1].sha256


def test_a_user_override_wins_over_the_shipped_requirement(tmp_path: Path) -> None:
    policy = load_policy(
        write(
            tmp_path,
            'extends = "modality"\n[checks]\n"echo.unauthenticated" = { require = "pass", why = "site rule" }\n',
        )
    )
    assert policy.checks["echo.unauthenticated"].require is Requirement.PASS
    assert policy.checks["echo.unauthenticated"].why == "site rule"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            'extends = "archive"\n[checks]\n"find.unauthenticaed" = "pass"\n',
            "line 3: [checks] 'find.unauthenticaed': unknown check id (did you mean 'find.unauthenticated'?)",
        ),
        (
            'extends = "archive"\n[checks]\n"find.unauthenticated" = "passes"\n',
            "unknown outcome 'passes' (did you mean 'pass'?)",
        ),
        ('extends = "archve"\n', "line 1: 'extends': unknown role 'archve' (did you mean 'archive'?)"),
        (
            '[services]\nforbidden = ["Query/Retrieve - FND"]\n',
            "unknown service family 'Query/Retrieve - FND' (did you mean 'Query/Retrieve - FIND'?)",
        ),
        ("[settings]\ntls_requird = true\n", "unknown setting (did you mean 'tls_required'?)"),
        ('[checks]\n"transport.plaintext" = "pass"\n', "decided by the setting 'tls_required'"),
        ('[checks]\n"dicom.service" = "pass"\n', "only observes"),
        ("[chekcs]\n", "unknown key (did you mean 'checks'?)"),
        ("extends = \n", "not valid TOML"),
    ],
)
def test_an_invalid_policy_is_refused_naming_file_key_and_a_suggestion(
    tmp_path: Path, text: str, expected: str
) -> None:
    # Given a policy with one mistake / When it is loaded / Then the error names the file and the fix
    path = write(tmp_path, text)
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert str(path) in str(caught.value)
    assert expected in str(caught.value)


def test_an_extends_loop_is_refused(tmp_path: Path) -> None:
    write(tmp_path, 'extends = "b.toml"\n', "a.toml")
    write(tmp_path, 'extends = "a.toml"\n', "b.toml")
    with pytest.raises(PolicyError, match="loops back"):
        load_policy(tmp_path / "a.toml")


def test_an_unknown_role_names_the_known_ones() -> None:
    with pytest.raises(PolicyError, match=r"unknown role 'modalty' \(did you mean 'modality'\?\)"):
        load_role("modalty")

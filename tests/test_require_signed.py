"""`require-signed` through `gitimport sync`: signed by a trusted key, or refused (issue 5, item 3).

The repositories are made with the git CLI and signed with SSH keys made at
test time (tests/support/signing.py); the unit tests of the verifier itself,
OpenPGP included, are in tests/test_signatures.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.project import Project
from support.signing import SignedRepo, SshKey, make_ssh_key, tool

from gitimport.project.lock import read_lock
from gitimport.store import layout


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SshKey]:
    if tool("ssh-keygen") is None or tool("git") is None:
        pytest.skip("ssh-keygen and git are needed to make signed repositories")
    folder = tmp_path_factory.mktemp("keys")
    return {"alice": make_ssh_key(folder, "alice", "alice@example.com"), "mallory": make_ssh_key(folder, "mallory", "mallory@example.com")}


@pytest.fixture
def signed_repo(tmp_path: Path, keys: dict[str, SshKey]) -> SignedRepo:
    repo = SignedRepo(tmp_path / "signed", tmp_path / "signer-home")
    repo.tag("v1", repo.commit("signed by alice", sign=keys["alice"]))
    repo.tag("v2", repo.commit("unsigned"))
    repo.tag("v3", repo.commit("signed by mallory", sign=keys["mallory"]))
    repo.tag("v4", repo.commit("unsigned, released with a signed tag"), sign=keys["alice"])
    return repo


def configure(project: Project, repo: SignedRepo, ref: str, keys: dict[str, SshKey], per_module: bool = False) -> None:
    (project.root / "trusted-signers").write_text(keys["alice"].allowed_signers_line() + "\n")
    if per_module:
        text = f'trusted-signers = "trusted-signers"\n[modules]\nmylib = {{ git = "{repo.path}", ref = "{ref}", require-signed = true }}\n'
        project.config_path.write_text(text)
    else:
        project.configure({"mylib": f"{repo.path}@{ref}"}, settings='require-signed = true\ntrusted-signers = "trusted-signers"')


def test_commit_signed_by_a_trusted_key_is_accepted(project: Project, signed_repo: SignedRepo, keys: dict[str, SshKey]) -> None:
    configure(project, signed_repo, "v1", keys)

    result = project.cli("sync")

    assert result.code == 0, result.err
    assert "mylib" in read_lock(project.lock_path).modules


def test_unsigned_commit_is_refused(project: Project, signed_repo: SignedRepo, keys: dict[str, SshKey]) -> None:
    configure(project, signed_repo, "v2", keys)

    result = project.cli("sync")

    assert result.code == 1 and "is signed, and require-signed is on" in result.err
    assert project.lock_text() is None
    assert not (project.cache / layout.TREES).exists() or not any((project.cache / layout.TREES).iterdir())


def test_commit_signed_by_an_untrusted_key_is_refused(project: Project, signed_repo: SignedRepo, keys: dict[str, SshKey]) -> None:
    configure(project, signed_repo, "v3", keys)

    result = project.cli("sync")

    assert result.code == 1
    assert keys["mallory"].fingerprint in result.err and "trusted-signers" in result.err


def test_signed_tag_over_an_unsigned_commit_is_accepted_and_rechecked_offline(
    project: Project, signed_repo: SignedRepo, keys: dict[str, SshKey]
) -> None:
    import shutil

    configure(project, signed_repo, "v4", keys)
    assert project.cli("sync").code == 0
    shutil.rmtree(project.cache / layout.TREES)

    result = project.cli("sync", "--offline")

    assert result.code == 0, result.err


def test_per_module_require_signed(project: Project, signed_repo: SignedRepo, keys: dict[str, SshKey]) -> None:
    configure(project, signed_repo, "v2", keys, per_module=True)

    result = project.cli("sync")

    assert result.code == 1 and "require-signed is on" in result.err


def test_require_signed_without_trusted_signers_is_a_usage_error(project: Project, signed_repo: SignedRepo) -> None:
    project.configure({"mylib": f"{signed_repo.path}@v1"}, settings="require-signed = true")

    result = project.cli("sync")

    assert result.code == 2 and "trusted-signers" in result.err

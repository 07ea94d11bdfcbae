"""require-signed: SSH and OpenPGP signatures on the locked commit or on the tag that the ref names.

Keys are made at test time (ssh-keygen, gpg), signed commits and tags with the
git CLI, tampered objects with dulwich; the checks read the repository through
dulwich's object store, as sync does.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from dulwich.objects import ObjectID, ShaFile
from dulwich.repo import Repo
from support.signing import GpgKey, SignedRepo, SshKey, make_gpg_home, make_gpg_key, make_ssh_key, stop_gpg_home, tool

from gitimport.errors import ConfigError, IntegrityError
from gitimport.remote.signatures import (
    SignatureError,
    SignatureToolError,
    SignatureVerifier,
    Signer,
    load_trusted_signers,
    split_commit_signature,
    split_tag_signature,
    verify_signed,
)

needs_git = pytest.mark.skipif(tool("git") is None, reason="the git CLI is not installed")


@pytest.fixture(scope="module")
def ssh_keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SshKey]:
    if tool("ssh-keygen") is None:
        pytest.skip("ssh-keygen is not installed")
    folder = tmp_path_factory.mktemp("ssh-keys")
    return {
        "alice": make_ssh_key(folder, "alice", "alice@example.com"),
        "mallory": make_ssh_key(folder, "mallory", "mallory@example.com"),
    }


@pytest.fixture(scope="module")
def gpg_keys() -> Iterator[dict[str, GpgKey]]:
    if tool("gpg") is None or tool("gpg-agent") is None:
        pytest.skip("gpg is not installed")
    home = make_gpg_home()
    try:
        yield {
            "alice": make_gpg_key(home, "Alice", "alice@example.com"),
            "mallory": make_gpg_key(home, "Mallory", "mallory@example.com"),
        }
    finally:
        stop_gpg_home(home)


@pytest.fixture
def repo(tmp_path: Path, request: pytest.FixtureRequest) -> SignedRepo:
    if tool("git") is None:
        pytest.skip("the git CLI is not installed")
    gnupg_home = None
    if "gpg_keys" in request.fixturenames:
        gnupg_home = next(iter(request.getfixturevalue("gpg_keys").values())).home
    return SignedRepo(tmp_path / "repo", tmp_path / "home", gnupg_home)


def trusted(tmp_path: Path, *parts: str, name: str = "trusted-signers") -> Path:
    path = tmp_path / name
    path.write_text("# who may sign the code we import\n" + "".join(parts), encoding="utf-8")
    return path


def check(repo: SignedRepo, commit: str, tag: str | None, signers: Path, **kwargs: object) -> Signer:
    store = Repo(str(repo.path))
    try:
        return verify_signed(store.object_store, commit, tag, signers, what="mylib", **kwargs)  # type: ignore[arg-type]
    finally:
        store.close()


def refused(repo: SignedRepo, commit: str, tag: str | None, signers: Path, **kwargs: object) -> SignatureError:
    with pytest.raises(SignatureError) as caught:
        check(repo, commit, tag, signers, **kwargs)
    error = caught.value
    assert isinstance(error, IntegrityError)
    assert error.trusted_signers == signers
    assert "\n" not in error.message and error.hint
    return error


def add_raw(repo: SignedRepo, type_num: int, data: bytes) -> str:
    """Write a raw object with dulwich, as a forger would, and return its id."""
    store = Repo(str(repo.path))
    try:
        obj = ShaFile.from_raw_string(type_num, data)
        store.object_store.add_object(obj)
        return str(obj.id.decode("ascii"))
    finally:
        store.close()


def raw(repo: SignedRepo, object_id: str) -> bytes:
    store = Repo(str(repo.path))
    try:
        return bytes(store.object_store.get_raw(ObjectID(object_id.encode("ascii")))[1])
    finally:
        store.close()


# -- SSH -------------------------------------------------------------------------------------------


def test_ssh_signed_commit_by_a_trusted_key_is_accepted(repo: SignedRepo, ssh_keys: dict[str, SshKey], tmp_path: Path) -> None:
    alice = ssh_keys["alice"]
    commit = repo.commit("signed", sign=alice)
    signer = check(repo, commit, None, trusted(tmp_path, alice.allowed_signers_line()))
    assert signer == Signer("ssh", "alice@example.com", alice.fingerprint, "commit", commit)
    assert alice.fingerprint in str(signer)


def test_ssh_signed_tag_on_an_unsigned_commit_is_accepted(repo: SignedRepo, ssh_keys: dict[str, SshKey], tmp_path: Path) -> None:
    alice = ssh_keys["alice"]
    commit = repo.commit("not signed")
    tag = repo.tag("v1.0", commit, sign=alice)
    assert tag is not None
    signer = check(repo, commit, tag, trusted(tmp_path, alice.allowed_signers_line("release-team")), tag_name="v1.0")
    assert (signer.kind, signer.identity, signer.fingerprint, signer.object_type, signer.object_id) == (
        "ssh",
        "release-team",
        alice.fingerprint,
        "tag",
        tag,
    )


def test_unsigned_commit_is_refused(repo: SignedRepo, ssh_keys: dict[str, SshKey], tmp_path: Path) -> None:
    commit = repo.commit("not signed")
    error = refused(repo, commit, None, trusted(tmp_path, ssh_keys["alice"].allowed_signers_line()))
    assert error.reason == "unsigned" and error.signer is None
    assert error.message == f"Commit {commit[:12]} of mylib is not signed, and require-signed is on."


def test_unsigned_tag_and_commit_are_refused(repo: SignedRepo, ssh_keys: dict[str, SshKey], tmp_path: Path) -> None:
    commit = repo.commit("not signed")
    tag = repo.tag("v1.0", commit)
    error = refused(repo, commit, tag, trusted(tmp_path, ssh_keys["alice"].allowed_signers_line()))
    assert error.reason == "unsigned"
    assert error.message == f"Neither tag v1.0 nor its commit {commit[:12]} of mylib is signed, and require-signed is on."


def test_lightweight_tag_carries_no_signature(repo: SignedRepo, ssh_keys: dict[str, SshKey], tmp_path: Path) -> None:
    commit = repo.commit("not signed")
    assert repo.tag("v1.0", commit, annotated=False) is None
    error = refused(repo, commit, None, trusted(tmp_path, ssh_keys["alice"].allowed_signers_line()))
    assert error.reason == "unsigned"


def test_ssh_key_not_in_trusted_signers_is_refused_by_fingerprint(repo: SignedRepo, ssh_keys: dict[str, SshKey], tmp_path: Path) -> None:
    commit = repo.commit("signed by mallory", sign=ssh_keys["mallory"])
    signers = trusted(tmp_path, ssh_keys["alice"].allowed_signers_line())
    error = refused(repo, commit, None, signers)
    assert error.reason == "untrusted"
    assert error.signer is not None and ssh_keys["mallory"].fingerprint in error.signer
    assert ssh_keys["mallory"].fingerprint in error.message and str(signers) in error.message
    assert error.message.startswith(f"Commit {commit[:12]} of mylib is signed by SSH key {ssh_keys['mallory'].fingerprint}")


def test_untrusted_tag_and_unsigned_commit_name_both(repo: SignedRepo, ssh_keys: dict[str, SshKey], tmp_path: Path) -> None:
    commit = repo.commit("not signed")
    tag = repo.tag("v1.0", commit, sign=ssh_keys["mallory"])
    error = refused(repo, commit, tag, trusted(tmp_path, ssh_keys["alice"].allowed_signers_line()))
    assert error.reason == "untrusted"
    assert error.message.startswith(f"Tag v1.0 of mylib is signed by SSH key {ssh_keys['mallory'].fingerprint}")
    assert error.message.endswith(f", and its commit {commit[:12]} is not signed.")


def test_trusted_commit_signature_counts_when_the_tag_is_untrusted(repo: SignedRepo, ssh_keys: dict[str, SshKey], tmp_path: Path) -> None:
    commit = repo.commit("signed by alice", sign=ssh_keys["alice"])
    tag = repo.tag("v1.0", commit, sign=ssh_keys["mallory"])
    signer = check(repo, commit, tag, trusted(tmp_path, ssh_keys["alice"].allowed_signers_line()))
    assert (signer.object_type, signer.identity) == ("commit", "alice@example.com")


def test_tampered_ssh_signed_commit_is_a_bad_signature(repo: SignedRepo, ssh_keys: dict[str, SshKey], tmp_path: Path) -> None:
    alice = ssh_keys["alice"]
    commit = repo.commit("the real message", sign=alice)
    original = raw(repo, commit)
    assert b"\ngpgsig -----BEGIN SSH SIGNATURE-----\n" in original
    forged = add_raw(repo, 1, original.replace(b"the real message", b"an evil message"))
    assert forged != commit
    error = refused(repo, forged, None, trusted(tmp_path, alice.allowed_signers_line()))
    assert error.reason == "bad"
    assert "alice@example.com" in error.message and alice.fingerprint in error.message
    assert "does not verify" in error.message


def test_tampered_ssh_signed_tag_is_a_bad_signature(repo: SignedRepo, ssh_keys: dict[str, SshKey], tmp_path: Path) -> None:
    alice = ssh_keys["alice"]
    commit = repo.commit("not signed")
    tag = repo.tag("v1.0", commit, sign=alice)
    assert tag is not None
    forged = add_raw(repo, 4, raw(repo, tag).replace(b"Release v1.0", b"Release v6.6"))
    error = refused(repo, commit, forged, trusted(tmp_path, alice.allowed_signers_line()))
    assert error.reason == "bad" and error.message.startswith("Tag v1.0 of mylib carries a signature by alice@example.com")


def test_signed_tag_for_another_commit_does_not_count(repo: SignedRepo, ssh_keys: dict[str, SshKey], tmp_path: Path) -> None:
    alice = ssh_keys["alice"]
    released = repo.commit("released")
    tag = repo.tag("v1.0", released, sign=alice)
    other = repo.commit("not released")
    error = refused(repo, other, tag, trusted(tmp_path, alice.allowed_signers_line()))
    assert error.reason == "mismatch"
    assert f"points to commit {released[:12]}, not to commit {other[:12]}" in error.message


def test_signed_tag_published_under_another_name_does_not_count(repo: SignedRepo, ssh_keys: dict[str, SshKey], tmp_path: Path) -> None:
    alice = ssh_keys["alice"]
    commit = repo.commit("old release")
    tag = repo.tag("v0.9", commit, sign=alice)
    signers = trusted(tmp_path, alice.allowed_signers_line())
    assert check(repo, commit, tag, signers, tag_name="refs/tags/v0.9").object_type == "tag"
    error = refused(repo, commit, tag, signers, tag_name="v2.0")
    assert error.reason == "mismatch" and "'v2.0'" in error.message and "'v0.9'" in error.message


def test_ssh_signature_in_another_namespace_is_refused(repo: SignedRepo, ssh_keys: dict[str, SshKey], tmp_path: Path) -> None:
    alice = ssh_keys["alice"]
    commit = repo.commit("not signed")
    # A tag whose signature was made for `ssh-keygen -Y sign -n file`, not for git.
    payload = raw(repo, repo.tag("v1.0", commit) or "")
    (tmp_path / "payload").write_bytes(payload)
    subprocess.run(
        ["ssh-keygen", "-q", "-Y", "sign", "-n", "file", "-f", str(alice.private), str(tmp_path / "payload")],
        check=True,
        capture_output=True,
    )
    forged = add_raw(repo, 4, payload + (tmp_path / "payload.sig").read_bytes())
    error = refused(repo, commit, forged, trusted(tmp_path, alice.allowed_signers_line()))
    assert error.reason == "bad"


# -- OpenPGP ---------------------------------------------------------------------------------------


def test_openpgp_signed_commit_by_a_trusted_key_is_accepted(repo: SignedRepo, gpg_keys: dict[str, GpgKey], tmp_path: Path) -> None:
    alice = gpg_keys["alice"]
    commit = repo.commit("signed", sign=alice)
    signer = check(repo, commit, None, trusted(tmp_path, alice.armored))
    assert signer == Signer("openpgp", "Alice <alice@example.com>", alice.fingerprint, "commit", commit)


def test_openpgp_signed_tag_by_a_trusted_key_is_accepted(repo: SignedRepo, gpg_keys: dict[str, GpgKey], tmp_path: Path) -> None:
    alice = gpg_keys["alice"]
    commit = repo.commit("not signed")
    tag = repo.tag("v1.0", commit, sign=alice)
    signer = check(repo, commit, tag, trusted(tmp_path, alice.armored))
    assert (signer.kind, signer.fingerprint, signer.object_type, signer.object_id) == ("openpgp", alice.fingerprint, "tag", tag)


def test_openpgp_key_not_in_trusted_signers_is_refused(repo: SignedRepo, gpg_keys: dict[str, GpgKey], tmp_path: Path) -> None:
    mallory = gpg_keys["mallory"]
    commit = repo.commit("signed by mallory", sign=mallory)
    tag = repo.tag("v1.0", commit, sign=mallory)
    signers = trusted(tmp_path, gpg_keys["alice"].armored)
    error = refused(repo, commit, tag, signers)
    assert error.reason == "untrusted"
    assert mallory.fingerprint in error.message or mallory.fingerprint[-16:] in error.message
    assert str(signers) in error.message
    assert error.message.startswith("Tag v1.0 of mylib is signed by OpenPGP key")
    assert error.message.endswith(f", and its commit {commit[:12]} too.")


def test_openpgp_tampered_commit_is_a_bad_signature(repo: SignedRepo, gpg_keys: dict[str, GpgKey], tmp_path: Path) -> None:
    alice = gpg_keys["alice"]
    commit = repo.commit("the real message", sign=alice)
    forged = add_raw(repo, 1, raw(repo, commit).replace(b"the real message", b"an evil message"))
    error = refused(repo, forged, None, trusted(tmp_path, alice.armored))
    assert error.reason == "bad"
    assert "Alice <alice@example.com>" in error.message and alice.fingerprint in error.message


def test_openpgp_tampered_tag_is_a_bad_signature(repo: SignedRepo, gpg_keys: dict[str, GpgKey], tmp_path: Path) -> None:
    alice = gpg_keys["alice"]
    commit = repo.commit("not signed")
    tag = repo.tag("v1.0", commit, sign=alice)
    forged = add_raw(repo, 4, raw(repo, tag or "").replace(b"Release v1.0", b"Release v6.6"))
    assert refused(repo, commit, forged, trusted(tmp_path, alice.armored)).reason == "bad"


def test_openpgp_check_leaves_the_users_keyring_alone(
    repo: SignedRepo, gpg_keys: dict[str, GpgKey], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = gpg_keys["alice"]
    commit = repo.commit("signed", sign=alice)
    signers = trusted(tmp_path, alice.armored)
    user_home = tmp_path / "user-gnupg"
    user_home.mkdir(mode=0o700)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("GNUPGHOME", str(user_home))
    monkeypatch.setattr("tempfile.tempdir", str(scratch))
    assert check(repo, commit, None, signers).kind == "openpgp"
    assert list(user_home.iterdir()) == []
    assert list(scratch.iterdir()) == []


# -- both kinds ------------------------------------------------------------------------------------


def test_mixed_trusted_signers_file(repo: SignedRepo, ssh_keys: dict[str, SshKey], gpg_keys: dict[str, GpgKey], tmp_path: Path) -> None:
    ssh_commit = repo.commit("ssh", sign=ssh_keys["alice"])
    gpg_commit = repo.commit("gpg", sign=gpg_keys["alice"])
    untrusted_ssh = repo.commit("mallory ssh", sign=ssh_keys["mallory"])
    untrusted_gpg = repo.commit("mallory gpg", sign=gpg_keys["mallory"])
    signers = trusted(
        tmp_path,
        ssh_keys["alice"].allowed_signers_line(),
        "\n",
        gpg_keys["alice"].armored,
        "# more SSH keys after the block\n",
        ssh_keys["alice"].allowed_signers_line("alice-again"),
    )
    parsed = load_trusted_signers(signers)
    assert len(parsed.openpgp_keys) == 1 and "BEGIN PGP" not in parsed.allowed_signers
    store = Repo(str(repo.path))
    try:
        with SignatureVerifier(signers) as verifier:
            assert verifier.verify(store.object_store, ssh_commit, what="mylib").kind == "ssh"
            assert verifier.verify(store.object_store, gpg_commit, what="mylib").kind == "openpgp"
            for commit in (untrusted_ssh, untrusted_gpg):
                with pytest.raises(SignatureError) as caught:
                    verifier.verify(store.object_store, commit, what="mylib")
                assert caught.value.reason == "untrusted"
    finally:
        store.close()


def test_file_without_keys_of_the_signatures_kind(
    repo: SignedRepo, ssh_keys: dict[str, SshKey], gpg_keys: dict[str, GpgKey], tmp_path: Path
) -> None:
    ssh_commit = repo.commit("ssh", sign=ssh_keys["alice"])
    gpg_commit = repo.commit("gpg", sign=gpg_keys["alice"])
    only_gpg = trusted(tmp_path, gpg_keys["alice"].armored, name="only-gpg")
    only_ssh = trusted(tmp_path, ssh_keys["alice"].allowed_signers_line(), name="only-ssh")
    error = refused(repo, ssh_commit, None, only_gpg)
    assert error.reason == "untrusted" and ssh_keys["alice"].fingerprint in error.message and "lists no SSH keys" in error.message
    error = refused(repo, gpg_commit, None, only_ssh)
    assert error.reason == "untrusted" and gpg_keys["alice"].fingerprint in error.message


# -- missing tools, the file itself, odd objects ---------------------------------------------------


def test_missing_tools_are_named(
    repo: SignedRepo, ssh_keys: dict[str, SshKey], gpg_keys: dict[str, GpgKey], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ssh_commit = repo.commit("ssh", sign=ssh_keys["alice"])
    gpg_commit = repo.commit("gpg", sign=gpg_keys["alice"])
    signers = trusted(tmp_path, ssh_keys["alice"].allowed_signers_line(), gpg_keys["alice"].armored)
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    for commit, tool_name in ((ssh_commit, "ssh-keygen"), (gpg_commit, "gpg")):
        with pytest.raises(SignatureToolError) as caught:
            check(repo, commit, None, signers)
        assert caught.value.reason == "tool-missing"
        assert f"{tool_name} is not installed" in caught.value.message


def test_trusted_signers_file_problems_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_trusted_signers(tmp_path / "nope")
    with pytest.raises(ConfigError, match="lists no keys"):
        load_trusted_signers(trusted(tmp_path, "\n# nobody\n"))
    with pytest.raises(ConfigError, match="without its"):
        load_trusted_signers(trusted(tmp_path, "-----BEGIN PGP PUBLIC KEY BLOCK-----\nmQINBF...\n"))


def test_unreadable_openpgp_key_block_is_a_config_error(repo: SignedRepo, gpg_keys: dict[str, GpgKey], tmp_path: Path) -> None:
    commit = repo.commit("gpg", sign=gpg_keys["alice"])
    signers = trusted(tmp_path, "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQINBFgarbage\n=abcd\n-----END PGP PUBLIC KEY BLOCK-----\n")
    with pytest.raises(ConfigError, match="cannot import") as caught:
        check(repo, commit, None, signers)
    assert str(signers) in str(caught.value.hint)


@needs_git
def test_unsupported_signature_kinds_are_refused(repo: SignedRepo, tmp_path: Path) -> None:
    commit = repo.commit("not signed")
    payload = raw(repo, repo.tag("v1.0", commit) or "")
    forged = add_raw(repo, 4, payload + b"-----BEGIN SIGNED MESSAGE-----\nMIAG\n-----END SIGNED MESSAGE-----\n")
    error = refused(repo, commit, forged, trusted(tmp_path, "someone ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA\n"))
    assert error.reason == "unsupported" and "X.509" in error.message


def test_split_commit_signature_is_gits() -> None:
    commit = (
        b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n"
        b"author A <a@example.com> 1700000000 +0000\n"
        b"committer A <a@example.com> 1700000000 +0000\n"
        b"gpgsig -----BEGIN SSH SIGNATURE-----\n"
        b" U1NIU0lH\n"
        b" -----END SSH SIGNATURE-----\n"
        b"gpgsig-sha256 -----BEGIN PGP SIGNATURE-----\n"
        b" other\n"
        b" -----END PGP SIGNATURE-----\n"
        b"\n"
        b"message\n gpgsig in the body stays\n"
    )
    payload, signature = split_commit_signature(commit)
    assert signature == b"-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n-----END SSH SIGNATURE-----\n"
    assert payload == (
        b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n"
        b"author A <a@example.com> 1700000000 +0000\n"
        b"committer A <a@example.com> 1700000000 +0000\n"
        b"\n"
        b"message\n gpgsig in the body stays\n"
    )
    payload256, signature256 = split_commit_signature(commit, sha256=True)
    assert signature256 == b"-----BEGIN PGP SIGNATURE-----\nother\n-----END PGP SIGNATURE-----\n"
    assert b"SSH SIGNATURE" not in payload256
    assert split_commit_signature(payload) == (payload, b"")


def test_split_tag_signature_takes_the_last_armor() -> None:
    body = b"object 0\ntype commit\ntag v1\ntagger T <t@e> 1 +0000\n\nquoted:\n-----BEGIN PGP SIGNATURE-----\nfake\n"
    signature = b"-----BEGIN SSH SIGNATURE-----\nabc\n-----END SSH SIGNATURE-----\n"
    assert split_tag_signature(body + signature) == (body, signature)
    assert split_tag_signature(b"object 0\n\nplain\n") == (b"object 0\n\nplain\n", b"")


def test_git_agrees_with_the_payload_split(repo: SignedRepo, ssh_keys: dict[str, SshKey]) -> None:
    commit = repo.commit("signed", sign=ssh_keys["alice"])
    payload, signature = split_commit_signature(raw(repo, commit))
    shown = repo.git("cat-file", "commit", commit)
    assert "gpgsig" in shown and b"gpgsig" not in payload
    assert signature.startswith(b"-----BEGIN SSH SIGNATURE-----\n")
    assert shutil.which("git")

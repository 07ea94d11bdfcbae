"""Specs: ``REPO@REF[:PATH]`` and the table form (docs/configuration.md#specs, docs/lock-file.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitimport.errors import EXIT_USAGE, SpecError
from gitimport.project.spec import Spec, is_commit_id, parse_repo, parse_spec, redact_url, validate_module_name

BASE = Path("/projects/app")
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def parse(value: object) -> Spec:
    return parse_spec(value, BASE)  # type: ignore[arg-type]


def refused(value: object) -> SpecError:
    with pytest.raises(SpecError) as info:
        parse(value)
    error = info.value
    assert error.exit_code == EXIT_USAGE
    assert error.hint
    return error


# --- REPO forms ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "repo",
    [
        "https://github.com/org/repo",
        "https://github.com/org/repo.git",
        "https://github.com/org/repo/",
        "https://github.com/org/repo.git/",
        "https://GitHub.COM/org/repo",
        "HTTPS://github.com/org/repo",
        "github:org/repo",
        "github:org/repo.git",
    ],
)
def test_every_spelling_of_an_https_repo_normalizes_to_the_same_url(repo: str) -> None:
    spec = parse(f"{repo}@v1.2.0")
    assert spec.repo.normalized == "https://github.com/org/repo"
    assert spec.repo.identity == "https://github.com/org/repo"
    assert spec.repo.is_local is False


def test_an_https_repo_is_fetched_as_written() -> None:
    spec = parse("https://github.com/org/repo.git@v1")
    assert spec.repo.fetch == "https://github.com/org/repo.git"
    assert spec.repo.scheme == "https"
    assert spec.repo.host == "github.com"


def test_http_repo_keeps_its_scheme() -> None:
    spec = parse("http://example.com/team/repo.git@main")
    assert spec.repo.normalized == "http://example.com/team/repo"
    assert spec.repo.scheme == "http"
    assert spec.repo.host == "example.com"


def test_normalized_host_is_lowercased() -> None:
    spec = parse("https://Git.Example.COM/Org/Repo@v1")
    assert spec.repo.normalized == "https://git.example.com/Org/Repo"
    assert spec.repo.host == "git.example.com"


def test_explicit_port_is_kept_in_normalized_url() -> None:
    assert parse("https://git.example.com:8443/r@v1").repo.normalized == "https://git.example.com:8443/r"


@pytest.mark.parametrize(
    "spec_text",
    [
        "https://user:s3cret-token@github.com/org/repo.git@v1:src",
        "https://s3cret-token@github.com/org/repo@v1:src",
        "http://user:s3cret-token@example.com/org/repo@v1:src",
        "ssh://user:s3cret-token@example.com/org/repo@v1:src",
    ],
)
def test_credentials_in_userinfo_never_reach_stored_forms(spec_text: str) -> None:
    spec = parse(spec_text)
    for stored in (spec.redacted, spec.repo.normalized, spec.repo.identity):
        assert "s3cret" not in stored
        assert "user" not in stored
    assert spec.redacted.endswith("/org/repo@v1:src")


@pytest.mark.parametrize(
    "spec_text",
    ["git:s3cret-token@example.com:org/repo@v1:src", "user:s3cret-token@[::1]:org/repo@v1", "u:s3cret-token@example.com:/srv/repo@v1"],
)
def test_a_password_in_an_scp_like_address_is_refused_without_being_quoted(spec_text: str) -> None:
    """ssh takes no password from an address: ``user:token@host:path`` would otherwise be read as host ``user``
    with the token in its path, and land in the lock."""
    with pytest.raises(SpecError) as caught:
        parse(spec_text)
    assert "s3cret" not in caught.value.message + (caught.value.hint or "")
    assert "password" in caught.value.message


def test_redact_url_removes_the_userinfo_of_an_scp_like_address() -> None:
    assert redact_url("git:s3cret@example.com:org/repo") == "example.com:org/repo"
    assert redact_url("git@example.com:org/repo") == "git@example.com:org/repo"  # a user name is not a secret


def test_credentials_are_kept_for_fetching() -> None:
    spec = parse("https://user:s3cret-token@github.com/org/repo@v1")
    assert spec.repo.fetch == "https://user:s3cret-token@github.com/org/repo"


def test_changing_only_the_token_does_not_change_the_redacted_spec() -> None:
    assert parse("https://a:one@h.example/r@v1").redacted == parse("https://a:two@h.example/r@v1").redacted


def test_ssh_url_with_user_and_port() -> None:
    spec = parse("ssh://git@example.com:2222/org/repo.git@main")
    assert spec.repo.fetch == "ssh://git@example.com:2222/org/repo.git"
    assert spec.repo.normalized == "ssh://example.com:2222/org/repo"
    assert spec.repo.host == "example.com"
    assert spec.repo.scheme == "ssh"
    assert spec.ref == "main"


def test_ssh_url_without_user_or_port() -> None:
    assert parse("ssh://example.com/org/repo@main").repo.normalized == "ssh://example.com/org/repo"


def test_git_protocol_url() -> None:
    spec = parse("git://example.com/org/repo.git@v2")
    assert spec.repo.normalized == "git://example.com/org/repo"
    assert spec.repo.scheme == "git"
    assert spec.repo.host == "example.com"


def test_file_url_is_local() -> None:
    spec = parse("file:///srv/git/repo.git@main:pkg")
    assert spec.repo.is_local is True
    assert spec.repo.normalized == "file:///srv/git/repo"
    assert spec.repo.identity == "file:///srv/git/repo"
    assert spec.repo.host is None
    assert spec.repo.scheme == "file"
    assert spec.path == "pkg"


def test_scp_like_repo_drops_user_and_lowercases_host() -> None:
    spec = parse("git@GitHub.com:org/repo.git@v1:src/x")
    assert spec.repo.fetch == "git@GitHub.com:org/repo.git"
    assert spec.repo.normalized == "github.com:org/repo"
    assert spec.repo.host == "github.com"
    assert spec.repo.scheme == "ssh"
    assert (spec.ref, spec.path) == ("v1", "src/x")


def test_scp_like_repo_without_user() -> None:
    spec = parse("example.com:org/repo@v1")
    assert spec.repo.normalized == "example.com:org/repo"
    assert spec.repo.host == "example.com"


@pytest.mark.parametrize(
    ("repo", "fetch", "normalized"),
    [
        ("./libs/repo", "/projects/app/libs/repo", "./libs/repo"),
        ("../shared/repo", "/projects/shared/repo", "../shared/repo"),
        ("/srv/git/repo", "/srv/git/repo", "/srv/git/repo"),
        ("./libs/repo.git", "/projects/app/libs/repo.git", "./libs/repo"),
        ("./libs/repo/", "/projects/app/libs/repo", "./libs/repo"),
    ],
)
def test_local_paths_resolve_against_the_base_dir_and_stay_as_written_in_the_lock(repo: str, fetch: str, normalized: str) -> None:
    spec = parse(f"{repo}@main")
    assert spec.repo.is_local is True
    assert spec.repo.fetch == fetch
    assert spec.repo.normalized == normalized
    assert spec.repo.host is None
    assert spec.repo.scheme == "file"


def test_relative_local_path_defaults_to_the_current_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert Path(parse_spec("./repo@main").repo.fetch) == Path.cwd() / "repo"


def test_local_path_and_its_file_url_share_one_identity() -> None:
    local = parse("./libs/repo@main")
    absolute = parse("/projects/app/libs/repo@main")
    as_url = parse("file:///projects/app/libs/repo.git@main")
    assert local.repo.identity == absolute.repo.identity == as_url.repo.identity == "file:///projects/app/libs/repo"


def test_one_relative_path_means_different_repos_from_different_config_folders() -> None:
    one = parse_spec("./repo@main", Path("/a"))
    two = parse_spec("./repo@main", Path("/b"))
    assert one.repo.normalized == two.repo.normalized
    assert one.repo.identity != two.repo.identity


def test_file_url_with_dot_dot_shares_the_identity_of_the_plain_path() -> None:
    assert parse("file:///srv/git/x/../repo@main").repo.identity == parse("/srv/git/repo@main").repo.identity


@pytest.mark.parametrize(
    ("shorthand", "url"),
    [
        ("github:org/repo", "https://github.com/org/repo"),
        ("gitlab:group/sub/repo", "https://gitlab.com/group/sub/repo"),
        ("codeberg:org/repo", "https://codeberg.org/org/repo"),
    ],
)
def test_shorthands_expand_to_https(shorthand: str, url: str) -> None:
    spec = parse(f"{shorthand}@v1")
    assert spec.repo.fetch == url
    assert spec.repo.normalized == url
    assert spec.repo.scheme == "https"
    assert spec.redacted == f"{url}@v1"


def test_shorthand_without_owner_is_refused() -> None:
    error = refused("github:repo@v1")
    assert "'github:repo@v1'" in error.message
    assert "owner/repo" in error.message


def test_parse_repo_alone_accepts_a_repo_without_ref() -> None:
    assert parse_repo("github:org/repo").normalized == "https://github.com/org/repo"


# --- REF -------------------------------------------------------------------------------------


@pytest.mark.parametrize("ref", ["v1.2.0", "main", "feature/new-thing", "release/2024/q1", "HEAD", "refs/heads/main"])
def test_refs_are_taken_as_written(ref: str) -> None:
    spec = parse(f"https://h.example/r@{ref}:src")
    assert spec.ref == ref
    assert spec.path == "src"
    assert spec.is_pinned_commit is False


def test_a_full_commit_id_is_a_pinned_commit() -> None:
    spec = parse(f"github:org/repo@{COMMIT}:src")
    assert spec.ref == COMMIT
    assert spec.is_pinned_commit is True


@pytest.mark.parametrize("ref", [COMMIT[:39], COMMIT + "0", COMMIT.upper(), "g" * 40])
def test_anything_but_40_lowercase_hex_is_not_a_commit_id(ref: str) -> None:
    assert is_commit_id(ref) is False


def test_ref_comes_after_the_last_at_sign() -> None:
    spec = parse("https://user@h.example/r@v1")
    assert spec.ref == "v1"
    assert spec.repo.normalized == "https://h.example/r"


def test_scp_user_at_sign_is_not_taken_for_the_ref() -> None:
    spec = parse("git@h.example:org/r@v1")
    assert spec.ref == "v1"
    assert spec.repo.normalized == "h.example:org/r"


def test_path_starts_at_the_first_colon_after_the_ref() -> None:
    spec = parse("git@h.example:org/r@v1:src/a:b")
    assert spec.repo.normalized == "h.example:org/r"
    assert spec.ref == "v1"
    assert spec.path == "src/a:b"


def test_surrounding_whitespace_is_ignored() -> None:
    assert parse("  https://h.example/r@v1:src  ").redacted == "https://h.example/r@v1:src"


# --- PATH ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "normalized"),
    [
        ("a/./b", "a/b"),
        ("src/pkg/", "src/pkg"),
        ("./src", "src"),
        ("a//b", "a/b"),
        (".", ""),
        ("", ""),
        ("mod.py", "mod.py"),
        (".gitignore", ".gitignore"),
    ],
)
def test_path_is_normalized(path: str, normalized: str) -> None:
    assert parse(f"https://h.example/r@v1:{path}").path == normalized


def test_omitted_path_is_the_repository_root() -> None:
    spec = parse("https://h.example/r@v1")
    assert spec.path == ""
    assert spec.redacted == "https://h.example/r@v1"


def test_redacted_spec_parses_back_to_itself() -> None:
    spec = parse("https://user:tok@H.example/org/repo.git/@v1:./src//pkg/")
    assert parse(spec.redacted).redacted == spec.redacted


@pytest.mark.parametrize("spec_text", ["https://h.example/r.git.git@v1", "https://h.example/.git@v1"])
def test_redacted_spec_of_an_odd_repo_name_parses_back_to_itself(spec_text: str) -> None:
    spec = parse(spec_text)
    assert parse(spec.redacted).redacted == spec.redacted


def test_redacted_form_uses_the_normalized_path() -> None:
    assert parse("https://h.example/r.git/@v1:./src//pkg/").redacted == "https://h.example/r@v1:src/pkg"


# --- table form ------------------------------------------------------------------------------


def test_table_form_means_the_same_as_the_string_form() -> None:
    table = parse({"git": "https://h.example/r.git", "ref": "v1", "path": "src/./pkg/"})
    text = parse("https://h.example/r.git@v1:src/./pkg/")
    assert (table.repo, table.ref, table.path, table.redacted) == (text.repo, text.ref, text.path, text.redacted)


def test_table_form_without_path_is_the_repository_root() -> None:
    spec = parse({"git": "github:org/repo", "ref": "main"})
    assert spec.path == ""
    assert spec.redacted == "https://github.com/org/repo@main"


def test_table_form_with_a_local_repo_resolves_against_the_base_dir() -> None:
    assert parse({"git": "./repo", "ref": "v1"}).repo.fetch == "/projects/app/repo"


def test_table_form_with_a_commit_is_pinned() -> None:
    assert parse({"git": "github:org/repo", "ref": COMMIT}).is_pinned_commit is True


def test_table_with_an_unknown_key_is_refused_naming_the_key() -> None:
    error = refused({"git": "https://h.example/r", "ref": "v1", "pth": "src"})
    assert "unknown key" in error.message
    assert "pth" in error.message


def test_table_without_ref_is_refused() -> None:
    error = refused({"git": "https://h.example/r", "path": "src"})
    assert "'ref'" in error.message
    assert "https://h.example/r" in error.message


def test_table_without_git_is_refused() -> None:
    assert "'git'" in refused({"ref": "v1"}).message


def test_table_with_an_empty_ref_is_refused() -> None:
    assert "'ref'" in refused({"git": "https://h.example/r", "ref": ""}).message


def test_table_with_a_non_string_path_is_refused() -> None:
    assert "'path'" in refused({"git": "https://h.example/r", "ref": "v1", "path": 3}).message


def test_table_with_a_bad_path_is_refused_like_the_string_form() -> None:
    assert "'..'" in refused({"git": "https://h.example/r", "ref": "v1", "path": "../x"}).message


def test_table_ref_containing_an_at_sign_is_refused() -> None:
    refused({"git": "https://h.example/r", "ref": "a@b"})


@pytest.mark.parametrize("value", [3, None, ["https://h.example/r@v1"], 1.5])
def test_a_spec_that_is_neither_string_nor_table_is_refused(value: object) -> None:
    assert "string or a table" in refused(value).message


# --- malformed specs: the message quotes the spec and names the wrong part ---------------------


@pytest.mark.parametrize(
    "spec_text",
    ["https://h.example/r", "github:org/repo", "./repo", "git@h.example:org/repo", "https://user@h.example/org/repo"],
)
def test_spec_without_ref_is_refused(spec_text: str) -> None:
    error = refused(spec_text)
    assert repr(spec_text.replace("user@", "")) in error.message  # quoted, without userinfo
    assert "@REF" in error.message


def test_empty_ref_is_refused() -> None:
    error = refused("https://h.example/r@")
    assert "'https://h.example/r@'" in error.message
    assert "empty REF" in error.message


@pytest.mark.parametrize("ref", ["bad ref", "v1~1", "v1^", "a?b", "a*b", "a[b", "tab\there"])
def test_ref_with_characters_git_forbids_is_refused(ref: str) -> None:
    spec_text = f"https://h.example/r@{ref}"
    error = refused(spec_text)
    assert repr(spec_text) in error.message
    assert f"invalid REF {ref!r}" in error.message


@pytest.mark.parametrize("ref", ["a..b", "a//b", "-x", "/x", ".x", "x/", "x.", "x.lock"])
def test_ref_breaking_git_ref_name_rules_is_refused(ref: str) -> None:
    assert f"invalid REF {ref!r}" in refused(f"https://h.example/r@{ref}").message


@pytest.mark.parametrize("path", ["../x", "a/../../x", "a/..", ".."])
def test_path_with_dot_dot_is_refused(path: str) -> None:
    spec_text = f"https://h.example/r@v1:{path}"
    error = refused(spec_text)
    assert repr(spec_text) in error.message
    assert "'..'" in error.message
    assert "PATH" in error.message


def test_absolute_path_is_refused() -> None:
    spec_text = "https://h.example/r@v1:/etc/x"
    error = refused(spec_text)
    assert repr(spec_text) in error.message
    assert "absolute PATH" in error.message


@pytest.mark.parametrize("path", [".git", ".git/config", "sub/.git/hooks"])
def test_path_through_a_dot_git_folder_is_refused(path: str) -> None:
    error = refused(f"https://h.example/r@v1:{path}")
    assert "'.git'" in error.message
    assert "PATH" in error.message


def test_path_with_a_backslash_is_refused() -> None:
    spec_text = "https://h.example/r@v1:src\\pkg"
    error = refused(spec_text)
    assert repr(spec_text) in error.message
    assert "backslash" in error.message


@pytest.mark.parametrize("scheme", ["ftp", "svn", "github", "s3"])
def test_unknown_url_scheme_is_refused(scheme: str) -> None:
    spec_text = f"{scheme}://h.example/org/r@v1"
    error = refused(spec_text)
    assert repr(spec_text) in error.message
    assert f"scheme {scheme!r}" in error.message


@pytest.mark.parametrize("spec_text", ["https:///org/r@v1", "ssh:///org/r@v1", "git:///r@v1"])
def test_url_without_host_is_refused(spec_text: str) -> None:
    error = refused(spec_text)
    assert repr(spec_text) in error.message
    assert "without a host" in error.message


def test_url_without_repository_path_is_refused() -> None:
    assert "without a repository path" in refused("https://h.example/@v1").message


@pytest.mark.parametrize("spec_text", ["https://h.example:99999/r@v1", "https://h.example:port/r@v1"])
def test_url_with_a_bad_port_is_refused(spec_text: str) -> None:
    assert "bad host or port" in refused(spec_text).message


@pytest.mark.parametrize("spec_text", ["https://h.example/r?x=1@v1", "https://h.example/r#frag@v1"])
def test_url_with_query_or_fragment_is_refused(spec_text: str) -> None:
    assert "query or fragment" in refused(spec_text).message


def test_file_url_with_a_remote_host_is_refused() -> None:
    assert "file URL" in refused("file://server/share/repo@v1").message


def test_repo_that_is_no_known_form_is_refused() -> None:
    error = refused("just/a/relative/path@v1")
    assert "'just/a/relative/path@v1'" in error.message
    assert "REPO" in error.message


@pytest.mark.parametrize("spec_text", ["https://[::1/r@v1", "https://[not-an-ip]/r@v1", "https://h\uff03x.example/r@v1", "A://[/@"])
def test_url_that_urlsplit_rejects_is_refused_as_a_spec_error(spec_text: str) -> None:
    refused(spec_text)


@pytest.mark.parametrize(
    ("spec_text", "table"),
    [
        ("https://user:s3cret@h.example/r@bad ref", None),
        ("https://s3cret@h.example/r", None),
        ("https://user:s3cret@h.example/r@v1:../x", None),
        (None, {"git": "https://user:s3cret@h.example/r", "ref": "bad ref"}),
    ],
)
def test_error_messages_never_show_credentials(spec_text: str | None, table: dict[str, str] | None) -> None:
    error = refused(spec_text if spec_text is not None else table)
    assert "s3cret" not in str(error)


def test_redact_url_removes_userinfo() -> None:
    assert redact_url("fetching https://user:tok@h.example/r and ssh://git@h2/r") == "fetching https://h.example/r and ssh://h2/r"


# --- module names ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["mylib", "acme.tools", "_private", "a.b.c", "pkg2", "match"])
def test_dotted_identifiers_are_valid_module_names(name: str) -> None:
    assert validate_module_name(name) == name


@pytest.mark.parametrize("name", ["class", "acme.import", "None", "1abc", "a..b", ".a", "a.", "a-b", "a b", ""])
def test_invalid_module_names_are_refused(name: str) -> None:
    with pytest.raises(SpecError) as info:
        validate_module_name(name)
    assert repr(name) in info.value.message
    assert info.value.hint
    assert info.value.exit_code == EXIT_USAGE


def test_non_string_module_name_is_refused() -> None:
    with pytest.raises(SpecError):
        validate_module_name(3)

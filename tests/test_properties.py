"""Property tests: the parsers of user-written files fail only with their own errors (docs/commands.md#exit-codes-and-errors)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitimport.errors import ConfigError, LockFileError, SpecError
from gitimport.project.config import Config, load_config
from gitimport.project.lock import Lock, read_lock
from gitimport.project.spec import Spec, parse_spec

BASE = Path("/projects/app")
#: GITIMPORT_FUZZ_EXAMPLES=20000 turns the suite into a fuzz run with fresh random inputs
FUZZ_EXAMPLES = int(os.environ.get("GITIMPORT_FUZZ_EXAMPLES", "0"))
PROPERTY_SETTINGS = settings(
    max_examples=FUZZ_EXAMPLES or 200,
    deadline=None,
    derandomize=not FUZZ_EXAMPLES,  # the same examples on every ordinary run: a stable suite
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

# Spec-shaped text: pieces of every REPO form, glued with the characters the grammar cares about.
_FRAGMENTS = st.sampled_from(
    [
        "https://",
        "http://",
        "ssh://",
        "git://",
        "file://",
        "ftp://",
        "github:",
        "gitlab:",
        "codeberg:",
        "./",
        "../",
        "/",
        "~/",
        "user:tok@",
        "git@",
        "@",
        ":",
        "/",
        ".git",
        ".",
        "..",
        "\\",
        "[",
        "]",
        "::1",
        "h.example",
        "GitHub.COM",
        "org",
        "repo",
        ":2222",
        "v1.2.0",
        "main",
        "HEAD",
        "feature/x",
        "a" * 40,
        "src",
        "pkg",
        "mod.py",
        " ",
        "?",
        "#",
        "%20",
        "\uff03",
        "\x00",
    ]
)
SPEC_LIKE = st.lists(_FRAGMENTS | st.text(max_size=3), max_size=12).map("".join)
ANY_SPEC_TEXT = st.text() | SPEC_LIKE

WELL_FORMED = st.builds(
    "{}{}@{}{}".format,
    st.sampled_from(["https://", "http://", "ssh://git@", "git://", "https://user:tok@"]),
    st.sampled_from(["h.example/org/repo", "H.Example:8080/r.git", "h.example/a/b/", "h.example/r.git/"]),
    st.sampled_from(["v1", "main", "feature/x", "HEAD", "a" * 40]),
    st.sampled_from(["", ":src", ":src/pkg/", ":a/./b", ":mod.py", ":."]),
) | st.builds(
    "{}@{}{}".format,
    st.sampled_from(["github:org/repo", "gitlab:group/sub/repo", "codeberg:o/r.git", "git@H.example:org/repo.git", "h.example:r"]),
    st.sampled_from(["v1", "release/2024", "a" * 40]),
    st.sampled_from(["", ":src", ":x/y.py"]),
)


@PROPERTY_SETTINGS
@given(ANY_SPEC_TEXT)
def test_parse_spec_returns_a_spec_or_raises_spec_error(text: str) -> None:
    try:
        spec = parse_spec(text, BASE)
    except SpecError as error:
        assert error.message
        assert error.hint
        return
    assert isinstance(spec, Spec)


@PROPERTY_SETTINGS
@given(ANY_SPEC_TEXT | WELL_FORMED)
def test_redacted_form_of_a_remote_spec_is_a_fixed_point(text: str) -> None:
    try:
        spec = parse_spec(text, BASE)
    except Exception:  # what may be raised is the business of the test above
        return
    if spec.repo.is_local:
        return
    again = parse_spec(spec.redacted, BASE)
    assert again.redacted == spec.redacted
    assert (again.repo.identity, again.ref, again.path) == (spec.repo.identity, spec.ref, spec.path)


@PROPERTY_SETTINGS
@given(WELL_FORMED)
def test_well_formed_specs_parse_and_hold_no_credentials(text: str) -> None:
    spec = parse_spec(text, BASE)
    for stored in (spec.redacted, spec.repo.normalized, spec.repo.identity):
        assert "tok" not in stored
        assert "user" not in stored


@PROPERTY_SETTINGS
@given(st.binary(max_size=400) | st.text(max_size=400).map(lambda s: s.encode("utf-8")))
def test_read_lock_returns_a_lock_or_raises_lock_file_error(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "gitimport.lock"
        path.write_bytes(data)
        try:
            lock = read_lock(path)
        except LockFileError as error:
            assert error.hint
            return
        assert isinstance(lock, Lock)


_TOML_KEYS = st.sampled_from(
    ["modules", "mirrors", "offline", "frozen", "cache-dir", "lockfile", "allow-hosts", "insecure-hosts", "acme.tools", '"acme.tools"', "x"]
)
_TOML_VALUES = st.sampled_from(
    [
        '"github:o/r@v1"',
        '"./r@v1"',
        '"https://h/r"',
        "true",
        "1",
        "[]",
        '["h"]',
        "{}",
        '{ git = "github:o/r", ref = "v1" }',
        '{ ref = "v1" }',
        '""',
    ]
)
TOML_LIKE = st.lists(
    st.one_of(
        st.sampled_from(["[modules]", "[mirrors]", "[modules.acme]", "[tool.gitimport]", '"https://a/" = "https://b/"']),
        st.builds("{} = {}".format, _TOML_KEYS, _TOML_VALUES),
        st.text(max_size=20),
    ),
    max_size=8,
).map("\n".join)


@PROPERTY_SETTINGS
@given(st.text(max_size=300) | TOML_LIKE)
def test_load_config_returns_a_config_or_raises_a_usage_error(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "gitimport.toml"
        path.write_text(text, encoding="utf-8")
        try:
            config = load_config(path)
        except (ConfigError, SpecError) as error:
            assert error.hint
            return
        assert isinstance(config, Config)

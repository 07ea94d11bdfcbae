"""Inputs and faults that used to escape as tracebacks, silent changes or leaked tokens.

Each failure must be one sentence and a hint, with the documented exit code,
and must leave the lock and the cache as they were.  Tokens in URLs must reach
no file the cache holds (its lock holder files included), no output, and no
exception that ``pin()`` raises.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from support.project import Project, Result, ok
from support.repos import FixtureSet
from support.servers import PRIVATE_TOKEN, PRIVATE_USER, Server

from gitimport.store import layout

USER, TOKEN = PRIVATE_USER, PRIVATE_TOKEN
DEEP = 2000


def one_sentence_and_a_hint(result: Result, code: int) -> str:
    """The error line (after ``error: ``) of a command that failed the documented way."""
    assert result.code == code, (result.code, result.err)
    assert result.out == ""
    lines = result.err.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("error: ") and lines[1].startswith("hint: "), result.err
    assert lines[0].endswith(".") and "Internal error" not in lines[0], lines[0]
    return lines[0][len("error: ") :]


def fails_cleanly(project: Project, *args: str, code: int) -> str:
    """Run a command that must fail, changing neither the lock nor the cache; return its error sentence."""
    lock, cache = project.lock_text(), project.cache_files()
    sentence = one_sentence_and_a_hint(project.cli(*args), code)
    assert project.lock_text() == lock
    assert project.cache_files() == cache
    assert not list((project.cache / layout.TMP).iterdir()) if (project.cache / layout.TMP).is_dir() else True
    assert not list(project.root.glob(".*.tmp"))
    return sentence


def as_toml(value: str) -> object:
    """What TOML makes of ``value``: ``inf`` and ``nan`` are floats, ``86401`` an integer."""
    from gitimport.errors import ConfigError
    from gitimport.project._toml import parse_toml

    return parse_toml(f"v = {value}", "value", ConfigError)["v"]


@pytest.fixture
def helper_project(project: Project, git_http_backend_server: Server) -> Project:
    """A project whose one module comes over HTTP, so network settings are used; nothing synced yet."""
    project.url = git_http_backend_server.url
    project.configure({"helper": project.spec("v1:tools/helper.py")})
    return project


# timeout and retries --------------------------------------------------------------------


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e300", "86401"])
def test_a_timeout_that_is_not_a_finite_number_of_seconds_is_refused(helper_project: Project, value: str) -> None:
    helper_project.configure({"helper": helper_project.spec("v1:tools/helper.py")}, settings=f"timeout = {value}")

    sentence = fails_cleanly(helper_project, "sync", code=2)

    assert (
        sentence == f"{helper_project.config_path}: 'timeout' must be a positive number of seconds, at most 86400, not {as_toml(value)!r}."
    )


@pytest.mark.parametrize("value", ["nan", "inf", "1e400"])
def test_gitimport_timeout_that_is_not_a_finite_number_is_refused(
    helper_project: Project, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITIMPORT_TIMEOUT", value)

    sentence = fails_cleanly(helper_project, "sync", code=2)

    assert sentence == f"GITIMPORT_TIMEOUT must be a positive number of seconds, at most 86400, not {value!r}."


@pytest.mark.parametrize("value", ["inf", "nan", "2.5"])
def test_retries_that_are_not_a_whole_number_are_refused(helper_project: Project, value: str) -> None:
    helper_project.configure({"helper": helper_project.spec("v1:tools/helper.py")}, settings=f"retries = {value}")

    sentence = fails_cleanly(helper_project, "sync", code=2)

    assert sentence == f"{helper_project.config_path}: 'retries' must be a positive whole number, not {as_toml(value)!r}."


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "soon"])
def test_gitimport_lock_timeout_that_is_not_a_number_of_seconds_is_refused(
    project: Project, fixture_repos: FixtureSet, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.configure({"helper": f"{fixture_repos['toolbox'].path}@v1:tools/helper.py"})
    assert project.cli("sync").code == 0
    monkeypatch.setenv("GITIMPORT_LOCK_TIMEOUT", value)

    sentence = fails_cleanly(project, "sync", "--upgrade", code=2)  # the repository's lock is needed

    assert sentence == f"GITIMPORT_LOCK_TIMEOUT must be a number of seconds, 0 or more, not {value!r}."


# Deeply nested TOML ---------------------------------------------------------------------


@pytest.mark.parametrize("nested", ["{a = " * DEEP + "1" + "}" * DEEP, "[" * DEEP + "1" + "]" * DEEP])
def test_a_config_nested_too_deeply_is_refused(project: Project, fixture_repos: FixtureSet, nested: str) -> None:
    project.configure({"helper": f"{fixture_repos['toolbox'].path}@v1:tools/helper.py"})
    project.config_path.write_text(project.config_path.read_text() + f"x = {nested}\n")

    sentence = fails_cleanly(project, "sync", code=2)

    assert sentence == f"{project.config_path}: invalid TOML: arrays or inline tables are nested too deeply to read."


def test_a_lock_nested_too_deeply_is_refused(project: Project, fixture_repos: FixtureSet) -> None:
    project.configure({"helper": f"{fixture_repos['toolbox'].path}@v1:tools/helper.py"})
    assert project.cli("sync").code == 0
    project.lock_path.write_text("version = 1\n[modules]\nhelper = " + "{a = " * DEEP + "1" + "}" * DEEP + "\n")

    sentence = fails_cleanly(project, "sync", code=2)

    assert sentence == f"{project.lock_path}: invalid TOML: arrays or inline tables are nested too deeply to read."


def test_a_pyproject_nested_too_deeply_on_the_way_up_is_refused(project: Project) -> None:
    """Discovery parses a pyproject.toml that mentions gitimport: that parse has the same guard."""
    (project.root / "pyproject.toml").write_text("[tool.gitimport]\nx = " + "[" * DEEP + "]" * DEEP + "\n")

    sentence = fails_cleanly(project, "list", code=2)

    assert "nested too deeply" in sentence


# Files and folders that cannot be what the config says ---------------------------------


def test_add_with_a_lockfile_in_a_missing_folder_is_refused_before_any_work(project: Project, fixture_repos: FixtureSet) -> None:
    project.config_path.write_text('lockfile = "locks/gitimport.lock"\n[modules]\n')

    sentence = fails_cleanly(project, "add", "helper", f"{fixture_repos['toolbox'].path}@v1:tools/helper.py", code=2)

    missing = project.root / "locks"
    assert sentence == f"{project.config_path}: 'lockfile' names {missing / 'gitimport.lock'}, in {missing}, which is not a folder."
    assert project.config_path.read_text() == 'lockfile = "locks/gitimport.lock"\n[modules]\n'
    assert not (project.cache / layout.REPOS).exists()  # refused before anything was fetched


def test_a_lockfile_that_is_a_folder_is_refused(project: Project, fixture_repos: FixtureSet) -> None:
    (project.root / "locks").mkdir()
    project.configure({"helper": f"{fixture_repos['toolbox'].path}@v1:tools/helper.py"}, settings='lockfile = "locks"')

    sentence = fails_cleanly(project, "sync", code=2)

    assert sentence == f"{project.config_path}: 'lockfile' names {project.root / 'locks'}, which is a folder."


@pytest.mark.parametrize("where", ["environment", "config"])
def test_a_cache_dir_that_is_a_file_is_refused_and_the_file_kept(
    project: Project, fixture_repos: FixtureSet, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    cache_file = project.root / "cachefile"
    cache_file.write_text("not a cache\n")
    settings = ""
    if where == "environment":
        monkeypatch.setenv("GITIMPORT_CACHE_DIR", str(cache_file))
    else:
        monkeypatch.delenv("GITIMPORT_CACHE_DIR")
        settings = 'cache-dir = "cachefile"'
    project.configure({"helper": f"{fixture_repos['toolbox'].path}@v1:tools/helper.py"}, settings=settings)

    synced = one_sentence_and_a_hint(project.cli("sync"), 2)
    cleaned = one_sentence_and_a_hint(project.cli("cache", "clean"), 2)

    assert synced == cleaned == f"The cache folder {cache_file} is a file."
    assert cache_file.read_text() == "not a cache\n" and project.lock_text() is None


def test_a_cache_dir_below_a_file_is_refused(project: Project, fixture_repos: FixtureSet, monkeypatch: pytest.MonkeyPatch) -> None:
    (project.root / "cachefile").write_text("not a cache\n")
    monkeypatch.setenv("GITIMPORT_CACHE_DIR", str(project.root / "cachefile" / "cache"))
    project.configure({"helper": f"{fixture_repos['toolbox'].path}@v1:tools/helper.py"})

    sentence = one_sentence_and_a_hint(project.cli("sync"), 2)

    assert sentence == f"The cache folder {project.root / 'cachefile' / 'cache'} cannot be created: a part of its path is a file."


# Control characters in REPO -------------------------------------------------------------


@pytest.mark.parametrize("character", ["\n", "\t", "\r"])
def test_a_control_character_in_the_repo_url_is_refused_not_dropped(helper_project: Project, character: str) -> None:
    """urlsplit drops tabs and newlines: ``tool<newline>box`` would silently fetch ``toolbox``."""
    url = helper_project.spec("v1:tools/helper.py").replace("toolbox", f"tool{character}box")
    helper_project.config_path.write_text(f"[modules]\nhelper = {json.dumps(url)}\n")  # a TOML basic string: \n, \t, \r escapes

    sentence = fails_cleanly(helper_project, "sync", code=2)

    quoted = url.replace(character, repr(character)[1:-1])
    assert (
        sentence
        == f"{helper_project.config_path}: module 'helper': Spec '{quoted}' has a control character (a newline, a tab, …) in its REPO."
    )


def test_add_of_a_repo_url_with_a_newline_writes_nothing(helper_project: Project) -> None:
    helper_project.config_path.write_text("[modules]\n")
    url = helper_project.spec("v1:tools/helper.py").replace("toolbox", "tool\nbox")

    sentence = fails_cleanly(helper_project, "add", "helper", url, code=2)

    assert "tool\\nbox" in sentence and "control character" in sentence
    assert helper_project.config_path.read_text() == "[modules]\n"


# A full disk ----------------------------------------------------------------------------


@pytest.mark.skipif(os.name != "posix", reason="RLIMIT_FSIZE is POSIX")
def test_a_lock_write_that_hits_the_file_size_limit_fails_in_one_sentence(project: Project, fixture_repos: FixtureSet) -> None:
    """A full disk, simulated: RLIMIT_FSIZE makes a write past the limit fail with EFBIG, as ENOSPC fails a write.

    Everything the sync needs is already in the cache, so the first file it
    must write is the new lock, which is larger than the limit; the old lock
    is smaller than the limit, so what the test sees is that write failing.
    """
    toolbox = fixture_repos["toolbox"].path
    both = {"helper": f"{toolbox}@v1:tools/helper.py", "mylib": f"{toolbox}@v2:src"}
    project.configure(both)
    assert project.cli("sync").code == 0
    project.configure({"helper": both["helper"]})
    assert project.cli("sync").code == 0
    old_lock = project.lock_text() or ""
    project.configure(both)
    cache = project.cache_files()
    limit = len(old_lock) + 120  # room for the holder files; the new lock, with two entries, needs ~300 bytes more

    def limit_file_size() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # fail the write with EFBIG instead of killing the process
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    result = subprocess.run(
        [sys.executable, "-m", "gitimport", "sync"],
        cwd=project.root,
        env=project.env(),
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=limit_file_size,
    )

    sentence = one_sentence_and_a_hint(Result(result.returncode, result.stdout, result.stderr), 1)
    assert sentence == f"The file system failed on {project.lock_path}: File too large."
    assert "free disk space" in result.stderr
    assert project.lock_text() == old_lock
    assert project.cache_files() == cache
    assert not list(project.root.glob(".*.tmp"))
    assert project.cli("sync").code == 0 and project.cli("verify").code == 0


# Secrets --------------------------------------------------------------------------------


def files_holding(folder: Path, secret: str, *, skip: tuple[str, ...] = ()) -> list[str]:
    """Every file under ``folder`` whose bytes hold ``secret``: lock and holder files included."""
    return [
        str(p.relative_to(folder))
        for p in folder.rglob("*")
        if p.is_file() and not p.is_symlink() and p.name not in skip and secret.encode() in p.read_bytes()
    ]


def test_a_token_on_the_command_line_reaches_no_file_and_no_output(project: Project, private_server: Server, isolated_home: Path) -> None:
    """`gitimport add NAME http://user:token@…`: the command line is what the cache's lock holder files record."""
    url = private_server.repo_url("toolbox").replace("http://", f"http://{USER}:{TOKEN}@")
    project.config_path.write_text("[modules]\n")

    added = project.gitimport("add", "helper", f"{url}@v1:tools/helper.py")
    ok(added)
    project.configure({"helper": f"{url}@v1:tools/helper.py", "mylib": f"{url}@v2:src"})  # the user's own file
    synced = project.gitimport("sync", "--verbose")
    ok(synced)

    assert any(p.suffix == ".holder" for p in (project.cache / layout.LOCKS).iterdir())
    for result in (added, synced):
        assert TOKEN not in result.stdout and TOKEN not in result.stderr
    assert files_holding(project.cache, TOKEN) == []
    assert files_holding(project.root, TOKEN, skip=("gitimport.toml",)) == []


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_no_exception_pin_raises_holds_the_password(
    tmp_path: Path, private_server: Server, isolated_home: Path, fixture_repos: FixtureSet
) -> None:
    """Every way pin() can fail, with a password in the spec: the ImportError and everything chained to it."""
    url = private_server.repo_url("toolbox").replace("http://", f"http://{USER}:{TOKEN}@")
    toolbox = fixture_repos["toolbox"]
    cases = {
        "no @REF": (url, {}),
        "bad ref": (f"{url}@bad..ref", {}),
        "bad commit=": (f"{url}@v1:tools/helper.py", {"commit": "abc"}),
        "unreachable host": (f"http://{USER}:{TOKEN}@127.0.0.1:{closed_port()}/toolbox@v1:tools/helper.py", {}),
        "wrong password": (url.replace(TOKEN, f"wrong-{TOKEN}") + "@v1:tools/helper.py", {}),
        "missing ref": (f"{url}@nosuch:tools/helper.py", {}),
        "wrong commit=": (f"{url}@v1:tools/helper.py", {"commit": toolbox.tags["v2"]}),
        "commit and commit= disagree": (f"{url}@{toolbox.tags['v1']}:tools/helper.py", {"commit": toolbox.tags["v2"]}),
        "missing path": (f"{url}@v1:nosuch.py", {}),
        "control character": (f"{url}\n@v1:tools/helper.py", {}),
    }
    code = textwrap.dedent(
        """
        import json, sys, warnings
        from gitimport.pin import pin

        warnings.simplefilter("ignore")
        out = {}
        for case, (spec, kwargs) in json.loads(sys.argv[1]).items():
            try:
                pin(spec, name="helper", **kwargs)
                out[case] = None
            except ImportError as exc:
                texts, seen = [], exc
                while seen is not None:
                    texts += [type(seen).__name__, str(seen), repr(seen), *map(repr, seen.args)]
                    seen = seen.__cause__ or seen.__context__
                out[case] = texts
        print(json.dumps(out))
        """
    )
    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "GITIMPORT_CACHE_DIR": str(tmp_path / "cache")}

    run = subprocess.run([sys.executable, "-c", code, json.dumps(cases)], cwd=work, env=env, capture_output=True, text=True, timeout=120)

    assert run.returncode == 0, run.stderr
    failures = json.loads(run.stdout)
    assert {case: [t for t in texts or [] if TOKEN in t] for case, texts in failures.items()} == {case: [] for case in cases}
    assert all(texts is not None and texts[0] == "GitImportImportError" for texts in failures.values()), failures
    assert TOKEN not in run.stderr
    assert files_holding(tmp_path / "cache", TOKEN) == []

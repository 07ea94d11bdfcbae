"""The lock file (docs/lock-file.md): strict validation, deterministic and atomic writes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from gitimport import atomic as atomic_module
from gitimport.errors import EXIT_USAGE, LockFileError
from gitimport.project import lock as lock_module
from gitimport.project.lock import EMPTY_LOCK, Lock, LockEntry, read_lock, render_lock, write_lock
from gitimport.store.layout import root_name

PACKAGE = LockEntry(
    spec="https://github.com/org/repo@v1.2.0:src/mylib",
    url="https://github.com/org/repo",
    ref="v1.2.0",
    commit="a" * 40,
    path="src/mylib",
    kind="package",
    object="b" * 40,
    digest="sha256:" + "c" * 64,
)
MODULE = replace(PACKAGE, spec="github:org/tools@main:helpers.py", path="helpers.py", kind="module", ref="main")
NAMESPACE = replace(PACKAGE, path="", kind="namespace")
LOCK = Lock(modules={"mylib": PACKAGE, "helpers": MODULE, "acme.tools": NAMESPACE})

VALID_ENTRY = """\
spec = "https://h.example/r@v1:pkg"
url = "https://h.example/r"
ref = "v1"
commit = "{commit}"
path = "{path}"
kind = "{kind}"
object = "{object}"
digest = "{digest}"
"""


def entry_text(**overrides: str) -> str:
    values = {"commit": "a" * 40, "path": "pkg", "kind": "package", "object": "b" * 40, "digest": "sha256:" + "c" * 64}
    values.update(overrides)
    return VALID_ENTRY.format(**values)


def lock_refused(path: Path, text: str) -> LockFileError:
    path.write_text(text, encoding="utf-8")
    with pytest.raises(LockFileError) as info:
        read_lock(path)
    error = info.value
    assert error.exit_code == EXIT_USAGE
    assert error.hint
    assert str(path) in error.message
    return error


@pytest.fixture
def lock_path(tmp_path: Path) -> Path:
    return tmp_path / "gitimport.lock"


# --- reading and writing ---------------------------------------------------------------------


def test_written_lock_reads_back_equal(lock_path: Path) -> None:
    assert write_lock(lock_path, LOCK) is True
    assert read_lock(lock_path) == LOCK


def test_dotted_module_names_round_trip(lock_path: Path) -> None:
    write_lock(lock_path, Lock(modules={"acme.tools": PACKAGE}))
    assert '[modules."acme.tools"]' in lock_path.read_text(encoding="utf-8")
    assert read_lock(lock_path).get("acme.tools") == PACKAGE


def test_a_missing_lock_file_is_an_empty_lock(tmp_path: Path) -> None:
    assert read_lock(tmp_path / "absent.lock") == EMPTY_LOCK
    assert read_lock(None) == EMPTY_LOCK


def test_an_empty_lock_round_trips(lock_path: Path) -> None:
    write_lock(lock_path, EMPTY_LOCK)
    assert read_lock(lock_path).modules == {}


def test_lock_get_returns_none_for_an_unknown_module() -> None:
    assert LOCK.get("nope") is None
    assert LOCK.get("mylib") == PACKAGE


def test_written_lock_has_the_documented_layout(lock_path: Path) -> None:
    write_lock(lock_path, Lock(modules={"mylib": PACKAGE}))
    text = lock_path.read_text(encoding="utf-8")
    assert "version = 1\n" in text
    assert text.index("version = 1") < text.index("[modules.mylib]")
    body = text[text.index("[modules.mylib]") :].splitlines()[1:9]
    assert [line.split(" = ")[0] for line in body] == ["spec", "url", "ref", "commit", "path", "kind", "object", "digest"]


def test_the_lock_file_uses_unix_newlines(lock_path: Path) -> None:
    write_lock(lock_path, LOCK)
    assert b"\r\n" not in lock_path.read_bytes()


# --- determinism -----------------------------------------------------------------------------


def test_rendering_is_deterministic() -> None:
    assert render_lock(LOCK) == render_lock(Lock(modules=dict(LOCK.modules)))


def test_insertion_order_does_not_matter(tmp_path: Path) -> None:
    forward = Lock(modules={"a": PACKAGE, "b": MODULE, "c.d": NAMESPACE})
    backward = Lock(modules={"c.d": NAMESPACE, "b": MODULE, "a": PACKAGE})
    write_lock(tmp_path / "one.lock", forward)
    write_lock(tmp_path / "two.lock", backward)
    assert (tmp_path / "one.lock").read_bytes() == (tmp_path / "two.lock").read_bytes()


def test_modules_are_written_sorted_by_name(lock_path: Path) -> None:
    write_lock(lock_path, Lock(modules={"zeta": PACKAGE, "alpha": PACKAGE, "mid.x": PACKAGE}))
    text = lock_path.read_text(encoding="utf-8")
    assert text.index("[modules.alpha]") < text.index('[modules."mid.x"]') < text.index("[modules.zeta]")


def test_unchanged_lock_is_not_rewritten(lock_path: Path) -> None:
    write_lock(lock_path, LOCK)
    old = time.time() - 3600
    os.utime(lock_path, (old, old))
    before = lock_path.stat()
    assert write_lock(lock_path, Lock(modules=dict(reversed(list(LOCK.modules.items()))))) is False
    after = lock_path.stat()
    assert (after.st_mtime_ns, after.st_ino) == (before.st_mtime_ns, before.st_ino)


def test_changed_lock_is_rewritten(lock_path: Path) -> None:
    write_lock(lock_path, LOCK)
    changed = Lock(modules={**LOCK.modules, "mylib": replace(PACKAGE, commit="d" * 40)})
    assert write_lock(lock_path, changed) is True
    assert read_lock(lock_path) == changed


def test_a_hand_edited_lock_with_the_same_data_is_rewritten_canonically(lock_path: Path) -> None:
    write_lock(lock_path, LOCK)
    lock_path.write_text(lock_path.read_text(encoding="utf-8") + "\n# a comment\n", encoding="utf-8")
    assert write_lock(lock_path, LOCK) is True
    assert lock_path.read_text(encoding="utf-8") == render_lock(LOCK)


# --- atomic writes ---------------------------------------------------------------------------


def test_writing_leaves_no_temporary_files(lock_path: Path) -> None:
    write_lock(lock_path, LOCK)
    write_lock(lock_path, Lock(modules={"mylib": PACKAGE}))
    assert sorted(p.name for p in lock_path.parent.iterdir()) == ["gitimport.lock"]


def test_a_failed_rename_keeps_the_old_lock_and_leaves_no_temporary_file(lock_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_lock(lock_path, LOCK)
    old_bytes = lock_path.read_bytes()

    def broken_replace(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic_module.os, "replace", broken_replace)
    with pytest.raises(OSError):
        write_lock(lock_path, Lock(modules={"mylib": replace(PACKAGE, commit="d" * 40)}))
    monkeypatch.undo()
    assert lock_path.read_bytes() == old_bytes
    assert sorted(p.name for p in lock_path.parent.iterdir()) == ["gitimport.lock"]


def test_a_failed_flush_keeps_the_old_lock_and_leaves_no_temporary_file(lock_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_lock(lock_path, LOCK)
    old_bytes = lock_path.read_bytes()

    def broken_fsync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(atomic_module.os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        write_lock(lock_path, EMPTY_LOCK)
    monkeypatch.undo()
    assert lock_path.read_bytes() == old_bytes
    assert sorted(p.name for p in lock_path.parent.iterdir()) == ["gitimport.lock"]


def test_a_failed_render_does_not_touch_the_lock(lock_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_lock(lock_path, LOCK)
    old_bytes = lock_path.read_bytes()

    def broken_render(lock: Lock) -> str:
        raise RuntimeError("boom")

    monkeypatch.setattr(lock_module, "render_lock", broken_render)
    with pytest.raises(RuntimeError):
        write_lock(lock_path, EMPTY_LOCK)
    assert lock_path.read_bytes() == old_bytes
    assert sorted(p.name for p in lock_path.parent.iterdir()) == ["gitimport.lock"]


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_temporary_files_of_dead_writers_are_cleaned_up(lock_path: Path) -> None:
    stale = lock_path.parent / f".gitimport.lock.{dead_pid()}.abc123.tmp"
    stale.write_text("half a lock", encoding="utf-8")
    write_lock(lock_path, LOCK)
    assert not stale.exists()


def test_temporary_files_of_live_writers_are_left_alone(lock_path: Path) -> None:
    live = lock_path.parent / f".gitimport.lock.{os.getpid()}.abc123.tmp"
    live.write_text("being written", encoding="utf-8")
    write_lock(lock_path, LOCK)
    assert live.exists()


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["2", "0", '"1"', "-1"])
def test_an_unknown_version_is_refused(lock_path: Path, version: str) -> None:
    error = lock_refused(lock_path, f"version = {version}\n")
    assert "version" in error.message
    assert "upgrade gitimport" in (error.hint or "")


def test_a_lock_without_version_is_refused(lock_path: Path) -> None:
    assert "version None" in lock_refused(lock_path, "[modules]\n").message


@pytest.mark.parametrize("version", ["true", "1.0"])
def test_a_version_that_is_not_the_integer_1_is_refused(lock_path: Path, version: str) -> None:
    lock_refused(lock_path, f"version = {version}\n")


def test_a_missing_field_is_refused_naming_module_and_field(lock_path: Path) -> None:
    text = "version = 1\n[modules.mylib]\n" + entry_text().replace('ref = "v1"\n', "")
    error = lock_refused(lock_path, text)
    assert "'mylib'" in error.message
    assert "ref" in error.message


def test_a_field_of_the_wrong_type_counts_as_missing(lock_path: Path) -> None:
    text = "version = 1\n[modules.mylib]\n" + entry_text().replace('ref = "v1"', "ref = 1")
    assert "ref" in lock_refused(lock_path, text).message


@pytest.mark.parametrize("field", ["commit", "object"])
@pytest.mark.parametrize("value", ["a" * 39, "a" * 41, "A" * 40, "g" * 40, ""])
def test_a_bad_hex_id_is_refused(lock_path: Path, field: str, value: str) -> None:
    error = lock_refused(lock_path, "version = 1\n[modules.mylib]\n" + entry_text(**{field: value}))
    assert f"a {field} that is not 40 lowercase hex digits" in error.message
    assert "'mylib'" in error.message


@pytest.mark.parametrize("digest", ["c" * 64, "sha1:" + "c" * 40, "sha256:" + "c" * 63, "sha256:" + "C" * 64, "sha256:" + "z" * 64])
def test_a_bad_digest_is_refused(lock_path: Path, digest: str) -> None:
    error = lock_refused(lock_path, "version = 1\n[modules.mylib]\n" + entry_text(digest=digest))
    assert "digest" in error.message
    assert "'mylib'" in error.message


def test_an_unknown_kind_is_refused(lock_path: Path) -> None:
    error = lock_refused(lock_path, "version = 1\n[modules.mylib]\n" + entry_text(kind="library"))
    assert "unknown kind 'library'" in error.message
    assert "namespace" in (error.hint or "")


def test_kind_module_with_a_non_py_path_is_refused(lock_path: Path) -> None:
    error = lock_refused(lock_path, "version = 1\n[modules.mylib]\n" + entry_text(kind="module", path="src/mylib"))
    assert "kind 'module'" in error.message
    assert ".py" in error.message


def test_kind_module_with_a_py_path_is_accepted(lock_path: Path) -> None:
    lock_path.write_text("version = 1\n[modules.mylib]\n" + entry_text(kind="module", path="src/mylib.py"), encoding="utf-8")
    assert read_lock(lock_path).modules["mylib"].kind == "module"


def test_modules_that_is_not_a_table_is_refused(lock_path: Path) -> None:
    assert "'modules' must be a table" in lock_refused(lock_path, "version = 1\nmodules = 3\n").message


def test_a_module_that_is_not_a_table_is_refused(lock_path: Path) -> None:
    assert "'mylib' must be a table" in lock_refused(lock_path, "version = 1\n[modules]\nmylib = 3\n").message


def test_an_invalid_module_name_is_refused(lock_path: Path) -> None:
    error = lock_refused(lock_path, 'version = 1\n[modules."not-a-name"]\n' + entry_text())
    assert "'not-a-name'" in error.message


def test_invalid_toml_is_refused_naming_line_and_column(lock_path: Path) -> None:
    error = lock_refused(lock_path, "version = 1\n[modules.mylib\n")
    assert error.message.startswith(f"{lock_path}:2:")
    assert "invalid TOML" in error.message


def test_a_lock_that_is_not_utf8_is_refused(lock_path: Path) -> None:
    lock_path.write_bytes(b"version = 1\n# \xff\n")
    with pytest.raises(LockFileError) as info:
        read_lock(lock_path)
    assert "UTF-8" in info.value.message


# --- where a lock entry lives in the cache ---------------------------------------------------


def test_root_name_is_the_last_path_component() -> None:
    assert root_name(PACKAGE.path, "mylib") == "mylib"
    assert root_name(MODULE.path, "helpers") == "helpers.py"


def test_root_name_of_a_root_namespace_is_the_last_module_name() -> None:
    assert root_name(NAMESPACE.path, "acme.tools") == "tools"

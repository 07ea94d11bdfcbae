"""Finding and reading the configuration (docs/configuration.md: discovery, dotted names, outputs others rely on)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from gitimport.errors import EXIT_USAGE, ConfigError, SpecError
from gitimport.project.config import Config, find_config_file, load_config


@pytest.fixture(autouse=True)
def empty_current_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Discovery walks up from the current folder: start from an empty one (conftest clears GITIMPORT_*)."""
    empty = tmp_path / "cwd"
    empty.mkdir()
    monkeypatch.chdir(empty)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load(path: Path) -> Config:
    return load_config(path)


def refused(path: Path, error: type[Exception] = ConfigError) -> ConfigError | SpecError:
    with pytest.raises(error) as info:  # type: ignore[type-var]
        load_config(path)
    raised = info.value
    assert isinstance(raised, (ConfigError, SpecError))
    assert raised.exit_code == EXIT_USAGE
    assert raised.hint
    return raised


# --- discovery -------------------------------------------------------------------------------


def test_gitimport_config_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write(tmp_path / "elsewhere" / "gitimport.toml", "offline = true\n")
    write(Path.cwd() / "gitimport.toml", "")
    monkeypatch.setenv("GITIMPORT_CONFIG", str(config))
    loaded = load_config()
    assert loaded.path == config
    assert loaded.offline is True


def test_gitimport_config_may_name_a_pyproject(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write(tmp_path / "p" / "pyproject.toml", '[tool.gitimport.modules]\nm = "https://h.example/r@v1"\n')
    monkeypatch.setenv("GITIMPORT_CONFIG", str(config))
    assert list(load_config().modules) == ["m"]


def test_relative_gitimport_config_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(Path.cwd() / "conf" / "gitimport.toml", "")
    monkeypatch.setenv("GITIMPORT_CONFIG", "conf/gitimport.toml")
    path = load_config().path
    assert path is not None
    assert path.is_absolute()
    assert path == Path.cwd() / "conf" / "gitimport.toml"


def test_gitimport_config_naming_a_missing_file_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITIMPORT_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(ConfigError) as info:
        load_config()
    assert "GITIMPORT_CONFIG" in info.value.message
    assert "nope.toml" in info.value.message
    assert info.value.hint
    assert info.value.exit_code == EXIT_USAGE


def test_discovery_walks_up_to_gitimport_toml(tmp_path: Path) -> None:
    config = write(tmp_path / "proj" / "gitimport.toml", "")
    nested = tmp_path / "proj" / "a" / "b" / "c"
    nested.mkdir(parents=True)
    assert load_config(start=nested).path == config


def test_discovery_starts_from_the_current_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write(tmp_path / "proj" / "gitimport.toml", "")
    nested = tmp_path / "proj" / "src"
    nested.mkdir()
    monkeypatch.chdir(nested)
    assert load_config().path == config


def test_discovery_walks_up_to_a_pyproject_with_a_gitimport_table(tmp_path: Path) -> None:
    config = write(tmp_path / "proj" / "pyproject.toml", "[project]\nname = 'x'\n\n[tool.gitimport]\noffline = true\n")
    nested = tmp_path / "proj" / "src" / "x"
    nested.mkdir(parents=True)
    loaded = load_config(start=nested)
    assert loaded.path == config
    assert loaded.offline is True


def test_a_pyproject_without_the_table_is_skipped(tmp_path: Path) -> None:
    outer = write(tmp_path / "gitimport.toml", "")
    write(tmp_path / "proj" / "pyproject.toml", "[project]\nname = 'gitimport-consumer'\n\n[tool.other]\nx = 1\n")
    assert load_config(start=tmp_path / "proj").path == outer


def test_the_nearest_config_wins(tmp_path: Path) -> None:
    write(tmp_path / "gitimport.toml", "")
    inner = write(tmp_path / "proj" / "pyproject.toml", "[tool.gitimport]\n")
    assert load_config(start=tmp_path / "proj").path == inner


def test_gitimport_toml_wins_over_pyproject_in_the_same_folder(tmp_path: Path) -> None:
    pyproject = write(tmp_path / "pyproject.toml", '[tool.gitimport.modules]\nm = "https://h.example/r@v1"\n')
    config = write(tmp_path / "gitimport.toml", '[modules]\nm = "https://h.example/r@v2"\n')
    loaded = load_config(start=tmp_path)
    assert loaded.path == config
    assert loaded.modules["m"].ref == "v2"
    assert loaded.shadowed == pyproject


def test_nothing_is_shadowed_when_the_pyproject_has_no_table(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", "[project]\nname = 'x'\n")
    write(tmp_path / "gitimport.toml", "")
    assert load_config(start=tmp_path).shadowed is None


def test_find_config_file_reports_the_shadowed_pyproject(tmp_path: Path) -> None:
    pyproject = write(tmp_path / "pyproject.toml", "[tool.gitimport]\n")
    config = write(tmp_path / "gitimport.toml", "")
    assert find_config_file(tmp_path) == (str(config), str(pyproject))


def test_no_config_anywhere_gives_an_empty_config(tmp_path: Path) -> None:
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    loaded = load_config(start=nested)
    assert loaded.path is None
    assert loaded.lockfile is None
    assert loaded.modules == {}
    assert loaded.mirrors == {}
    assert loaded.offline is False
    assert loaded.frozen is False
    assert loaded.shadowed is None


def test_an_empty_config_file_is_valid(tmp_path: Path) -> None:
    loaded = load(write(tmp_path / "gitimport.toml", ""))
    assert loaded.modules == {}


def test_a_pyproject_given_explicitly_without_the_table_is_an_error(tmp_path: Path) -> None:
    error = refused(write(tmp_path / "pyproject.toml", "[project]\nname = 'x'\n"))
    assert "[tool.gitimport]" in error.message


# --- keys and defaults -----------------------------------------------------------------------


def test_defaults(tmp_path: Path) -> None:
    loaded = load(write(tmp_path / "gitimport.toml", ""))
    assert loaded.lockfile == tmp_path / "gitimport.lock"
    assert loaded.offline is False
    assert loaded.frozen is False
    assert loaded.allow_hosts == ()
    assert loaded.insecure_hosts == ()
    assert loaded.mirrors == {}
    assert loaded.cache_dir.is_absolute()
    assert loaded.base_dir == tmp_path


def test_default_cache_dir_is_the_platform_user_cache_dir(tmp_path: Path) -> None:
    from platformdirs import user_cache_dir

    assert load(write(tmp_path / "gitimport.toml", "")).cache_dir == Path(user_cache_dir("gitimport", appauthor=False))


def test_pyproject_lockfile_defaults_next_to_it(tmp_path: Path) -> None:
    assert load(write(tmp_path / "pyproject.toml", "[tool.gitimport]\n")).lockfile == tmp_path / "gitimport.lock"


def test_all_settings_are_read(tmp_path: Path) -> None:
    loaded = load(
        write(
            tmp_path / "gitimport.toml",
            """\
            cache-dir = "/var/cache/gi"
            lockfile = "locks/project.lock"
            offline = true
            frozen = true
            allow-hosts = ["Git.Example.com", "github.com"]
            insecure-hosts = ["mirror.internal"]

            [mirrors]
            "https://github.com/" = "https://git-mirror.example.internal/github/"
            """,
        )
    )
    assert loaded.cache_dir == Path("/var/cache/gi")
    assert loaded.lockfile == tmp_path / "locks" / "project.lock"
    assert loaded.offline is True
    assert loaded.frozen is True
    assert loaded.allow_hosts == ("git.example.com", "github.com")
    assert loaded.insecure_hosts == ("mirror.internal",)
    assert loaded.mirrors == {"https://github.com/": "https://git-mirror.example.internal/github/"}


def test_the_same_keys_work_under_tool_gitimport_in_pyproject(tmp_path: Path) -> None:
    loaded = load(
        write(
            tmp_path / "pyproject.toml",
            """\
            [tool.gitimport]
            offline = true
            allow-hosts = ["github.com"]

            [tool.gitimport.modules]
            mylib = "https://github.com/org/repo@v1.2.0:src/mylib"

            [tool.gitimport.mirrors]
            "https://github.com/" = "https://mirror.example/github/"
            """,
        )
    )
    assert loaded.offline is True
    assert loaded.allow_hosts == ("github.com",)
    assert loaded.modules["mylib"].path == "src/mylib"
    assert loaded.mirrors == {"https://github.com/": "https://mirror.example/github/"}


def test_relative_cache_dir_is_relative_to_the_config_folder(tmp_path: Path) -> None:
    loaded = load(write(tmp_path / "proj" / "gitimport.toml", 'cache-dir = ".cache/gi"\n'))
    assert loaded.cache_dir == tmp_path / "proj" / ".cache" / "gi"


def test_relative_lockfile_is_relative_to_the_config_folder(tmp_path: Path) -> None:
    loaded = load(write(tmp_path / "proj" / "gitimport.toml", 'lockfile = "../shared.lock"\n'))
    assert loaded.lockfile is not None
    assert loaded.lockfile.resolve() == (tmp_path / "shared.lock").resolve()


def test_relative_local_specs_resolve_against_the_config_folder(tmp_path: Path) -> None:
    loaded = load(write(tmp_path / "proj" / "gitimport.toml", '[modules]\nm = "../repos/lib@main"\n'))
    spec = loaded.modules["m"]
    assert spec.repo.fetch == str(tmp_path / "repos" / "lib")
    assert spec.repo.normalized == "../repos/lib"


def test_modules_are_parsed_in_both_forms(tmp_path: Path) -> None:
    loaded = load(
        write(
            tmp_path / "gitimport.toml",
            """\
            [modules]
            mylib = "https://github.com/org/repo@v1.2.0:src/mylib"
            helpers = { git = "github:org/tools", ref = "main", path = "helpers.py" }
            """,
        )
    )
    assert loaded.modules["mylib"].redacted == "https://github.com/org/repo@v1.2.0:src/mylib"
    assert loaded.modules["helpers"].redacted == "https://github.com/org/tools@main:helpers.py"


def test_modules_are_sorted_by_name(tmp_path: Path) -> None:
    loaded = load(write(tmp_path / "gitimport.toml", '[modules]\nzeta = "github:o/r@v1"\nalpha = "github:o/r@v1"\n'))
    assert list(loaded.modules) == ["alpha", "zeta"]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("offline", '"yes"'),
        ("frozen", "1"),
        ("allow-hosts", '"github.com"'),
        ("insecure-hosts", "[1]"),
        ("cache-dir", '""'),
        ("lockfile", "3"),
    ],
)
def test_a_setting_of_the_wrong_type_is_refused_naming_the_key(tmp_path: Path, key: str, value: str) -> None:
    config = write(tmp_path / "gitimport.toml", f"{key} = {value}\n")
    error = refused(config)
    assert f"'{key}'" in error.message
    assert str(config) in error.message


def test_mirrors_must_map_strings_to_strings(tmp_path: Path) -> None:
    assert "mirrors" in refused(write(tmp_path / "gitimport.toml", '[mirrors]\n"https://a/" = 3\n')).message


def test_unknown_keys_are_refused(tmp_path: Path) -> None:
    config = write(tmp_path / "gitimport.toml", "ofline = true\n")
    error = refused(config)
    assert "'ofline'" in error.message
    assert str(config) in error.message
    assert "offline" in (error.hint or "")


def test_unknown_keys_under_tool_gitimport_are_refused(tmp_path: Path) -> None:
    assert "'module'" in refused(write(tmp_path / "pyproject.toml", "[tool.gitimport.module]\n")).message


# --- environment overrides -------------------------------------------------------------------


def test_gitimport_cache_dir_overrides_the_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITIMPORT_CACHE_DIR", str(tmp_path / "envcache"))
    loaded = load(write(tmp_path / "gitimport.toml", 'cache-dir = "/var/cache/gi"\n'))
    assert loaded.cache_dir == tmp_path / "envcache"


def test_gitimport_cache_dir_applies_without_any_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITIMPORT_CACHE_DIR", str(tmp_path / "envcache"))
    assert load_config(start=tmp_path).cache_dir == tmp_path / "envcache"


@pytest.mark.parametrize("value", ["1", "true", "yes", "on", "TRUE"])
def test_gitimport_offline_turns_offline_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("GITIMPORT_OFFLINE", value)
    assert load(write(tmp_path / "gitimport.toml", "offline = false\n")).offline is True


def test_gitimport_offline_zero_overrides_the_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITIMPORT_OFFLINE", "0")
    assert load(write(tmp_path / "gitimport.toml", "offline = true\n")).offline is False


def test_gitimport_frozen_turns_frozen_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITIMPORT_FROZEN", "1")
    loaded = load(write(tmp_path / "gitimport.toml", ""))
    assert loaded.frozen is True
    assert loaded.offline is False


@pytest.mark.parametrize("name", ["GITIMPORT_OFFLINE", "GITIMPORT_FROZEN"])
def test_a_bad_boolean_in_the_environment_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv(name, "maybe")
    error = refused(write(tmp_path / "gitimport.toml", ""))
    assert name in error.message
    assert "'maybe'" in error.message


# --- module names ----------------------------------------------------------------------------


def test_quoted_dotted_module_name(tmp_path: Path) -> None:
    loaded = load(write(tmp_path / "gitimport.toml", '[modules]\n"acme.tools" = "github:acme/tools@v1"\n'))
    assert list(loaded.modules) == ["acme.tools"]


def test_toml_dotted_key_means_the_same_as_the_quoted_name(tmp_path: Path) -> None:
    quoted = load(write(tmp_path / "a" / "gitimport.toml", '[modules]\n"acme.tools" = "github:acme/tools@v1"\n'))
    dotted = load(write(tmp_path / "b" / "gitimport.toml", '[modules]\nacme.tools = "github:acme/tools@v1"\n'))
    assert dotted.modules == quoted.modules


def test_nested_table_of_names_means_dotted_names(tmp_path: Path) -> None:
    loaded = load(write(tmp_path / "gitimport.toml", '[modules.acme]\ntools = "github:acme/tools@v1"\n'))
    assert list(loaded.modules) == ["acme.tools"]


def test_dotted_key_with_a_table_spec(tmp_path: Path) -> None:
    loaded = load(write(tmp_path / "gitimport.toml", '[modules]\nacme.tools = { git = "github:acme/tools", ref = "v1" }\n'))
    assert loaded.modules["acme.tools"].redacted == "https://github.com/acme/tools@v1"


def test_a_parent_and_its_child_may_both_be_configured(tmp_path: Path) -> None:
    loaded = load(write(tmp_path / "gitimport.toml", '[modules]\n"acme" = "github:a/b@v1"\n"acme.tools" = "github:a/c@v1"\n'))
    assert list(loaded.modules) == ["acme", "acme.tools"]


@pytest.mark.parametrize(
    "body",
    [
        '"acme.tools" = "github:a/b@v1"\nacme.tools = "github:a/b@v2"\n',
        'acme.tools = "github:a/b@v1"\n"acme.tools" = "github:a/b@v2"\n',
        '"acme.tools" = "github:a/b@v1"\n\n[modules.acme]\ntools = "github:a/b@v2"\n',
    ],
)
def test_one_name_in_both_forms_is_refused(tmp_path: Path, body: str) -> None:
    error = refused(write(tmp_path / "gitimport.toml", "[modules]\n" + body))
    assert "'acme.tools'" in error.message
    assert "twice" in error.message


@pytest.mark.parametrize("name", ['"class"', '"1abc"', '"a-b"', '"acme.import"', '""'])
def test_invalid_module_names_are_refused(tmp_path: Path, name: str) -> None:
    error = refused(write(tmp_path / "gitimport.toml", f'[modules]\n{name} = "github:o/r@v1"\n'), SpecError)
    assert "Module name" in error.message


def test_an_invalid_module_name_error_names_the_config_file(tmp_path: Path) -> None:
    config = write(tmp_path / "gitimport.toml", '[modules]\n"class" = "github:o/r@v1"\n')
    assert str(config) in refused(config, SpecError).message


def test_a_bad_spec_is_refused_naming_the_file_and_module(tmp_path: Path) -> None:
    config = write(tmp_path / "gitimport.toml", '[modules]\nmylib = "https://h.example/r"\n')
    error = refused(config, SpecError)
    assert str(config) in error.message
    assert "'mylib'" in error.message
    assert "'https://h.example/r'" in error.message
    assert "@REF" in error.message


def test_a_table_spec_with_an_unknown_key_is_refused(tmp_path: Path) -> None:
    config = write(tmp_path / "gitimport.toml", '[modules]\nm = { git = "github:o/r", ref = "v1", pth = "x" }\n')
    assert "pth" in refused(config, SpecError).message


def test_a_table_spec_without_ref_is_refused(tmp_path: Path) -> None:
    config = write(tmp_path / "gitimport.toml", '[modules]\nm = { git = "github:o/r", path = "x" }\n')
    assert "'ref'" in refused(config, SpecError).message


def test_an_empty_table_as_a_spec_is_refused(tmp_path: Path) -> None:
    assert "'acme'" in refused(write(tmp_path / "gitimport.toml", "[modules.acme]\n"), SpecError).message


def test_modules_must_be_a_table(tmp_path: Path) -> None:
    assert "[modules]" in refused(write(tmp_path / "gitimport.toml", "modules = 3\n")).message


# --- malformed TOML --------------------------------------------------------------------------


def test_malformed_toml_names_file_line_and_column(tmp_path: Path) -> None:
    config = write(tmp_path / "gitimport.toml", 'offline = false\n[modules]\nm = "unterminated\n')
    error = refused(config)
    assert error.message.startswith(f"{config}:3:")
    assert "invalid TOML" in error.message


def test_malformed_toml_at_end_of_document_names_a_position(tmp_path: Path) -> None:
    config = write(tmp_path / "gitimport.toml", "[modules]\nm = ")
    error = refused(config)
    assert error.message.startswith(f"{config}:2:")


def test_malformed_pyproject_with_our_table_is_reported_during_discovery(tmp_path: Path) -> None:
    pyproject = write(tmp_path / "pyproject.toml", "[tool.gitimport\n")
    with pytest.raises(ConfigError) as info:
        load_config(start=tmp_path)
    assert info.value.message.startswith(f"{pyproject}:1:")


def test_a_config_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "gitimport.toml"
    config.write_bytes(b"offline = \xff\n")
    assert "UTF-8" in refused(config).message


# --- PEP 723 scripts -------------------------------------------------------------------------

SCRIPT = """\
#!/usr/bin/env python
# /// script
# requires-python = ">=3.9"
# dependencies = []
#
# [tool.gitimport]
# offline = true
#
# [tool.gitimport.modules]
# mylib = "https://github.com/org/repo@v1.2.0:src/mylib"
# "acme.tools" = { git = "github:acme/tools", ref = "main" }
# ///
import mylib
"""


def test_script_block_configures_modules(tmp_path: Path) -> None:
    loaded = load(write(tmp_path / "tool.py", SCRIPT))
    assert list(loaded.modules) == ["acme.tools", "mylib"]
    assert loaded.modules["mylib"].ref == "v1.2.0"
    assert loaded.offline is True


def test_script_lockfile_defaults_to_the_script_name_plus_lock(tmp_path: Path) -> None:
    script = write(tmp_path / "tool.py", SCRIPT)
    assert load(script).lockfile == tmp_path / "tool.py.lock"


def test_script_named_by_gitimport_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = write(tmp_path / "tool.py", SCRIPT)
    monkeypatch.setenv("GITIMPORT_CONFIG", str(script))
    loaded = load_config()
    assert loaded.path == script
    assert "mylib" in loaded.modules


def test_script_without_a_block_has_no_modules(tmp_path: Path) -> None:
    loaded = load(write(tmp_path / "plain.py", "print('hi')\n"))
    assert loaded.modules == {}


def test_script_block_without_gitimport_table_has_no_modules(tmp_path: Path) -> None:
    loaded = load(write(tmp_path / "s.py", '# /// script\n# dependencies = ["requests"]\n# ///\n'))
    assert loaded.modules == {}


def test_script_with_two_script_blocks_is_refused(tmp_path: Path) -> None:
    block = "# /// script\n# dependencies = []\n# ///\n"
    assert "more than one" in refused(write(tmp_path / "s.py", block + "\n" + block)).message


def test_malformed_toml_in_a_script_names_the_script_line(tmp_path: Path) -> None:
    script = write(tmp_path / "s.py", '# /// script\n# [tool.gitimport.modules]\n# m = "unterminated\n# ///\n')
    error = refused(script)
    assert error.message.startswith(f"{script}:3:")


def test_malformed_toml_in_a_script_names_the_column_in_the_script(tmp_path: Path) -> None:
    script = write(tmp_path / "s.py", "# /// script\n# m = = 1\n# ///\n")
    # The second '=' stands at column 7 of line 2 of the script.
    assert refused(script).message.startswith(f"{script}:2:7:")

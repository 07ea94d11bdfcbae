"""Finding and reading the configuration (docs/configuration.md).

The configuration says which module names come from which specs, where the
cache and the lock live, and which network rules apply.  It is read on the warm
import path, so this module stays cheap: TOML parsing and spec parsing only,
nothing that touches the network or imports dulwich.
"""

from __future__ import annotations

import keyword
import math
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload

from ..errors import ConfigError, SpecError
from ._toml import parse_toml, read_toml
from .discovery import (
    CONFIG_NAME,
    DEFAULT_LOCK_NAME,
    ENV_CACHE_DIR,
    ENV_FROZEN,
    ENV_OFFLINE,
    ENV_RETRIES,
    ENV_TIMEOUT,
    ENV_TREE_MIRRORS,
    ENV_VERIFY,
    find_config_file,
)
from .spec import Spec, parse_spec, validate_module_name

_SETTINGS = (
    "cache-dir",
    "lockfile",
    "offline",
    "frozen",
    "allow-hosts",
    "insecure-hosts",
    "max-file-size",
    "max-tree-size",
    "timeout",
    "retries",
    "verify",
    "require-signed",
    "trusted-signers",
    "cache-max-size",
    "tree-mirrors",
)
VERIFY_MODES = ("off", "import")
DEFAULT_TIMEOUT = 60.0
#: A stall longer than a day is no timeout; beyond ~1e9 s sockets cannot even represent it.
MAX_TIMEOUT = 86400.0
DEFAULT_RETRIES = 3
DEFAULT_MAX_FILE_SIZE = 100 * 1024**2
DEFAULT_MAX_TREE_SIZE = 1024**3
_SIZE = re.compile(r"\s*(\d+)\s*(B|KB|MB|GB|KiB|MiB|GiB)?\s*", re.IGNORECASE)
_UNITS = {"b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "kib": 1024, "mib": 1024**2, "gib": 1024**3}
_TABLES = ("modules", "mirrors")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_SCRIPT_BLOCK = re.compile(r"(?m)^# /// (?P<type>[a-zA-Z0-9-]+)$\s(?P<content>(^#(| .*)$\s)+)^# ///$")


@dataclass(frozen=True)
class Config:
    """A loaded configuration with every default and override applied."""

    path: Path | None
    cache_dir: Path
    lockfile: Path | None
    modules: dict[str, Spec] = field(default_factory=dict)
    mirrors: dict[str, str] = field(default_factory=dict)
    offline: bool = False
    frozen: bool = False
    allow_hosts: tuple[str, ...] = ()
    insecure_hosts: tuple[str, ...] = ()
    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    max_tree_size: int = DEFAULT_MAX_TREE_SIZE
    timeout: float = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES
    verify_on_import: bool = False
    require_signed: bool = False
    trusted_signers: Path | None = None
    cache_max_size: int | None = None  # gc's default --max-size
    tree_mirrors: tuple[str, ...] = ()  # URLs or absolute folders, tried in order before git (docs/tree-mirrors.md)
    shadowed: Path | None = None  # a pyproject.toml [tool.gitimport] that gitimport.toml overrides
    also: dict[str, tuple[str, ...]] = field(default_factory=dict)  # entry -> the other names it pins (already in ``modules``)

    def requires_signature(self, spec: Spec) -> bool:
        """A module's own ``require-signed`` wins over the global setting."""
        return self.require_signed if spec.require_signed is None else spec.require_signed

    def group(self, name: str) -> tuple[str, ...]:
        """``name`` and the names one entry pins with it (docs/configuration.md#whole-distributions), entry first."""
        for entry, others in self.also.items():
            if name == entry or name in others:
                return (entry, *others)
        return (name,)

    def with_groups(self, names: Iterable[str]) -> list[str]:
        """``names`` and every name pinned with one of them: sync, upgrade and remove treat an entry as a whole."""
        return sorted({member for name in names for member in self.group(name)})

    @property
    def base_dir(self) -> Path:
        """The folder relative paths in the config resolve against."""
        return self.path.parent if self.path else Path.cwd()


def load_config(path: Path | None = None, *, start: Path | None = None) -> Config:
    """Load the configuration from ``path``, or discover it (docs/configuration.md#where-the-configuration-is-found).

    With no configuration anywhere, an empty one is returned: ``pin()`` and
    ``gitimport.install()`` still work, and commands that need modules say so.

    Raises:
      ConfigError: malformed TOML (with file, line and column) or bad keys.
      SpecError: a module spec or name that breaks docs/configuration.md#specs.
    """
    shadowed = None
    if path is None:
        found, also = find_config_file(start)
        if found is None:
            return _build(None, {}, shadowed=None)
        path, shadowed = Path(found), Path(also) if also else None
    path = path.absolute()
    return _build(path, _read_table(path), shadowed=shadowed)


def _read_table(path: Path) -> dict[str, Any]:
    """The gitimport settings table of a gitimport.toml, pyproject.toml or script."""
    if path.suffix == ".py":
        return read_script_table(path)
    document = read_toml(path, ConfigError)
    if path.name == CONFIG_NAME:
        return document
    table = document.get("tool", {}).get("gitimport")
    if table is None:
        raise ConfigError(f"{path} has no [tool.gitimport] table.", 'add [tool.gitimport.modules] with NAME = "REPO@REF:PATH" lines')
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: tool.gitimport must be a table.", "write [tool.gitimport] as a table header")
    return table


def script_with_config(script: Path) -> Path | None:
    """``script`` when its PEP 723 block holds ``[tool.gitimport]``, else None."""
    return script if script.is_file() and read_script_table(script) else None


def read_script_table(script: Path) -> dict[str, Any]:
    """Read ``[tool.gitimport]`` from a script's PEP 723 ``# /// script`` block."""
    try:
        text = script.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read script {script}: {exc}.", "check the path") from None
    blocks = [m for m in _SCRIPT_BLOCK.finditer(text) if m.group("type") == "script"]
    if len(blocks) > 1:
        raise ConfigError(f"{script} has more than one '# /// script' block.", "PEP 723 allows exactly one")
    if not blocks:
        return {}
    content = "".join(line[2:] if line.startswith("# ") else line[1:] for line in blocks[0].group("content").splitlines(keepends=True))
    offset = text[: blocks[0].start()].count("\n") + 1
    document = parse_toml("\n" * offset + content, script, ConfigError, column_offset=2)
    table = document.get("tool", {}).get("gitimport", {})
    return table if isinstance(table, dict) else {}


def _build(path: Path | None, table: Mapping[str, Any], shadowed: Path | None) -> Config:
    where = str(path) if path else "the configuration"
    unknown = sorted(set(table) - set(_SETTINGS) - set(_TABLES))
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(repr(k) for k in unknown)}.",
            f"known keys: {', '.join(_SETTINGS + _TABLES)}",
        )
    base = path.parent if path else Path.cwd()
    modules, also = _modules(table.get("modules", {}), base, where)
    offline = _env_flag(ENV_OFFLINE, _bool_setting(table, "offline", where))
    frozen = _env_flag(ENV_FROZEN, _bool_setting(table, "frozen", where))
    return Config(
        path=path,
        cache_dir=_cache_dir(table, base, where),
        lockfile=_lockfile(table, path, where),
        modules=modules,
        also=also,
        mirrors=_mirrors(table.get("mirrors", {}), where),
        offline=offline,
        frozen=frozen,
        allow_hosts=_host_list(table, "allow-hosts", where),
        insecure_hosts=_host_list(table, "insecure-hosts", where),
        max_file_size=_size_setting(table, "max-file-size", DEFAULT_MAX_FILE_SIZE, where),
        max_tree_size=_size_setting(table, "max-tree-size", DEFAULT_MAX_TREE_SIZE, where),
        timeout=_number_setting(table, "timeout", ENV_TIMEOUT, DEFAULT_TIMEOUT, where),
        retries=int(_number_setting(table, "retries", ENV_RETRIES, DEFAULT_RETRIES, where, integer=True)),
        verify_on_import=_verify_mode(table, where) == "import",
        require_signed=_bool_setting(table, "require-signed", where),
        trusted_signers=_path_setting(table, "trusted-signers", base, where),
        cache_max_size=_size_setting(table, "cache-max-size", None, where),
        tree_mirrors=_tree_mirrors(table, base, where),
        shadowed=shadowed,
    )


def _env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    if value.strip().lower() in _TRUE:
        return True
    if value.strip().lower() in _FALSE:
        return False
    raise ConfigError(f"{name}={value!r} is not a boolean.", f"set {name}=1 or {name}=0")


def _bool_setting(table: Mapping[str, Any], key: str, where: str) -> bool:
    value = table.get(key, False)
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: '{key}' must be true or false, not {value!r}.", f"write {key} = true")
    return value


def _string_setting(table: Mapping[str, Any], key: str, where: str) -> str | None:
    value = table.get(key)
    if value is not None and (not isinstance(value, str) or not value):
        raise ConfigError(f"{where}: '{key}' must be a non-empty string, not {value!r}.", f'write {key} = "…"')
    return value


def _path_setting(table: Mapping[str, Any], key: str, base: Path, where: str) -> Path | None:
    value = _string_setting(table, key, where)
    return (base / Path(value).expanduser()).absolute() if value else None


def _verify_mode(table: Mapping[str, Any], where: str) -> str:
    """``verify = "import"`` re-hashes a module's cached files on its first import in a process."""
    value = os.environ.get(ENV_VERIFY, table.get("verify", "off"))
    if value not in VERIFY_MODES:
        raise ConfigError(f"{where}: 'verify' must be one of {', '.join(VERIFY_MODES)}, not {value!r}.", 'write verify = "import"')
    return str(value)


def _number_setting(table: Mapping[str, Any], key: str, env: str, default: float, where: str, integer: bool = False) -> float:
    """A non-negative number (seconds, or a count) from the environment, the config, or the default.

    TOML and ``float()`` both accept ``nan`` and ``inf``, and a socket
    cannot wait ``inf`` or ``1e300`` seconds: a timeout is finite and at most
    :data:`MAX_TIMEOUT`, a count is whole.
    """
    raw: Any = os.environ.get(env, table.get(key, default))
    try:
        value = int(raw) if integer else float(raw)
    except (TypeError, ValueError, OverflowError):
        value = -1
    fractional = integer and isinstance(raw, float) and not raw.is_integer()
    timeout = key == "timeout"
    if isinstance(raw, bool) or fractional or not math.isfinite(value) or value < 0 or (timeout and not 0 < value <= MAX_TIMEOUT):
        source = env if env in os.environ else f"{where}: '{key}'"
        what = f"number of seconds, at most {MAX_TIMEOUT:g}" if timeout else f"{'whole ' if integer else ''}number"
        raise ConfigError(f"{source} must be a positive {what}, not {raw!r}.", f"for example {key} = {default:g}")
    return value


@overload
def _size_setting(table: Mapping[str, Any], key: str, default: int, where: str) -> int: ...
@overload
def _size_setting(table: Mapping[str, Any], key: str, default: None, where: str) -> int | None: ...
def _size_setting(table: Mapping[str, Any], key: str, default: int | None, where: str) -> int | None:
    """A size in bytes: an integer, or a string such as "20 MB" or "1GiB"."""
    value = table.get(key, default)
    if value is None:
        return None
    size = parse_size(value)
    if size is None:
        raise ConfigError(f"{where}: '{key}' must be a positive size, not {value!r}.", f'write {key} = "50 MB" or a number of bytes')
    return size


def parse_size(value: object) -> int | None:
    """Bytes of a positive size written as an integer or a string such as "20 MB" or "2GiB"; None if it is not one."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if value > 0 else None
    match = _SIZE.fullmatch(value) if isinstance(value, str) else None
    if match is None or int(match.group(1)) <= 0:
        return None
    return int(match.group(1)) * _UNITS[(match.group(2) or "B").lower()]


def _cache_dir(table: Mapping[str, Any], base: Path, where: str) -> Path:
    from_env = os.environ.get(ENV_CACHE_DIR)
    if from_env:
        return Path(from_env).expanduser().absolute()
    configured = _string_setting(table, "cache-dir", where)
    if configured:
        return (base / Path(configured).expanduser()).absolute()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("gitimport", appauthor=False))


def _lockfile(table: Mapping[str, Any], path: Path | None, where: str) -> Path | None:
    if path is None:
        return None
    configured = _string_setting(table, "lockfile", where)
    if not configured:
        return path.with_name(path.name + ".lock") if path.suffix == ".py" else path.parent / DEFAULT_LOCK_NAME
    lockfile = (path.parent / Path(configured).expanduser()).absolute()
    if lockfile.is_dir():
        raise ConfigError(f"{where}: 'lockfile' names {lockfile}, which is a folder.", 'name a file: lockfile = "gitimport.lock"')
    return lockfile


def require_lock_folder(config: Config) -> None:
    """Refuse, before any work, a lock file that cannot be written because its folder does not exist.

    Loading a config does not need the folder (an absent lock reads as an
    empty one, so ``list`` and ``cache dir`` work); writing the lock does,
    and ``sync`` and ``add`` write it last, after fetching everything.

    Raises:
      ConfigError: the ``lockfile`` setting names a file in a folder that does not exist.
    """
    lockfile = config.lockfile
    if lockfile is not None and not lockfile.parent.is_dir():
        raise ConfigError(
            f"{config.path}: 'lockfile' names {lockfile}, in {lockfile.parent}, which is not a folder.",
            "create that folder, or fix the lockfile setting",
        )


def _host_list(table: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(h, str) and h for h in value):
        raise ConfigError(f"{where}: '{key}' must be a list of host names, not {value!r}.", f'write {key} = ["git.example.com"]')
    return tuple(h.lower() for h in value)


def _tree_mirrors(table: Mapping[str, Any], base: Path, where: str) -> tuple[str, ...]:
    """``tree-mirrors``, or ``GITIMPORT_TREE_MIRRORS`` (space-separated; empty for none): http(s) and file:// URLs, or folders.

    A folder is made absolute against the config's folder, so the list means
    the same from any working directory.
    """
    raw = os.environ.get(ENV_TREE_MIRRORS)
    if raw is not None:
        value: Any = raw.split()
        where = ENV_TREE_MIRRORS
    else:
        value = table.get("tree-mirrors", [])
    if not isinstance(value, list) or not all(isinstance(m, str) and m.strip() for m in value):
        raise ConfigError(
            f"{where}: 'tree-mirrors' must be a list of URLs or folders, not {value!r}.",
            'write tree-mirrors = ["https://artifacts.example/gitimport/"]',
        )
    mirrors = []
    for mirror in value:
        scheme = mirror.split("://", 1)[0].lower() if "://" in mirror else ""
        if scheme and scheme not in ("http", "https", "file"):
            raise ConfigError(
                f"{where}: tree mirror {mirror!r} is not an http(s):// or file:// URL or a folder.",
                "a tree mirror is a static file host: serve the folder `gitimport cache export` wrote over HTTP(S), or name the folder",
            )
        mirrors.append(mirror if scheme else str((base / Path(mirror).expanduser()).absolute()))
    return tuple(mirrors)


def _mirrors(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) and k and v for k, v in value.items()):
        raise ConfigError(
            f"{where}: [mirrors] must map URL prefixes to URL prefixes.",
            '"https://github.com/" = "https://git-mirror.example.internal/github/"',
        )
    return dict(value)


def _modules(value: Any, base: Path, where: str) -> tuple[dict[str, Spec], dict[str, tuple[str, ...]]]:
    """Every configured name with its spec, an entry's ``also`` names included, and what each entry's ``also`` adds."""
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: [modules] must be a table of NAME = SPEC.", 'write mylib = "https://host/repo@v1:src/mylib"')
    modules: dict[str, Spec] = {}
    also: dict[str, tuple[str, ...]] = {}
    for name, raw in _flatten_modules(value):
        try:
            validate_module_name(name)
        except SpecError as exc:
            raise SpecError(f"{where}: {exc.message}", exc.hint) from None
        if name in modules:
            raise ConfigError(
                f"{where}: module {name!r} is defined twice (as a quoted and a dotted key).",
                "keep one definition per module name",
            )
        if isinstance(raw, dict) and "also" in raw:
            raw = dict(raw)
            also[name] = _also(name, raw.pop("also"), where)
        try:
            modules[name] = parse_spec(raw, base)
        except SpecError as exc:
            raise SpecError(f"{where}: module {name!r}: {exc.message}", exc.hint) from None
    for name, others in also.items():
        _check_also(name, others, modules[name], modules, also, where)
    for name, others in also.items():
        modules.update((other, modules[name]) for other in others)
    return dict(sorted(modules.items())), also


def _also(name: str, value: object, where: str) -> tuple[str, ...]:
    """An entry's ``also``: a list of distinct top-level names other than its own (docs/configuration.md#whole-distributions)."""
    example = 'also = ["_pytest", "py"]'
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{where}: module {name!r}: 'also' must be a list of module names, not {value!r}.", f"write {example}")
    for item in value:
        if not item.isidentifier() or keyword.iskeyword(item):
            raise ConfigError(
                f"{where}: module {name!r}: 'also' names {item!r}, which is not a top-level module name.",
                f"also lists the distribution's other top-level import names, e.g. {example}; pin a dotted name as its own entry",
            )
    repeated = sorted({item for item in value if value.count(item) > 1 or item == name})
    if repeated:
        raise ConfigError(
            f"{where}: module {name!r}: 'also' names {', '.join(repr(item) for item in repeated)} twice (or the entry's own name).",
            "list each other name once",
        )
    return tuple(value)


def _check_also(
    name: str, others: tuple[str, ...], spec: Spec, modules: dict[str, Spec], also: dict[str, tuple[str, ...]], where: str
) -> None:
    """An ``also`` name belongs to one entry only, and the entry's PATH must be a folder that can hold it."""
    if spec.path.endswith(".py"):
        folder = spec.path.rpartition("/")[0]
        raise ConfigError(
            f"{where}: module {name!r} has 'also', but its PATH {spec.path!r} is a single file, which holds no other module.",
            f'write path = "{folder}", the folder that holds {name} and the names in also'
            if folder
            else f"remove path: {name} and the names in also are then found at the repository root",
        )
    for other in others:
        if other in modules:
            raise ConfigError(
                f"{where}: {other!r} is configured on its own and also in the 'also' of {name!r}.",
                f"keep one: remove the entry {other!r}, or take {other!r} out of {name!r}'s also",
            )
        owners = sorted(entry for entry, names in also.items() if other in names and entry != name)
        if owners:
            raise ConfigError(
                f"{where}: {other!r} is in the 'also' of both {name!r} and {owners[0]!r}.",
                "a name comes from one entry: take it out of one also",
            )


def _flatten_modules(table: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Turn TOML dotted keys (``acme.tools = …``) into dotted module names.

    A nested table is a spec when it has a ``git``, ``ref`` or ``path`` key,
    and a level of dotted names otherwise, so ``"acme.tools"`` and ``acme.tools`` mean the same.
    """
    items: list[tuple[str, Any]] = []
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and not set(value) & {"git", "ref", "path"}:
            if not value:
                raise SpecError(f"Module {name!r} has an empty table as its spec.", 'write { git = "REPO", ref = "REF", path = "PATH" }')
            items.extend(_flatten_modules(value, prefix=f"{name}."))
        else:
            items.append((name, value))
    return items

"""gitimport: import Python code from exact, verified git commits.

Map module names to ``REPO@REF:PATH`` specs in TOML, run ``gitimport sync``,
then ``import name`` through :func:`install` or ``gitimport run``.  This
package's top level stays tiny because every interpreter started under
``gitimport run`` imports it: heavy machinery is imported only when needed.
"""

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .project.config import Config
    from .runtime.finder import GitImportFinder

__version__ = "0.1.0"
__all__ = ["__version__", "install", "uninstall"]


def install(config: "Config | None" = None) -> "GitImportFinder":
    """Serve configured modules on import; see :func:`gitimport.runtime.finder.install`."""
    from .runtime.finder import install as install_finder

    return install_finder(config, stacklevel=3)


def uninstall() -> None:
    """Stop serving configured modules; see :func:`gitimport.runtime.finder.uninstall`."""
    from .runtime.finder import uninstall as uninstall_finder

    uninstall_finder()

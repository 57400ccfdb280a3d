"""lrmo: finite-element chemo-mechanics and O2 transport of cathode particles (DOLFINx)."""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("lrmo")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

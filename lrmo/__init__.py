"""lrmo: finite-element chemo-mechanics and O2 transport of battery cathode particles
(DOLFINx). The public API lives here; the engine is in the `solver` and `meshes`
packages."""
from solver import __version__  # noqa: F401

"""Physical-group names and numbers: the one table the mesh builders write and the
solver reads. Numbers are fixed; never renumber an entry, only add new ones."""

CELL_TAGS: dict[str, int] = {
    "core": 1,  # bulk LRMO
    "layer": 2,  # Li-deficient surface (buffer) layer
    "coating": 3,  # RuO2 shell
}

FACET_TAGS: dict[str, int] = {
    "outer_surface": 10,  # particle surface facing the electrolyte (coating's if present)
    "core_layer_interface": 11,
    "oxide_coating_interface": 12,  # layer|coating, or core|coating when there is no layer
    "ruo2_islands": 13,  # outer-surface facets under RuO2 islands (solver/physics/islands.py, after meshing)
    "symmetry_x": 21,  # plane x = 0 of an octant
    "symmetry_y": 22,
    "symmetry_z": 23,
    "centre": 30,  # r = 0 of a radial (1D) mesh
    "grain_boundary": 40,  # faces between primary grains of a secondary particle (meshes/secondary.py)
}

REGIONS = tuple(CELL_TAGS)

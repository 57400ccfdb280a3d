"""Mesh cache: a 3D mesh is built once by Gmsh, stored as XDMF/HDF5 with its cell and
facet tags, and read in parallel by every later run and sweep member with the same
mesh inputs (no Gmsh, nothing funnelled through rank 0).

Location: `$LRMO_MESH_CACHE` if set, else `$XDG_CACHE_HOME/lrmo/meshes`, else
`~/.cache/lrmo/meshes`. `LRMO_MESH_CACHE=off` turns the cache off (every run meshes
afresh, as before the cache existed). An entry is a folder named by the key, a hash of
the mesh inputs, the builder version, the Gmsh version and `SCHEMA`, holding mesh.xdmf,
mesh.h5, mesh.msh (Gmsh's own file, for users who open meshes in Gmsh), info.json and
manifest.json (size and SHA-256 of the others, written last).
Entries are built in a temporary folder and renamed into place, so a reader sees a
complete entry or none, and two runs racing to fill one entry both end with a valid one.
An entry that does not match its manifest is removed and rebuilt. Rank 0 decides; every
rank reads.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any, Callable

from mpi4py import MPI

from meshes.gmsh_io import INFO_FILE, MESH_FILE as GMSH_FILE, run_gmsh_on_rank0
from solver.io.mesh_io import XDMF_FILE, h5_file, read_mesh_xdmf, write_mesh_xdmf

SCHEMA = 2  # bump when the entry layout changes (2: mesh.msh in every entry)
ENV_VAR = "LRMO_MESH_CACHE"
OFF_VALUES = {"off", "0", "false", "no", "none"}
MANIFEST = "manifest.json"
MESH_FILES = (XDMF_FILE, h5_file(XDMF_FILE).name)


def cache_root(environ=None) -> Path | None:
    """The cache folder, or None when the cache is turned off."""
    environ = os.environ if environ is None else environ
    value = environ.get(ENV_VAR, "").strip()
    if value.lower() in OFF_VALUES:
        return None
    if value:
        return Path(value).expanduser()
    xdg = environ.get("XDG_CACHE_HOME", "").strip()
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "lrmo" / "meshes"


def cache_key(payload: dict) -> str:
    """Hash of everything that determines the mesh (inputs in SI, builder and Gmsh
    versions) plus the entry layout version."""
    text = json.dumps({"schema": SCHEMA, **payload}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(folder: Path) -> None:
    """manifest.json: size and SHA-256 of every other file in the entry (written last)."""
    files = sorted(p.name for p in folder.iterdir() if p.name != MANIFEST)
    manifest = {name: {"bytes": (folder / name).stat().st_size,
                       "sha256": _sha256(folder / name)} for name in files}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")


def entry_is_valid(entry: Path) -> bool:
    """True when the entry has every file, each matching the manifest."""
    try:
        manifest = json.loads((entry / MANIFEST).read_text())
        needed = set(MESH_FILES) | {INFO_FILE, GMSH_FILE}
        if not needed <= set(manifest):
            return False
        return all((entry / name).stat().st_size == meta["bytes"]
                   and _sha256(entry / name) == meta["sha256"]
                   for name, meta in manifest.items())
    except (OSError, ValueError, TypeError, KeyError):
        return False


def discard(folder: Path) -> None:
    """Remove an entry: first renamed aside (atomic), so no reader sees half of it."""
    trash = folder.with_name(f".trash-{folder.name}-{uuid.uuid4().hex[:8]}")
    try:
        folder.rename(trash)
    except OSError:
        return  # already gone (another run discarded it)
    shutil.rmtree(trash, ignore_errors=True)


def publish(tmp: Path, entry: Path) -> None:
    """Move a filled temporary folder into place. If another run published the entry
    first, keep theirs (a valid one) and drop ours."""
    write_manifest(tmp)
    try:
        tmp.rename(entry)
        return
    except OSError:
        if not entry_is_valid(entry):
            discard(entry)
            try:
                tmp.rename(entry)
                return
            except OSError:
                pass
    shutil.rmtree(tmp, ignore_errors=True)


def _prepare(root: Path, key: str) -> dict:
    """Rank 0: look the key up; on a miss make the temporary folder to fill."""
    entry = root / key
    try:
        root.mkdir(parents=True, exist_ok=True)
        if entry.is_dir() and entry_is_valid(entry):
            return {"status": "hit", "entry": entry}
        status = "miss"
        if entry.exists():
            discard(entry)
            status = "rebuilt (the entry was incomplete or corrupt)"
        tmp = root / f".tmp-{key}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        return {"status": status, "entry": entry, "tmp": tmp}
    except OSError as exc:
        return {"status": f"unavailable ({exc})"}


def _on_rank0(comm: MPI.Comm, action: Callable[[], Any]):
    """Run `action` on rank 0; its result, or its exception, on every rank."""
    result, error = None, None
    if comm.rank == 0:
        try:
            result = action()
        except Exception as exc:  # re-raised on every rank just below
            error = exc
    result, error = comm.bcast((result, error), root=0)
    if error is not None:
        raise error
    return result


def load_mesh(comm: MPI.Comm, payload: dict, build: Callable[[], dict], *, gdim: int,
              model_name: str, mesh_dir: str | Path | None = None):
    """(mesh, cell_tags, facet_tags, info) for the mesh that `build()` makes in the
    current Gmsh model (`run_gmsh_on_rank0`), through the cache. `payload` holds every
    input that determines the mesh. On a miss the mesh is built once, written into the
    cache and read back, so that hits and misses give the solver the same mesh. With
    the cache off or unusable the Gmsh mesh is used directly. `info["cache"]` records
    the key and whether it was a hit. With `mesh_dir`, the run's copy (info.json,
    mesh.xdmf/.h5 and Gmsh's mesh.msh, hard links into the cache where possible) is
    written there. Collective."""
    key = cache_key(payload)

    def root_or_none():
        try:
            return cache_root()
        except RuntimeError:  # no home folder to put ~/.cache in: meshes are not cached
            return None

    root = _on_rank0(comm, root_or_none)
    plan = _on_rank0(comm, lambda: _prepare(root, key)) if root else {"status": "off"}
    entry = plan.get("entry")
    if plan["status"] != "hit":
        # rank 0 writes Gmsh's mesh.msh while it holds the model: into the entry, or
        # straight into the run's mesh/ with the cache off
        gmsh_dir = plan["tmp"] if entry is not None else mesh_dir
        msh, cell_tags, facet_tags, info = run_gmsh_on_rank0(
            comm, build, gdim=gdim, model_name=model_name, out_dir=gmsh_dir)
        if entry is not None:
            write_mesh_xdmf(plan["tmp"] / XDMF_FILE, msh, cell_tags, facet_tags)
            del msh, cell_tags, facet_tags

            def fill():
                (plan["tmp"] / INFO_FILE).write_text(json.dumps(info, indent=2) + "\n")
                publish(plan["tmp"], entry)

            comm.barrier()  # every rank's share is written
            _on_rank0(comm, fill)
    if entry is not None:
        msh, cell_tags, facet_tags = read_mesh_xdmf(entry / XDMF_FILE, comm)
        info = _on_rank0(comm, lambda: json.loads((entry / INFO_FILE).read_text()))
    info["cache"] = {"key": key, "hit": plan["status"] == "hit", "status": plan["status"],
                     "entry": None if entry is None else str(entry)}
    if mesh_dir is not None:
        record_run_mesh(comm, Path(mesh_dir), info, msh, cell_tags, facet_tags, entry)
    return msh, cell_tags, facet_tags, info


def record_run_mesh(comm: MPI.Comm, mesh_dir: Path, info: dict, msh, cell_tags,
                    facet_tags, entry: Path | None = None) -> None:
    """The run folder's mesh/: info.json and mesh.xdmf + mesh.h5 (+ mesh.msh from a cache
    entry), hard-linked (or copied) from the cache entry when there is one, else written.
    Collective."""
    def files_from_entry():
        mesh_dir.mkdir(parents=True, exist_ok=True)
        (mesh_dir / INFO_FILE).write_text(json.dumps(info, indent=2) + "\n")
        for name in MESH_FILES:  # a previous run's files may be links into the cache
            (mesh_dir / name).unlink(missing_ok=True)
        if entry is None:
            return False
        (mesh_dir / GMSH_FILE).unlink(missing_ok=True)
        for name in (*MESH_FILES, GMSH_FILE):
            target = mesh_dir / name
            try:
                os.link(entry / name, target)
            except OSError:
                shutil.copyfile(entry / name, target)
        return True

    if not _on_rank0(comm, files_from_entry):
        write_mesh_xdmf(mesh_dir / XDMF_FILE, msh, cell_tags, facet_tags)

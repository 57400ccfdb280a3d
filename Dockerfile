# lrmo on the official DOLFINx image: DOLFINx, PETSc, petsc4py, mpi4py, numpy and MPI
# (MPICH) come from the image; pip adds lrmo and its pure-Python dependencies.
#   docker build -t lrmo .                                  # DOLFINx v0.9.0
#   docker build --build-arg DOLFINX_IMAGE=ghcr.io/fenics/dolfinx/dolfinx:stable -t lrmo .
#   docker run --rm -v "$PWD/results:/opt/lrmo/results" lrmo lrmo verify --out results/verify
#   docker run --rm lrmo mpirun -n 2 lrmo run cases/demo.yaml --out /tmp/demo
# Not built or tested where lrmo is developed (no Docker there): README, "Other installs
# (conda, Docker)".
ARG DOLFINX_IMAGE=ghcr.io/fenics/dolfinx/dolfinx:v0.9.0
FROM ${DOLFINX_IMAGE}

# shared libraries the gmsh wheel (and pyvista's VTK, offscreen) load
RUN export DEBIAN_FRONTEND=noninteractive \
    && apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends \
       libglu1-mesa libgl1 libxcursor1 libxft2 libxinerama1 libxrender1 fontconfig \
       libegl1 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/lrmo
COPY . /opt/lrmo
# lrmo declares none of DOLFINx, PETSc, petsc4py, mpi4py, numpy: pip keeps the image's
RUN python3 -m pip install --no-cache-dir -e '.[test,plots]' \
    && python3 -m lrmo version

CMD ["lrmo", "--help"]

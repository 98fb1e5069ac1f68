# The project's image: the ns3 wheel (C++ headers + libraries), g++ to build the template
# programs, the project with its dask extra (so it also serves as a Dask worker on cluster
# nodes), a non-root user. Default command: the Abilene demo.
#
#   docker build -t ani .                         (base and packages from Docker Hub and PyPI)
#   docker build --network none --build-arg BASE=ani-base:bookworm -t ani CONTEXT
#                                                 (offline: a base made from Debian packages and a
#                                                  wheelhouse in CONTEXT/wheels; README: Docker)
#
# Two stages: the first installs into /opt/venv (pip, and a wheelhouse when there is one); the
# second copies only /opt/venv, so neither pip's downloads nor the wheelhouse reach the image.
# The runs are C++ programs compiled against the ns3 wheel's headers and libraries: the wheel's
# Python bindings (cppyy, ~190 MB) are removed, and with them `from ns import ns` (ani never uses it).
# Any base with Python 3.11 (python3 -m venv) on Debian bookworm works; g++ and make are
# installed unless the base has them.
ARG BASE=python:3.11-slim-bookworm

FROM ${BASE} AS build
# hadolint ignore=DL3008
RUN command -v g++ >/dev/null || { apt-get update \
    && apt-get install -y --no-install-recommends g++ make && rm -rf /var/lib/apt/lists/*; }
# The dependencies first, from pyproject.toml alone: this layer, and its copy in the image, are reused
# until pyproject.toml changes. wheels/ (optional, let in by .dockerignore) is a wheelhouse: with it,
# pip installs offline from there only.
COPY pyproject.toml wheel[s] /src/
# hadolint ignore=DL3013,SC2086
RUN python3 -m venv /opt/venv \
    && python3 -c "import tomllib; p = tomllib.load(open('/src/pyproject.toml', 'rb'))['project']; \
print('\n'.join(p['dependencies'] + p['optional-dependencies']['dask']))" > /src/requirements.txt \
    && if ls /src/*.whl >/dev/null 2>&1; then OFFLINE="--no-index --find-links /src"; fi \
    && /opt/venv/bin/pip install --no-cache-dir $OFFLINE -r /src/requirements.txt \
    && /opt/venv/bin/pip uninstall --yes cppyy cppyy-backend cppyy-cling CPyCppyy \
    && find /opt/venv -name __pycache__ -prune -exec rm -rf {} +
# Then the project, as a wheel (a small layer of its own in the image).
COPY README.md /src/
COPY kg /src/kg
COPY llm /src/llm
COPY ns3_scenarios /src/ns3_scenarios
COPY orchestrator /src/orchestrator
# hadolint ignore=SC2086
RUN if ls /src/*.whl >/dev/null 2>&1; then OFFLINE="--no-index --find-links /src"; fi \
    && /opt/venv/bin/pip wheel --no-cache-dir --no-deps $OFFLINE --wheel-dir /dist /src

FROM ${BASE}
# hadolint ignore=DL3008
RUN command -v g++ >/dev/null || { apt-get update \
    && apt-get install -y --no-install-recommends g++ make && rm -rf /var/lib/apt/lists/*; } \
    && useradd --create-home --uid 1000 ani \
    && mkdir -p /results && chown ani:ani /results
COPY --from=build /opt/venv /opt/venv
COPY --from=build /dist /tmp/dist
RUN /opt/venv/bin/pip install --no-cache-dir --no-deps --no-compile /tmp/dist/*.whl && rm -rf /tmp/dist
ENV PATH=/opt/venv/bin:$PATH \
    ANI_CACHE_DIR=/home/ani/.cache/ani \
    PYTHONDONTWRITEBYTECODE=1
USER ani
WORKDIR /results
VOLUME ["/results"]
CMD ["ani", "demo", "--results", "/results"]

# The project's image: the ns3 wheel (C++ headers + libraries), g++ to build
# template programs, and the project. Default command: the Abilene demo.
# Same install steps as the README: pip install of the project with its pinned ns3 wheel.
FROM python:3.11-slim-bookworm

# g++/make build the ns-3 template programs (and cppyy, a dependency of the ns3 wheel).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends g++ make \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 1000 ani
WORKDIR /opt/ani
COPY pyproject.toml README.md ./
COPY kg ./kg
COPY llm ./llm
COPY ns3_scenarios ./ns3_scenarios
COPY orchestrator ./orchestrator
# The dask extra lets the same image serve as a Dask worker on cluster nodes (README: Campaigns);
# the versions are pyproject.toml's (ns3 pinned), which hadolint cannot see in an extra.
# hadolint ignore=DL3013
RUN pip install --no-cache-dir ".[dask]" \
    && mkdir -p /results && chown ani:ani /results

USER ani
ENV ANI_CACHE_DIR=/home/ani/.cache/ani
WORKDIR /results
VOLUME ["/results"]
CMD ["ani", "demo", "--results", "/results"]

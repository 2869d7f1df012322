# molvis application image: CLI, Dagster code location and Streamlit UI.
# A lab without Docker Hub or PyPI: --build-arg PYTHON_IMAGE=<mirror>/python:3.11.11-slim-bookworm
# and --build-arg PIP_INDEX_URL=<mirror>/simple (docs/DEPLOY.md).
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm
FROM ${PYTHON_IMAGE}
ARG PIP_INDEX_URL=https://pypi.org/simple
ENV PIP_INDEX_URL=${PIP_INDEX_URL}
RUN apt-get update && apt-get install -y --no-install-recommends libxrender1 libxext6 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY molvis molvis
COPY registry registry
COPY migrations migrations
COPY models models
COPY assets assets
COPY ui ui
RUN pip install --no-cache-dir .
ENV MOLVIS_HOME=/data/molvis DAGSTER_HOME=/opt/dagster/home
RUN useradd --create-home --uid 10001 molvis \
    && mkdir -p /data/molvis /opt/dagster/home \
    && cp assets/deploy/dagster.yaml assets/deploy/workspace.yaml /opt/dagster/home/ \
    && chown -R molvis:molvis /data/molvis /opt/dagster/home
USER molvis
EXPOSE 3000 8501
CMD ["molvis", "--help"]

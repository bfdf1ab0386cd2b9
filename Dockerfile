FROM python:3.11-slim
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends fonts-dejavu-core && rm -rf /var/lib/apt/lists/*
RUN pip install --no-cache-dir uv
COPY pyproject.toml uv.lock README.md ./
COPY aggregates aggregates
COPY commands commands
COPY consumers consumers
COPY projections projections
COPY read_api read_api
COPY schemas schemas
COPY voronka voronka
RUN uv sync --locked --no-dev
ENV PATH="/app/.venv/bin:$PATH" VORONKA_HOST=0.0.0.0 VORONKA_DATA_DIR=/data
EXPOSE 8000
CMD ["voronka", "serve"]

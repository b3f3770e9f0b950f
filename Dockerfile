# sonatasim in a container: everything from PyPI, mechanisms compiled at first run.
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends build-essential make \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/sonatasim
COPY . .
RUN python -m venv /opt/venv && /opt/venv/bin/pip install --no-cache-dir -e .
ENV PATH=/opt/venv/bin:$PATH
ENV MPI_LIB_NRN_PATH=/opt/venv/lib/libmpi.so.12
# Warm the mechanism cache so the first run starts at once.
RUN python -c "from engine.mechanisms import build_mechanisms; build_mechanisms([])"
ENTRYPOINT ["sonatasim"]
CMD ["--help"]

# syntax=docker/dockerfile:1
# The one image of the production stack: Dagster code location (and the runs it launches),
# Dagster webserver and daemon, the one-shot init, and the Spark master and worker.
# One image means driver and executors run the same Python, pyspark, project code and jars.

# bookworm, not the newest Debian: it is the release that still packages OpenJDK 17.
FROM python:3.11.13-slim-bookworm

# Spark 4.2 runs on Java 17; curl serves the healthchecks, procps Spark's scripts.
RUN apt-get update \
    && apt-get install --yes --no-install-recommends openjdk-17-jre-headless curl procps \
    && rm -rf /var/lib/apt/lists/* \
    && ln -s "$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")" /opt/java

ENV JAVA_HOME=/opt/java \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYSPARK_PYTHON=/usr/local/bin/python \
    PYSPARK_DRIVER_PYTHON=/usr/local/bin/python \
    SPARK_CONF_DIR=/opt/smartmeter/spark-conf \
    DAGSTER_HOME=/opt/dagster/home

WORKDIR /opt/smartmeter

# The same lock file as `make up` (constraints.txt, from pip freeze): the image runs the versions
# the tests ran. Dependencies first (read from pyproject), so editing the code reuses that layer.
COPY pyproject.toml constraints.txt README.md ./
RUN python -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies'], sep='\n')" \
        > /tmp/requirements.txt \
    && pip install -c constraints.txt -r /tmp/requirements.txt
COPY smartmeter_assets ./smartmeter_assets
RUN pip install --no-deps -c constraints.txt .

# Kafka connector (the `kafka` source) and hadoop-aws + AWS SDK (checkpoints on s3a://), resolved
# NOW from Maven Central, never when a stream starts: the same command and the same pinned
# coordinates (smartmeter_assets/components.py) as `make install` on a laptop.
# No driver class archive: the image's drivers read spark-conf/ (below), a folder on their class
# path, and a JVM cannot map an archive beside a non-empty class-path folder.
RUN smartmeter install-jars spark --ivy /tmp/ivy --no-class-archive && rm -rf /tmp/ivy

COPY deploy/spark/spark-defaults.conf /opt/smartmeter/spark-conf/spark-defaults.conf
COPY deploy/dagster.yaml /opt/dagster/home/dagster.yaml
COPY deploy/workspace.yaml /opt/dagster/workspace.yaml
COPY data/sample /opt/smartmeter/data/sample

# An unprivileged user; the folders named volumes mount on are created here so they inherit it.
RUN useradd --uid 10001 --create-home --shell /usr/sbin/nologin smartmeter \
    && mkdir -p /var/lib/smartmeter /opt/dagster/logs /var/lib/spark-worker \
    && chown -R smartmeter:smartmeter /var/lib/smartmeter /opt/dagster /var/lib/spark-worker
USER smartmeter

EXPOSE 4000
CMD ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "4000", "-m", "smartmeter_assets.definitions"]

# syntax=docker/dockerfile:1
# The one image of the production stack: Dagster code location (and the runs it launches),
# Dagster webserver and daemon, the one-shot init, and the Spark master and worker.
# One image means driver and executors run the same Python, pyspark, project code and jars.

# bookworm, not the newest Debian: it is the release that still packages OpenJDK 17.
FROM python:3.11.13-slim-bookworm

# Spark 4.3 runs on Java 17; curl serves the healthchecks, procps Spark's scripts.
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

# Kafka connector (native `kafka` source) and hadoop-aws + AWS SDK (checkpoints on s3a://),
# resolved NOW with spark.jars.packages, never when a stream starts. Versions must match pyspark:
# spark-sql-kafka = pyspark's version and Scala 2.13; hadoop-aws = pyspark's hadoop-client jars
# (3.5.0); the AWS SDK bundle that hadoop-aws 3.5.0 was released with (2.35.4).
# smartmeter_assets_tests/test_compose.py checks these against the installed pyspark.
ARG SPARK_KAFKA_PACKAGE=org.apache.spark:spark-sql-kafka-0-10_2.13:4.3.0
ARG HADOOP_AWS_PACKAGE=org.apache.hadoop:hadoop-aws:3.5.0
ARG AWS_SDK_PACKAGE=software.amazon.awssdk:bundle:2.35.4
COPY deploy/spark_jars.py deploy/spark_jars.py
RUN python deploy/spark_jars.py --ivy /tmp/ivy "${SPARK_KAFKA_PACKAGE},${HADOOP_AWS_PACKAGE},${AWS_SDK_PACKAGE}" \
    && rm -rf /tmp/ivy

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

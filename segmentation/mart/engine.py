"""The query engine the mart runs on: an Ibis connection, DuckDB embedded by default or PySpark on request.

The mart's stages are Ibis expressions and do not know which engine runs them. What differs between engines is
kept here and at the pipeline's edges (reading the input, writing the customer file):

- DuckDB runs in-process and spills to disk past `engine.memory_limit`.
- Spark runs on `engine.spark_master` (`local[2]` by default, or a cluster's master URL) or, when the
  `SPARK_REMOTE` environment variable or an `sc://` master is given, through Spark Connect. Spark has no temporary
  tables, so the pipeline's stored intermediate tables become cached temporary views (see `_SparkBackend`).
"""

from __future__ import annotations

import os
import re
import tempfile
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import ibis
from ibis.backends import BaseBackend

from segmentation.config.params import EngineParams
from segmentation.core import atomic
from segmentation.core.errors import SegmentationError

SPARK_INSTALL = "pip install -r requirements-spark.lock"
LOCAL_SHUFFLE_PARTITIONS = 4  # Spark's default of 200 tasks per shuffle is far too many for one machine
# Spark's own log lines (start-up chatter, and a failed task's stack trace before Python gets the error) would
# interleave with the pipeline's progress lines and break the one-line error on stderr; errors still reach Python
LOG4J2 = """\
rootLogger.level = fatal
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n%ex
logger.repl.name = org.apache.spark.api.python.PythonGatewayServer
logger.repl.level = fatal
"""


def connect(engine: EngineParams | None = None) -> BaseBackend:
    """An Ibis connection for the params' engine section (DuckDB with its defaults when none is given)."""
    engine = engine or EngineParams()
    if engine.name == "spark":
        return connect_spark(engine)
    return connect_duckdb(threads=engine.threads, memory_limit=engine.memory_limit)


def connect_duckdb(threads: int | None = None, memory_limit: str | None = None) -> BaseBackend:
    """An in-process DuckDB connection through Ibis; spills to a temp folder when over `memory_limit`."""
    config = {"preserve_insertion_order": True}
    if threads:
        config["threads"] = threads
    if memory_limit:
        config["memory_limit"] = memory_limit
    con = ibis.duckdb.connect(**config)
    # the pipeline reports progress per stage itself; DuckDB's own bar would interleave with it
    con.raw_sql("SET enable_progress_bar = false")
    return con


def connect_spark(engine: EngineParams) -> BaseBackend:
    """An Ibis connection to a Spark session: Spark Connect when `SPARK_REMOTE` is set, else `engine.spark_master`."""
    remote = spark_remote(engine)
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise SegmentationError(f"engine 'spark' needs pyspark, which is not installed: {SPARK_INSTALL}") from None
    where = f"Spark Connect at {remote}" if remote else f"Spark master {engine.spark_master}"
    try:
        if remote:
            session = SparkSession.builder.remote(remote).getOrCreate()
        else:
            builder = SparkSession.builder.master(engine.spark_master).appName("segmentation")
            for key, value in spark_config(engine).items():
                builder = builder.config(key, value)
            session = builder.getOrCreate()
            session.sparkContext.setLogLevel("FATAL")
        session.conf.set("spark.sql.session.timeZone", "UTC")
        if not remote and is_local(engine.spark_master):
            session.conf.set("spark.sql.shuffle.partitions", str(LOCAL_SHUFFLE_PARTITIONS))
    except ImportError as exc:  # the Spark Connect client needs grpcio and friends
        raise SegmentationError(
            f"{where}: the Spark Connect client is not installed ({_first_line(exc)}): "
            f"pip install 'pyspark[connect]=={metadata.version('pyspark')}'"
        ) from exc
    except Exception as exc:  # no Java, an unreachable master, …: one line, the traceback with --debug
        raise SegmentationError(f"{where}: cannot start a Spark session (Java 17 or 21 is needed): "
                                f"{_first_line(exc)}") from exc
    return _spark_backend_class()().connect(session)


def spark_remote(engine: EngineParams) -> str | None:
    """The Spark Connect URL: `SPARK_REMOTE` if set (it wins), else an `sc://` master from the params, else None."""
    remote = os.environ.get("SPARK_REMOTE", "").strip()
    if remote:
        return remote
    return engine.spark_master if engine.spark_master.startswith("sc://") else None


def is_local(master: str) -> bool:
    """True for `local`, `local[2]`, `local[*]`, …: Spark in this process's JVM."""
    return master == "local" or master.startswith("local[")


def spark_config(engine: EngineParams) -> dict[str, str]:
    """Settings for a new (classic) Spark session; they only apply when this process starts the session."""
    config = {"spark.sql.session.timeZone": "UTC", "spark.ui.showConsoleProgress": "false"}
    if is_local(engine.spark_master):
        config.update({
            # a cluster's driver keeps its own logging settings (SPARK_CONF_DIR); set after start, it logs only fatal
            "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile={_log4j2_file().as_uri()}",
            "spark.ui.enabled": "false",
            "spark.sql.shuffle.partitions": str(LOCAL_SHUFFLE_PARTITIONS),
            "spark.driver.host": "127.0.0.1",  # no network needed (or wanted) for a local session
            "spark.driver.bindAddress": "127.0.0.1",
            # Spark never writes managed tables here, but keep its default `spark-warehouse/` out of the cwd
            "spark.sql.warehouse.dir": str(Path(tempfile.gettempdir()) / "segmentation-spark-warehouse"),
            "spark.driver.memory": spark_memory(engine.memory_limit),
        })
    return config


def spark_memory(memory_limit: str) -> str:
    """DuckDB's memory limit ('3GB', '512MB', '1.5GiB') as a Spark size ('3072m', '512m', '1536m')."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(MB|GB|MiB|GiB)", memory_limit)
    if not match:
        raise SegmentationError(f"engine memory limit {memory_limit!r} must look like '3GB' or '512MB'")
    amount, unit = float(match[1]), match[2]
    return f"{max(1, round(amount * (1024 if unit.startswith('G') else 1)))}m"


def store(con: BaseBackend, name: str, table: ibis.Table, *, in_order: bool = True) -> ibis.Table:
    """`table` computed once into the temporary table `name`, which it replaces.

    `in_order=False` when nothing depends on the order the rows are stored in: DuckDB then writes them on every
    core, where keeping the order of a joined or filtered query would write on one. A query that numbers the
    rows of a file as read (`row_number()` over the file) needs the order kept.
    """
    if con.name == "pyspark":  # a cached temporary view (`_SparkBackend.create_table`)
        return con.create_table(name, table, temp=True, overwrite=True)
    # Ibis 12's `overwrite` on DuckDB writes the rows twice (into a scratch table, then a copy of it)
    con.drop_table(name, force=True)
    if in_order:
        return con.create_table(name, table, temp=True)
    con.raw_sql("SET preserve_insertion_order = false")
    try:
        return con.create_table(name, table, temp=True)
    finally:
        con.raw_sql("SET preserve_insertion_order = true")


def location(con: BaseBackend, path: Path) -> Path | str:
    """How the engine should name a local file: the path for DuckDB; a file URI for Spark, which would otherwise
    resolve a bare path against its cluster's default file system (HDFS on YARN)."""
    return path.resolve().as_uri() if con.name == "pyspark" else path


def _first_line(exc: BaseException) -> str:
    """The first line of an error message (or the error's type when it has none)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@cache
def _log4j2_file() -> Path:
    """A log4j2 configuration that keeps Spark to errors only (one shared file, replaced atomically)."""
    path = Path(tempfile.gettempdir()) / "segmentation-spark-log4j2.properties"
    if not (path.is_file() and path.read_text(encoding="utf-8") == LOG4J2):
        atomic.write_text(path, LOG4J2)
    return path


@cache
def _spark_backend_class() -> type:
    """Ibis's PySpark backend, with `create_table(temp=True)` as a cached temporary view (imported lazily)."""
    import sqlglot.expressions as sge
    from ibis.backends.pyspark import Backend
    from ibis.backends.pyspark.datatypes import PySparkSchema
    from ibis.backends.sql.compilers.pyspark import PySparkCompiler
    from pyspark import StorageLevel

    ibis.load_backend("pyspark")  # registers the backend's options (ibis.options.pyspark)

    class _SparkCompiler(PySparkCompiler):
        """Ibis 12's PySpark SQL, with `median(where=…)` compiled as Spark accepts it."""

        def visit_Median(self, op: Any, *, arg: Any, where: Any) -> Any:
            # Ibis 12 wraps the 0.5 in the `where` condition too, and Spark wants a constant percentage
            return self.visit_Quantile(op, arg=arg, quantile=sge.convert(0.5), where=where)

    class _SparkBackend(Backend):
        """Ibis's PySpark backend; a temporary table is a materialised, cached view of the session."""

        compiler = _SparkCompiler()

        def _register_in_memory_table(self, op: Any) -> None:
            # Ibis 12 hands Spark a pandas frame, where a missing text is NaN and becomes the text 'NaN'; pyspark 4
            # takes the Arrow table itself, nulls intact
            schema = PySparkSchema.from_ibis(op.schema)
            self._session.createDataFrame(op.data.to_pyarrow(op.schema), schema=schema).createOrReplaceTempView(op.name)

        def create_table(self, name: str, /, obj: Any = None, *, temp: bool | None = None,
                         overwrite: bool = False, **kwargs: Any) -> Any:
            if not temp or obj is None:
                return super().create_table(name, obj, temp=temp, overwrite=overwrite, **kwargs)
            if not overwrite and name in self._cached_dataframes:
                raise SegmentationError(f"temporary table {name!r} exists already")
            table = obj if isinstance(obj, ibis.Table) else ibis.memtable(obj)
            self._run_pre_execute_hooks(table)
            frame = self._session.sql(self.compile(table)).persist(StorageLevel.MEMORY_AND_DISK)
            frame.count()  # materialise now: a stored table is read several times and must not be recomputed
            frame.createOrReplaceTempView(name)
            previous = self._cached_dataframes.pop(name, None)
            if previous is not None:
                previous.unpersist()
            self._cached_dataframes[name] = frame
            return self.table(name)

    return _SparkBackend

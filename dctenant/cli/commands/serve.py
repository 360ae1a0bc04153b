"""``dctenant serve [PATH]``: run the self-service API (FastAPI on uvicorn) for tenants and staff.

Plain HTTP only on a loopback address: anything else needs ``--tls-cert``/``--tls-key`` or an
explicit ``--insecure`` (TLS terminated by an ingress in front).
"""

from __future__ import annotations

import click

from dctenant.cli import options


@click.command("serve")
@options.quotas_path
@click.option("--listen", default="127.0.0.1:8080", show_default=True, metavar="HOST:PORT",
              help="Address to listen on.")
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False), help="TLS certificate (PEM).")
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False), help="TLS private key (PEM).")
@click.option("--insecure", is_flag=True, help="Allow plain HTTP on a non-loopback address (TLS ends before it).")
@click.option("--ledger", "database", envvar="DCTENANT_LEDGER", metavar="URL",
              help="Ledger database (SQLite path or URL, PostgreSQL URL); default $DCTENANT_LEDGER or the state dir.")
@click.option("--kubeconfig", type=click.Path(dir_okay=False), envvar="KUBECONFIG",
              help="Kubeconfig with a context per pool (default $KUBECONFIG or ~/.kube/config).")
@options.prometheus(required=False, help="PromQL endpoint for the usage endpoint (optional).")
def command(path: str, listen: str, tls_cert: str | None, tls_key: str | None, insecure: bool,
            database: str | None, kubeconfig: str | None, url: str | None) -> None:
    """Serve the self-service API for tenants and staff."""
    from dctenant.api import app, serving
    from dctenant.cli import console
    from dctenant.ops import selfservice_usecases

    host, port = serving.split_listen(listen)
    serving.check_listen(host, tls_cert=tls_cert, tls_key=tls_key, insecure=insecure)
    service = selfservice_usecases.open_service(path, database=database, kubeconfig=kubeconfig,
                                                prometheus_url=url)
    service.model()  # a broken quotas/ is reported now, not on the first request
    scheme = "https" if tls_cert else "http"
    console.stderr.print(f"serving the self-service API on {scheme}://{listen} (OpenAPI document at /openapi.json, "
                         "web portal at /portal/)", markup=False)
    try:
        serving.run(app.create_app(service), host=host, port=port, tls_cert=tls_cert, tls_key=tls_key)
    finally:
        service.close()

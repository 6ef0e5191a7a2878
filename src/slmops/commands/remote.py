"""`slmops remote add <url>`: one command to share DVC's cache (data, models, run-cache) with a team and CI."""

from __future__ import annotations

import importlib.util
import subprocess
from urllib.parse import urlparse

import click

from slmops.errors import ConfigError

# URL scheme -> the DVC plugin that speaks it (a plain path needs none).
PLUGINS = {"s3": "dvc_s3", "gs": "dvc_gs", "gcs": "dvc_gs", "azure": "dvc_azure", "ssh": "dvc_ssh",
           "http": "dvc_http", "https": "dvc_http", "webdav": "dvc_webdav", "hdfs": "dvc_hdfs", "oss": "dvc_oss"}


def plugin_for(url: str) -> str | None:
    scheme = urlparse(url).scheme.lower()
    if len(scheme) <= 1:  # a local path (or a Windows drive letter)
        return None
    if scheme not in PLUGINS:
        raise ConfigError(f"{url}: unknown remote kind '{scheme}://' (use s3, gs, azure, ssh, http(s), or a folder)")
    return PLUGINS[scheme]


@click.group()
def remote() -> None:
    """Where DVC pushes and pulls data, models and the run-cache."""


@remote.command("add")
@click.argument("url")
@click.option("--name", default="storage", show_default=True, help="the remote's name in .dvc/config")
def add(url: str, name: str) -> None:
    """Make URL the default DVC remote (s3://bucket/path, gs://, azure://container/path, ssh://host/path, a folder)."""
    try:
        plugin = plugin_for(url)
        if plugin and importlib.util.find_spec(plugin) is None:
            package = plugin.replace("_", "-")
            raise ConfigError(f"{url}: this kind of remote needs `pip install {package}` (credentials as that "
                              f"service's usual environment variables or `dvc remote modify --local {name} ...`)")
    except ConfigError as error:
        click.secho(f"error: {error}", fg="red", err=True)
        raise SystemExit(2) from None
    subprocess.run(["dvc", "remote", "add", "--default", "--force", name, url], check=True)
    click.echo(f"DVC remote '{name}' -> {url} (default). Commit .dvc/config, then: dvc push --run-cache; "
               "teammates and CI: dvc pull")

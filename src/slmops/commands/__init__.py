"""Project CLI commands beyond Kedro's, one module each (registered in slmops/cli.py)."""

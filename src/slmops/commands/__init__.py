"""Project CLI commands, one module each (registered in slmops.cli)."""

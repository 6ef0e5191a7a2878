"""slmops commands beyond `kedro run`: one module each, registered in slmops.cli."""

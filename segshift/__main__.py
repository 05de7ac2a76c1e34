"""``python -m segshift``: the ``segshift`` command."""

from .cli import run

if __name__ == "__main__":
    run()

"""``python -m segshift.cli``: the ``segshift`` program."""

from . import run

run()

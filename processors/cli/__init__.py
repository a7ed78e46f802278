"""The ``neuralpipe`` command line (click). Subcommands load lazily."""

"""Collects cloud-init's own warnings and errors, which it reports only as log records (a skipped
network item, YAML it could not load), into a result dict's "errors" and "warnings" lists.
Shared by the scripts in this directory; import it before importing cloudinit."""
import logging


def collect_into(result):
    class Collect(logging.Handler):
        def __init__(self):
            super().__init__(logging.WARNING)

        def emit(self, record):
            text = record.getMessage().splitlines()[0][:400]
            (result["errors"] if record.levelno >= logging.ERROR else result["warnings"]).append(
                "%s: %s" % (record.name, text))

    logging.getLogger().addHandler(Collect())
    logging.getLogger().setLevel(logging.WARNING)

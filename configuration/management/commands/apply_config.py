"""manage.py apply_config FILE [--dry-run] [--prune] [--actor NAME]: make the configuration what FILE says, in one
transaction, resolving ${env:NAME} from the environment; --dry-run prints the changes and changes nothing."""

import os

from django.core.management.base import BaseCommand, CommandError

from configuration.applier import apply_configuration
from configuration.schema import MAX_FILE_BYTES


class Command(BaseCommand):
    help = "Apply a configuration file (see export_config): create, change (and with --prune delete) to match it."

    def add_arguments(self, parser):
        parser.add_argument("file", help="The YAML file (at most 5 MB).")
        parser.add_argument("--dry-run", action="store_true", help="Print the changes; change nothing.")
        parser.add_argument("--prune", action="store_true", help="Also delete what the file does not name.")
        parser.add_argument("--actor", default="apply_config", help="Who the audit log names (default apply_config).")

    def handle(self, *args, file, dry_run=False, prune=False, actor="apply_config", **options):
        try:
            size = os.path.getsize(file)
            if size > MAX_FILE_BYTES:
                raise CommandError(f"{file} is {size / 1024 / 1024:.1f} MB: a configuration file may be at most 5 MB.")
            with open(file, "rb") as stream:
                content = stream.read()
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}.") from None
        result = apply_configuration(
            content, dry_run=dry_run, prune=prune, actor=actor, environ=os.environ, source=os.path.basename(file)
        )
        if result.errors:
            raise CommandError("Nothing was applied:\n" + "\n".join(f"  {error}" for error in result.errors))
        self.stdout.write(result.report())
        if dry_run:
            self.stdout.write(f"Dry run: nothing was changed ({result.counts()}).")
        else:
            self.stdout.write(f"Applied: {result.counts()}.")

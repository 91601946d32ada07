"""manage.py export_config [--output FILE]: the configuration as YAML, secrets as ${env:NAME} references."""

from django.core.management.base import BaseCommand

from configuration.exporter import dump, export_configuration


class Command(BaseCommand):
    help = "Write Connect's configuration (datasources, items, bindings, applications) as YAML, without secrets."

    def add_arguments(self, parser):
        parser.add_argument("--output", help="Write to this file instead of the standard output.")

    def handle(self, *args, output=None, **options):
        text = dump(export_configuration())
        if output:
            with open(output, "w", encoding="utf-8") as stream:
                stream.write(text)
            self.stderr.write(f"Wrote the configuration to {output}.")
        else:
            self.stdout.write(text, ending="")

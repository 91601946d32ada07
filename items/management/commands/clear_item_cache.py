"""Make cached item answers unreachable and delete their keys: one item, one datasource's items, or all."""

from django.core.management.base import BaseCommand, CommandError

from datasources.models import Datasource
from items.models import Item
from items.services import cache


class Command(BaseCommand):
    help = (
        "Clear cached answers of an item (--item), of every item of a datasource (--datasource) or of all "
        "items (--all). The items' config versions change, so old entries are never read again, and their "
        "keys are deleted from Redis."
    )

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--item", type=int, metavar="ID", help="the item's id")
        group.add_argument("--datasource", type=int, metavar="ID", help="the datasource's id")
        group.add_argument("--all", action="store_true", help="every item")

    def handle(self, *args, **options):
        if options["item"] is not None:
            items = Item.objects.filter(pk=options["item"])
            if not items.exists():
                raise CommandError(f"There is no item {options['item']}.")
            patterns = [cache.item_key_pattern(options["item"])]
            scope = f"item {options['item']}"
        elif options["datasource"] is not None:
            if not Datasource.objects.filter(pk=options["datasource"]).exists():
                raise CommandError(f"There is no datasource {options['datasource']}.")
            items = Item.objects.filter(datasource_id=options["datasource"])
            patterns = [cache.datasource_key_pattern(options["datasource"])]
            scope = f"the items of datasource {options['datasource']}"
        else:
            items = Item.objects.all()
            patterns = [f"{cache.KEY_PREFIX}:*"]
            scope = "all items"

        bumped = 0
        for item in items:
            # Bumping the item (not the datasource) leaves the datasource's other users of its version alone.
            item.bump_config_version()
            bumped += 1
        self.stdout.write(
            f"Cache of {scope}: {bumped} item(s) got a new config version, so their old entries are no longer used."
        )
        self._delete(patterns)

    def _delete(self, patterns):
        deleted = 0
        for pattern in patterns:
            try:
                count = cache.delete_pattern(pattern)
            except cache.CacheUnavailable:
                self.stdout.write("Redis did not answer: no key was deleted (old entries expire by themselves).")
                return
            if count is None:
                self.stdout.write("The cache is not Redis: no key was deleted (old entries expire by themselves).")
                return
            deleted += count
        self.stdout.write(f"Deleted {deleted} cache key(s).")

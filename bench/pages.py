"""Pair 6: a paginated item, three pages through Connect, vs three raw pooled requests GETs of the same pages.

Both sides read /paged?q=printer&page=1..3 from the bench's upstream (the small issue list on every page); Connect's
side is resolve_item with the cache off (page-number pagination, page cap 3), the floor is requests + json.loads of
each page. The ratio is the median of the rounds' ratios (pairs.alternate)."""
import statistics

from .pairs import Context, alternate, micros, paired_ratio, raw_session, row

TARGET = 1.15


def make_paged_item(datasource):
    from items.models import Item

    item = Item(name="paged", datasource=datasource, query="/paged?q=$userInput", list_path="issues",
                key_field="key", label_template="{key} - {fields.summary}", max_options=1000, pagination="page",
                page_parameter="page", page_start=1, page_step=1, max_pages=3)
    item.full_clean()
    item.save()
    return Item.objects.select_related("datasource", "datasource__auth").get(pk=item.pk)


def three_pages(ctx: Context, *, rounds: int = 15, calls: int = 20) -> dict:
    from items.models import Item
    from items.services import resolve_item

    item = Item.objects.filter(name="paged").first() or make_paged_item(ctx.items["small"].datasource)
    item = Item.objects.select_related("datasource", "datasource__auth").get(pk=item.pk)
    assert len(resolve_item(item=item, user_input="printer", use_cache=False).pages) == 3
    session = raw_session(ctx.ca_file)
    urls = [f"{ctx.upstream_url}/paged?q=printer&page={n}" for n in (1, 2, 3)]

    def floor():
        for url in urls:
            session.get(url).json()

    connect, floor_times = alternate(lambda: resolve_item(item=item, user_input="printer", use_cache=False), floor,
                                     rounds=rounds, calls=calls)
    session.close()
    c, f, ratio = statistics.median(connect), statistics.median(floor_times), paired_ratio(connect, floor_times)
    return row("6. Pagination: a 3-page resolution (cache off) vs 3 pooled requests GETs + json", micros(c),
               micros(f), ratio, f"≤ {TARGET}", ratio <= TARGET, connect_s=c, floor_s=f, pages=3)


def three_pages_vs_one_round_trip_more(ctx: Context, *, rounds: int = 15, calls: int = 20) -> dict:
    """Context for pair 6: the same resolution against the floor plus one Redis round trip (a PING on a pooled
    connection to the Redis Connect uses), the least that SPEC 8's protection, shared by every process, needs
    before a resolution's first page is sent."""
    import redis

    from items.models import Item
    from items.services import resolve_item

    item = Item.objects.select_related("datasource", "datasource__auth").get(name="paged")
    session, shared = raw_session(ctx.ca_file), redis.Redis.from_url(ctx.redis_url)
    urls = [f"{ctx.upstream_url}/paged?q=printer&page={n}" for n in (1, 2, 3)]

    def floor():
        shared.ping()
        for url in urls:
            session.get(url).json()

    connect, floor_times = alternate(lambda: resolve_item(item=item, user_input="printer", use_cache=False), floor,
                                     rounds=rounds, calls=calls)
    session.close()
    shared.close()
    c, f, ratio = statistics.median(connect), statistics.median(floor_times), paired_ratio(connect, floor_times)
    return row("6c. Pagination as pair 6, against its floor plus one Redis round trip (context)", micros(c),
               micros(f), ratio, f"≤ {TARGET} (context)", None, connect_s=c, floor_s=f, pages=3)

"""Pair 6: a paginated item, three pages through Connect, vs three raw pooled requests GETs of the same pages.

Both sides read /paged?q=printer&page=1..3 from the bench's upstream (the small issue list on every page); Connect's
side is resolve_item with the cache off (page-number pagination, page cap 3), the floor is requests + json.loads of
each page. The ratio is the median of the rounds' ratios (pairs.alternate)."""

import statistics

from .pairs import Context, alternate, micros, paired_ratio, raw_session, row


def make_paged_item(datasource, name: str = "paged"):
    from items.models import Item

    item = Item(
        name=name,
        datasource=datasource,
        query="/paged?q=$userInput",
        list_path="issues",
        key_field="key",
        label_template="{key} - {fields.summary}",
        max_options=1000,
        pagination="page",
        page_parameter="page",
        page_start=1,
        page_step=1,
        max_pages=3,
    )
    item.full_clean()
    item.save()
    return Item.objects.select_related("datasource", "datasource__auth").get(pk=item.pk)


def _paged(name: str, datasource):
    from items.models import Item

    item = Item.objects.filter(name=name).first() or make_paged_item(datasource, name)
    return Item.objects.select_related("datasource", "datasource__auth").get(pk=item.pk)


def _against_floor(ctx: Context, item, *, ping: bool = False, rounds: int = 15, calls: int = 20) -> tuple:
    """(Connect's median, the floor's, the paired ratio): the item's 3-page resolution vs 3 pooled GETs + json,
    with one Redis PING first on the floor's side if `ping`."""
    import redis

    from items.services import resolve_item

    assert len(resolve_item(item=item, user_input="printer", use_cache=False).pages) == 3
    session, shared = raw_session(ctx.ca_file), redis.Redis.from_url(ctx.redis_url)
    urls = [f"{ctx.upstream_url}/paged?q=printer&page={n}" for n in (1, 2, 3)]

    def floor():
        if ping:
            shared.ping()
        for url in urls:
            session.get(url).json()

    connect, floor_times = alternate(
        lambda: resolve_item(item=item, user_input="printer", use_cache=False), floor, rounds=rounds, calls=calls
    )
    session.close()
    shared.close()
    return statistics.median(connect), statistics.median(floor_times), paired_ratio(connect, floor_times)


def three_pages(ctx: Context) -> dict:
    c, f, ratio = _against_floor(ctx, _paged("paged", ctx.items["small"].datasource))
    return row(
        "6. Pagination: a 3-page resolution (cache off) vs 3 pooled requests GETs + json, 1 ms API (context)",
        micros(c),
        micros(f),
        ratio,
        "(context)",
        None,
        connect_s=c,
        floor_s=f,
        pages=3,
    )

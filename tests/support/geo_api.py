"""A small geography API (countries, their regions, their cities) served by the real local HTTPS test server, and
the Country -> Region -> City chain of items bound to each other that the widget tests click through."""

import json
import time
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from items.bindings import save_bindings
from items.models import Item
from tests.conftest import make_datasource

from .https_server import send

GEO = {
    "NL": (
        "Netherlands",
        {
            "NH": ("Noord-Holland", ["Amsterdam", "Haarlem", "Zaandam"]),
            "ZH": ("Zuid-Holland", ["Rotterdam", "Den Haag", "Leiden"]),
        },
    ),
    "FR": (
        "France",
        {
            "IDF": ("Île-de-France", ["Paris", "Versailles"]),
            "ARA": ("Auvergne-Rhône-Alpes", ["Lyon", "Grenoble", "Annecy"]),
        },
    ),
}
# A city search for this text makes the API fail (the widget shows Connect's message).
FAILING_TEXT = "boom"
# A city search for this text is answered late (an older answer arriving after a newer one).
SLOW_TEXT, SLOW_SECONDS = "zaa", 1.5


def _query(handler) -> dict:
    return {name: values[0] for name, values in parse_qs(urlsplit(handler.path).query).items()}


def _json(handler, data, status=200):
    send(handler, status, json.dumps(data).encode())


def countries(handler):
    _json(handler, [{"code": code, "name": name} for code, (name, _regions) in GEO.items()])


def regions(handler):
    _name, found = GEO.get(_query(handler).get("country", ""), ("", {}))
    _json(handler, [{"code": code, "name": name} for code, (name, _cities) in found.items()])


def cities(handler):
    query = _query(handler)
    text = query.get("q", "").lower()
    if FAILING_TEXT in text:
        return _json(handler, {"error": "upstream exploded"}, status=500)
    if text == SLOW_TEXT:
        time.sleep(SLOW_SECONDS)
    names = [
        city
        for _country, regions_ in GEO.values()
        for code, (_name, cities_) in regions_.items()
        if code == query.get("region")
        for city in cities_
    ]
    _json(handler, [{"code": name[:3].upper(), "name": name} for name in names if text in name.lower()])


def city(handler):
    """One city by its code (a lookup query: /city?code=$key), or 404."""
    code = _query(handler).get("code", "")
    for _country, regions_ in GEO.values():
        for _name, cities_ in regions_.values():
            for name in cities_:
                if name[:3].upper() == code:
                    return _json(handler, {"code": code, "name": name})
    _json(handler, {"error": "no such city"}, status=404)


ROUTES = {"/geo/countries": countries, "/geo/regions": regions, "/geo/cities": cities, "/geo/city": city}


@dataclass
class Chain:
    country: Item
    region: Item
    city: Item


def make_chain(upstream, *, name_prefix: str = "") -> Chain:
    """Country (a list), Region (a list, $country bound to Country), City (a search, $region bound to Region, with a
    lookup query for the labels of its keys)."""
    datasource = make_datasource(name=f"{name_prefix}Geo API", base_url=upstream.url("/geo"))
    common = {"datasource": datasource, "list_path": "", "key_field": "code", "label_template": "{name}"}
    country = Item.objects.create(name=f"{name_prefix}Country", query="/countries", **common)
    region = Item.objects.create(
        name=f"{name_prefix}Region",
        query="/regions?country=$country",
        dependencies=[{"name": "country", "optional": False}],
        **common,
    )
    city = Item.objects.create(
        name=f"{name_prefix}City",
        query="/cities?region=$region&q=$userInput",
        dependencies=[{"name": "region", "optional": False}],
        user_input_optional=True,
        lookup_query="/city?code=$key",
        **common,
    )
    save_bindings(item=region, sources={"country": country})
    save_bindings(item=city, sources={"region": region})
    return Chain(country=country, region=region, city=city)

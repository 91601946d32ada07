"""The answers the bench's upstream API sends, shaped like an issue tracker's search (as Connect's items expect)."""

import json

SMALL_COUNT = 25
LARGE_BYTES = 5 * 1024 * 1024
WORDS = "printer coffee badge laptop network invoice contract screen door parking".split()


def issue(number: int, description_words: int = 0) -> dict:
    fields = {"summary": f"The {WORDS[number % 10]} on floor {number % 7} is broken", "status": {"name": "Open"}}
    if description_words:
        fields["description"] = " ".join(WORDS[(number + i) % 10] for i in range(description_words))
    return {"id": str(10000 + number), "key": f"OPS-{number}", "fields": fields}


def small_answer() -> bytes:
    return json.dumps({"total": SMALL_COUNT, "issues": [issue(n) for n in range(SMALL_COUNT)]}).encode()


def small_options() -> list[dict]:
    """What Connect makes of small_answer() with key `key` and label `{key} - {fields.summary}`."""
    return [
        {"key": i["key"], "label": f"{i['key']} - {i['fields']['summary']}"}
        for i in json.loads(small_answer())["issues"]
    ]


def large_answer() -> bytes:
    """A LARGE_BYTES answer: issues with a description of about 60 words each (text, as real answers are)."""
    entry_size = len(json.dumps(issue(0, 60))) + 2
    count = LARGE_BYTES // entry_size
    return json.dumps({"total": count, "issues": [issue(n, 60) for n in range(count)]}).encode()


CITIES = (
    "Amsterdam Rotterdam Antwerp Athens Ankara Almaty Aberdeen Amersfoort Arnhem Alkmaar Apeldoorn Assen Aachen "
    "Augsburg Avignon Barcelona Berlin Bern Brussels Bratislava Budapest Bucharest Copenhagen Cologne Dublin Delft "
    "Dresden Edinburgh Eindhoven Frankfurt Geneva Ghent Groningen Hamburg Helsinki Krakow Leiden Lisbon Ljubljana "
    "London Lyon Madrid Malmo Marseille Milan Munich Nantes Naples Oslo Paris Porto Prague Riga Rome Seville "
    "Sofia Stockholm Tallinn Turin Utrecht Valencia Vienna Vilnius Warsaw Zagreb Zurich"
).split()


def cities_answer(text: str) -> bytes:
    """The cities whose name contains `text`, ignoring case (as an item's "label contains" rule compares)."""
    wanted = text.casefold()
    found = [{"code": f"C{n:02d}", "name": c} for n, c in enumerate(CITIES) if wanted in c.casefold()]
    return json.dumps({"cities": found}).encode()

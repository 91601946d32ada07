"""How long a request to Connect's API may be, shared by gunicorn.conf.py and the API (core/json_api.py, the caller
middleware). gunicorn's own limits sit above Connect's, so a request over Connect's limits still reaches Connect and
gets a JSON error it names, instead of gunicorn's HTML 414 or 431 page (which only what is over gunicorn's limits
gets)."""

# An embedding token (Authorization: Bearer <token>): a few hundred bytes usually; this leaves room for a long list of
# items and long claims. A longer one is refused: 431 token_too_long.
MAX_TOKEN_BYTES = 8192
# The query string of an API request, as sent (percent-encoded): the search text and the dependencies' values. A
# longer one is refused: 414 query_too_long.
MAX_QUERY_STRING_BYTES = 4096

# gunicorn's limit on the request line (method, path and query string, version): its maximum, 8190 bytes, about twice
# Connect's query string limit.
REQUEST_LINE_BYTES = 8190
# gunicorn's limit on one header field (name and value): twice the longest token Connect reads.
REQUEST_FIELD_BYTES = 2 * MAX_TOKEN_BYTES

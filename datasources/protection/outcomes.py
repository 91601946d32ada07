"""What a finished call means for the protection rules: a failure of the API, an answer, or neither.

- failure (the breaker counts it; stale-if-error may answer instead): a timeout, a connection, TLS or DNS error, a
  broken answer, an HTTP 5xx.
- success (the API answered, so it is up): any other HTTP answer, 4xx included (a 404 is the API working).
- neutral (says nothing about the API): the caller's own errors, found before or without a usable answer: an
  invalid URL, an address the policy refuses, a refused redirect, an answer over the size cap, credentials."""

from datasources.services import errors

SUCCESS, FAILURE, NEUTRAL = "success", "failure", "neutral"
API_FAILURES = (errors.ConnectFailure, errors.ConnectTimeout, errors.UpstreamTimeout, errors.TLSFailure)
API_FAILURES += (errors.DNSFailure, errors.InvalidResponse)


def classify(*, error: errors.DatasourceError | None = None, status_code: int | None = None) -> str:
    if isinstance(error, errors.HTTPStatusError) or (error is None and status_code is not None):
        status = error.status_code if error is not None else status_code
        return FAILURE if status is None or status >= 500 else SUCCESS
    if error is None:
        return SUCCESS
    # The bare class is what the translation of an unknown library error gives: a transport failure.
    if isinstance(error, API_FAILURES) or type(error) is errors.DatasourceError:
        return FAILURE
    return NEUTRAL


def health_code(*, error: errors.DatasourceError | None = None, status_code: int | None = None) -> str:
    """The stable code a call is counted under in the health figures ('' for a 2xx/3xx answer): an error code,
    or http_<status> for an HTTP error status. Never anything taken from the URL, the query or the answer's text."""
    if isinstance(error, errors.HTTPStatusError) and error.status_code:
        return f"http_{int(error.status_code)}"
    if error is not None:
        return error.code
    if status_code is not None and status_code >= 400:
        return f"http_{int(status_code)}"
    return ""


def allows_stale(error: BaseException) -> bool:
    """May stale-if-error answer instead of this error? Yes when the API is failing, throttling (429) or being
    protected (rate limited, paused, circuit open); no for the caller's own errors or other 4xx answers."""
    if isinstance(error, errors.ProtectionRefusal):
        return True
    if isinstance(error, errors.HTTPStatusError) and error.status_code == 429:
        return True
    return isinstance(error, errors.DatasourceError) and classify(error=error) == FAILURE

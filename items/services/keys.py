"""Option keys as a form submits them: a key is a text or a number in the API's answer, always a text in a form.

One rule, used wherever a key from a person's form (a selection, a label request) meets the options of an answer.
"""

MAX_KEYS = 50  # keys in one selection, verification or label request
MAX_KEY_CHARS = 1000


def key_text(key) -> str:
    """The key as the widget writes it into the form (JavaScript's String(key)): 5 -> "5", 5.0 -> "5",
    true -> "true"."""
    if type(key) is str:
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, float) and key.is_integer():
        return str(int(key))
    return str(key)

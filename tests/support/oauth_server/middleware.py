"""One line per answered request, written before the response leaves, so a test that got its answer can count it.

(gunicorn's access log is written after the response is sent: reading it right away races with the worker.)
"""

import os


class RequestLog:
    def __init__(self, get_response):
        self.get_response = get_response
        self.path = os.environ["OAUTH_SERVER_REQUEST_LOG"]

    def __call__(self, request):
        response = self.get_response(request)
        # O_APPEND: lines from both workers never interleave.
        with open(self.path, "a") as log:
            log.write(f"{request.method} {request.path} {response.status_code}\n")
        return response

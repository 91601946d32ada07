"""Django's json serialization without secrets (core/dumps/__init__.py)."""

from django.core.serializers import json

from . import WithoutSecrets

Deserializer = json.Deserializer


class Serializer(WithoutSecrets, json.Serializer):
    pass

"""Django's jsonl serialization without secrets (core/dumps/__init__.py)."""

from django.core.serializers import jsonl

from . import WithoutSecrets

Deserializer = jsonl.Deserializer


class Serializer(WithoutSecrets, jsonl.Serializer):
    pass

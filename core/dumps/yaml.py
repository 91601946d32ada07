"""Django's yaml serialization without secrets (core/dumps/__init__.py)."""

from django.core.serializers import pyyaml

from . import WithoutSecrets

Deserializer = pyyaml.Deserializer


class Serializer(WithoutSecrets, pyyaml.Serializer):
    pass

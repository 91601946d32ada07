"""Django's xml serialization without secrets (core/dumps/__init__.py)."""

from django.core.serializers import xml_serializer

from . import WithoutSecrets

Deserializer = xml_serializer.Deserializer


class Serializer(WithoutSecrets, xml_serializer.Serializer):
    pass

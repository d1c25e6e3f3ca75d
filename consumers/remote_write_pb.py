"""Prometheus remote-write 1.0 protobuf messages, built at import from a descriptor defined here.

There is no protoc on the build machines, so the messages of prometheus/prompb
(`types.proto` and `remote.proto`) that remote-write 1.0 sends are declared as a
`FileDescriptorProto` with the same package, names and field numbers. Fields this module
does not declare (exemplars, native histograms) are kept as unknown fields by the parser
and ignored, exactly as an older receiver would.
"""

from __future__ import annotations

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_FILE = "smartcloudops/prompb_remote_write.proto"
_PACKAGE = "prometheus"

_F = descriptor_pb2.FieldDescriptorProto
_OPTIONAL, _REPEATED = _F.LABEL_OPTIONAL, _F.LABEL_REPEATED


def _field(name: str, number: int, kind: int, *, label: int = _OPTIONAL, type_name: str = "") -> _F:
    field = _F(name=name, number=number, type=kind, label=label)
    if type_name:
        field.type_name = f".{_PACKAGE}.{type_name}"
    return field


def _message(name: str, *fields: _F) -> descriptor_pb2.DescriptorProto:
    message = descriptor_pb2.DescriptorProto(name=name)
    message.field.extend(fields)
    return message


def _metric_metadata() -> descriptor_pb2.DescriptorProto:
    message = _message(
        "MetricMetadata",
        _field("type", 1, _F.TYPE_ENUM, type_name="MetricMetadata.MetricType"),
        _field("metric_family_name", 2, _F.TYPE_STRING),
        _field("help", 4, _F.TYPE_STRING),
        _field("unit", 5, _F.TYPE_STRING),
    )
    kinds = (
        "UNKNOWN",
        "COUNTER",
        "GAUGE",
        "HISTOGRAM",
        "GAUGEHISTOGRAM",
        "SUMMARY",
        "INFO",
        "STATESET",
    )
    enum = message.enum_type.add(name="MetricType")
    for number, kind in enumerate(kinds):
        enum.value.add(name=kind, number=number)
    return message


def _file_descriptor() -> descriptor_pb2.FileDescriptorProto:
    proto = descriptor_pb2.FileDescriptorProto(name=_FILE, package=_PACKAGE, syntax="proto3")
    proto.message_type.extend(
        [
            _message(
                "Sample", _field("value", 1, _F.TYPE_DOUBLE), _field("timestamp", 2, _F.TYPE_INT64)
            ),
            _message(
                "Label", _field("name", 1, _F.TYPE_STRING), _field("value", 2, _F.TYPE_STRING)
            ),
            _message(
                "TimeSeries",
                _field("labels", 1, _F.TYPE_MESSAGE, label=_REPEATED, type_name="Label"),
                _field("samples", 2, _F.TYPE_MESSAGE, label=_REPEATED, type_name="Sample"),
            ),
            _metric_metadata(),
            _message(
                "WriteRequest",
                _field("timeseries", 1, _F.TYPE_MESSAGE, label=_REPEATED, type_name="TimeSeries"),
                _field("metadata", 3, _F.TYPE_MESSAGE, label=_REPEATED, type_name="MetricMetadata"),
            ),
        ]
    )
    return proto


# A private pool: another module declaring `prometheus.*` (a real prompb) cannot clash with it.
_POOL = descriptor_pool.DescriptorPool()
_POOL.Add(_file_descriptor())


def _class(name: str) -> type:
    return message_factory.GetMessageClass(_POOL.FindMessageTypeByName(f"{_PACKAGE}.{name}"))


Sample = _class("Sample")
Label = _class("Label")
TimeSeries = _class("TimeSeries")
MetricMetadata = _class("MetricMetadata")
WriteRequest = _class("WriteRequest")

"""The worker's Redis channel can still build its client after kombu detached the transport."""

from __future__ import annotations

import pytest
from kombu import Connection
from kombu.transport import redis as kombu_redis

from adapters import kombu_redis as ours


def detached_channel(transport_class):
    connection = Connection("redis://127.0.0.1:6399/3", transport=transport_class)
    channel = transport_class.Channel.__new__(transport_class.Channel)  # no socket is opened
    channel.connection = connection.transport
    for name in ("max_connections", "socket_timeout", "socket_connect_timeout", "socket_keepalive",
                 "socket_keepalive_options", "health_check_interval", "retry_on_timeout", "client_name"):
        setattr(channel, name, getattr(transport_class.Channel, name, None))
    return connection, channel


def test_kombus_own_channel_fails_once_the_transport_is_detached():
    connection, channel = detached_channel(kombu_redis.Transport)
    channel._connparams()
    connection.transport.client = None  # what Connection._do_close_transport does
    with pytest.raises(AttributeError, match="hostname"):
        channel._connparams()


def test_ours_keeps_the_parameters_it_built():
    connection, channel = detached_channel(ours.Transport)
    before = channel._connparams()
    connection.transport.client = None
    after = channel._connparams()
    assert (after["host"], after["port"]) == ("127.0.0.1", 6399)
    assert after == before


def test_install_makes_redis_urls_use_it_even_after_kombu_resolved_them():
    Connection("redis://127.0.0.1:6399/0").transport  # kombu resolves and caches its own first
    ours.install()
    assert isinstance(Connection("redis://127.0.0.1:6399/0").transport, ours.Transport)


def test_the_channel_shares_one_client_until_its_pool_is_replaced():
    """kombu builds a client per call; ours reuses one on the same pool (no socket is opened here)."""
    _, channel = detached_channel(ours.Transport)
    channel.Client, channel._pool = channel._get_client(), None
    with channel.conn_or_acquire() as first, channel.conn_or_acquire() as second:
        assert first is second
        assert first.connection_pool is channel.pool
    given = object()
    with channel.conn_or_acquire(given) as client:
        assert client is given
    channel._pool = None  # what kombu does when it drops a broken pool
    with channel.conn_or_acquire() as third:
        assert third is not first
        assert third.connection_pool is channel.pool

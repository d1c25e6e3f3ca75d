"""RedisChatAnswers against a real Redis: the same contract as the SQLite and in-memory boxes."""

from __future__ import annotations

import threading

import pytest
import redis

from adapters.chat_answers import RedisChatAnswers

pytestmark = [pytest.mark.integration, pytest.mark.timeout(30)]


def test_a_waiting_reader_gets_the_answer_put_later_once(redis_url):
    box = RedisChatAnswers(redis.Redis.from_url(redis_url))
    threading.Timer(0.1, box.put, ("e1", {"text": "done"}, 60)).start()
    assert box.wait("e1", 5.0) == {"text": "done"}
    assert box.wait("e1", 0.1) is None


def test_an_answer_nobody_read_expires(redis_url):
    client = redis.Redis.from_url(redis_url)
    RedisChatAnswers(client).put("e2", {"text": "late"}, 60)
    assert 0 < client.ttl("sco:chat:answer:e2") <= 60

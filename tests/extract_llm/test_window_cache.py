"""Long conversations are windowed, never fatal; the answer cache survives concurrent writers and kill -9."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time

from valuescope.extract.llm.cache import AnswerCache, cache_key
from valuescope.extract.llm.window import clip, render_transcript
from valuescope.records import Conversation, Message


def _long_conv(turns: int, size: int) -> Conversation:
    msgs = []
    for i in range(turns):
        role = "user" if i % 2 == 0 else "assistant"
        msgs.append(Message(role=role, content=f"<<msg {i} start>> " + "word " * (size // 5) + f"<<msg {i} end>>"))
    return Conversation(id="long", messages=msgs)


def test_short_conversation_is_untouched():
    c = _long_conv(2, 100)
    text, truncated = render_transcript(c, 10_000)
    assert not truncated and "<<msg 0 start>>" in text and "<<msg 1 end>>" in text


def test_long_conversation_keeps_task_and_final_exchange_within_budget():
    c = _long_conv(40, 2_000)  # ~80k characters
    text, truncated = render_transcript(c, 12_000)
    assert truncated and len(text) <= 12_000
    assert "<<msg 0 start>>" in text  # the task
    assert "<<msg 39 end>>" in text and "<<msg 38 start>>" in text  # the final exchange
    assert "messages omitted" in text
    # kept middle messages are the most recent ones
    kept = [i for i in range(1, 38) if f"<<msg {i} start>>" in text]
    assert kept == sorted(kept) and (not kept or kept[-1] == 37)


def test_one_giant_message_is_clipped_head_and_tail():
    c = Conversation(id="g", messages=[Message(role="user", content="A" * 500 + "B" * 200_000 + "C" * 500)])
    text, truncated = render_transcript(c, 8_000)
    assert truncated and len(text) <= 8_000
    assert text.count("A") > 100 and text.rstrip().endswith("C") and "characters omitted" in text


def test_tiny_budget_never_fails():
    text, truncated = render_transcript(_long_conv(10, 5_000), 50)
    assert truncated and len(text) <= 300
    assert clip("x" * 10, 100) == "x" * 10


def test_cache_key_covers_every_component():
    base = ("openai", "m", "p1", {"temperature": 0}, "h")
    keys = {
        cache_key(*base),
        cache_key("anthropic", *base[1:]),
        cache_key(base[0], "m2", *base[2:]),
        cache_key(*base[:2], "p2", *base[3:]),
        cache_key(*base[:3], {"temperature": 0.5}, base[4]),
        cache_key(*base[:4], "h2"),
    }
    assert len(keys) == 6


def _writer(folder: str, start: int, n: int) -> None:
    cache = AnswerCache(folder)
    for i in range(start, start + n):
        cache.put(f"k{i}", "full", {"i": i}, {"input_tokens": i})
    cache.close()


def test_cache_is_safe_under_concurrent_writers(tmp_path):
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), k * 200, 200)) for k in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    cache = AnswerCache(tmp_path)
    assert len(cache) == 800
    assert cache.get("k799") == ({"i": 799}, {"input_tokens": 799})
    assert len(cache.get_many([f"k{i}" for i in range(0, 1000, 7)])) == len(range(0, 800, 7))


def test_cache_survives_kill_9(tmp_path):
    code = (
        "import sys; from valuescope.extract.llm.cache import AnswerCache\n"
        "c = AnswerCache(sys.argv[1])\n"
        "i = 0\n"
        "while True:\n"
        "    c.put(f'k{i}', 'full', {'i': i, 'pad': 'x' * 2000}, {}); i += 1\n"
        "    if i == 50: print('ready', flush=True)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(0.3)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    cache = AnswerCache(tmp_path)
    n = len(cache)
    assert n >= 50
    # every committed row is whole and readable; writing continues where it stopped
    got = cache.get_many([f"k{i}" for i in range(n)])
    assert all(v[0]["i"] == int(k[1:]) for k, v in got.items())
    cache.put("after", "full", {"ok": True}, {})
    assert cache.get("after") == ({"ok": True}, {})

"""Test doubles: loopback LLM servers (scriptable faults, batch APIs, fixed latency). Not shipped."""

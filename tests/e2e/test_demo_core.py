"""`flask --app backend demo core` as a newcomer runs it: a process that prints what arrives."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from backend.integrations.assessment_core import WebhookSender, encode_body

ROOT = Path(__file__).resolve().parents[2]
PAYLOAD = {"type": "alert.raised", "timestamp": "2026-12-01T01:30:00+08:00",
           "data": {"cadre_code": "C040", "period": "2026-11", "type": "low_sample"}}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def reader(process: subprocess.Popen) -> tuple[queue.Queue, threading.Thread]:
    """Collect the process's output lines in a queue, from a thread (ends with the output)."""
    lines: queue.Queue = queue.Queue()

    def pump() -> None:
        for line in process.stdout:
            lines.put(line.rstrip("\n"))

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    return lines, thread


def next_line(lines: queue.Queue, pattern: str, timeout: float = 20.0) -> str:
    """Return the next output line matching a pattern (failing after `timeout`)."""
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(0.05, deadline - time.monotonic()))
        except queue.Empty:
            break
        seen.append(line)
        if re.search(pattern, line):
            return line
    raise AssertionError(f"no line matching {pattern!r} in:\n" + "\n".join(seen))


def demo_env(tmp_path) -> dict[str, str]:
    """Return the environment of a demo command: embedded mode, whatever the test run uses."""
    return {**os.environ, "PYTHONUNBUFFERED": "1", "SECRET_KEYS": "demo-core-test-key",
            "REDIS_URL": "", "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.db'}"}


def test_the_core_command_says_what_to_set_then_prints_verified_and_refused_pushes(tmp_path):
    port = free_port()
    env = demo_env(tmp_path)
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "backend", "demo", "core", "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True)
    lines, pump = reader(process)
    try:
        url = next_line(lines, r"ASSESSMENT_CORE_URL=").split("=", 1)[1]
        secret = next_line(lines, r"ASSESSMENT_CORE_SECRET=").split("=", 1)[1]
        assert url == f"http://127.0.0.1:{port}/webhooks" and secret.startswith("whsec_")
        with WebhookSender(url, [secret], concurrency=1) as sender:
            for _ in range(100):  # the server may still be binding its port
                if sender.send("msg_e2e", PAYLOAD).status == 200:
                    break
                time.sleep(0.1)
        assert "alert.raised 干部 C040 期间 2026-11 类型 low_sample webhook-id msg_e2e" in \
            next_line(lines, r"^已验证")
        body = encode_body(PAYLOAD)
        headers = WebhookSender(url, [secret]).headers("msg_forged", body)
        refused = httpx.post(url, content=body.replace("C040", "C001").encode(), headers=headers)
        assert refused.status_code == 401
        assert "msg_forged" in next_line(lines, r"^拒绝")
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
        pump.join(timeout=5)
        process.stdout.close()


def test_the_core_command_refuses_a_secret_it_cannot_use(tmp_path):
    env = demo_env(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "backend", "demo", "core", "--secret", "abc"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2 and "密钥应以 whsec_ 开头" in done.stderr


def test_the_core_command_says_when_its_port_is_taken(tmp_path):
    env = demo_env(tmp_path)
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "backend", "demo", "core", "--port",
             str(port)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
            check=False)
    assert done.returncode == 1
    assert f"无法在 127.0.0.1:{port} 监听（端口已被占用）" in done.stderr

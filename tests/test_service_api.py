"""The HTTP API as other programs use it: ``assistant serve`` in its own process on loopback, the
official ``openai`` package (plain and streaming), REST through httpx, the ``mcp`` SDK's client
over streamable HTTP and over stdio (``assistant mcp``). Real index, real embedding model, the
extractive answerer (no LLM)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import anyio
import httpx
import pytest

from tests.ui_helpers import ROOT, TEST_ENV, free_port, stop, wait_http

KEY = "test-key-plain"
ALICE_KEY = "test-key-alice"
KEYS = f"{KEY},alice:{ALICE_KEY}"
SAMPLE_NAME = "us-strikes-iran-militias.txt"


def start_service(data_dir: Path, port: int, log: Path, *command: str, extra_env: dict | None = None):
    env = {
        **os.environ,
        **TEST_ENV,
        "ASSISTANT_CONFIG": str(data_dir / "no-config.toml"),
        "ASSISTANT_API_KEYS": KEYS,
        **(extra_env or {}),
    }
    command = command or ("serve", "--port", str(port))
    return subprocess.Popen(
        [sys.executable, "-m", "assistant", *command, "--data-dir", str(data_dir)],
        env=env, stdout=open(log, "wb"), stderr=subprocess.STDOUT, cwd=ROOT,
    )


@pytest.fixture(scope="module")
def api_data_dir(tmp_path_factory) -> Path:
    from assistant.client import Assistant
    from assistant.samples import sample_files

    data_dir = tmp_path_factory.mktemp("api-data")
    assert Assistant(data_dir=data_dir, collection="default").ingest(sample_files()).count("added") == 1
    return data_dir


def _serve(data_dir: Path, log: Path):
    port = free_port()
    proc = start_service(data_dir, port, log, "serve", "--port", str(port))
    base = f"http://127.0.0.1:{port}"
    wait_http(base + "/openapi.json", timeout=180, proc=proc, log=log)
    return proc, base


@pytest.fixture(scope="module")
def api(api_data_dir, tmp_path_factory):
    proc, base = _serve(api_data_dir, tmp_path_factory.mktemp("api-log") / "serve.log")
    try:
        yield base
    finally:
        stop(proc)


def client(base: str, key: str = KEY) -> httpx.Client:
    return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=120)


def openai_client(base: str, key: str = KEY):
    import openai

    return openai.OpenAI(base_url=base + "/v1", api_key=key, max_retries=0, timeout=120)


# --- OpenAI-compatible --------------------------------------------------------------------------------------
def test_the_openai_package_gets_a_cited_answer_plain_and_streamed(api):
    oa = openai_client(api)
    assert "default" in [m.id for m in oa.models.list()]
    messages = [{"role": "user", "content": "How many targets did the US strike?"}]
    reply = oa.chat.completions.create(model="default", messages=messages)
    content = reply.choices[0].message.content
    assert "85 targets" in content and "[1]" in content
    assert "Sources:" in content and SAMPLE_NAME in content
    citations = reply.model_extra["citations"]
    assert citations and citations[0]["source"].endswith(SAMPLE_NAME) and "85 targets" in citations[0]["quote"]
    assert reply.choices[0].finish_reason == "stop"

    pieces, last = [], None
    for chunk in oa.chat.completions.create(model="default", messages=messages, stream=True):
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
        last = chunk
    assert "".join(pieces) == content  # the stream spells out the same reply
    assert last.choices[0].finish_reason == "stop"
    assert last.model_extra["citations"] == citations


def test_a_follow_up_sent_as_a_message_list_uses_the_earlier_turns(api):
    oa = openai_client(api)
    first_q = "What attack were the airstrikes a response to?"
    first = oa.chat.completions.create(model="default", messages=[{"role": "user", "content": first_q}])
    history = [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": first_q},
        {"role": "assistant", "content": first.choices[0].message.content},
        {"role": "user", "content": "How many did it injure?"},
    ]
    follow = oa.chat.completions.create(model="default", messages=history)
    alone = oa.chat.completions.create(model="default", messages=history[-1:])
    answer = follow.model_extra["answer"]
    assert answer["standalone_question"] != "How many did it injure?"  # rewritten with the earlier turn
    assert "attack" in answer["standalone_question"].lower()
    assert "80" in follow.choices[0].message.content
    assert alone.model_extra["answer"]["standalone_question"] == "How many did it injure?"


def test_an_unknown_model_and_a_bad_message_list_are_clear_errors(api):
    import openai

    oa = openai_client(api)
    with pytest.raises(openai.NotFoundError, match="no collection 'nope'"):
        oa.chat.completions.create(model="nope", messages=[{"role": "user", "content": "hi there"}])
    with pytest.raises(openai.BadRequestError, match="last message must be the user's question"):
        oa.chat.completions.create(model="default", messages=[{"role": "assistant", "content": "hello"}])
    with pytest.raises(openai.BadRequestError, match="the question is empty"):
        oa.chat.completions.create(model="default", messages=[{"role": "user", "content": "   "}])


# --- keys and limits ------------------------------------------------------------------------------------------------
def test_a_wrong_or_missing_api_key_gets_401(api):
    import openai

    with pytest.raises(openai.AuthenticationError, match="wrong API key"):
        openai_client(api, key="not-the-key").models.list()
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": f"Basic {KEY}"}):
        r = httpx.get(api + "/api/conversations", headers=headers, timeout=30)
        assert r.status_code == 401, headers
        assert r.json()["error"]["type"] == "authentication_error"
        assert r.headers["www-authenticate"].startswith("Bearer")
    r = httpx.post(api + "/mcp", json={}, timeout=30)
    assert r.status_code == 401
    assert client(api).get("/api/collections").status_code == 200


def test_an_oversized_request_is_refused_with_413(api):
    r = client(api).post("/api/ask", content=b"x" * (26 * 1024 * 1024), headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert "api_max_request_mb" in r.json()["error"]["message"]


def test_listening_beyond_loopback_without_a_key_is_refused(tmp_path):
    env = {**os.environ, **TEST_ENV, "ASSISTANT_CONFIG": str(tmp_path / "none.toml")}
    env.pop("ASSISTANT_API_KEYS", None)
    for command in ("serve", "chat"):
        done = subprocess.run(
            [sys.executable, "-m", "assistant", command, "--host", "0.0.0.0", "--port", str(free_port()),
             "--data-dir", str(tmp_path)],
            env=env, capture_output=True, text=True, timeout=120, cwd=ROOT,
        )
        assert done.returncode == 1, done.stderr
        assert "refusing to listen on 0.0.0.0 without an API key or a login" in done.stderr
        assert "Traceback" not in done.stderr


# --- REST: documents ----------------------------------------------------------------------------------------------
def test_an_upload_is_then_answerable_and_deletable(api, tmp_path):
    http = client(api)
    note = tmp_path / "lighthouse.md"
    note.write_text("# Varnholm\n\nThe lighthouse keeper of Varnholm island is Ottoline Brask. "
                    "She has kept the light burning since 1987.\n")
    with note.open("rb") as fh:
        r = http.post("/api/documents", files=[("files", (note.name, fh, "text/markdown"))])
    assert r.status_code == 200, r.text
    assert [x["status"] for x in r.json()] == ["added"]
    docs = {Path(d["source"]).name: d for d in http.get("/api/documents").json()}
    assert "lighthouse.md" in docs and SAMPLE_NAME in docs

    question = [{"role": "user", "content": "Who is the lighthouse keeper of Varnholm island?"}]
    reply = openai_client(api).chat.completions.create(model="default", messages=question)
    assert "Ottoline Brask" in reply.choices[0].message.content
    assert Path(reply.model_extra["citations"][0]["source"]).name == "lighthouse.md"

    doc_url = "/api/documents/" + quote(docs["lighthouse.md"]["doc_id"], safe="")  # doc ids are often paths
    r = http.delete(doc_url)
    assert r.status_code == 200 and Path(r.json()[0]["source"]).name == "lighthouse.md"
    assert "lighthouse.md" not in {Path(d["source"]).name for d in http.get("/api/documents").json()}
    again = openai_client(api).chat.completions.create(model="default", messages=question)
    assert "Ottoline" not in again.choices[0].message.content
    assert http.delete(doc_url).status_code == 404

    r = http.post("/api/documents", files=[("files", ("evil.exe", b"MZ...", "application/octet-stream"))])
    assert r.json()[0]["status"] == "skipped" and "unsupported file type" in r.json()[0]["reason"]


# --- conversations --------------------------------------------------------------------------------------------------
def test_conversations_survive_a_restart_and_are_per_key_owner(api_data_dir, tmp_path):
    proc, base = _serve(api_data_dir, tmp_path / "first.log")
    try:
        http = client(base)
        first = http.post("/api/ask", json={"question": "What attack were the airstrikes a response to?",
                                            "conversation_id": "new"}).json()
        conv_id = first["conversation_id"]
        follow = http.post(f"/api/conversations/{conv_id}/messages", json={"question": "How many did it injure?"})
        assert follow.status_code == 200 and "80" in follow.json()["answer"]
        # the OpenAI endpoint can record into the same conversation
        oa = openai_client(base)
        r = oa.chat.completions.create(model="default", extra_body={"conversation_id": conv_id},
                                       messages=[{"role": "user", "content": "Who condemned the airstrikes?"}])
        assert r.model_extra["conversation_id"] == conv_id
    finally:
        stop(proc)

    proc, base = _serve(api_data_dir, tmp_path / "second.log")
    try:
        http = client(base)
        listed = {c["id"]: c for c in http.get("/api/conversations").json()}
        assert listed[conv_id]["turns"] == 3
        assert listed[conv_id]["title"] == "What attack were the airstrikes a response to?"
        conv = http.get(f"/api/conversations/{conv_id}").json()
        assert [m["question"] for m in conv["messages"]] == [
            "What attack were the airstrikes a response to?", "How many did it injure?", "Who condemned the airstrikes?"]
        assert conv["messages"][0]["citations"][0]["source"].endswith(SAMPLE_NAME)
        md = http.get(f"/api/conversations/{conv_id}/export").text
        assert md.startswith("# What attack") and "Sources:" in md and SAMPLE_NAME in md
        js = json.loads(http.get(f"/api/conversations/{conv_id}/export", params={"format": "json"}).text)
        assert js["id"] == conv_id and len(js["messages"]) == 3

        # another key's owner sees none of it
        alice = client(base, ALICE_KEY)
        assert conv_id not in {c["id"] for c in alice.get("/api/conversations").json()}
        assert alice.get(f"/api/conversations/{conv_id}").status_code == 404

        assert http.patch(f"/api/conversations/{conv_id}", json={"title": "Tower 22"}).json()["title"] == "Tower 22"
        assert http.delete(f"/api/conversations/{conv_id}").status_code == 200
        gone = http.get(f"/api/conversations/{conv_id}")
        assert gone.status_code == 404 and "no conversation" in gone.json()["error"]["message"]
    finally:
        stop(proc)


# --- MCP -------------------------------------------------------------------------------------------------------------
async def _use_mcp(read, write) -> tuple[list[str], object, object]:
    from mcp import ClientSession

    async with ClientSession(read, write) as session:
        await session.initialize()
        tools = [t.name for t in (await session.list_tools()).tools]
        asked = await session.call_tool("ask", {"question": "How many targets did the US strike?"})
        searched = await session.call_tool("search", {"query": "Tower 22 attack", "k": 2})
        return tools, asked, searched


def _check_mcp(tools, asked, searched) -> None:
    assert {"ask", "search", "list_documents"} <= set(tools)
    assert not asked.is_error
    assert "85 targets" in asked.content[0].text and "Sources:" in asked.content[0].text
    citation = asked.structured_content["citations"][0]
    assert citation["source"].endswith(SAMPLE_NAME) and "page" in citation and citation["score"] > 0
    passages = searched.structured_content["passages"]
    assert len(passages) == 2 and passages[0]["score"] >= passages[1]["score"]
    assert "Tower 22" in " ".join(p["text"] for p in passages)


def test_an_mcp_client_lists_the_tools_and_asks_over_http(api):
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    async def main():
        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {KEY}"}, timeout=120) as http:
            async with streamable_http_client(api + "/mcp", http_client=http) as streams:
                return await _use_mcp(streams[0], streams[1])

    _check_mcp(*anyio.run(main))


def test_an_mcp_client_lists_the_tools_and_asks_over_stdio(api_data_dir, tmp_path):
    from mcp import StdioServerParameters
    from mcp.client.stdio import stdio_client

    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "assistant", "mcp", "--data-dir", str(api_data_dir)],
        env={**os.environ, **TEST_ENV, "ASSISTANT_CONFIG": str(tmp_path / "none.toml")},
        cwd=str(ROOT),
    )

    async def main():
        with open(tmp_path / "mcp-stderr.log", "w") as errlog:
            async with stdio_client(params, errlog=errlog) as streams:
                return await _use_mcp(streams[0], streams[1])

    _check_mcp(*anyio.run(main))

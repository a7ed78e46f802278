"""An in-memory stand-in for the upstream node, served over HTTP/1.1 on a real socket.

:class:`FakeNode` records every request (as an ``httpx.Request``, for the tests to read) and
answers the few APIs the proxy itself calls (mappings, documents, bulk, search, msearch,
``_ingest/pipeline/_simulate`` with ``set``/``drop``/``fail``); any other request is echoed
back, so passthrough tests can see exactly what arrived. :class:`NodeServer` serves it on an
ephemeral port of 127.0.0.1 (one server for the test session, the node swapped per test), so
the proxy reaches it through its production upstream client, sockets and all. A node that is
``down`` closes each connection without an answer.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

JSONObject = dict[str, Any]
SEARCH_RESPONSE = {
    "took": 1, "timed_out": False,
    "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
    "hits": {"total": {"value": 1, "relation": "eq"}, "max_score": 1.0,
             "hits": [{"_index": "docs", "_id": "1", "_score": 1.0, "_source": {"text": "hi"}}]},
}  # fmt: skip


def _json(status: int, body: Any, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


def _missing(index: str) -> httpx.Response:
    cause = {"type": "index_not_found_exception", "reason": f"no such index [{index}]"}
    return _json(404, {"error": {"root_cause": [cause], **cause}, "status": 404})


class FakeNode:
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.indices: dict[str, JSONObject] = {}
        self.docs: dict[tuple[str, str], JSONObject] = {}
        self.searches: list[tuple[str, dict[str, str], JSONObject]] = []
        self.bulks: list[tuple[str, dict[str, str], list[JSONObject]]] = []
        self.down = False
        self.cluster: JSONObject = {"persistent": {}, "transient": {}}

    def index(self, name: str, properties: JSONObject | None = None, **meta: str) -> None:
        mappings: JSONObject = {"properties": properties or {}}
        if meta:
            mappings["_meta"] = {"neuralpipe": {f"index.{k}": v for k, v in meta.items()}}
        self.indices[name] = {"mappings": mappings}

    def last(self, path_part: str) -> httpx.Request:
        return [r for r in self.requests if path_part in r.url.path][-1]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        method, path = request.method, request.url.path
        params = dict(request.url.params)
        body = json.loads(request.content) if request.content.strip()[:1] in (b"{", b"[") and \
            not path.endswith(("_bulk", "_msearch")) else None  # fmt: skip
        parts = [p for p in path.split("/") if p]
        if path == "/_cluster/settings":
            return self._cluster_settings(method, body or {})
        if path == "/_ingest/pipeline/_simulate":
            return _json(200, self._simulate(body or {}))
        if path.startswith(("/_ingest/pipeline", "/_search/pipeline")) and method != "PUT":
            if method == "GET":
                return _json(404, {})
            if path.startswith("/_ingest"):
                return _missing(path.rsplit("/", 1)[-1]) if method == "DELETE" else _json(405, {})
            return _json(200, {"acknowledged": True})
        if parts and parts[-1] == "_bulk":
            return _json(200, self._bulk(parts[0] if len(parts) == 2 else None, params, request))
        if parts and parts[-1] == "_msearch":
            lines = [json.loads(x) for x in request.content.splitlines() if x.strip()]
            self.searches.extend(("msearch", params, b) for b in lines[1::2])
            return _json(200, {"took": 1, "responses": [
                {**SEARCH_RESPONSE, "status": 200} for _ in lines[1::2]]})  # fmt: skip
        if parts and parts[-1] == "_search" and len(parts) <= 2:
            return self._search(parts[0] if len(parts) == 2 else "", params, body or {})
        if len(parts) == 2 and parts[1] == "_mapping" and method == "PUT":
            self.indices[parts[0]]["mappings"]["_meta"] = (body or {})["_meta"]
            return _json(200, {"acknowledged": True})
        if len(parts) >= 2 and parts[1] == "_mapping":
            return self._mapping(parts[0], parts[3:] if len(parts) > 3 else None)
        if len(parts) == 1 and method == "PUT" and not parts[0].startswith("_"):
            self.indices[parts[0]] = {"mappings": (body or {}).get("mappings", {})}
            return _json(200, {"acknowledged": True, "index": parts[0]})
        if len(parts) == 3 and parts[1] == "_doc":
            return self._doc(method, parts[0], parts[2], body)
        return _json(200, {"echo": {"method": method, "path": path, "query": request.url.query.decode(),
                                    "headers": dict(request.headers),
                                    "body": request.content.decode()}}, **{"x-node": "yes"})  # fmt: skip

    def _cluster_settings(self, method: str, body: JSONObject) -> httpx.Response:
        """A node without the plugins: their settings are not recognized."""
        if method == "GET":
            return _json(200, json.loads(json.dumps(self.cluster)))
        for scope in ("persistent", "transient"):
            for key in body.get(scope) or {}:
                if key.startswith("plugins."):
                    reason = f"{scope} setting [{key}], not recognized"
                    error = {"type": "illegal_argument_exception", "reason": reason}
                    return _json(400, {"error": {"root_cause": [error], **error}, "status": 400})
            self.cluster[scope].update(body.get(scope) or {})
        return _json(
            200,
            {"acknowledged": True, **{s: body.get(s) or {} for s in ("persistent", "transient")}},
        )

    def _simulate(self, body: JSONObject) -> JSONObject:
        out: list[JSONObject | None] = []
        for doc in body["docs"]:
            source: JSONObject | None = dict(doc["_source"])
            error = None
            for entry in body["pipeline"]["processors"]:
                ((kind, options),) = entry.items()
                if kind == "set" and source is not None:
                    source[options["field"]] = options["value"]
                elif kind == "drop" and source is not None and source.get("drop"):
                    source = None
                elif kind == "fail" and source is not None:
                    error = {"type": "fail_processor_exception", "reason": options["message"]}
            if error:
                out.append({"error": {"root_cause": [error], **error}})
            else:
                out.append({"doc": None if source is None else {"_index": doc.get("_index"),
                            "_id": doc.get("_id"), "_source": source}})  # fmt: skip
        return {"docs": out}

    def _bulk(
        self, index: str | None, params: dict[str, str], request: httpx.Request
    ) -> JSONObject:
        lines = [json.loads(x) for x in request.content.splitlines() if x.strip()]
        actions: list[JSONObject] = []
        items = []
        position = 0
        while position < len(lines):
            ((op, meta),) = lines[position].items()
            source = lines[position + 1] if op != "delete" else None
            position += 1 if op == "delete" else 2
            actions.append({"op": op, "meta": meta, "source": source})
            name = meta.get("_index", index)
            doc_id = meta.get("_id", f"auto-{position}")
            if source is not None:
                self.docs[(name, doc_id)] = source
            items.append({op: {"_index": name, "_id": doc_id, "_version": 1, "result": "created",
                               "status": 201}})  # fmt: skip
        self.bulks.append((index or "", params, actions))
        return {"took": 3, "ingest_took": 0, "errors": False, "items": items}

    def _search(self, index: str, params: dict[str, str], body: JSONObject) -> httpx.Response:
        self.searches.append((index, params, body))
        if index.startswith(".neuralpipe"):
            kind = body["query"]["term"]["kind"]
            hits = [{"_id": f"{k}", "_source": v} for (i, k), v in self.docs.items()
                    if i == index and v.get("kind") == kind]  # fmt: skip
            return _json(200, {"hits": {"hits": hits}})
        return _json(200, SEARCH_RESPONSE)

    def _mapping(self, expression: str, fields: list[str] | None) -> httpx.Response:
        names = [n for n in self.indices if re.fullmatch(expression.replace("*", ".*"), n)]
        if not names:
            return _missing(expression)
        if fields is None:
            return _json(200, {n: self.indices[n] for n in names})
        answer: JSONObject = {}
        for name in names:
            props = self.indices[name]["mappings"].get("properties", {})
            answer[name] = {"mappings": {f: {"full_name": f, "mapping": {f: props[f]}}
                                         for f in fields[0].split(",") if f in props}}  # fmt: skip
        return _json(200, answer)

    def _doc(self, method: str, index: str, doc_id: str, body: Any) -> httpx.Response:
        key = (index, doc_id)
        if method in ("PUT", "POST"):
            self.docs[key] = body
            return _json(201, {"_index": index, "_id": doc_id, "result": "created"})
        if method == "DELETE":
            found = self.docs.pop(key, None) is not None
            return _json(200 if found else 404, {"result": "deleted" if found else "not_found"})
        if key not in self.docs:
            return _json(404, {"_index": index, "_id": doc_id, "found": False})
        return _json(
            200, {"_index": index, "_id": doc_id, "found": True, "_source": self.docs[key]}
        )


class _Handler(BaseHTTPRequestHandler):
    """One connection to the :class:`NodeServer` (kept alive between requests)."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # head and body are two writes: no delayed-ACK stalls
    server: NodeServer

    def _serve(self) -> None:
        node = self.server.node
        if node is None or node.down:
            self.close_connection = True  # no answer: the client sees the connection drop
            return
        body = self._body()
        url = httpx.URL(self.server.url).copy_with(raw_path=self.path.encode("latin-1"))
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in self.headers.items()]
        request = httpx.Request(self.command, url, headers=headers, content=body)
        response = node(request)
        content = response.read()
        self.send_response_only(response.status_code)
        for name, value in response.headers.multi_items():
            if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(name, value)
        self.send_header("content-length", str(len(content)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(content)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _serve

    def _body(self) -> bytes:
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while (line := self.rfile.readline().split(b";")[0].strip()) not in (b"", b"0"):
                parts.append(self.rfile.read(int(line, 16)))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(parts)
        return self.rfile.read(int(self.headers.get("content-length") or 0))

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet


class NodeServer(ThreadingHTTPServer):
    """A :class:`FakeNode` over HTTP/1.1 on an ephemeral port of 127.0.0.1, in a thread.

    Example:
        >>> with NodeServer.running() as server:
        ...     server.node = FakeNode()
        ...     httpx.get(f"{server.url}/_cat/health").json()["echo"]["path"]
        '/_cat/health'
    """

    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that went away
            super().handle_error(request, client_address)

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.node: FakeNode | None = None
        self.url = f"http://127.0.0.1:{self.server_address[1]}"

    @classmethod
    @contextlib.contextmanager
    def running(cls) -> Iterator[NodeServer]:
        server = cls()
        thread = threading.Thread(target=server.serve_forever, name="fake-node", daemon=True)
        thread.start()
        try:
            yield server
        finally:
            server.shutdown()
            server.server_close()
            thread.join(5)

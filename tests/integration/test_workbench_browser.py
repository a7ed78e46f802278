"""The relevance workbench in a real browser: Debian's headless Chromium, driven by selenium.

The proxy runs in front of the real node with the test doubles of ``processors.testing.fakes``
as models (no weights load), over a small fixed index created and filled through the proxy.
The page's result lists are checked against what the proxy answers for the same query bodies,
built here independently. Screenshots go to ``tests/artifacts/`` (git-ignored).

Chromium and chromedriver are installed by ``scripts/test.sh``; if they are missing these tests
fail (they never skip).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opensearchpy import OpenSearch, helpers

from processors.opensearch.indices import load_mapping
from processors.proxy.app import ProxySettings, create_app
from tests.integration.proxy_server import fake_models, serve

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "tests" / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--window-size=1400,1000")  # fmt: skip
RUN = uuid.uuid4().hex[:8]
PIPELINE = f"test-wb-embed-{RUN}"
HYBRID = f"test-wb-hybrid-{RUN}"
DOCS = {
    "1": "the wing produces lift at a high angle of attack",
    "2": "turbulent boundary layer over a flat plate",
    "3": "shock waves in a supersonic nozzle flow",
    "4": "propeller slipstream effects on wing lift",
    "5": "lift and drag of a swept wing at transonic speed",
    "6": "heat transfer in a laminar boundary layer",
    "7": "wing flutter and structural vibration",
    "8": "drag of a slender body of revolution",
}
QUERY = "wing lift"


@pytest.fixture(scope="module")
def proxy_url(opensearch_url: str, client: Any, tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[str]:  # fmt: skip
    root = tmp_path_factory.mktemp("workbench")
    (root / "pipelines" / "search").mkdir(parents=True)
    (root / "pipelines" / "search" / f"{HYBRID}.yaml").write_text(
        json.dumps(
            {
                "phase_results_processors": [
                    {
                        "normalization-processor": {
                            "normalization": {"technique": "l2"},
                            "combination": {"technique": "arithmetic_mean"},
                        }
                    }
                ]
            }
        )
    )
    store = f".nptest-{RUN}-pipelines"
    settings = ProxySettings(upstream_url=opensearch_url, pipelines_dir=root / "pipelines",
                             home=root, pipeline_index=store, cache_ttl=0.5,
                             warm_models=False)  # fmt: skip
    app = create_app(settings, models=fake_models, with_registry=False)
    try:
        with serve(app) as url:
            yield url
    finally:
        client.indices.delete(index=store, ignore=[404])


@pytest.fixture(scope="module")
def corpus(proxy_url: str, client: Any) -> Iterator[str]:
    """A fixed small index, created and filled through the proxy (fake dense + sparse)."""
    proxied = OpenSearch(hosts=[proxy_url], timeout=60)
    name = f"test-wb-{RUN}"
    embed = {
        "processors": [
            {"text_embedding": {"model_id": "dense", "field_map": {"text": "text_embedding"}}},
            {"sparse_encoding": {"model_id": "sparse", "field_map": {"text": "text_sparse"}}},
        ]
    }
    proxied.ingest.put_pipeline(id=PIPELINE, body=embed)
    body = load_mapping(REPO / "mappings" / "combined.json")
    body["settings"]["index"]["default_pipeline"] = PIPELINE
    proxied.indices.create(index=name, body=body)
    actions = [{"_index": name, "_id": i, "_source": {"text": t}} for i, t in DOCS.items()]
    assert helpers.bulk(proxied, actions, pipeline=PIPELINE, refresh=True) == (len(DOCS), [])
    yield name
    client.indices.delete(index=name, ignore=[404])
    client.ingest.delete_pipeline(id=PIPELINE, ignore=[404])


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    assert not missing, f"{missing} missing: scripts/test.sh installs chromium and chromium-driver"
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    driver.set_page_load_timeout(60)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(driver: Any, script: str, timeout: float = 60) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(lambda d: d.execute_script(script))


def open_page(driver: Any, url: str, index: str) -> None:
    driver.get(f"{url}/_neuralpipe/workbench?index={index}")
    wait_for(driver, "return document.body.dataset.ready === 'true'")


def proxy_ids(url: str, index: str, body: dict[str, Any], params: str = "") -> list[str]:
    answer = httpx.post(f"{url}/{index}/_search{params}", json=body, timeout=60)
    assert answer.status_code == 200, answer.text
    return [hit["_id"] for hit in answer.json()["hits"]["hits"]]


def test_the_page_loads_with_the_index_and_its_fields(browser: Any, proxy_url: str,
                                                      corpus: str) -> None:  # fmt: skip
    open_page(browser, proxy_url, corpus)
    assert browser.title == "neuralpipe relevance workbench"
    indices = browser.execute_script(
        "return Array.from(document.querySelectorAll('#index option')).map(o => o.value)"
    )
    assert corpus in indices
    pipelines = browser.execute_script(
        "return Array.from(document.querySelectorAll('.config .c-pipeline')[0].options)"
        ".map(o => o.value)"
    )
    assert HYBRID in pipelines
    wait_for(browser, "return document.getElementById('f-dense-model').value === 'dense'")
    values = browser.execute_script(
        "return ['f-text','f-dense','f-sparse','f-sparse-model']"
        ".map(id => document.getElementById(id).value)"
    )
    assert values == ["text", "text_embedding", "text_sparse", "sparse"]
    logs = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert logs == []
    browser.save_screenshot(str(ARTIFACTS / "workbench-loaded.png"))


def test_two_ways_side_by_side_match_the_proxy(browser: Any, proxy_url: str, corpus: str) -> None:
    open_page(browser, proxy_url, corpus)
    wait_for(browser, "return document.getElementById('f-dense-model').value === 'dense'")
    browser.execute_script(
        """
        document.getElementById('query').value = arguments[0];
        document.getElementById('size').value = '5';
        const configs = document.querySelectorAll('#configs .config');
        configs[0].querySelector('.c-way').value = 'bm25';
        configs[1].querySelector('.c-way').value = 'neural';
        configs[2].querySelector('.c-way').value = 'hybrid';
        configs[2].querySelector('.c-way').dispatchEvent(new Event('change'));
        configs[2].querySelector('.c-on').checked = true;
        configs[2].querySelector('.c-weight').value = '0.3';
    """,
        QUERY,
    )
    browser.find_element("id", "run").click()
    wait_for(browser, "return document.body.dataset.compared !== undefined")
    shown = browser.execute_script("""
        const out = {};
        for (const column of document.querySelectorAll('#results .column')) {
          out[column.dataset.config] = Array.from(column.querySelectorAll('li.hit'))
            .map(li => li.dataset.id);
        }
        return out;""")
    match = {"match": {"text": QUERY}}
    neural = {"neural": {"text_embedding": {"query_text": QUERY, "k": 5, "model_id": "dense"}}}
    bm25_ids = proxy_ids(proxy_url, corpus, {"size": 5, "query": match})
    neural_ids = proxy_ids(proxy_url, corpus, {"size": 5, "query": neural})
    weighted = {
        "phase_results_processors": [
            {
                "normalization-processor": {
                    "normalization": {"technique": "min_max"},
                    "combination": {
                        "technique": "arithmetic_mean",
                        "parameters": {"weights": [0.3, 0.7]},
                    },
                }
            }
        ]
    }
    hybrid_ids = proxy_ids(
        proxy_url,
        corpus,
        {"size": 5, "query": {"hybrid": {"queries": [match, neural]}}, "search_pipeline": weighted},
    )
    assert len(bm25_ids) == 4 and len(neural_ids) == 5 and bm25_ids != neural_ids
    assert shown == {"A": bm25_ids, "B": neural_ids, "C": hybrid_ids}
    # the hybrid list shows each sub-query's scores; moves are marked against A
    breakdowns = browser.execute_script(
        "return document.querySelectorAll('.column[data-config=C] table.breakdown').length"
    )
    assert breakdowns == len(hybrid_ids)
    moves = browser.execute_script(
        "return Array.from(document.querySelectorAll('.column[data-config=B] .move'))"
        ".map(m => m.textContent)"
    )
    expected = []
    for rank, doc in enumerate(neural_ids):
        before = bm25_ids.index(doc) if doc in bm25_ids else None
        expected.append("new" if before is None else "=" if before == rank
                        else f"↑{before - rank}" if before > rank else f"↓{rank - before}")  # fmt: skip
    assert moves == expected
    overlap = browser.find_element("id", "overlap").text
    shared = len(set(bm25_ids) & set(neural_ids))
    assert f"B vs A: {shared} of 5 documents in both lists" in overlap
    browser.save_screenshot(str(ARTIFACTS / "workbench-compare.png"))


def eval_result(path: Path) -> Path:
    """An ``eval --json``-shaped result: three ways, 12 queries."""
    queries = [str(q) for q in range(1, 13)]
    per_query = {
        way: {q: {"nDCG@10": round((i * k) % 10 / 10, 3), "recall@100": 0.5, "MRR@10": 0.25}
              for i, q in enumerate(queries, start=1)}
        for way, k in (("bm25", 3), ("neural", 7), ("hybrid", 9))
    }  # fmt: skip
    means = {w: {m: sum(v[m] for v in rows.values()) / len(rows) for m in rows["1"]}
             for w, rows in per_query.items()}  # fmt: skip
    result = {
        "dataset": "demo", "split": "test", "index": "demo", "queries": len(queries),
        "join_title": True, "significance": {"baseline": "bm25", "test": "randomization",
                                             "alpha": 0.05, "two_sided": True},
        "ways": {w: {**means[w], "ms_per_query": 3.0,
                     **({} if w == "bm25" else {"vs_baseline": {
                         m: {"delta": means[w][m] - means["bm25"][m],
                             "p": 0.01 if means[w][m] != means["bm25"][m] else 1.0}
                         for m in means[w]}})} for w in per_query},
        "per_query": per_query,
    }  # fmt: skip
    path.write_text(json.dumps(result))
    return path


def test_the_eval_view_draws_its_charts(browser: Any, proxy_url: str, corpus: str,
                                        tmp_path: Path) -> None:  # fmt: skip
    open_page(browser, proxy_url, corpus)
    browser.find_element("id", "tab-eval").click()
    browser.find_element("id", "eval-file").send_keys(str(eval_result(tmp_path / "eval.json")))
    wait_for(browser, "return document.body.dataset.evalLoaded !== undefined")
    bars = browser.execute_script(
        "return Array.from(document.querySelectorAll('#chart-means rect.bar'))"
        ".map(r => [r.dataset.way, r.dataset.measure, Number(r.getAttribute('height')) > 0])"
    )
    assert [b[:2] for b in bars] == [[w, m] for m in ("nDCG@10", "recall@100", "MRR@10")
                                     for w in ("bm25", "neural", "hybrid")]  # fmt: skip
    per_query = browser.execute_script(
        "return Array.from(document.querySelectorAll('#chart-per-query rect.bar'))"
        ".map(r => Number(r.dataset.diff))"
    )
    assert len(per_query) == 12 and per_query == sorted(per_query, reverse=True)
    rows = browser.execute_script(
        "return Array.from(document.querySelectorAll('#eval-table tbody tr'))"
        ".map(r => r.dataset.way)"
    )
    assert rows == ["bm25", "neural", "hybrid"]
    assert "†" in browser.find_element("css selector", "#eval-table tr[data-way=neural]").text
    browser.save_screenshot(str(ARTIFACTS / "workbench-eval.png"))

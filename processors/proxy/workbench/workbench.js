/* neuralpipe relevance workbench: plain JavaScript, no dependencies, talks only to the proxy
   that served it (same origin). Compare: one _search per configuration, side by side.
   Evaluation: a `neuralpipe eval --json` result as an SVG chart per way and per query. */
"use strict";

const WAYS = ["bm25", "neural", "neural_sparse", "hybrid"];
const COLORS = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#b07aa1"];
const LABELS = ["A", "B", "C"];
const DEFAULT_WAYS = ["bm25", "neural", "hybrid"];
const SVG = "http://www.w3.org/2000/svg";
const state = { pipelines: {}, evalResult: null };

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else if (key.startsWith("data-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) {
    if (child !== null && child !== undefined) {
      node.append(child instanceof Node ? child : String(child));
    }
  }
  return node;
}

function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

function setStatus(text, isError) {
  const status = $("status");
  status.textContent = text;
  status.className = isError ? "error" : "";
}

/* One call to the proxy; an OpenSearch-shaped error becomes an Error with its reason. */
async function api(method, path, body) {
  const options = { method, headers: {} };
  if (body !== undefined) {
    options.body = JSON.stringify(body);
    options.headers["content-type"] = "application/json";
  }
  const response = await fetch(path, options);
  const text = await response.text();
  let value = null;
  try { value = text ? JSON.parse(text) : null; } catch (_) { value = text; }
  if (!response.ok) {
    const error = value && value.error;
    const reason = (error && (error.reason || (error.root_cause && error.root_cause[0] &&
      error.root_cause[0].reason))) || (typeof error === "string" ? error : text);
    throw new Error(`${response.status}: ${reason}`);
  }
  return value;
}

/* ---------------------------------------------------------------- compare view */

function configNodes() {
  return Array.from(document.querySelectorAll("#configs .config"));
}

function buildConfigs() {
  const holder = $("configs");
  const template = $("config-template");
  LABELS.forEach((label, i) => {
    const node = template.content.firstElementChild.cloneNode(true);
    node.dataset.config = String(i);
    node.querySelector("legend").textContent = `Configuration ${label}`;
    node.querySelector(".c-way").value = DEFAULT_WAYS[i];
    node.querySelector(".c-on").checked = i < 2;
    node.querySelector(".c-way").addEventListener("change", () => showHybridFields(node));
    showHybridFields(node);
    holder.append(node);
  });
}

function showHybridFields(node) {
  const hybrid = node.querySelector(".c-way").value === "hybrid";
  node.querySelectorAll(".hybrid-only").forEach((item) => { item.hidden = !hybrid; });
}

async function loadIndices() {
  const rows = await api("GET", "/_cat/indices?format=json&h=index");
  const names = rows.map((r) => r.index).filter((n) => !n.startsWith(".")).sort();
  const select = $("index");
  select.replaceChildren(...names.map((n) => el("option", { value: n }, n)));
  const wanted = new URLSearchParams(location.search).get("index");
  if (wanted && names.includes(wanted)) select.value = wanted;
  if (names.length) await loadFields(select.value);
  else setStatus("no index to search yet");
}

async function loadPipelines() {
  try {
    state.pipelines = (await api("GET", "/_search/pipeline")) || {};
  } catch (error) {
    state.pipelines = {};  // none stored yet: 404
  }
  const names = Object.keys(state.pipelines).sort();
  for (const node of configNodes()) {
    const select = node.querySelector(".c-pipeline");
    select.replaceChildren(el("option", { value: "" }, "(none)"),
      ...names.map((n) => el("option", { value: n }, n)));
  }
}

/* Fields and models of an index: its mapping, and the ingest pipeline that fills it. */
async function loadFields(index) {
  const mapping = Object.values(await api("GET", `/${encodeURIComponent(index)}/_mapping`))[0];
  const props = (mapping.mappings && mapping.mappings.properties) || {};
  const byType = (type) => Object.keys(props).filter((k) => props[k].type === type);
  const texts = byType("text");
  const meta = ((mapping.mappings._meta || {}).neuralpipe) || {};
  const found = { text: texts.includes("text") ? "text" : texts[0] || "text",
    dense: byType("knn_vector")[0] || "", sparse: byType("rank_features")[0] || "",
    denseModel: "", sparseModel: "" };
  let pipelineId = meta["index.default_pipeline"];
  if (!pipelineId) {
    try {
      const settings = Object.values(await api("GET", `/${encodeURIComponent(index)}/_settings`))[0];
      pipelineId = ((settings.settings || {}).index || {}).default_pipeline;
    } catch (_) { pipelineId = null; }
  }
  const apply = (steps) => {
    for (const [type, conf] of steps) {
      const target = Object.entries(conf.field_map || {}).find(([, t]) => typeof t === "string");
      if (type === "text_embedding" && !found.denseModel) {
        found.denseModel = conf.model_id || "";
        if (target) { found.text = target[0]; found.dense = target[1]; }
      } else if (type === "sparse_encoding" && !found.sparseModel) {
        found.sparseModel = conf.model_id || "";
        if (target) found.sparse = target[1];
      }
    }
  };
  if (pipelineId && pipelineId !== "_none") {
    try {
      const body = (await api("GET", `/_ingest/pipeline/${encodeURIComponent(pipelineId)}`))[pipelineId];
      apply((body.processors || []).map((processor) => Object.entries(processor)[0]));
    } catch (_) { /* a pipeline neuralpipe does not know: fields stay as the mapping says */ }
  }
  // an index filled by `neuralpipe index bulk` / `eval` records how: its fingerprint's steps
  const fingerprint = meta.fingerprint;
  if (fingerprint && Array.isArray(fingerprint.steps)) {
    apply(fingerprint.steps.map((step) => [step.processor, step]));
    pipelineId = pipelineId || fingerprint.pipeline;
  }
  $("f-text").value = found.text;
  $("f-dense").value = found.dense;
  $("f-dense-model").value = found.denseModel;
  $("f-sparse").value = found.sparse;
  $("f-sparse-model").value = found.sparseModel;
  setStatus(`index ${index}` + (pipelineId ? `, ingest pipeline ${pipelineId}` : ""));
}

function fields() {
  return { text: $("f-text").value, dense: $("f-dense").value, sparse: $("f-sparse").value,
    denseModel: $("f-dense-model").value.trim(), sparseModel: $("f-sparse-model").value.trim() };
}

function readConfig(node) {
  const weight = node.querySelector(".c-weight").value;
  return { label: LABELS[Number(node.dataset.config)], on: node.querySelector(".c-on").checked,
    way: node.querySelector(".c-way").value, pipeline: node.querySelector(".c-pipeline").value,
    weight: weight === "" ? null : Number(weight), norm: node.querySelector(".c-norm").value,
    rerank: node.querySelector(".c-rerank").value.trim() };
}

/* The query of one way, as `neuralpipe eval` writes it (processors/evaluation/runner.py). */
function queryOf(way, text, f, size) {
  const match = { match: { [f.text]: text } };
  const dense = { query_text: text, k: size };
  if (f.denseModel) dense.model_id = f.denseModel;
  const sparse = { query_text: text };
  if (f.sparseModel) sparse.model_id = f.sparseModel;
  const neural = { neural: { [f.dense]: dense } };
  switch (way) {
    case "bm25": return match;
    case "neural": return neural;
    case "neural_sparse": return { neural_sparse: { [f.sparse]: sparse } };
    case "hybrid": return { hybrid: { queries: [match, neural] } };
    default: throw new Error(`unknown way ${way}`);
  }
}

/* The request of one configuration: path (with ?search_pipeline=) and body (with an inline
   search_pipeline when weights or a reranker change the chosen one). */
function buildRequest(config, index, text, f, size) {
  const body = { size, query: queryOf(config.way, text, f, size) };
  const excluded = [f.dense, f.sparse].filter(Boolean);
  if (excluded.length) body._source = { excludes: excluded };
  let named = config.pipeline;
  let inline = null;
  const base = () => JSON.parse(JSON.stringify(named ? state.pipelines[named] || {} : {}));
  if (config.way === "hybrid") {
    body.ext = { neuralpipe: { hybrid_breakdown: true } };
    if (config.weight !== null || !named) {
      inline = base();
      const weights = config.weight === null ? null : [config.weight, 1 - config.weight];
      const combination = { technique: "arithmetic_mean" };
      if (weights) combination.parameters = { weights };
      inline.phase_results_processors = [{ "normalization-processor": {
        normalization: { technique: config.norm }, combination } }];
    }
  }
  if (config.rerank) {
    inline = inline || base();
    inline.response_processors = [...(inline.response_processors || []), { rerank: {
      ml_opensearch: { model_id: config.rerank }, context: { document_fields: [f.text] } } }];
    body.ext = { ...(body.ext || {}), rerank: { query_context: { query_text: text } } };
  }
  if (inline) {
    delete inline.description;
    body.search_pipeline = inline;
    named = "";
  }
  const query = named ? `?search_pipeline=${encodeURIComponent(named)}` : "";
  return { path: `/${encodeURIComponent(index)}/_search${query}`, body };
}

function describe(config) {
  const parts = [config.way];
  if (config.pipeline) parts.push(`pipeline ${config.pipeline}`);
  if (config.way === "hybrid" && config.weight !== null) {
    parts.push(`weights ${config.weight}/${+(1 - config.weight).toFixed(4)} ${config.norm}`);
  }
  if (config.rerank) parts.push(`rerank ${config.rerank}`);
  return parts.join(" · ");
}

async function compare(event) {
  if (event) event.preventDefault();
  const text = $("query").value.trim();
  const index = $("index").value;
  const size = Math.max(1, Math.min(100, Number($("size").value) || 10));
  if (!text || !index) { setStatus("type a query and pick an index", true); return; }
  const configs = configNodes().map(readConfig).filter((c) => c.on);
  const f = fields();
  setStatus("searching…");
  const outcomes = await Promise.all(configs.map(async (config) => {
    const request = buildRequest(config, index, text, f, size);
    try {
      return { config, request, response: await api("POST", request.path, request.body) };
    } catch (error) {
      return { config, request, error: error.message };
    }
  }));
  render(outcomes, f);
  const failed = outcomes.filter((o) => o.error).length;
  setStatus(failed ? `${failed} configuration(s) failed` : `done: ${outcomes.length} lists`, failed > 0);
  document.body.dataset.compared = String(Date.now());
}

function idsOf(outcome) {
  return outcome.response ? outcome.response.hits.hits.map((h) => h._id) : [];
}

function movement(id, rank, other) {
  const before = other.indexOf(id);
  if (before < 0) return { text: "new", cls: "new" };
  if (before === rank) return { text: "=", cls: "same" };
  return before > rank ? { text: `↑${before - rank}`, cls: "up" } : { text: `↓${rank - before}`, cls: "down" };
}

function render(outcomes, f) {
  const lists = outcomes.map(idsOf);
  const columns = outcomes.map((outcome, i) => {
    const reference = i === 0 ? lists[1] || [] : lists[0];
    const referenceLabel = i === 0 ? (outcomes[1] ? outcomes[1].config.label : null) : outcomes[0].config.label;
    const head = el("header", {}, el("h2", {}, `${outcome.config.label}: ${describe(outcome.config)}`));
    const column = el("section", { class: "column", "data-config": outcome.config.label }, head);
    const request = el("details", { class: "request" }, el("summary", {}, "request"),
      el("pre", {}, `POST ${outcome.request.path}\n${JSON.stringify(outcome.request.body, null, 2)}`));
    if (outcome.error) {
      column.append(el("p", { class: "error" }, outcome.error), request);
      return column;
    }
    const hits = outcome.response.hits;
    const total = hits.total && typeof hits.total === "object" ? hits.total.value : hits.total;
    head.append(el("p", { class: "meta" }, `${hits.hits.length} hits of ${total ?? "?"}, ` +
      `took ${outcome.response.took} ms` + (referenceLabel ? `; moves vs ${referenceLabel}` : "")));
    const list = el("ol", { class: "hits" });
    hits.hits.forEach((hit, rank) => {
      const source = hit._source || {};
      const snippet = [source.title, source[f.text]].filter(Boolean).join(" — ");
      const move = referenceLabel ? movement(hit._id, rank, reference) : null;
      const item = el("li", { class: "hit", "data-id": hit._id, "data-score": hit._score },
        el("div", { class: "line" },
          el("span", { class: "rank" }, rank + 1),
          el("span", { class: "id" }, hit._id),
          el("span", { class: "score" }, typeof hit._score === "number" ? hit._score.toFixed(4) : "—"),
          move ? el("span", { class: `move ${move.cls}`, title: `position in ${referenceLabel}` }, move.text) : null),
        snippet ? el("div", { class: "snippet" }, snippet.length > 220 ? snippet.slice(0, 220) + "…" : snippet) : null);
      const breakdown = hit._neuralpipe && hit._neuralpipe.hybrid;
      if (breakdown) {
        const names = ["bm25", "neural"];
        const rows = breakdown.sub_queries.map((sub, j) => el("tr", {},
          el("td", {}, names[j] || `sub-query ${j + 1}`),
          el("td", {}, sub && sub.raw_score !== null ? sub.raw_score.toFixed(4) : "—"),
          el("td", {}, sub && sub.normalized_score !== null ? sub.normalized_score.toFixed(4) : "—")));
        item.append(el("table", { class: "breakdown" },
          el("thead", {}, el("tr", {}, el("th", {}, "sub-query"), el("th", {}, "raw"), el("th", {}, "normalized"))),
          el("tbody", {}, ...rows)));
      }
      list.append(item);
    });
    column.append(list);
    if (reference.length) {
      const gone = reference.filter((id) => !lists[i].includes(id));
      if (gone.length) column.append(el("p", { class: "gone" }, `not here (in ${referenceLabel}): ${gone.join(", ")}`));
    }
    column.append(request);
    return column;
  });
  $("results").replaceChildren(...columns);
  const summary = [];
  for (let i = 1; i < outcomes.length; i++) {
    if (!lists[0].length && !lists[i].length) continue;
    const shared = lists[i].filter((id) => lists[0].includes(id)).length;
    summary.push(`${outcomes[i].config.label} vs ${outcomes[0].config.label}: ${shared} of ` +
      `${Math.max(lists[0].length, lists[i].length)} documents in both lists, ` +
      `${lists[i].length - shared} only in ${outcomes[i].config.label}, ` +
      `${lists[0].length - shared} only in ${outcomes[0].config.label}`);
  }
  $("overlap").replaceChildren(...summary.map((s) => el("p", {}, s)));
}

/* ---------------------------------------------------------------- evaluation view */

function measuresOf(result) {
  const first = Object.values(result.ways)[0] || {};
  return Object.keys(first).filter((k) => typeof first[k] === "number" && k !== "ms_per_query");
}

function loadEval(result) {
  if (!result || typeof result !== "object" || !result.ways || !Object.keys(result.ways).length) {
    throw new Error("not a `neuralpipe eval --json` result (no \"ways\")");
  }
  state.evalResult = result;
  const ways = Object.keys(result.ways);
  const measures = measuresOf(result);
  const sig = result.significance || {};
  $("eval-title").textContent = `${result.dataset || "?"} (${result.split || "?"}): ` +
    `${result.queries ?? "?"} queries, index ${result.index || "?"}, ` +
    `title ${result.join_title ? "joined" : "not joined"}` +
    (sig.baseline ? `; p: paired ${sig.test} vs ${sig.baseline}` : "");
  const header = el("tr", {}, el("th", {}, "way"),
    ...measures.map((m) => el("th", {}, m)), el("th", {}, "ms/query"));
  const rows = ways.map((way) => {
    const values = result.ways[way];
    return el("tr", { "data-way": way }, el("th", {}, way), ...measures.map((m) => {
      const test = (values.vs_baseline || {})[m];
      const mark = test && test.p < (sig.alpha || 0.05) ? "†" : "";
      return el("td", { title: test ? `Δ ${test.delta.toFixed(4)}, p ${test.p}` : "baseline" },
        `${values[m].toFixed(4)}${mark}`, test ? el("small", {}, ` p=${test.p.toFixed(3)}`) : null);
    }), el("td", {}, values.ms_per_query ?? ""));
  });
  $("eval-table").replaceChildren(el("thead", {}, header), el("tbody", {}, ...rows));
  drawMeans($("chart-means"), result, ways, measures);
  for (const [id, options] of [["pq-measure", measures], ["pq-way", ways], ["pq-base", ways]]) {
    $(id).replaceChildren(...options.map((o) => el("option", { value: o }, o)));
  }
  $("pq-base").value = sig.baseline && ways.includes(sig.baseline) ? sig.baseline : ways[0];
  $("pq-way").value = ways.find((w) => w !== $("pq-base").value) || ways[0];
  drawPerQuery();
  $("eval-body").hidden = false;
  document.body.dataset.evalLoaded = String(Date.now());
}

function drawMeans(target, result, ways, measures) {
  const width = Math.max(480, 90 + measures.length * (ways.length * 34 + 40));
  const height = 300, left = 50, bottom = 40, top = 20;
  const plot = height - bottom - top;
  const nodes = [svg("line", { x1: left, y1: height - bottom, x2: width - 10, y2: height - bottom, class: "axis" })];
  for (const tick of [0, 0.25, 0.5, 0.75, 1]) {
    const y = height - bottom - tick * plot;
    nodes.push(svg("line", { x1: left, y1: y, x2: width - 10, y2: y, class: "grid" }),
      svg("text", { x: left - 6, y: y + 4, class: "tick", "text-anchor": "end" }, tick.toFixed(2)));
  }
  const group = (width - left - 10) / measures.length;
  const bar = Math.min(34, (group - 20) / ways.length);
  measures.forEach((measure, mi) => {
    const x0 = left + mi * group + (group - bar * ways.length) / 2;
    ways.forEach((way, wi) => {
      const value = result.ways[way][measure];
      const h = Math.max(0, Math.min(1, value)) * plot;
      const x = x0 + wi * bar;
      nodes.push(svg("rect", { x, y: height - bottom - h, width: bar - 3, height: h,
        fill: COLORS[wi % COLORS.length], class: "bar", "data-way": way, "data-measure": measure,
        "data-value": value }));
      nodes.push(svg("text", { x: x + (bar - 3) / 2, y: height - bottom - h - 4, class: "value",
        "text-anchor": "middle" }, value.toFixed(3)));
    });
    nodes.push(svg("text", { x: left + mi * group + group / 2, y: height - bottom + 18,
      class: "label", "text-anchor": "middle" }, measure));
  });
  ways.forEach((way, wi) => {
    nodes.push(svg("rect", { x: left + 10 + wi * 120, y: height - 14, width: 10, height: 10,
      fill: COLORS[wi % COLORS.length] }));
    nodes.push(svg("text", { x: left + 24 + wi * 120, y: height - 5, class: "legend" }, way));
  });
  target.setAttribute("viewBox", `0 0 ${width} ${height}`);
  target.setAttribute("width", width);
  target.setAttribute("height", height);
  target.replaceChildren(...nodes);
}

/* The per-query difference (way - against) of one measure, sorted: the usual "per topic" plot. */
function drawPerQuery() {
  const result = state.evalResult;
  const target = $("chart-per-query");
  const measure = $("pq-measure").value, way = $("pq-way").value, base = $("pq-base").value;
  const perQuery = result.per_query || {};
  if (!perQuery[way] || !perQuery[base]) {
    target.replaceChildren();
    $("pq-note").textContent = "this result has no per-query values (made by an older neuralpipe eval)";
    return;
  }
  const queries = Object.keys(perQuery[base]);
  const diffs = queries.map((q) => ({ q, d: ((perQuery[way][q] || {})[measure] || 0) - perQuery[base][q][measure] }))
    .sort((a, b) => b.d - a.d || (a.q < b.q ? -1 : 1));
  const width = Math.max(480, Math.min(1400, 60 + diffs.length * 6)), height = 260, left = 50, top = 16, bottom = 24;
  const mid = top + (height - top - bottom) / 2, half = (height - top - bottom) / 2;
  const step = (width - left - 10) / Math.max(diffs.length, 1);
  const nodes = [];
  for (const tick of [-1, -0.5, 0, 0.5, 1]) {
    const y = mid - tick * half;
    nodes.push(svg("line", { x1: left, y1: y, x2: width - 10, y2: y, class: tick === 0 ? "axis" : "grid" }),
      svg("text", { x: left - 6, y: y + 4, class: "tick", "text-anchor": "end" }, tick.toFixed(1)));
  }
  diffs.forEach(({ q, d }, i) => {
    const h = Math.abs(d) * half;
    const rect = svg("rect", { x: left + i * step, y: d >= 0 ? mid - h : mid, width: Math.max(1, step - 1),
      height: Math.max(h, 0.5), class: `bar ${d > 0 ? "better" : d < 0 ? "worse" : "tie"}`,
      "data-query": q, "data-diff": d.toFixed(6) });
    rect.append(svg("title", {}, `query ${q}: ${d >= 0 ? "+" : ""}${d.toFixed(4)}`));
    nodes.push(rect);
  });
  target.setAttribute("viewBox", `0 0 ${width} ${height}`);
  target.setAttribute("width", width);
  target.setAttribute("height", height);
  target.replaceChildren(...nodes);
  const better = diffs.filter((x) => x.d > 0).length, worse = diffs.filter((x) => x.d < 0).length;
  $("pq-note").textContent = `${measure}, ${way} − ${base}, per query (sorted): ` +
    `${better} better, ${worse} worse, ${diffs.length - better - worse} tied`;
}

async function readEvalFile() {
  const file = $("eval-file").files[0];
  if (!file) return;
  try {
    loadEval(JSON.parse(await file.text()));
    setStatus(`loaded ${file.name}`);
  } catch (error) {
    setStatus(`${file.name}: ${error.message}`, true);
  }
}

function showView(view) {
  for (const tab of document.querySelectorAll(".tab")) tab.classList.toggle("active", tab.dataset.view === view);
  $("view-compare").hidden = view !== "compare";
  $("view-eval").hidden = view !== "eval";
}

async function start() {
  buildConfigs();
  for (const tab of document.querySelectorAll(".tab")) tab.addEventListener("click", () => showView(tab.dataset.view));
  $("compare-form").addEventListener("submit", compare);
  $("index").addEventListener("change", () => loadFields($("index").value).catch((e) => setStatus(e.message, true)));
  $("eval-file").addEventListener("change", readEvalFile);
  for (const id of ["pq-measure", "pq-way", "pq-base"]) $(id).addEventListener("change", drawPerQuery);
  if (location.hash === "#eval") showView("eval");
  try {
    await loadPipelines();
    await loadIndices();
  } catch (error) {
    setStatus(error.message, true);
  }
  document.body.dataset.ready = "true";
}

window.neuralpipeWorkbench = { buildRequest, queryOf, loadEval, compare };
start();

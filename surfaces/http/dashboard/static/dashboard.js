/* The admin dashboard. Every figure comes from /api/v1/*; charts are inline SVG drawn here (no library). */
"use strict";

// Bucket names differ from the rate names on purpose: "Verified resolution" (a rate over answered requests)
// also counts confirmed answers whose requester came back; the "Confirmed, ended" bucket does not.
const BUCKETS = [
  ["verified", "Confirmed, ended (said solved, no re-contact)"],
  ["assumed", "Assumed (answered, silence 48 h)"],
  ["recontacted", "Re-contacted within 48 h"],
  ["unresolved", "Unresolved (said it did not help)"],
  ["pending", "Pending (48 h window open)"],
  ["escalated", "Escalated to a person"],
  ["shadow", "Shadow (dry run, agents handled)"],
  ["unposted", "Answer not posted yet (vendor unreachable)"],
  ["already_solved", "Solved by people before the answer was posted"],
  ["already_replied", "Answered by an agent before the answer was posted"],
  ["already_noted", "Taken on by an agent (internal note) before the answer was posted"],
  ["handover_failed", "Handed to people, but the hand-over failed: needs the admin"],
];
// [rate, label, colour, numerator count, denominator count]: lines are trailing 7-day rates, dots the day's own.
const RATE_LINES = [
  ["deflection_rate", "Deflection", "--verified", "deflected", "requests"],
  ["verified_resolution_rate", "Verified resolution", "--accent", "confirmed_solved", "answered"],
  ["recontact_rate", "48-h re-contact", "--recontacted", "recontacted", "answered"],
  ["escalation_ratio", "Escalation", "--unresolved", "escalated", "requests"],
];
const ROLLING_DAYS = 7;
const MIN_CHART_DAYS = 3; // fewer days with requests than this: say so instead of drawing a few dots
const SVG = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);
const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();
const get = (obj, path) => path.split(".").reduce((o, k) => (o == null ? null : o[k]), obj);

const fmt = {
  pct: (v) => (v == null ? "—" : (v * 100).toFixed(1) + "%"),
  int: (v) => (v == null ? "—" : Number(v).toLocaleString("en-US")),
  n: (v, one, many = one + "s") => `${fmt.int(v)} ${v === 1 ? one : many}`, // "1 request", "2 requests" (core.words.plural)
  money: (v) => (v == null ? "—" : Number(v).toFixed(2) + " " + currency),
  score: (v) => (v == null ? "—" : Number(v).toFixed(2)),
  against: (c, t) => [3, 4].map((p) => `${c.toFixed(p)} / ${t.toFixed(p)}`).find((_, i) => i === 1 || c >= t || Number(c.toFixed(3)) < Number(t.toFixed(3))), // as compose.shown_against
  secs: (v) => {
    if (v == null) return "—";
    if (v < 1) return Math.round(v * 1000) + " ms";
    if (v < 10) return v.toFixed(1) + " s";
    if (v < 90) return Math.round(v) + " s";
    if (v < 5400) return (v / 60).toFixed(1) + " min";
    if (v < 172800) return (v / 3600).toFixed(1) + " h";
    return (v / 86400).toFixed(1) + " d";
  },
};

let currency = "USD";

function el(tag, attrs, parent, text) {
  const node = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text != null) node.textContent = text;
  if (parent) parent.appendChild(node);
  return node;
}

function query() {
  const p = new URLSearchParams();
  for (const id of ["from", "to", "channel"]) if ($(id).value) p.set(id, $(id).value);
  return p;
}

async function fetchJSON(path, params) {
  const response = await fetch(path + "?" + params.toString(), { credentials: "same-origin", headers: { Accept: "application/json" } });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error || response.status + " " + response.statusText);
  return body;
}

// [key, label, format, "n of d <denominator>" or a detail line, help]: every rate names what it divides by.
function tiles(s) {
  const c = s.counts, fr = s.first_response, fb = s.csat.feedback_solved + s.csat.feedback_not_solved;
  const of = (n, d, what) => `${fmt.int(n)} of ${fmt.int(d)} ${d === 1 ? what.replace(/(request|answer)s\b/, "$1") : what}`;
  const defs = [
    ["counts.requests", "Requests", fmt.int, `${fmt.int(c.answered)} answered · ${fmt.int(c.escalated)} escalated · ${fmt.int(c.shadow)} shadow`, "Every new request the hub saw (one decision with trigger 'request'). The split below says where each ended."],
    ["rates.deflection_rate", "Deflection rate", fmt.pct, of(c.deflected, c.requests, "requests ended without a person"), "÷ requests. Deflected = confirmed and ended + assumed. Re-contacted, unresolved, pending, escalated and shadow requests are not deflected."],
    ["rates.verified_resolution_rate", "Verified resolution", fmt.pct, of(c.confirmed_solved, c.answered, "answered requests confirmed solved"), "÷ answered requests. The requester's last word was 'solved' and no person took it (re-contacted ones included: they did say it worked)."],
    ["rates.assumed_resolution_rate", "Assumed resolution", fmt.pct, of(s.split.assumed, c.answered, "answered requests, then silence"), "÷ answered requests. No confirmation, no re-contact, 48 h passed. Never added to the verified rate."],
    ["rates.recontact_rate", "48-h re-contact", fmt.pct, of(c.recontacted, c.answered, "answered requests came back"), "÷ answered requests. The requester (joined by email across Slack, Zendesk, Jira) made a new request within 48 h."],
    ["rates.escalation_ratio", "Escalation ratio", fmt.pct, of(c.escalated, c.requests, "requests went to a person"), `÷ requests. ${fmt.int(c.escalated_direct)} directly, ${fmt.int(c.escalated_after_answer)} after an answer. Shadow requests are not in it.`],
    ["csat.helpful_rate", "Bot answers helpful", fmt.pct, of(s.csat.feedback_solved, fb, "answers with feedback said solved"), `÷ answers with feedback (solved + did not help). CSAT ${s.csat.average == null ? "—" : fmt.pct(s.csat.average)} over ${fmt.n(s.csat.ratings, "rating")} on never-escalated answers.`],
    ["first_response.hub.median_seconds", "Hub first response", fmt.secs, `median of ${fmt.int(fr.hub.count)} answered · p90 ${fmt.secs(fr.hub.p90_seconds)}`, "Answer posted (or decision) time minus ticket creation, answered requests."],
    ["first_response.agents.median_seconds", "Agent first response", fmt.secs, `median of ${fmt.int(fr.agents.count)} handed over · p90 ${fmt.secs(fr.agents.p90_seconds)}`, "First agent reply minus hand-over time, escalated and shadow requests with a reply."],
    ["cost.per_automated_resolution", "Cost per automated resolution", fmt.money, `${fmt.money(s.cost.automated_total)} of answers ÷ ${fmt.int(c.deflected)} deflected`, `Automated-answer cost × answered ÷ deflected. Blended ${fmt.money(s.cost.blended_per_resolution)}: all cost ÷ (deflected + human-handled). Net saved ${fmt.money(s.cost.net_savings)}.`],
  ];
  const box = $("tiles");
  box.replaceChildren();
  for (const [key, label, format, sub, help] of defs) {
    const value = get(s, key);
    const tile = el("div", { class: "tile", title: help }, box);
    el("div", { class: "label" }, tile, label);
    el("div", { class: "value", "data-key": key, "data-value": value == null ? "null" : String(value) }, tile, format(value));
    el("div", { class: "sub" }, tile, sub);
  }
}

// A legend's entry: a list item with its colour's swatch (a CSS variable's name), for the caller to label.
function legendItem(list, colour, attrs) {
  const item = el("li", attrs || {}, list);
  el("span", { class: "swatch" }, item).style.background = css(colour);
  return item;
}

function splitBar(s) {
  const bar = $("split"), legend = $("split-legend"), total = s.counts.requests;
  bar.replaceChildren();
  legend.replaceChildren();
  for (const [key, label] of BUCKETS) {
    const n = s.split[key];
    if (total && n) {
      const part = el("div", { title: `${label}: ${n}`, "data-bucket": key }, bar);
      part.style.width = (100 * n) / total + "%";
      part.style.background = css("--" + key);
    }
    const item = legendItem(legend, "--" + key, { "data-bucket": key });
    el("span", {}, item, label + ":");
    el("b", { "data-count": key }, item, fmt.int(n));
    el("span", {}, item, total ? `(${fmt.pct(n / total)} of requests)` : "");
  }
}

function frame(box, days, yMax, yLabel) {
  box.replaceChildren();
  const width = Math.max(260, box.clientWidth), height = 240, m = { l: 44, r: 10, t: 10, b: 28 };
  const svg = el("svg:svg", { viewBox: `0 0 ${width} ${height}`, role: "img" }, box);
  const w = width - m.l - m.r, h = height - m.t - m.b;
  const x = (i) => m.l + (days.length <= 1 ? w / 2 : (i * w) / (days.length - 1));
  const y = (v) => m.t + h - (v / yMax) * h;
  for (let k = 0; k <= 4; k++) {
    const v = (yMax * k) / 4;
    el("svg:line", { class: "grid", x1: m.l, x2: width - m.r, y1: y(v), y2: y(v) }, svg);
    el("svg:text", { x: m.l - 6, y: y(v) + 4, "text-anchor": "end" }, svg, yLabel(v));
  }
  const every = Math.max(1, Math.ceil(days.length / Math.max(2, Math.floor(w / 70))));
  days.forEach((d, i) => {
    if (i % every === 0) el("svg:text", { x: x(i), y: height - 8, "text-anchor": "middle" }, svg, d.date.slice(5));
  });
  return { svg, x, y, w, m, h };
}

function notEnough(box, days, what) {
  const have = days.filter((d) => d.requests).length;
  if (have >= MIN_CHART_DAYS) return false;
  box.replaceChildren();
  el("p", { class: "empty", "data-empty": "true" }, box,
    `Not enough data yet: ${what} needs requests on at least ${MIN_CHART_DAYS} days; this selection has ${have}.`);
  return true;
}

function ratesChart(days) {
  const box = $("rates-chart");
  if (notEnough(box, days, "a rate per day")) return;
  const f = frame(box, days, 1, (v) => Math.round(v * 100) + "%");
  for (const [key, label, color, num, den] of RATE_LINES) {
    let d = "", pen = "M";
    days.forEach((day, i) => {
      const span = days.slice(Math.max(0, i - ROLLING_DAYS + 1), i + 1);
      const n = span.reduce((a, w) => a + w[num], 0), t = span.reduce((a, w) => a + w[den], 0);
      if (t) {
        d += `${pen}${f.x(i).toFixed(1)},${f.y(n / t).toFixed(1)} `;
        pen = "L";
      } else pen = "M";
      if (day[key] == null) return;
      const dot = el("svg:circle", { cx: f.x(i), cy: f.y(day[key]), r: 2.5, fill: css(color), "fill-opacity": 0.45 }, f.svg);
      el("svg:title", {}, dot, `${day.date} ${label}: ${fmt.pct(day[key])} of that day (${fmt.n(day[den], den.replace(/s$/, ""), den)}); 7-day: ${t ? fmt.pct(n / t) : "—"}`);
    });
    if (d) el("svg:path", { d, fill: "none", stroke: css(color), "stroke-width": 2.5, "data-series": key }, f.svg);
  }
  const legend = $("rates-legend");
  legend.replaceChildren();
  for (const [, label, color, , den] of RATE_LINES) {
    el("span", {}, legendItem(legend, color), `${label} (÷ ${den})`);
  }
  el("li", {}, legend, "lines: trailing 7-day rate · dots: each day's own rate");
}

function volumeChart(days) {
  const box = $("volume-chart");
  if (notEnough(box, days, "a chart per day")) return;
  const top = Math.max(4, ...days.map((d) => d.requests));
  const yMax = Math.ceil(top / 4) * 4;
  const f = frame(box, days, yMax, (v) => String(Math.round(v)));
  const band = days.length <= 1 ? f.w : f.w / (days.length - 1);
  const barW = Math.max(2, Math.min(28, band * 0.7));
  days.forEach((day, i) => {
    let base = 0;
    for (const [key, label] of BUCKETS) {
      const n = day["split_" + key];
      if (!n) continue;
      const rect = el("svg:rect", { x: f.x(i) - barW / 2, y: f.y(base + n), width: barW, height: f.y(base) - f.y(base + n), fill: css("--" + key) }, f.svg);
      el("svg:title", {}, rect, `${day.date} ${label}: ${n}`);
      base += n;
    }
  });
  const legend = $("volume-legend");
  legend.replaceChildren();
  for (const [key, label] of BUCKETS) {
    el("span", {}, legendItem(legend, "--" + key), label.split(" (")[0]);
  }
}

function rows(tableId, items, empty, render) {
  const body = $(tableId).tBodies[0];
  body.replaceChildren();
  if (!items.length) el("td", { class: "empty", colspan: $(tableId).tHead.rows[0].cells.length }, el("tr", {}, body), empty);
  for (const item of items) render(el("tr", {}, body), item);
}

function channels(s) {
  const select = $("channel"), chosen = select.value;
  const names = new Set([...select.options].map((o) => o.value));
  for (const c of s.channels) if (!names.has(c.channel)) el("option", { value: c.channel }, select, c.channel);
  select.value = chosen;
  rows("channels", s.channels, "No requests in this period.", (tr, c) => {
    el("td", {}, tr, c.channel);
    for (const [v, f] of [[c.requests, fmt.int], [c.answered, fmt.int], [c.deflection_rate, fmt.pct], [c.verified_resolution_rate, fmt.pct], [c.recontact_rate, fmt.pct], [c.escalation_ratio, fmt.pct]]) el("td", { class: "num" }, tr, f(v));
  });
}

function gaps(g) {
  const how = g.method === "embeddings" ? "grouped by meaning (sentence embeddings)" : "grouped by shared words (no embedding model)";
  $("gaps-note").textContent = g.requests
    ? `${fmt.n(g.requests, "escalation")} no article could answer, ${how}; each topic is named by its most typical request.`
      + (g.unclear ? ` ${fmt.int(g.unclear)} had no words to group (greetings and the like).` : "")
    : `No escalation in this selection lacked an article. Requests that no article answers will be listed here, ${how}.`;
  rows("gaps", g.groups, "No content gaps: every escalation had an article or was a policy hand-off.", (tr, group) => {
    const topic = el("td", {}, tr);
    const name = group.medoid_decision_id ? el("a", { href: "/admin/decisions/" + group.medoid_decision_id }, topic) : topic;
    el("b", {}, name, group.label);
    el("td", { class: "num" }, tr, fmt.int(group.count));
    const list = el("ul", { class: "examples" }, el("td", {}, tr));
    for (const e of group.examples.slice(1)) el("li", {}, list, e);
    el("td", {}, tr, group.channels.join(", "));
    el("td", { class: "num" }, tr, fmt.score(group.avg_confidence));
  });
}

function decisions(d) {
  rows("decisions", d.decisions, "No decisions yet.", (tr, row) => {
    el("td", {}, tr, row.created_at.slice(0, 16).replace("T", " "));
    const what = el("td", {}, tr);
    el("a", { href: "/admin/decisions/" + row.id, "data-decision": String(row.id) }, el("div", {}, what), row.subject || "(no subject)");
    el("div", { class: "reasons" }, what, `${row.ticket_ref}${row.trigger === "follow_up" ? " · follow-up" : ""}`);
    el("td", {}, tr, row.channel);
    const kind = row.shadow ? "shadow" : row.verdict;
    el("span", { class: "badge " + kind }, el("td", {}, tr), kind === "shadow" ? "shadow answer" : row.verdict);
    const cell = el("td", {}, tr), meter = el("span", { class: "meter" }, cell);
    el("span", {}, meter).style.width = Math.min(100, row.confidence * 100) + "%";
    el("i", {}, meter).style.left = Math.min(100, row.threshold * 100) + "%";
    el("span", {}, cell, fmt.against(row.confidence, row.threshold));
    el("td", { class: "reasons" }, tr, row.reasons.join(", "));
    el("td", {}, tr, row.top_article || "—");
  });
}

// the figures last drawn; the connected vendors' inbound routes (GET /), for what to do next on an empty period
let last = null, inbound = null;

const loadInbound = () => fetchJSON("/", new URLSearchParams()).then((doc) => doc.inbound || {}, () => null).then((found) => { inbound = found; render(); });

// A period without requests: what to do next, instead of a page of dashes.
function nextSteps(s) {
  const box = $("next"), vendors = Object.entries(inbound || {});
  box.hidden = s.counts.requests > 0;
  if (box.hidden) return;
  box.replaceChildren();
  el("h2", {}, box, `No requests${s.channel ? " in channel " + s.channel : ""} from ${s.period.from} to ${s.period.to}: what to do next`);
  const steps = el("ol", {}, box);
  if (inbound && !vendors.length) el("li", { "data-step": "connect" }, steps, "Nothing is connected yet: connect Slack, Zendesk or Jira "
    + "(docs/connectors/). Start in shadow mode (HUB_DRY_RUN=true): answers become drafts for your agents while you read these figures.");
  if (vendors.length) el("li", { "data-step": "connected" }, steps, `Connected: ${vendors.map(([name, path]) => `${name} (POST ${path})`).join(", ")}. `
    + "A request shows here once the hub has decided it: if people wrote and nothing shows, check where the vendor sends its events, and the work queues below.");
  const tryIt = el("li", { "data-step": "try" }, steps);
  el("a", { href: "/admin/simulate" }, tryIt, "Try a Slack message");
  el("span", {}, tryIt, " to see what the hub would answer (nothing is recorded), or run hub ask \"your question\" on the server.");
  el("li", { "data-step": "web" }, steps, "Questions sent to POST /api/v1/ask are recorded and counted here, as channel web.");
}

let loads = 0, gapsDoc = null;

async function load() {
  const params = query(), status = $("status"), which = ++loads;
  status.textContent = "Loading…";
  status.dataset.loaded = "false";
  status.classList.remove("failed");
  history.replaceState(null, "", "?" + params.toString());
  loadGaps(params, which); // grouping by meaning can take a while (the model's first load): never wait for it
  try {
    const limit = new URLSearchParams(params);
    limit.set("limit", "25");
    const [s, series, d] = await Promise.all([
      fetchJSON("/api/v1/stats", params),
      fetchJSON("/api/v1/stats/series", params),
      fetchJSON("/api/v1/decisions", limit),
    ]);
    if (which !== loads) return;
    last = { s, series, d };
    currency = s.cost.currency || "USD";
    $("from").value = s.period.from;
    $("to").value = s.period.to;
    render();
    status.textContent = `${s.period.from} to ${s.period.to} (UTC)${s.channel ? " · channel " + s.channel : " · all channels"} · computed ${s.computed_at.slice(0, 16).replace("T", " ")} UTC`;
    status.dataset.loaded = "true";
  } catch (error) {
    status.textContent = "Could not load the figures: " + error.message;
    status.classList.add("failed");
  }
}

async function loadGaps(params, which) {
  const table = $("gaps");
  table.dataset.loaded = "false";
  gapsDoc = null;
  $("gaps-note").textContent = "Grouping the requests no article could answer…";
  rows("gaps", [], "…", () => {});
  try {
    const g = await fetchJSON("/api/v1/content-gaps", params);
    if (which !== loads) return;
    gapsDoc = g;
    gaps(g);
    table.dataset.loaded = "true";
  } catch (error) {
    if (which === loads) $("gaps-note").textContent = "Could not load the content gaps: " + error.message;
  }
}

function render() {
  if (!last) return;
  const { s, series, d } = last;
  nextSteps(s);
  tiles(s);
  splitBar(s);
  ratesChart(series.days);
  volumeChart(series.days);
  channels(s);
  if (gapsDoc) gaps(gapsDoc);
  decisions(d);
  $("decisions-note").textContent = `The newest ${fmt.n(d.decisions.length, "decision")} of ${s.period.from} to ${s.period.to}${s.channel ? " in " + s.channel : ""}, requests and follow-ups; open one to read it.`;
  const note = $("provisional");
  const unposted = s.counts.unposted || 0, unhanded = s.counts.handover_failed || 0;
  note.hidden = !s.counts.pending && !unposted && !unhanded;
  note.textContent = [
    s.counts.pending ? `${fmt.n(s.counts.pending, "answered request")} ${s.counts.pending === 1 ? "is less than 48 h old: it counts" : "are less than 48 h old: they count"} as not deflected until the re-contact window closes, so the latest days are provisional.` : "",
    unposted ? `${fmt.n(unposted, "answer")} ${unposted === 1 ? "is" : "are"} decided but not posted yet (the vendor is down or rate-limiting): not counted as answered.` : "",
    unhanded ? `${fmt.n(unhanded, "request")} went to people, but the hand-over failed (no ticket of record): no person has ${unhanded === 1 ? "it" : "them"} until you re-queue the failed work below (hub retry).` : "",
  ].filter(Boolean).join(" ");
}

document.addEventListener("DOMContentLoaded", () => {
  const params = new URLSearchParams(location.search);
  for (const id of ["from", "to"]) $(id).value = params.get(id) || "";
  if (params.get("channel")) el("option", { value: params.get("channel") }, $("channel"), params.get("channel"));
  $("channel").value = params.get("channel") || "";
  $("filters").addEventListener("submit", (event) => { event.preventDefault(); load(); });
  $("queues-retry").addEventListener("click", retryFailed);
  workQueues();
  loadInbound();
  $("channel").addEventListener("change", load);
  for (const button of document.querySelectorAll("[data-days]")) {
    button.addEventListener("click", () => {
      const today = new Date().toISOString().slice(0, 10);
      const start = new Date(Date.now() - (Number(button.dataset.days) - 1) * 86400000).toISOString().slice(0, 10);
      $("from").value = start;
      $("to").value = today;
      load();
    });
  }
  let timer = null;
  window.addEventListener("resize", () => { clearTimeout(timer); timer = setTimeout(render, 150); });
  load();
});

/* The admin dashboard's work-queues panel: the inbox and outbox's health, re-queueing failed rows, and what else
   waits for an admin (vendor notices, notes held for a follow-up: surfaces/attention.py writes their sentences).
   Uses dashboard.js's helpers ($, el, fmt, rows, fetchJSON); wired up in its DOMContentLoaded handler. */
"use strict";

async function workQueues() {
  const box = $("queues-status");
  try {
    const q = await fetchJSON("/api/v1/queues", new URLSearchParams());
    box.textContent = q.status === "ok" ? "Inbox and outbox are healthy." : `${q.status}: ${q.reasons.join("; ")}`;
    box.classList.toggle("failed", q.status !== "ok");
    rows("queues", Object.entries(q.queues), "", (tr, [name, f]) => {
      el("td", {}, tr, name);
      for (const v of [f.pending, f.running, f.retrying, f.failed, f.stuck]) el("td", { class: "num" }, tr, fmt.int(v));
      el("td", { class: "num" }, tr, fmt.secs(f.oldest_due_seconds));
    });
    $("queues-retry").disabled = !(q.queues.inbox.failed || q.queues.outbox.failed);
    attention(q);
  } catch (error) {
    box.textContent = "Could not load the queues: " + error.message;
    box.classList.add("failed");
  }
}

async function retryFailed() {
  // JSON only: a cross-site form cannot send it, so the session cookie is enough here.
  const response = await fetch("/api/v1/queues/retry", {
    method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ queue: null, ids: null }),
  });
  const body = await response.json().catch(() => ({}));
  $("queues-status").textContent = response.ok
    ? `Re-queued ${fmt.n(body.requeued.inbox.length, "inbox event")} and ${fmt.n(body.requeued.outbox.length, "vendor write")}.`
    : "Could not re-queue: " + (body.error || response.status);
  setTimeout(workQueues, 1500);
}

function attention(q) {
  // The server's sentences, verbatim: a vendor notice of the last 24 h, then the notes held for a follow-up.
  const box = $("attention");
  box.replaceChildren();
  for (const n of q.notices) el("p", { class: "note notice", "data-kind": n.kind }, box, n.message);
  if (q.held.message) el("p", { class: "note held" }, box, q.held.message);
  $("held-box").hidden = !q.held.count;
  rows("held", q.held.rows, "", (tr, h) => {
    const ticket = el("td", {}, tr);
    if (h.ticket_url) el("a", { href: h.ticket_url, rel: "noreferrer" }, ticket, h.closed);
    else ticket.textContent = h.closed;
    el("td", {}, tr, h.what);
    el("td", {}, tr, h.excerpt);
    el("td", { class: "num", title: h.held_since }, tr, fmt.secs(h.age_seconds));
  });
}

// The console's little script: confirmations, batch progress polling, the word-marking form
// and keyboard shortcuts. Pages work without it, except polling and the shortcuts.
"use strict";

function csrf() {
  return document.querySelector('meta[name="csrf-token"]').content;
}

function confirmForms() {
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
}

function pollProgress() {
  const rows = Array.from(document.querySelectorAll("[data-progress-url]"))
    .filter((el) => el.dataset.finished !== "true");
  if (!rows.length) return;
  const tick = async () => {
    for (const el of rows) {
      if (el.dataset.finished === "true") continue;
      try {
        const response = await fetch(el.dataset.progressUrl, { headers: { "X-CSRF-Token": csrf() } });
        if (!response.ok) continue;
        const batch = await response.json();
        el.querySelector("progress").value = batch.progress;
        const status = el.querySelector('[data-field="status"]');
        status.textContent = batch.status;
        status.className = "badge " + batch.status;
        const c = batch.counts;
        el.querySelector('[data-field="done"]').textContent = batch.total - (c.queued || 0) - (c.running || 0);
        if (batch.finished_at) el.dataset.finished = "true";
      } catch (err) {
        // a missed poll is retried on the next tick
      }
    }
    if (rows.some((el) => el.dataset.finished !== "true")) window.setTimeout(tick, 2000);
  };
  window.setTimeout(tick, 2000);
}

function wordReview() {
  const form = document.getElementById("mark");
  if (!form) return;
  let selected = null;
  const select = (button) => {
    if (selected) selected.setAttribute("aria-pressed", "false");
    selected = button;
    button.setAttribute("aria-pressed", "true");
    form.hidden = false;
    document.getElementById("mark-start").value = button.dataset.start;
    document.getElementById("mark-end").value = button.dataset.end;
    document.getElementById("mark-word").textContent = button.textContent;
    document.getElementById("mark-used").textContent = button.dataset.used || "unknown";
  };
  document.querySelectorAll("button.word").forEach((button) => {
    button.addEventListener("click", () => {
      select(button);
      document.getElementById("mark-reading").focus();
    });
    button.addEventListener("focus", () => select(button));
  });
  const player = document.getElementById("player");
  document.addEventListener("keydown", (event) => {
    const t = event.target;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (t.matches("input, textarea, select") || (t.tagName === "BUTTON" && event.key === " ")) return;
    if (event.key === " " && player) {
      event.preventDefault();
      if (player.paused) player.play(); else player.pause();
    } else if (event.key === "n") {
      const next = document.getElementById("next-item");
      if (next) window.location.href = next.href;
    } else if (event.key === "m" && selected) {
      event.preventDefault();
      select(selected);
      document.getElementById("mark-reading").focus();
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  confirmForms();
  pollProgress();
  wordReview();
});

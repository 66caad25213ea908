// framelab serve: the page's only script, served by the app (the Content-Security-Policy allows no inline script).
// It POSTs the article as JSON to /score?format=html and shows the returned view, which the server has
// already HTML-escaped; DOMParser builds it inert (nothing in it runs) before it is moved into the page.
"use strict";

const $ = (id) => document.getElementById(id);

function headers() {
  const h = { "Content-Type": "application/json" };
  const token = $("token").value.trim();
  if (token) h.Authorization = "Bearer " + token;
  return h;
}

function say(message, isError) {
  $("status").textContent = message;
  $("status").className = isError ? "error" : "";
}

async function loadModels() {
  try {
    const response = await fetch("/models", { headers: headers() });
    if (!response.ok) {
      $("models").textContent = response.status === 401 ? "Give the server's token to see its models." : "Models: unavailable.";
      return;
    }
    const data = await response.json();
    $("models").textContent = "Models: " + data.models.map((m) => m.name + " (" + m.task + ")").join(", ");
    $("target-row").hidden = !data.models.some((m) => m.takes_target);
  } catch (e) {
    $("models").textContent = "Models: unavailable.";
  }
}

async function score() {
  const article = { text: $("text").value };
  const title = $("title").value.trim();
  const target = $("target").value.trim();
  if (title) article.title = title;
  if (target && !$("target-row").hidden) article.target = target;
  document.body.dataset.state = "scoring";
  say("scoring…", false);
  try {
    const response = await fetch("/score?format=html", { method: "POST", headers: headers(), body: JSON.stringify(article) });
    if (!response.ok) {
      let message = "HTTP " + response.status;
      try {
        const problem = await response.json();
        message += ": " + problem.error + (problem.field ? " (" + problem.field + ")" : "");
      } catch (e) { /* not JSON */ }
      say(message, true);
      document.body.dataset.state = "error";
      return;
    }
    const view = new DOMParser().parseFromString(await response.text(), "text/html");
    const result = $("result");
    result.replaceChildren();
    // The view's stylesheet comes along, so the page draws it as the file of framelab score --format html.
    for (const node of [...view.head.querySelectorAll("style"), ...view.body.childNodes]) {
      if (node.nodeName === "H1" || node.nodeName === "SCRIPT") continue;
      result.appendChild(document.adoptNode(node));
    }
    say("Each label is tagged after its sentence or span; hover a sentence or span for every score.", false);
    document.body.dataset.state = "done";
  } catch (e) {
    say("The server did not answer: " + e, true);
    document.body.dataset.state = "error";
  }
}

function openFile() {
  const file = $("file").files[0];
  if (!file) return;
  file.text().then((text) => { $("text").value = text; });
}

document.addEventListener("DOMContentLoaded", () => {
  $("form").addEventListener("submit", (event) => { event.preventDefault(); score(); });
  $("file").addEventListener("change", openFile);
  loadModels();
  // #text=… (URL-encoded) fills the article and scores it at once: a link to a scored article, and the browser test's way in.
  if (location.hash.startsWith("#text=")) {
    $("text").value = decodeURIComponent(location.hash.slice(6));
    score();
  }
});

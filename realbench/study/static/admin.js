// The researcher's progress page: the token comes from the address's #token=... (never sent in
// a URL, so it stays out of logs) and is passed as a bearer token. Texts are set as text only.
"use strict";
(function () {
  const app = document.getElementById("app");

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function token() {
    const hash = new URLSearchParams(window.location.hash.slice(1));
    return hash.get("token") || "";
  }

  function table(rows) {
    const out = el("table");
    const head = el("tr");
    const columns = ["slot", "platform", "external_id", "votes", "total", "attention_failures", "created", "completed"];
    for (const name of columns) head.appendChild(el("th", null, name.replace("_", " ")));
    out.appendChild(head);
    for (const row of rows) {
      const line = el("tr");
      for (const name of columns) line.appendChild(el("td", null, row[name] === null ? "" : row[name]));
      out.appendChild(line);
    }
    return out;
  }

  async function refresh() {
    let response;
    try {
      response = await fetch("api/admin/progress", {headers: {"Authorization": "Bearer " + token()}});
    } catch (error) {
      app.replaceChildren(el("p", "message", "The server did not answer; retrying."));
      return;
    }
    if (response.status === 401) {
      app.replaceChildren(el("p", "message", "Open this page with the address the server printed at start "
        + "(it ends in #token=...)."));
      return;
    }
    const data = await response.json();
    const page = el("section");
    page.appendChild(el("h1", "title", "Study progress"));
    const summary = el("div", "summary");
    summary.appendChild(el("p", null, "participants: " + data.participants));
    summary.appendChild(el("p", null, "completed: " + data.completed));
    summary.appendChild(el("p", null, "votes: " + data.votes));
    summary.appendChild(el("p", null, "failing attention checks (more than " + data.max_attention_failures
      + "): " + data.failing_attention));
    page.appendChild(summary);
    page.appendChild(table(data.rows));
    page.appendChild(el("p", "count", "study " + data.study + ", updated " + new Date().toLocaleTimeString()));
    app.replaceChildren(page);
  }

  refresh();
  window.setInterval(refresh, 10000);
})();

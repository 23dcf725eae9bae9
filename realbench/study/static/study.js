// The participant's page: one question at a time, each vote sent (and stored) as it is cast.
// Every text from the server is set with textContent, never as HTML.
"use strict";
(function () {
  const app = document.getElementById("app");
  const params = new URLSearchParams(window.location.search);
  const LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
  let study = null;
  let participant = null;
  let storageKey = null;
  let shownAt = 0;

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function image(src, alt, className) {
    const node = el("img", className);
    node.src = src;
    node.alt = alt;
    node.decoding = "async";
    return node;
  }

  async function api(path, body) {
    const options = body === undefined ? {} : {
      method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)};
    let response;
    try {
      response = await fetch(path, options);
    } catch (error) {
      return {status: 0, body: null};
    }
    let data = null;
    try { data = await response.json(); } catch (error) { data = null; }
    return {status: response.status, body: data};
  }

  function message(text, retry) {
    const box = el("section", "message-box");
    box.appendChild(el("p", "message", text));
    if (retry) {
      const button = el("button", "submit", "Try again");
      button.type = "button";
      button.addEventListener("click", retry);
      box.appendChild(button);
    }
    app.replaceChildren(box);
  }

  function remember(id) {
    participant = id;
    try { window.localStorage.setItem(storageKey, id); } catch (error) { /* private mode */ }
    const url = new URL(window.location.href);
    url.search = "?p=" + encodeURIComponent(id);
    window.history.replaceState(null, "", url.toString());
  }

  function platformIds() {
    const ids = {
      prolific_pid: params.get("PROLIFIC_PID"), study_id: params.get("STUDY_ID"),
      session_id: params.get("SESSION_ID"), worker_id: params.get("workerId"),
      hit_id: params.get("hitId"), assignment_id: params.get("assignmentId")};
    for (const key of Object.keys(ids)) if (!ids[key]) delete ids[key];
    return ids;
  }

  async function register() {
    message("Starting\u2026");
    const answer = await api("api/participants", platformIds());
    if (answer.status !== 200 && answer.status !== 201) {
      message("Could not start the study" + detail(answer), register);
      return;
    }
    remember(answer.body.participant);
    await load();
  }

  function detail(answer) {
    return answer.body && typeof answer.body.detail === "string" ? ": " + answer.body.detail : ".";
  }

  async function load() {
    const answer = await api("api/participants/" + encodeURIComponent(participant) + "/next");
    if (answer.status === 404) {
      try { window.localStorage.removeItem(storageKey); } catch (error) { /* ignore */ }
      participant = null;
      welcome();
      return;
    }
    if (answer.status !== 200) {
      message("The server did not answer" + detail(answer), load);
      return;
    }
    show(answer.body);
  }

  function welcome() {
    const box = el("section", "welcome");
    box.appendChild(el("h1", "title", study.title));
    box.appendChild(el("p", "intro", study.welcome));
    const start = el("button", "submit", "Start");
    start.type = "button";
    start.addEventListener("click", register);
    box.appendChild(start);
    app.replaceChildren(box);
  }

  function header(step) {
    const top = el("header", "top");
    top.appendChild(el("h1", "title", study.title));
    const bar = el("progress", "bar");
    bar.max = step.total;
    bar.value = step.answered;
    top.appendChild(bar);
    top.appendChild(el("p", "count", step.done ? "Done" : "Question " + step.step + " of " + step.total));
    return top;
  }

  function show(step) {
    if (step.done) { done(step); return; }
    const page = el("div", "page");
    page.appendChild(header(step));
    const target = el("section", "target");
    target.appendChild(el("p", "context", step.target_text));
    target.appendChild(image(step.target, "the photo to complete", "target-image"));
    page.appendChild(target);
    if (step.references.length) {
      const refs = el("section", "references");
      refs.appendChild(el("p", "context", step.references_text));
      const grid = el("div", "reference-grid");
      step.references.forEach((src, i) => grid.appendChild(image(src, "other photo " + (i + 1), "reference")));
      refs.appendChild(grid);
      page.appendChild(refs);
    }
    page.appendChild(question(step));
    app.replaceChildren(page);
    window.scrollTo(0, 0);
    shownAt = Date.now();
  }

  function question(step) {
    const box = el("section", "question");
    box.appendChild(el("h2", "prompt", step.prompt));
    if (step.hint) box.appendChild(el("p", "hint", step.hint));
    const options = el("div", "options");
    options.setAttribute("role", "radiogroup");
    const submit = el("button", "submit", study.submit_text);
    submit.type = "button";
    submit.disabled = true;
    let chosen = null;
    step.options.forEach((option, i) => {
      const button = el("button", "option");
      button.type = "button";
      button.setAttribute("role", "radio");
      button.setAttribute("aria-checked", "false");
      button.dataset.choice = option.id;
      button.appendChild(image(option.src, "completion " + LETTERS[i], "option-image"));
      button.appendChild(el("span", "letter", LETTERS[i]));
      button.addEventListener("click", () => {
        for (const other of options.children) other.setAttribute("aria-checked", "false");
        button.setAttribute("aria-checked", "true");
        chosen = option.id;
        submit.disabled = false;
      });
      options.appendChild(button);
    });
    submit.addEventListener("click", () => { submit.disabled = true; vote(step, chosen); });
    box.appendChild(options);
    box.appendChild(submit);
    return box;
  }

  async function vote(step, choice) {
    const answer = await api("api/votes", {
      participant: participant, position: step.position, question: step.question, choice: choice,
      seconds: Math.min(86400, (Date.now() - shownAt) / 1000)});
    if (answer.status === 201) { show(answer.body); return; }
    if (answer.status === 409 || answer.status === 404) { await load(); return; }
    message("Your answer was not saved" + detail(answer), () => show(step));
  }

  function done(step) {
    const box = el("section", "done");
    box.appendChild(header(step));
    box.appendChild(el("p", "intro", step.completion_text));
    if (step.completion_code) {
      box.appendChild(el("p", "context", "Your completion code:"));
      box.appendChild(el("code", "code", step.completion_code));
    }
    const url = step.redirect_url || "";
    if (url.startsWith("https://") || url.startsWith("http://")) {
      const link = el("a", "link", "Continue");
      link.href = url;
      link.rel = "noreferrer";
      box.appendChild(link);
      window.setTimeout(() => window.location.assign(url), 3000);
    }
    app.replaceChildren(box);
  }

  async function start() {
    const info = await api("api/study");
    if (info.status !== 200 || !info.body) { message("The study is not available.", start); return; }
    study = info.body;
    document.title = study.title;
    storageKey = "realbench-study-" + study.study;
    if (params.get("assignmentId") === "ASSIGNMENT_ID_NOT_AVAILABLE") {
      message("Accept the task to start the study.");
      return;
    }
    const ids = platformIds();
    participant = params.get("p");
    if (!participant && !ids.prolific_pid && !ids.worker_id) {  // a platform's ids decide who this is
      try { participant = window.localStorage.getItem(storageKey); } catch (error) { participant = null; }
    }
    if (participant) { remember(participant); await load(); } else { welcome(); }
  }

  start();
})();

// The responders' phone page: list my units' open tasks (most urgent first) and take steps through /api/v1/tasks.
"use strict";
const API = "/api/v1/tasks";
const RANK = { urgent: 0, high: 1, normal: 2, low: 3 };
const STATUS = { dispatched: "待签收 to sign", signed: "处置中 to handle", handled: "待核查 handled",
  verified: "已核查 verified", returned: "已退回 returned", closed: "已办结 closed" };

function csrf() {
  const m = document.cookie.match(/(?:^|;\s*)_csrf_token=([^;]+)/);
  return m ? decodeURIComponent(m[1]) : "";
}

function say(text) { document.getElementById("message").textContent = text; }

async function call(method, path, body, type) {
  const headers = { "X-CSRFToken": csrf() };
  if (type) headers["Content-Type"] = type;
  const resp = await fetch(path, { method, headers, body, credentials: "same-origin" });
  const data = await resp.json().catch(() => ({ error: `HTTP ${resp.status}` }));
  if (!resp.ok) throw new Error((data.reasons || [data.error]).join("; "));
  return data;
}

function el(tag, props, ...children) {
  const node = Object.assign(document.createElement(tag), props || {});
  for (const c of children) node.append(c);
  return node;
}

function minutes(seconds) {
  const m = Math.round(seconds / 60);
  return m < 120 ? `${m} min` : `${Math.round(m / 60)} h`;
}

function urgency(a, b) {
  return (RANK[a.priority] - RANK[b.priority]) || (a.hop_due - b.hop_due) || (b.id - a.id);
}

async function step(task, action, body) {
  try {
    await call("POST", `${API}/${task.id}/${action}`, JSON.stringify(body || {}), "application/json");
    say(`#${task.id}: ${action} ✓`);
  } catch (e) { say(`#${task.id}: ${e.message}`); }
  await load();
}

async function handle(task, card) {
  const note = card.querySelector("textarea").value;
  const file = card.querySelector("input[type=file]").files[0];
  let photo = null;
  try {
    if (file) photo = (await call("POST", `${API}/${task.id}/photo`, file, file.type || "application/octet-stream")).photo;
  } catch (e) { say(`#${task.id}: photo refused: ${e.message}`); return; }
  await step(task, "handle", photo ? { note, photo } : { note });
}

async function redispatchPicker(task, actions) {
  const units = (await call("GET", `${API}/${task.id}/below`)).units;
  if (!units.length) return;
  const select = el("select", { className: "below" },
    el("option", { value: "", textContent: "下派至 Re-dispatch to…" }),
    ...units.map(u => el("option", { value: u.id, textContent: `${u.name_zh} ${u.name_en}` })));
  select.addEventListener("change", () => select.value && step(task, "redispatch", { unit: select.value }));
  actions.append(select);
}

function card(task, now) {
  const overdue = task.status !== "handled" && now > task.due;
  const node = el("article", { className: `task ${task.priority}${overdue ? " overdue" : ""}`, id: `task-${task.id}` },
    el("h2", { textContent: `#${task.id} ${STATUS[task.status] || task.status}` }),
    el("div", { className: "meta", textContent: `${task.area} · ${task.unit}` }),
    el("div", { className: "meta due", textContent:
      `${task.priority} · 截止 due ${new Date(task.due * 1000).toLocaleString()} · 本环节 on this step ${minutes(now - task.step_at)}` }),
    el("p", { className: "instruction", textContent: task.instruction }));
  const actions = el("div", { className: "actions" });
  const button = (label, action, cls, body) => actions.append(el("button", {
    className: cls || "", textContent: label, onclick: () => step(task, action, body ? body() : {}) }));
  if (task.status === "dispatched") {
    button("签收 Sign", "sign", "primary sign");
    button("退回 Return", "return", "return", () => ({ note: prompt("退回原因 Reason for returning") || "" }));
  }
  if (task.status === "signed") {
    node.append(el("textarea", { placeholder: "处置情况 What was done", maxLength: 500, rows: 2 }),
      el("input", { type: "file", accept: "image/jpeg,image/png,image/webp", capture: "environment" }));
    actions.append(el("button", { className: "primary handle", textContent: "已处置 Handled",
      onclick: () => handle(task, node) }));
    button("上报 Escalate", "escalate", "escalate", () => ({ note: prompt("上报原因 Reason") || "" }));
    redispatchPicker(task, actions).catch(e => say(e.message));
  }
  node.append(actions);
  return node;
}

async function load() {
  const main = document.getElementById("tasks");
  try {
    const tasks = (await call("GET", `${API}?open=1`)).tasks.filter(t => ["dispatched", "signed", "handled"].includes(t.status));
    const now = Date.now() / 1000;
    main.replaceChildren(...tasks.sort(urgency).map(t => card(t, now)));
    if (!tasks.length) main.append(el("p", { className: "empty", textContent: "没有待办任务 No open tasks" }));
  } catch (e) { say(e.message); }
}

load();
setInterval(() => { if (!document.activeElement || document.activeElement === document.body) load(); }, 15000);

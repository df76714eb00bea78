// Small helpers shared by the playground's modules: DOM building, requests, ids, time.

/** Build an element: h("p", {class: "x", onclick: fn}, "text", child). Text is never parsed as HTML. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (value === true) {
      el.setAttribute(key, "");
    } else {
      el.setAttribute(key, String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** A fresh id for a message or click (the server dedupes by it). */
export function newId() {
  if (crypto.randomUUID) return crypto.randomUUID().replaceAll("-", "");
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) =>
    b.toString(16).padStart(2, "0"),
  ).join("");
}

/** POST JSON (or FormData); resolves to the parsed answer, rejects with the server's message. */
export async function post(url, body) {
  const init = { method: "POST", headers: { Accept: "application/json" } };
  if (body instanceof FormData) {
    init.body = body;
  } else {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch {
    throw new Error("网络不通，请检查服务是否在运行");
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    throw new Error((data && data.error) || `请求失败（${response.status}）`);
  }
  return data;
}

let timeZone = "Asia/Shanghai";

export function setTimeZone(tz) {
  timeZone = tz || timeZone;
}

function parts(date) {
  const fmt = new Intl.DateTimeFormat("zh-CN", {
    timeZone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    hour12: false,
  });
  const out = {};
  for (const p of fmt.formatToParts(date)) out[p.type] = p.value;
  return out;
}

/** "2026-11-23 14:05" in the organisation's time zone. */
export function fullTime(iso) {
  const p = parts(new Date(iso));
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}`;
}

/** "11-23 14:05". */
export function shortTime(iso) {
  const p = parts(new Date(iso));
  return `${p.month}-${p.day} ${p.hour}:${p.minute}`;
}

/** A tiny, safe markdown: headings, **bold**, lists, quotes and links; everything else is text. */
export function markdown(text) {
  const box = h("div", { class: "md" });
  for (const raw of String(text || "").split("\n")) {
    const line = raw.trimEnd();
    if (!line) {
      box.append(h("div", { class: "md-gap" }));
      continue;
    }
    let m;
    if ((m = line.match(/^#{1,6}\s+(.*)$/))) box.append(h("p", { class: "md-h" }, inline(m[1])));
    else if ((m = line.match(/^\s*[-*]\s+(.*)$/))) box.append(h("p", { class: "md-li" }, "• ", inline(m[1])));
    else if ((m = line.match(/^>\s?(.*)$/))) box.append(h("p", { class: "md-quote" }, inline(m[1])));
    else box.append(h("p", {}, inline(line)));
  }
  return box;
}

function inline(text) {
  const out = [];
  const pattern = /\*\*(.+?)\*\*|\[([^\]]+)\]\(([^)\s]+)\)|<font[^>]*>(.*?)<\/font>/g;
  let last = 0;
  let m;
  while ((m = pattern.exec(text))) {
    if (m.index > last) out.push(text.slice(last, m.index));
    if (m[1] !== undefined) out.push(h("strong", {}, m[1]));
    else if (m[2] !== undefined) out.push(safeLink(m[2], m[3]));
    else out.push(h("span", { class: "md-font" }, m[4]));
    last = pattern.lastIndex;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

function safeLink(label, url) {
  if (/^(https?:\/\/|\/)/.test(url)) {
    return h("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, label);
  }
  return label;
}

// The playground page: one live stream of deliveries feeds the customer's chat, every employee's
// inbox and the group chats; what people do here is posted back as platform-like events.

import { carryDrafts, renderCard } from "./cards.js";
import { bubble, stickToBottom } from "./chat.js";
import { ClockControl } from "./clock.js";
import { groupTab, mountTabs, personTab } from "./tabs.js";
import { h, newId, post, setTimeZone } from "./util.js";

const boot = JSON.parse(document.getElementById("pg-boot").textContent);
setTimeZone(boot.clock.timezone);

const people = new Map(boot.people.map((p) => [p.id, p]));
const $ = (id) => document.getElementById(id);

const store = {
  customer: null,
  person: null,
  group: boot.groups.length ? boot.groups[0].id : null,
  seen: new Set(),
  cards: new Map(), // ref -> {li, delivery, version, person}
  feeds: new Map(), // "user:<id>" | "group:<id>" -> <ol>
  unseen: new Map(), // target -> new messages not looked at yet
  rawOpen: new Set(),
  rawTab: new Map(),
};

// --- identity ----------------------------------------------------------------------------------

function closeAttach() {
  $("attach-panel").hidden = true;
  $("attach-toggle").setAttribute("aria-expanded", "false");
}

function customerSession(fresh = false) {
  let id = fresh ? null : localStorage.getItem("pg.customer");
  if (!id || !/^[A-Za-z0-9_-]{6,64}$/.test(id)) {
    id = newId();
    localStorage.setItem("pg.customer", id);
  }
  return id;
}

store.customer = customerSession();
const savedPerson = localStorage.getItem("pg.person");
store.person = people.has(savedPerson) ? savedPerson : boot.people.length ? boot.people[0].id : null;

// --- helpers -----------------------------------------------------------------------------------

function toast(text) {
  const el = $("toast");
  el.textContent = text;
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (el.hidden = true), 4000);
}

function feed(target) {
  if (!store.feeds.has(target)) {
    const kind = target.startsWith("group:") ? "group" : "staff";
    store.feeds.set(target, h("ol", { class: `feed ${kind}-feed`, dataset: { target } }));
  }
  return store.feeds.get(target);
}

function customerTarget() {
  return `user:c-${store.customer}`;
}

function hint(cardEl, text) {
  let note = cardEl.querySelector(".card-hint");
  if (!note) {
    note = h("p", { class: "card-hint", role: "status" });
    cardEl.querySelector(".card-main").append(note);
  }
  note.textContent = text;
}

// --- applying deliveries -----------------------------------------------------------------------

function apply(delivery) {
  if (delivery.seq && store.seen.has(delivery.seq)) return;
  if (delivery.seq) store.seen.add(delivery.seq);
  const target = delivery.target;
  if (target === customerTarget()) return showCustomer(delivery);
  if (target.startsWith("group:")) return showGroup(delivery);
  if (target.startsWith("user:") && people.has(target.slice(5))) return showStaff(delivery);
}

function replacePending(list, delivery, el) {
  const id = delivery.payload && delivery.payload.id;
  const pending = id ? list.querySelector(`li.pending[data-id="${CSS.escape(id)}"]`) : null;
  if (pending) pending.replaceWith(el);
  else stickToBottom(list, () => list.append(el));
}

function showCustomer(delivery) {
  const list = $("customer-chat");
  const el = delivery.inbound
    ? bubble(delivery, { mine: true, who: "我", avatar: "我" })
    : bubble(delivery, { mine: false, who: boot.organization, avatar: "客" });
  if (delivery.inbound) replacePending(list, delivery, el);
  else stickToBottom(list, () => list.append(el));
}

function clearEmpty(list) {
  for (const el of list.querySelectorAll(":scope > li.empty")) el.remove();
}

function showGroup(delivery) {
  const list = feed(delivery.target);
  clearEmpty(list);
  stickToBottom(list, () => list.append(bubble(delivery, { mine: false, who: "投诉助手（群机器人）", avatar: "助" })));
  if (delivery.target !== `group:${store.group}`) bump(delivery.target);
  renderGroupTabs();
}

function showStaff(delivery) {
  const person = delivery.target.slice(5);
  const list = feed(delivery.target);
  clearEmpty(list);
  if (delivery.kind === "card" || delivery.kind === "card_update") {
    upsertCard(person, delivery, list);
  } else if (delivery.inbound) {
    replacePending(list, delivery, bubble(delivery, { mine: true, who: people.get(person).name, avatar: people.get(person).name.slice(0, 1) }));
  } else {
    stickToBottom(list, () => list.append(bubble(delivery, { mine: false, who: "投诉助手", avatar: "助" })));
  }
  if (person !== store.person) bump(delivery.target);
  renderPeople();
}

function bump(target) {
  store.unseen.set(target, (store.unseen.get(target) || 0) + 1);
}

function cardContext(person, version) {
  return {
    platform: people.get(person).platform,
    version,
    rawOpen: store.rawOpen,
    rawTab: store.rawTab,
    hint,
    onAction: (card, action, values, el, button) => click(person, card, action, values, el, button),
    onComment: (card, text, el, clear) => commentOn(person, card, text, el, clear),
  };
}

function upsertCard(person, delivery, list) {
  const ref = delivery.payload.card.ref;
  const known = store.cards.get(ref);
  if (known && known.delivery.seq > delivery.seq) return; // an older version arrived late
  const version = known ? known.version + 1 : 1;
  const el = renderCard(delivery, cardContext(person, version));
  if (known) {
    const old = known.li.firstElementChild;
    carryDrafts(old, el);
    known.li.replaceChildren(el);
    known.li.classList.remove("updated");
    void known.li.offsetWidth; // restart the highlight animation
    known.li.classList.add("updated");
    Object.assign(known, { delivery, version });
  } else {
    const li = h("li", { class: "card-item" }, el);
    stickToBottom(list, () => list.append(li));
    store.cards.set(ref, { li, delivery, version, person });
  }
}

function openCards(person) {
  let count = 0;
  for (const c of store.cards.values()) {
    const card = c.delivery.payload.card;
    if (c.person === person && card.actions.length && card.outcome == null) count += 1;
  }
  return count;
}

// --- people and groups -------------------------------------------------------------------------

function renderPeople() {
  const tabs = boot.people.map((p) =>
    personTab(p, {
      selected: p.id === store.person,
      open: openCards(p.id),
      unseen: store.unseen.get(`user:${p.id}`) || 0,
    }),
  );
  mountTabs($("people"), tabs, choosePerson);
}

function choosePerson(id) {
  store.person = id;
  localStorage.setItem("pg.person", id);
  store.unseen.delete(`user:${id}`);
  const p = people.get(id);
  $("person-head").replaceChildren(
    h("strong", {}, p.name),
    h("span", {}, ` · ${p.department_name}`),
    h("span", { class: `platform-tag platform-${p.platform || "playground"}` }, p.platform_name),
    p.head ? h("span", { class: "role-tag" }, "部门负责人") : null,
    ...p.roles.map((r) => h("span", { class: "role-tag" }, r)),
  );
  const list = feed(`user:${id}`);
  const box = $("staff-feed-box");
  box.replaceChildren(list);
  if (!list.children.length) list.append(emptyInbox(p));
  box.scrollTop = box.scrollHeight;
  renderPeople();
}

function emptyInbox(p) {
  return h(
    "li",
    { class: "empty" },
    h("p", {}, `${p.name}还没有收到消息。一分钟走完一件投诉：`),
    h(
      "ol",
      { class: "guide" },
      h("li", {}, "在左边的微信里点“我要投诉”，按提示回答并“确认提交”；"),
      h("li", {}, "选“张三”（客服部），在他的卡片上点“受理”，再点“提交”；"),
      h("li", {}, "选负责部门的人（产品质量 → 李四）处理，点上方“快进 24 小时”看催办；"),
      h("li", {}, "处理完后客户会收到评价邀请，在微信里回复 1–5 分。"),
    ),
  );
}

function renderGroupTabs() {
  const tabs = boot.groups.map((g) =>
    groupTab(g, { selected: g.id === store.group, unseen: store.unseen.get(`group:${g.id}`) || 0 }),
  );
  mountTabs($("group-tabs"), tabs, chooseGroup);
}

function chooseGroup(id) {
  store.group = id;
  store.unseen.delete(`group:${id}`);
  const list = feed(`group:${id}`);
  const box = $("group-feed-box");
  box.replaceChildren(list);
  if (!list.children.length) list.append(h("li", { class: "empty" }, "群里还没有消息：新投诉预警、超时升级和周报会出现在这里。"));
  renderGroupTabs();
}

// --- sending -----------------------------------------------------------------------------------

function pendingBubble(list, kind, payload, who, avatar) {
  const el = bubble({ kind, payload, at: null, seq: "" }, { mine: true, who, avatar, pending: true });
  clearEmpty(list);
  stickToBottom(list, () => list.append(el));
  return el;
}

function failed(el, list, message) {
  if (el) el.classList.add("failed");
  stickToBottom(list, () => list.append(h("li", { class: "sys error", role: "alert" }, message)));
}

async function sendCustomer(kind, fields, preview) {
  const id = newId();
  const list = $("customer-chat");
  const el = pendingBubble(list, preview.kind, { ...preview.payload, id }, "我", "我");
  try {
    const answer = await post("/playground/api/customer/messages", { session: store.customer, id, kind, ...fields });
    answer.shown.forEach(apply);
  } catch (err) {
    failed(el, list, err.message);
  }
}

async function sendImage(file) {
  const list = $("customer-chat");
  if (file.size > boot.image_limit) {
    failed(null, list, "图片太大了，最大 5 MB");
    return;
  }
  const id = newId();
  const el = pendingBubble(list, "image", { id, url: URL.createObjectURL(file) }, "我", "我");
  const form = new FormData();
  form.append("session", store.customer);
  form.append("id", id);
  form.append("file", file);
  try {
    const answer = await post("/playground/api/customer/images", form);
    answer.shown.forEach(apply);
  } catch (err) {
    failed(el, list, err.message);
  }
}

async function sendStaff(person, text) {
  const id = newId();
  const list = feed(`user:${person}`);
  const el = pendingBubble(list, "text", { id, text }, people.get(person).name, people.get(person).name.slice(0, 1));
  try {
    const answer = await post(`/playground/api/people/${encodeURIComponent(person)}/messages`, { id, text });
    answer.shown.forEach(apply);
  } catch (err) {
    failed(el, list, err.message);
  }
}

async function click(person, card, action, values, el, button) {
  button.disabled = true;
  el.classList.add("busy");
  try {
    await post(`/playground/api/people/${encodeURIComponent(person)}/clicks`, {
      id: newId(),
      card_ref: card.ref,
      action,
      selections: values.selections,
      inputs: values.inputs,
    });
  } catch (err) {
    hint(el, err.message);
  } finally {
    button.disabled = false;
    el.classList.remove("busy");
  }
}

async function commentOn(person, card, text, el, clear) {
  await sendStaff(person, `评论 ${card.complaint_number} ${text}`);
  clear();
}

// --- clock -------------------------------------------------------------------------------------

const clock = new ClockControl({
  now: $("clock-now"),
  offset: $("clock-offset"),
  note: $("clock-note"),
  buttons: [...document.querySelectorAll(".clock-step")],
  toast,
});

// --- live stream -------------------------------------------------------------------------------

let source = null;

function reset() {
  store.seen.clear();
  store.cards.clear();
  store.feeds.clear();
  store.unseen.clear();
  $("customer-chat").replaceChildren(
    h("li", { class: "sys" }, "这是客户在微信公众号里的对话。点下方菜单“我要投诉”，或直接描述遇到的问题。"),
  );
}

function connect() {
  if (source) source.close();
  document.body.dataset.live = "off";
  source = new EventSource(`/playground/api/events?customer=${encodeURIComponent(store.customer)}`);
  source.addEventListener("snapshot", (event) => {
    const data = JSON.parse(event.data);
    reset();
    data.deliveries.forEach(apply);
    store.unseen.clear();
    clock.set(data.clock);
    if (store.person) choosePerson(store.person);
    if (store.group) chooseGroup(store.group);
    $("live-state").textContent = "● 实时连接";
    document.body.dataset.live = "on";
  });
  source.addEventListener("delivery", (event) => apply(JSON.parse(event.data)));
  source.addEventListener("clock", (event) => clock.set(JSON.parse(event.data)));
  source.addEventListener("error", () => {
    $("live-state").textContent = "连接断开，正在重连…";
    document.body.dataset.live = "off";
  });
}

// --- wiring ------------------------------------------------------------------------------------

$("customer-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = $("customer-input");
  const text = input.value.trim();
  if (!text) return;
  input.value = "";
  sendCustomer("text", { text }, { kind: "text", payload: { text } });
});

for (const item of document.querySelectorAll(".menu-item")) {
  item.addEventListener("click", () =>
    sendCustomer("click", { key: item.dataset.key }, { kind: "click", payload: { label: item.textContent.trim() } }),
  );
}

$("attach-toggle").addEventListener("click", (event) => {
  const panel = $("attach-panel");
  panel.hidden = !panel.hidden;
  event.currentTarget.setAttribute("aria-expanded", String(!panel.hidden));
});

$("customer-image").addEventListener("change", (event) => {
  const file = event.currentTarget.files[0];
  event.currentTarget.value = "";
  closeAttach();
  if (file) sendImage(file);
});

$("location-preset").addEventListener("change", (event) => {
  $("location-custom").hidden = event.currentTarget.value !== "custom";
});

$("send-location").addEventListener("click", () => {
  const preset = $("location-preset").value;
  closeAttach();
  if (preset !== "custom") {
    const place = boot.locations.find((p) => p.id === preset);
    sendCustomer("location", { preset }, { kind: "location", payload: place });
    return;
  }
  const lat = Number($("location-lat").value);
  const lng = Number($("location-lng").value);
  const label = $("location-label").value.trim();
  sendCustomer("location", { lat, lng, label }, { kind: "location", payload: { lat, lng, label: label || "自定义位置" } });
});

$("new-customer").addEventListener("click", () => {
  store.customer = customerSession(true);
  connect();
  toast("已换成一位新客户");
});

$("staff-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = $("staff-input");
  const text = input.value.trim();
  if (!text || !store.person) return;
  input.value = "";
  sendStaff(store.person, text);
});

window.addEventListener("beforeunload", () => source && source.close());
renderPeople();
renderGroupTabs();
connect();

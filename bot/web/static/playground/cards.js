// A neutral card as an employee sees it in WeCom or DingTalk, with working controls and the
// real platform payload beside it ("显示平台原始数据").

import { h, shortTime } from "./util.js";

const TONE_TEXT = { info: "进行中", warning: "待处理", danger: "紧急", success: "完成", muted: "" };
const PLATFORM_APP = { wecom: "企业微信 · 投诉助手", dingtalk: "钉钉 · 投诉助手", "": "体验台 · 投诉助手" };

/**
 * Render one card delivery.
 * ctx: {platform, version, rawOpen: Set<ref>, rawTab: Map<ref, tab>, labels: Map<action, label>,
 *       onAction(card, action, {selections, inputs}, el), onComment(card, text, el)}
 */
export function renderCard(delivery, ctx) {
  const card = delivery.payload.card;
  const platform = ctx.platform || "";
  const settled = card.outcome !== null && card.outcome !== undefined;
  const el = h("article", {
    class: `card platform-${platform || "playground"} kind-${card.kind}${settled ? " settled" : ""}`,
    dataset: { ref: card.ref, number: card.complaint_number, kind: card.kind },
    "aria-label": `${card.title}（${card.badge}）`,
  });
  const main = h("div", { class: "card-main" });
  main.append(
    h(
      "header",
      { class: "card-source" },
      h("span", { class: "card-app" }, h("span", { class: "app-icon", "aria-hidden": "true" }), PLATFORM_APP[platform] || PLATFORM_APP[""]),
      h("span", { class: `badge tone-${card.badge_tone}`, title: TONE_TEXT[card.badge_tone] || "" }, card.badge),
    ),
    h("h3", { class: "card-title" }, card.title),
  );
  if (card.subtitle) main.append(h("p", { class: "card-sub" }, card.subtitle));
  if (card.fields.length) {
    main.append(
      h(
        "dl",
        { class: "card-fields" },
        card.fields.map((f) => h("div", { class: "card-field" }, h("dt", {}, f.label), h("dd", {}, f.value))),
      ),
    );
  }
  if (card.timeline.length) {
    main.append(
      h(
        "ol",
        { class: "card-timeline", "aria-label": "最近进展" },
        card.timeline.map((e) => h("li", {}, h("time", {}, e.at), " ", e.text)),
      ),
    );
  }
  if (settled) main.append(h("p", { class: "card-outcome" }, card.outcome));
  if (card.notice) main.append(h("p", { class: "card-notice", role: "alert" }, card.notice));
  if (!settled && card.actions.length) main.append(controls(card, ctx, el));
  // Cards that offer 评论 / 回复客户 as buttons have their own text box; others keep this one.
  if (!card.actions.some((a) => a.id === "comment")) main.append(comment(card, ctx, el));
  main.append(footer(delivery, card, ctx, el));
  el.append(main);
  const raw = rawPanel(delivery, card, ctx);
  el.append(raw);
  if (ctx.rawOpen.has(card.ref)) {
    raw.hidden = false;
    el.classList.add("with-raw");
  }
  return el;
}

function controls(card, ctx, el) {
  const box = h("div", { class: "card-controls" });
  const labels = new Map(card.actions.map((a) => [a.id, a.label]));
  // Group the controls by the buttons that read them: the submit group is open, others fold.
  const groups = new Map();
  const add = (forActions, node) => {
    const key = (forActions || []).join(",");
    if (!groups.has(key)) groups.set(key, { actions: forActions || [], nodes: [] });
    groups.get(key).nodes.push(node);
  };
  for (const s of card.selects) add(s.for_actions, selectControl(card, s));
  for (const i of card.inputs) add(i.for_actions, inputControl(card, i));
  for (const { actions, nodes } of groups.values()) {
    const names = actions.map((a) => labels.get(a) || a).join(" / ");
    if (actions.includes("submit") || actions.length === 0) {
      box.append(h("fieldset", { class: "control-group open" }, h("legend", {}, names ? `${names}时填写` : "填写"), nodes));
    } else {
      box.append(
        h(
          "details",
          { class: "control-group", dataset: { actions: actions.join(",") } },
          h("summary", {}, `${names}…`),
          nodes,
        ),
      );
    }
  }
  const buttons = h(
    "div",
    { class: "card-actions", role: "group", "aria-label": "操作" },
    card.actions.map((a) =>
      h(
        "button",
        {
          type: "button",
          class: `btn action style-${a.style}`,
          dataset: { action: a.id },
          onclick: (event) => act(card, a, ctx, el, event.currentTarget),
        },
        a.label,
      ),
    ),
  );
  box.append(buttons);
  return box;
}

function fieldId(card, key) {
  return `f-${card.ref}-${key}`;
}

function selectControl(card, s) {
  const id = fieldId(card, `select-${s.key}`);
  return h(
    "label",
    { class: "control", for: id },
    h("span", { class: "control-label" }, s.title),
    h(
      "select",
      { id, dataset: { select: s.key, for: s.for_actions.join(",") } },
      h("option", { value: "" }, "请选择"),
      s.options.map((o) => h("option", { value: o.id, selected: o.id === s.selected }, o.text)),
    ),
  );
}

function inputControl(card, i) {
  const id = fieldId(card, `input-${i.key}-${i.for_actions.join("_")}`);
  const long = ["description", "solution", "reason", "comment", "question"].includes(i.key);
  const attrs = { id, placeholder: i.placeholder || "", dataset: { input: i.key, for: i.for_actions.join(",") } };
  return h(
    "label",
    { class: "control", for: id },
    h("span", { class: "control-label" }, i.label, i.required ? h("span", { class: "req", "aria-label": "必填" }, " *") : null),
    long ? h("textarea", { ...attrs, rows: 2 }) : h("input", { ...attrs, autocomplete: "off" }),
  );
}

/** Collect the controls an action reads; open a folded group first if it has any. */
function act(card, action, ctx, el, button) {
  const folded = [...el.querySelectorAll("details.control-group")].find(
    (d) => !d.open && d.dataset.actions.split(",").includes(action.id),
  );
  if (folded) {
    folded.open = true;
    const first = folded.querySelector("input, select, textarea");
    if (first) first.focus();
    ctx.hint(el, `请先填写下面的内容，再点一次“${action.label}”。`);
    return;
  }
  const reads = (node) => {
    const f = node.dataset.for;
    return !f || f.split(",").includes(action.id);
  };
  const selections = {};
  for (const sel of el.querySelectorAll("select[data-select]")) {
    if (reads(sel) && sel.value) selections[sel.dataset.select] = [sel.value];
  }
  const inputs = {};
  for (const field of el.querySelectorAll("[data-input]")) {
    if (reads(field) && field.value.trim()) inputs[field.dataset.input] = field.value;
  }
  ctx.onAction(card, action.id, { selections, inputs }, el, button);
}

function comment(card, ctx, el) {
  const id = fieldId(card, "comment");
  const input = h("input", { id, autocomplete: "off", placeholder: "写一句评论，会记在投诉的时间线上" });
  const form = h(
    "form",
    {
      class: "card-comment-form",
      onsubmit: (event) => {
        event.preventDefault();
        const text = input.value.trim();
        if (!text) return;
        ctx.onComment(card, text, el, () => (input.value = ""));
      },
    },
    h("label", { class: "sr-only", for: id }, "评论"),
    input,
    h("button", { type: "submit", class: "btn small" }, "评论"),
  );
  return h("details", { class: "card-comment" }, h("summary", {}, "评论"), form);
}

function footer(delivery, card, ctx, el) {
  const id = fieldId(card, "raw");
  const toggle = h("input", {
    type: "checkbox",
    id,
    class: "raw-toggle-input",
    checked: ctx.rawOpen.has(card.ref),
    onchange: (event) => {
      const on = event.currentTarget.checked;
      if (on) ctx.rawOpen.add(card.ref);
      else ctx.rawOpen.delete(card.ref);
      el.querySelector(".card-raw").hidden = !on;
      el.classList.toggle("with-raw", on);
    },
  });
  return h(
    "footer",
    { class: "card-foot" },
    h("label", { class: "raw-toggle", for: id }, toggle, "显示平台原始数据"),
    h("span", { class: "card-version" }, `第 ${ctx.version} 版 · ${shortTime(delivery.at)}`),
  );
}

function rawPanel(delivery, card, ctx) {
  const platforms = delivery.platforms || {};
  const tabs = [
    ["wecom", "企业微信 template_card"],
    ["dingtalk", "钉钉卡片数据"],
  ];
  const panel = h("aside", { class: "card-raw", hidden: true, "aria-label": "平台原始数据" });
  const body = h("div", { class: "raw-body" });
  const tabBar = h("div", { class: "raw-tabs", role: "tablist", "aria-label": "平台" });
  const show = (key) => {
    ctx.rawTab.set(card.ref, key);
    for (const b of tabBar.children) b.setAttribute("aria-selected", String(b.dataset.platform === key));
    body.replaceChildren(rawBody(platforms[key]));
  };
  for (const [key, label] of tabs) {
    tabBar.append(
      h("button", { type: "button", role: "tab", class: "raw-tab", dataset: { platform: key }, onclick: () => show(key) }, label),
    );
  }
  panel.append(tabBar, body);
  if (platforms.notes && platforms.notes.length) {
    panel.append(h("ul", { class: "raw-notes" }, platforms.notes.map((n) => h("li", {}, n))));
  }
  show(ctx.rawTab.get(card.ref) || (ctx.platform === "dingtalk" ? "dingtalk" : "wecom"));
  return panel;
}

function rawBody(entry) {
  if (!entry) return h("p", { class: "raw-error" }, "没有数据");
  if (entry.error) return h("p", { class: "raw-error" }, entry.error);
  const json = JSON.stringify(entry.body, null, 2);
  return h(
    "div",
    {},
    h("p", { class: "raw-api" }, h("code", {}, entry.api)),
    h("pre", { class: "raw-json", tabindex: "0" }, h("code", {}, json)),
  );
}

/** Keep what the person typed when a card is replaced by its next version. */
export function carryDrafts(from, to) {
  if (!from) return;
  for (const field of from.querySelectorAll("input[id], textarea[id], select[id]")) {
    if (field.type === "checkbox" || !field.value) continue;
    const twin = to.querySelector(`#${CSS.escape(field.id)}`);
    if (twin && !twin.value) twin.value = field.value;
    if (twin && field.tagName === "SELECT") twin.value = field.value;
  }
  for (const d of from.querySelectorAll("details[open]")) {
    const key = d.dataset.actions;
    const twin = key ? to.querySelector(`details[data-actions="${CSS.escape(key)}"]`) : to.querySelector("details.card-comment");
    if (twin) twin.open = true;
  }
}

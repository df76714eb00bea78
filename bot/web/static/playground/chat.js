// Chat bubbles: the customer's WeChat, an employee's chat with the bot, and group chats.

import { h, markdown, shortTime } from "./util.js";

function imageUrl(delivery) {
  const p = delivery.payload;
  // A file the service wrote (a digest chart) is served from here: its own URL may name
  // another host (PUBLIC_BASE_URL). Customer photos carry a local URL.
  if (p.path && delivery.seq) return `/playground/api/deliveries/${delivery.seq}/image`;
  if (p.url && /^(https?:\/\/|\/)/.test(p.url)) return p.url;
  return "";
}

/** What a message says, as DOM: text, image, location, article link, markdown. */
export function messageBody(delivery) {
  const p = delivery.payload;
  switch (delivery.kind) {
    case "text":
      return h("p", { class: "text" }, p.text);
    case "markdown":
      return h("div", { class: "markdown" }, p.title ? h("p", { class: "md-title" }, p.title) : null, markdown(p.text));
    case "image":
      return h(
        "figure",
        { class: "image" },
        h("img", { src: imageUrl(delivery), alt: p.title || "图片", loading: "lazy" }),
        p.title ? h("figcaption", {}, p.title) : null,
      );
    case "location":
      return h(
        "div",
        { class: "location" },
        h("span", { class: "pin", "aria-hidden": "true" }),
        h("span", {}, h("strong", {}, p.label), h("small", {}, `${Number(p.lat).toFixed(4)}, ${Number(p.lng).toFixed(4)}`)),
      );
    case "news":
      return h(
        "div",
        { class: "news" },
        h("strong", {}, p.title),
        p.description ? h("p", {}, p.description) : null,
        p.url ? h("a", { href: p.url, target: "_blank", rel: "noopener noreferrer" }, "查看详情") : null,
      );
    case "template":
      return h(
        "div",
        { class: "news" },
        h("strong", {}, "模板消息"),
        Object.entries(p.data || {}).map(([k, v]) => h("p", {}, `${k}：${typeof v === "object" ? v.value : v}`)),
      );
    default:
      return h("p", { class: "text" }, JSON.stringify(p));
  }
}

/** One bubble in a chat list; `mine` puts it on the right (what this person sent). */
export function bubble(delivery, { mine, who, avatar, pending = false }) {
  if (delivery.kind === "click") {
    return h(
      "li",
      { class: `sys${pending ? " pending" : ""}`, dataset: { seq: delivery.seq || "", id: delivery.payload.id || "" } },
      `点击了菜单「${delivery.payload.label}」`,
    );
  }
  return h(
    "li",
    {
      class: `msg ${mine ? "mine" : "theirs"} kind-${delivery.kind}${pending ? " pending" : ""}`,
      dataset: { seq: delivery.seq || "", id: delivery.payload.id || "" },
    },
    h("span", { class: "avatar", "aria-hidden": "true" }, avatar),
    h(
      "div",
      { class: "bubble-wrap" },
      h("span", { class: "who" }, who, delivery.at ? ` · ${shortTime(delivery.at)}` : ""),
      h("div", { class: "bubble" }, messageBody(delivery)),
    ),
  );
}

/** Show what just arrived: scroll to the end, unless the reader is typing further up. */
export function stickToBottom(list, add) {
  const box = list.closest(".feed-box") || list;
  const atEnd = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
  const typing = box.contains(document.activeElement) && document.activeElement.matches("input, textarea, select");
  add();
  if (atEnd || !typing) box.scrollTop = box.scrollHeight;
}

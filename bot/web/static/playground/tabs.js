// The person picker and the group picker: ARIA tablists with arrow-key navigation.

import { h } from "./util.js";

/** A person's tab: avatar, name, department, open cards and a dot for unseen messages. */
export function personTab(p, { selected, open, unseen }) {
  return h(
    "button",
    {
      type: "button",
      role: "tab",
      class: `person platform-${p.platform || "playground"}`,
      "aria-selected": String(selected),
      tabindex: selected ? "0" : "-1",
      dataset: { id: p.id },
      title: `${p.name} · ${p.department_name} · ${p.platform_name}`,
    },
    h("span", { class: "person-avatar", "aria-hidden": "true" }, p.name.slice(0, 1)),
    h("span", { class: "person-text" }, h("span", { class: "person-name" }, p.name), h("span", { class: "person-dept" }, p.department_name)),
    open ? h("span", { class: "count", "aria-label": `${open} 张待处理卡片` }, String(open)) : null,
    unseen && !selected ? h("span", { class: "dot", "aria-label": "有新消息" }) : null,
  );
}

/** A group chat's tab, with the number of messages not looked at yet. */
export function groupTab(g, { selected, unseen }) {
  return h(
    "button",
    { type: "button", role: "tab", class: "group-tab", "aria-selected": String(selected), tabindex: selected ? "0" : "-1", dataset: { id: g.id } },
    g.name,
    h("small", {}, ` ${g.platform_name}`),
    unseen && !selected ? h("span", { class: "count", "aria-label": `${unseen} 条新消息` }, String(unseen)) : null,
  );
}

/** Put `tabs` into `box`: click or arrow keys choose; focus stays on the tab that had it. */
export function mountTabs(box, tabs, choose) {
  const active = document.activeElement;
  const focused = active && box.contains(active) ? active.dataset.id : null;
  box.replaceChildren(...tabs);
  for (const tab of tabs) {
    tab.addEventListener("click", () => choose(tab.dataset.id));
    tab.addEventListener("keydown", (event) => move(event, box, tabs, choose));
    if (tab.dataset.id === focused) tab.focus();
  }
}

function move(event, box, tabs, choose) {
  const index = tabs.indexOf(event.currentTarget);
  let next = null;
  if (event.key === "ArrowRight" || event.key === "ArrowDown") next = (index + 1) % tabs.length;
  else if (event.key === "ArrowLeft" || event.key === "ArrowUp") next = (index - 1 + tabs.length) % tabs.length;
  else if (event.key === "Home") next = 0;
  else if (event.key === "End") next = tabs.length - 1;
  if (next === null) return;
  event.preventDefault();
  const id = tabs[next].dataset.id;
  choose(id); // re-renders the tabs: focus the new element with that id
  const tab = box.querySelector(`[data-id="${CSS.escape(id)}"]`);
  if (tab) tab.focus();
}

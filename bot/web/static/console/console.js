// complaint-bot console: the config page's "check an edited YAML" form. No framework, no CDN.
"use strict";

(function () {
  const form = document.getElementById("validate-form");
  if (!form) return;
  const text = document.getElementById("validate-yaml");
  const status = document.getElementById("validate-status");
  const table = document.getElementById("validate-problems");
  const body = table.querySelector("tbody");
  const csrf = document.querySelector('meta[name="csrf-token"]').content;

  function cell(row, value) {
    const td = document.createElement("td");
    td.textContent = value == null ? "" : String(value);
    row.appendChild(td);
    return td;
  }

  function goToLine(line) {
    // Put the cursor at the start of `line` (1-based) and scroll it into view.
    const lines = text.value.split("\n");
    let offset = 0;
    for (let i = 0; i < Math.min(line - 1, lines.length); i++) offset += lines[i].length + 1;
    text.focus();
    text.setSelectionRange(offset, offset + (lines[line - 1] || "").length);
    const height = text.scrollHeight / Math.max(lines.length, 1);
    text.scrollTop = Math.max(0, (line - 4) * height);
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    status.textContent = "检查中…";
    body.textContent = "";
    table.hidden = true;
    let answer;
    try {
      const response = await fetch("/api/v1/config/validate", {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        credentials: "same-origin",
        body: JSON.stringify({ yaml: text.value }),
      });
      answer = await response.json();
      if (!response.ok) {
        status.textContent = "无法检查：" + (answer.error || response.status);
        return;
      }
    } catch (error) {
      status.textContent = "无法检查：" + error;
      return;
    }
    if (answer.ok) {
      status.textContent = "✓ 检查通过（未生效：修改配置文件并重启服务后生效）";
      return;
    }
    status.textContent = "发现 " + answer.problems.length + " 个问题：";
    for (const problem of answer.problems) {
      const row = document.createElement("tr");
      cell(row, problem.line);
      cell(row, problem.path);
      cell(row, problem.message);
      if (problem.line) row.addEventListener("click", () => goToLine(problem.line));
      body.appendChild(row);
    }
    table.hidden = false;
  });
})();

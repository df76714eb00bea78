"""The config view (forms, flows as diagrams, rules in words, channels) and the YAML check.

`POST /api/v1/config/validate` takes {"yaml": "..."} and answers {"ok", "problems": [{"line",
"path", "message"}]}: the text goes through the same loader as the service's own file, with an
empty environment (no secrets needed; unset ${VARS} leave their channels off) and nothing is
applied. It sits behind the console sign-in (plus API tokens, when their owner wires a check).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from typing import Any

import yaml
from aiohttp import web
from markupsafe import Markup

from bot.appkeys import CONFIG, SERVICE
from bot.config.loader import LoadedConfig, load_config, load_config_text
from bot.errors import ConfigError, format_path
from bot.web.auth import CONSOLE_AUTH, CSRF_HEADER, current_user
from bot.web.console import page
from bot.web.console_format import FIELD_TYPES, PLATFORMS, STEP_KINDS, assignee_text
from bot.web.console_rules import rule_text
from bot.web.flow_diagram import render_flow_svg
from bot.workflow.definition import (
    ExclusiveStep,
    FlowDefinition,
    ParallelStep,
    TaskStep,
)

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

MAX_YAML = 512 * 1024
# PyYAML shares aliased nodes, but the loader's line walk visits each use: a few nested
# aliases ("billion laughs") would take it forever. Real config files need none.
MAX_ALIASES = 100
EDITED = "<edited>"


def _problem_list(exc: ConfigError) -> list[dict[str, Any]]:
    return [
        {"line": line, "path": format_path(path), "message": message}
        for line, path, message in exc.problems
    ]


def _summary(config: LoadedConfig) -> dict[str, int]:
    return {
        "people": len(config.directory.people),
        "departments": len(config.directory.departments),
        "forms": len(config.forms),
        "flows": len(config.flows),
        "rules": len(config.rules),
        "channels": len(config.channels),
    }


def _too_many_aliases(text: str) -> bool:
    count = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent):
                count += 1
                if count > MAX_ALIASES:
                    return True
    except yaml.YAMLError:
        return False  # the loader reports the syntax error with its line
    return False


def validate_text(text: str) -> dict[str, Any]:
    """The validate endpoint's answer for `text` (runs in a worker thread)."""
    if _too_many_aliases(text):
        return {
            "ok": False,
            "problems": [
                {
                    "line": None,
                    "path": "",
                    "message": f"more than {MAX_ALIASES} YAML aliases "
                    "(*name); write the values out",
                }
            ],
        }
    try:
        config = load_config_text(text, source=EDITED, environ={})
    except ConfigError as exc:
        return {"ok": False, "problems": _problem_list(exc)}
    except Exception as exc:  # a checker tripping over odd input must not cost a 500
        log.exception("config check failed unexpectedly")
        return {
            "ok": False,
            "problems": [
                {
                    "line": None,
                    "path": "",
                    "message": f"the check stopped: {exc.__class__.__name__}: {exc}",
                }
            ],
        }
    return {"ok": True, "problems": [], "summary": _summary(config)}


def check_current_file(source: str) -> dict[str, Any]:
    """The file the service runs on, as it is on disk now (environment as a restart sees it)."""
    if not os.path.isfile(source):
        return {"ok": None, "problems": [], "source": source}
    try:
        config = load_config(source)
    except ConfigError as exc:
        return {"ok": False, "problems": _problem_list(exc), "source": source}
    return {"ok": True, "problems": [], "source": source, "summary": _summary(config)}


def _json_error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


@routes.post("/api/v1/config/validate")
async def validate(request: web.Request) -> web.Response:
    """Check an edited YAML without applying it."""
    user = current_user(request)
    if user.kind != "api":
        auth = request.app[CONSOLE_AUTH]
        if not auth.csrf_ok(user, request.headers.get(CSRF_HEADER)):
            return _json_error(403, f"missing or wrong {CSRF_HEADER} header (reload the page)")
    if request.content_length is not None and request.content_length > MAX_YAML * 2:
        return _json_error(413, f"the YAML is larger than {MAX_YAML // 1024} KiB")
    try:
        body = json.loads(await request.text())
    except ValueError:
        return _json_error(400, 'expected a JSON body {"yaml": "..."}')
    text = body.get("yaml") if isinstance(body, dict) else None
    if not isinstance(text, str):
        return _json_error(400, 'expected a JSON body {"yaml": "..."} with the file as text')
    if len(text.encode()) > MAX_YAML:
        return _json_error(413, f"the YAML is larger than {MAX_YAML // 1024} KiB")
    return web.json_response(await asyncio.to_thread(validate_text, text))


# --- the config page ----------------------------------------------------------------------------


def _field_rows(config: LoadedConfig) -> list[dict[str, Any]]:
    out = []
    for key, form in config.forms.items():
        fields = []
        for f in form.fields:
            rules = []
            if f.options:
                rules.append("选项：" + "、".join(f.options))
            if f.min_length is not None or f.max_length is not None:
                rules.append(f"长度 {f.min_length or 0}–{f.max_length or '∞'}")
            if f.min is not None or f.max is not None:
                rules.append(
                    f"范围 {f.min if f.min is not None else '−∞'}–"
                    f"{f.max if f.max is not None else '∞'}"
                )
            if f.pattern:
                rules.append(f"格式 {f.pattern}")
            if f.visible_if:
                rules.append(f"显示条件 {f.visible_if}")
            if f.formula:
                rules.append(f"公式 {f.formula}")
            fields.append(
                {
                    "key": f.key,
                    "label": f.label,
                    "type": FIELD_TYPES.get(f.type, f.type),
                    "required": f.required,
                    "asked": f.asked,
                    "rules": rules,
                    "help": f.help or "",
                }
            )
        out.append({"key": key, "title": form.title, "fields": fields})
    return out


def _next_text(step: Any, names: dict[str, str]) -> str:
    def name(step_id: str) -> str:
        return names.get(step_id, step_id)

    if isinstance(step, TaskStep):
        return name(step.next)
    if isinstance(step, ParallelStep):
        return f"通过 → {name(step.next)}；驳回 → {name(step.on_reject)}"
    if isinstance(step, ExclusiveStep):
        return "；".join(
            f"{'否则' if b.is_else else b.if_} → {name(b.next)}" for b in step.branches
        )
    return "—"


def _flow_rows(config: LoadedConfig) -> list[dict[str, Any]]:
    directory = config.directory
    out = []
    for index, (key, flow) in enumerate(config.flows.items()):
        names = {s.id: s.name for s in flow.steps}
        steps = []
        for step in flow.steps:
            who = ""
            if isinstance(step, TaskStep):
                who = assignee_text(step.assignee, directory)
            elif isinstance(step, ParallelStep):
                who = "、".join(assignee_text(a, directory) for a in step.assignees)
            limits = []
            if isinstance(step, TaskStep | ParallelStep):
                if step.time_limit:
                    limits.append(f"限时 {step.time_limit}")
                if step.warn_before:
                    limits.append(f"提前 {step.warn_before} 提醒")
                if step.escalate_after:
                    limits.append(f"{step.escalate_after} 后升级")
            steps.append(
                {
                    "id": step.id,
                    "name": step.name,
                    "kind": STEP_KINDS.get(step.kind, step.kind),
                    "who": who,
                    "limits": "，".join(limits),
                    "next": _next_text(step, names),
                }
            )
        out.append(
            {
                "key": key,
                "title": flow.title,
                "form": flow.form,
                # The SVG escapes every text it carries.
                "svg": Markup(_diagram(flow, config, f"cfg{index}")),  # noqa: S704
                "steps": steps,
            }
        )
    return out


def _diagram(flow: FlowDefinition, config: LoadedConfig, id_prefix: str) -> str:
    return render_flow_svg(flow, directory=config.directory, id_prefix=id_prefix)


def _channel_rows(request: web.Request, config: LoadedConfig) -> list[dict[str, Any]]:
    adapters = request.app[SERVICE].adapters
    rows = []
    for name, channel in config.channels.items():
        platform = getattr(channel, "type", "")
        missing = channel.missing_credentials()
        on = name in adapters
        reason = "已开启" if on else (f"未开启：缺少 {', '.join(missing)}" if missing else "未开启")
        rows.append(
            {
                "name": name,
                "platform": PLATFORMS.get(platform, platform),
                "on": on,
                "reason": reason,
            }
        )
    return rows


@routes.get("/console/config")
async def config_page(request: web.Request) -> web.Response:
    """What the service runs on, and whether its file (as on disk now) still checks out."""
    config = request.app[CONFIG]
    auth = request.app[CONSOLE_AUTH]
    labels = {f.key: f.label for form in config.forms.values() for f in form.fields}
    check = await asyncio.to_thread(check_current_file, config.source)
    directory = config.directory
    return page(
        request,
        "console_config.html",
        title="配置",
        section="config",
        check=check,
        forms=_field_rows(config),
        flows=_flow_rows(config),
        rules=[rule_text(r, directory, labels) for r in config.rules],
        channels=_channel_rows(request, config),
        accounts=[
            {"name": a.name, "person": directory.name_of(a.person) if a.person else ""}
            for a in config.console.accounts
        ],
        token_mode=auth.token_mode,
        session_hours=config.console.session_hours,
        limit_kib=MAX_YAML // 1024,
    )

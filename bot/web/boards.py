"""The 看板's boards: key projects (/projects), findings by department (/findings) and the
Monday meeting's agenda (/agenda), where leaders record the meeting's decisions.

HTTP only: the data and the one write come from handlers/board.py, who may see what from
handlers/access.py. Deciding an item runs board.decide_agenda_item (the rule /findings decide
runs, with the same notices) in one unit of work with its web_audit row.
"""

from __future__ import annotations

from aiohttp import web

from bot.web.pages import not_found, page, viewer
from handlers import access, board, web_boards
from handlers.money import format_yuan
from handlers.rules.periods import Month

FIELD_CHARS = 40
DECISION_CHARS = 1000


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/projects", projects)
    router.add_get("/projects/{project_id}", project)
    router.add_get("/findings", findings)
    router.add_get("/agenda", agenda)
    router.add_post("/agenda/{finding_id}/decide", decide)


def _number(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and len(text) < 12 else None


def _choice(request: web.Request, name: str) -> str:
    return request.query.get(name, "").strip()[:FIELD_CHARS]


# -- key projects -----------------------------------------------------------------------------


async def projects(request: web.Request) -> web.Response:
    """The key projects the viewer may see in chat, as a board of four columns."""
    who = viewer(request)
    lead, branch = _choice(request, "lead"), _choice(request, "branch")
    category = _choice(request, "category")
    lead_id = _number(lead)
    found = await board.projects_board(
        who.services,
        who.person,
        lead_id=lead_id,
        branch_id=branch or None,
        category=category or None,
    )
    filters = await web_boards.project_filters(who.services, who.person)
    if found is None or filters is None:
        return not_found(request)
    chosen = {"lead": str(lead_id) if lead_id is not None else "", "branch": branch,
              "category": category}  # fmt: skip
    return page(
        request,
        "projects.html",
        {"board": found, "filters": filters, "chosen": chosen, "yuan": format_yuan},
    )


async def project(request: web.Request) -> web.Response:
    """One project's card in full; another scope's project answers like a missing one."""
    who = viewer(request)
    project_id = _number(request.match_info["project_id"])
    found = (
        await board.board_project(who.services, who.person, project_id)
        if project_id is not None
        else None
    )
    if found is None:
        return not_found(request)
    return page(request, "project.html", {"project": found, "yuan": format_yuan})


# -- findings ---------------------------------------------------------------------------------


async def findings(request: web.Request) -> web.Response:
    """Findings by supervising department, with the count of each state."""
    who = viewer(request)
    department, state, month_text = (
        _choice(request, "department"),
        _choice(request, "state"),
        _choice(request, "month")[:7],
    )
    month = Month.parse(month_text) if month_text else None
    notice = ""
    if month_text and month is None:
        notice = "月份请写成 2026-11 这样的格式,这次没有按月份筛选。"
        month_text = ""
    if state and state not in board.STATES:
        state = ""
    found = await board.findings_board(
        who.services,
        who.person,
        department_id=department or None,
        state=state or None,
        month=month,
    )
    if found is None:
        return not_found(request)
    filters = await web_boards.finding_filters(who.services)
    chosen = {"department": department, "state": state, "month": month_text}
    return page(
        request,
        "findings.html",
        {
            "board": found,
            "filters": filters,
            "chosen": chosen,
            "notice": notice,
            "labels": board.STATE_LABELS,
        },
    )


# -- the Monday agenda ------------------------------------------------------------------------


async def _agenda_page(
    request: web.Request,
    *,
    result: board.Decided | None = None,
    typed: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    who = viewer(request)
    found = await board.agenda(who.services, who.person)
    if found is None:
        return not_found(request)
    return page(
        request,
        "agenda.html",
        {"agenda": found, "result": result, "typed": typed or {}},
        status=status,
    )


async def agenda(request: web.Request) -> web.Response:
    """Open and escalated findings per department; leaders decide each item here."""
    return await _agenda_page(request)


async def decide(request: web.Request) -> web.Response:
    """Record the meeting's decision on one item, as /findings decide does, with its audit
    row; bad input answers with the rule's own words and changes nothing."""
    who = viewer(request)
    finding_id = _number(request.match_info["finding_id"])
    if finding_id is None:
        return not_found(request)
    form = await request.post()

    def field(name: str, limit: int = FIELD_CHARS) -> str:
        value = form.get(name, "")
        return value.strip()[:limit] if isinstance(value, str) else ""

    decision = field("decision", DECISION_CHARS + 1)
    department = field("department")
    due = field("due")
    services = who.services
    try:
        async with services.repos.db.transaction():
            decided = await board.decide_agenda_item(
                services, who.person, finding_id, decision, department, due
            )
            if decided.ok:
                await services.repos.web.audit(
                    who.session.mine, who.person.id, "agenda.decide", f"finding:{finding_id}",
                    f"{department} {due} {decision}"[:200], services.now(),
                )  # fmt: skip
    except board.NotFound:
        return not_found(request)
    if decided.ok:
        services.outbox_signal.set()  # the branch and the department are told now
        return await _agenda_page(request, result=decided)
    status = 403 if not access.may_decide_finding(who.person) else 400
    typed = {"id": str(finding_id), "decision": decision, "department": department, "due": due}
    return await _agenda_page(request, result=decided, typed=typed, status=status)

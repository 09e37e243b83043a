"""Lists of ideas: /ideas with filters typed in any order, /search, ten to a page with
paging buttons; what a person sees is their scope (`access.idea_scope`)."""

from __future__ import annotations

from collections.abc import Sequence

from handlers import access, parsing
from handlers.ideas import excerpt
from handlers.messages import Button, Member, Reply
from handlers.router import Command, Feature
from handlers.rules import listing
from handlers.rules.ideas import status_label
from handlers.rules.listing import ListRequest
from handlers.services import Services
from storage import Branch, IdeaLine, IdeaScope

PER_PAGE = 10
EXPIRED = "这个按钮已经失效了,请重新发送 /ideas 或 /search。"
HINT = (
    "可以在 /ideas 后面写状态、类别、支部、月份或关键词来筛选(顺序随意),"
    "例如:/ideas 待审核 修旧利废 11月"
)
PRIVATE_ONLY = "金点子列表里有别人的名字和想法,不在群里发。请私聊我发送 /ideas 或 /search。"
SEARCH_USAGE = "请把要找的词写在 /search 后面,例如:/search 锚杆 回收"


async def ideas_command(msg: Member, services: Services) -> list[Reply]:
    """查看金点子:/ideas [状态] [类别] [支部] [月份] [关键词] [页码]"""
    return [await _first(msg, services, search_only=False)]


async def search_command(msg: Member, services: Services) -> list[Reply]:
    """搜索金点子:/search 关键词…"""
    if not msg.args.strip():
        return [Reply(SEARCH_USAGE)]
    return [await _first(msg, services, search_only=True)]


async def _first(msg: Member, services: Services, *, search_only: bool) -> Reply:
    if msg.chat_type != "private":
        return Reply(PRIVATE_ONLY)
    branches = await services.repos.org.branches()
    request = listing.parse(services, msg.args, branches, search_only=search_only)
    if isinstance(request, str):
        return Reply(request)
    if search_only and not request.words:
        return Reply(SEARCH_USAGE)
    scope = access.idea_scope(msg.person, branches)
    unseen = access.unseen_branches(msg.person, scope, request.branches)
    if unseen:
        names = {b.id: b.name for b in branches}
        return Reply(
            f"您只能查看{_title(scope, names)},看不到{names.get(unseen[0], unseen[0])}的。"
        )
    return await _page(msg, services, request, branches, edit=False)


async def on_page(msg: Member, services: Services) -> list[Reply]:
    """A paging button: il:<token>:<page>, the token naming the presser's own request."""
    parts = (msg.callback or "").split(":")
    page = parsing.number(parts[2]) if len(parts) == 3 else None
    saved = await services.repos.ideas.saved_list(parts[1]) if page else None
    if page is None or page > listing.MAX_PAGE or saved is None or saved.person_id != msg.person.id:
        return [Reply(EXPIRED)]
    request = ListRequest.from_json(saved.filter, page)
    if request is None:
        return [Reply(EXPIRED)]
    branches = await services.repos.org.branches()
    return [await _page(msg, services, request, branches, edit=True)]


async def _page(
    msg: Member,
    services: Services,
    request: ListRequest,
    branches: Sequence[Branch],
    *,
    edit: bool,
) -> Reply:
    scope = access.idea_scope(msg.person, branches)
    names = {b.id: b.name for b in branches}
    found = await services.repos.ideas.listing(
        scope,
        listing.storage_filter(services, request),
        limit=PER_PAGE + 1,
        offset=(request.page - 1) * PER_PAGE,
    )
    wanted = listing.describe(services, request, branches)
    title = _title(scope, names) + (f" · {wanted}" if wanted else "")
    token = request.token(msg.person.id)
    if not found:
        if request.page > 1:
            await _keep(msg, services, request, token)
            return Reply(
                f"{title}:第 {request.page} 页没有金点子了。",
                buttons=((Button("第一页", f"il:{token}:1"),),),
                edit=edit,
            )
        return Reply(f"{title}:没有找到符合条件的金点子。" + ("" if wanted else f"\n{HINT}"))
    lines = [f"{title}(第 {request.page} 页):"]
    lines += [_line(services, line) for line in found[:PER_PAGE]]
    if request.page == 1 and not request.narrowed and len(found) > PER_PAGE:
        lines.append(HINT)
    nav = []
    if request.page > 1:
        nav.append(Button("上一页", f"il:{token}:{request.page - 1}"))
    if len(found) > PER_PAGE:
        nav.append(Button("下一页", f"il:{token}:{request.page + 1}"))
    if nav:
        await _keep(msg, services, request, token)
    return Reply("\n".join(lines), buttons=(tuple(nav),) if nav else (), edit=edit)


async def _keep(msg: Member, services: Services, request: ListRequest, token: str) -> None:
    await services.repos.ideas.save_list(token, msg.person.id, request.to_json(), services.now())


def _title(scope: IdeaScope, names: dict[str, str]) -> str:
    if scope.branches is None:
        return "全矿的金点子"
    if not scope.branches:
        return "您的金点子"
    return "、".join(names.get(b, b) for b in scope.branches) + "的金点子"


def _line(services: Services, line: IdeaLine) -> str:
    idea = line.idea
    day = services.local(idea.created_at).strftime("%Y-%m-%d")
    return (
        f"#{idea.id} {day} {line.author_name} · {listing.short_name(line.branch_name)} · "
        f"{services.category_label(idea.category)} · {status_label(idea.status)}\n"
        f"    {excerpt(idea.text, 24)}"
    )


FEATURE = Feature(
    commands=[Command("ideas", ideas_command), Command("search", search_command)],
    callbacks={"il": on_page},
)

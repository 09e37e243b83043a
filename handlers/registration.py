"""Registration: bind a chat identity to a roster person, proved and not merely claimed.

On every channel the sender gives 工号, then 姓名, and hears the same reply whether or not
they match the roster, so the roster cannot be read off by guessing. On the console and
WeCom (trusted, see `rules.identity`) a matching line binds at once. Elsewhere the sender
then proves it: their own phone shared with the messenger's contact button, a one-time
code from their secretary or an admin (`/invite`), or, for workers only, their branch
secretary's approval. Failed proofs are counted per sender; too many in a day lock them out.
"""

from __future__ import annotations

import logging
import re

from handlers import access, parsing
from handlers.messages import Button, Incoming, Member, Reply
from handlers.notify import notify
from handlers.router import Command, Feature, PublicCommand
from handlers.rules import audience, identity
from handlers.services import Services
from storage import Duplicate, Person

log = logging.getLogger(__name__)

STATE_EMPLOYEE_NO = "reg.employee_no"
STATE_NAME = "reg.name"
STATE_PROOF = "reg.proof"
_EMPLOYEE_NO = re.compile(r"^[A-Za-z0-9-]{1,32}$")
ASK_WORDS = frozenset({"申请审核", "申请", "审核"})

PROOF_PROMPT = (
    "收到。如果工号和姓名与花名册一致,请用下面任一种方式证明是您本人:\n"
    "① 点下方“分享我的手机号”按钮(须是花名册里登记的手机号);\n"
    "② 输入支部书记或管理员给您的 8 位邀请码;\n"
    "③ 发送“申请审核”,请本支部书记确认(仅限职工)。\n"
    "只知道工号和姓名不能登记,这是为了防止别人冒用您的身份。发送 /cancel 可取消。"
)
CODE_PROMPT = (
    "您的账号有管理权限,登记时要用邀请码证明是您本人:"
    "请输入管理员给您的 8 位邀请码(发送 /cancel 可取消)。"
)
CONTACT_BUTTON = Button("分享我的手机号", request_contact=True)
FAILED = (
    "验证没有通过,登记没有完成。请核对后重新发送 /start;"
    "如果花名册里的手机号不对,请找支部书记更正,或请书记给您一个邀请码。"
)
LOCKED_OUT = "今天验证失败的次数太多了,为了安全暂停登记。请明天再试或找支部书记。"
ASKED = (
    "好的,已请您所在支部的书记确认。如果工号和姓名与花名册一致,书记同意后我会通知您。\n"
    "支部书记、督导、领导和管理员不能用这种方式,请分享手机号或向管理员要邀请码。"
)
INVITE_USAGE = "用法:/invite 工号(给这个人一个登记用的一次性邀请码,7 天内有效)"


def _clean(text: str) -> str:
    return re.sub(r"\s+", "", text)


async def _where(services: Services, person: Person) -> str:
    branch = await services.repos.org.branch(person.branch_id)
    return branch.name if branch else person.branch_id


async def start(msg: Incoming, services: Services) -> list[Reply]:
    """登记身份(输入工号和姓名,再验证是本人)"""
    if msg.chat_type != "private":
        return [Reply("请私聊我发送 /start 完成登记,群里不方便输入工号。")]
    person = msg.person
    if person is not None:
        return [
            Reply(
                f"您已经登记过了:{person.name}(工号 {person.employee_no},"
                f"{await _where(services, person)})。\n"
                "直接发送文字就能提交金点子,发送 /help 查看全部命令。"
            )
        ]
    if await identity.locked_out(services.repos, msg.channel, msg.sender_id, services.now()):
        return [Reply(LOCKED_OUT)]
    await services.repos.conversations.set(
        msg.channel, msg.sender_id, STATE_EMPLOYEE_NO, {}, services.now()
    )
    return [Reply("欢迎参加“金点子”活动!请输入您的工号(发送 /cancel 可取消):")]


async def cancel(msg: Incoming, services: Services) -> list[Reply]:
    """取消正在进行的操作"""
    conversations = services.repos.conversations
    if await conversations.get(msg.channel, msg.sender_id) is None:
        return [Reply("现在没有进行中的操作。")]
    await conversations.clear(msg.channel, msg.sender_id)
    return [Reply("已取消。")]


async def on_state(msg: Incoming, services: Services) -> list[Reply]:
    conversation = await services.repos.conversations.get(msg.channel, msg.sender_id)
    assert conversation is not None
    if conversation.state == STATE_PROOF:
        person_id = conversation.data.get("person_id")
        return await _proof(msg, services, int(person_id) if person_id else None)
    text = _clean(msg.text)
    if msg.contact is not None:
        return [Reply("请先按提示输入工号和姓名,再分享手机号。")]
    if not text:
        return [Reply("请输入文字内容。")]
    if conversation.state == STATE_EMPLOYEE_NO:
        return await _employee_no(msg, services, text)
    return await _name(msg, services, text, str(conversation.data.get("employee_no", "")))


async def _employee_no(msg: Incoming, services: Services, text: str) -> list[Reply]:
    if not _EMPLOYEE_NO.match(text):
        return [Reply("工号只能是字母、数字或短横线(最多 32 位),请重新输入:")]
    await services.repos.conversations.set(
        msg.channel, msg.sender_id, STATE_NAME, {"employee_no": text}, services.now()
    )
    return [Reply("好的。请输入您的姓名:")]


async def _roster_person(services: Services, employee_no: str) -> Person | None:
    people = services.repos.people
    person = await people.by_employee_no(employee_no)
    if person is None and employee_no.upper() != employee_no:
        person = await people.by_employee_no(employee_no.upper())
    return person


async def _name(msg: Incoming, services: Services, text: str, employee_no: str) -> list[Reply]:
    repos = services.repos
    person = await _roster_person(services, employee_no)
    matched = person if person is not None and _clean(person.name) == text else None
    if not identity.binds_on_knowledge(msg.channel, matched):
        # The same answer whether or not the line matched: only a proof tells.
        await repos.conversations.set(
            msg.channel,
            msg.sender_id,
            STATE_PROOF,
            {"person_id": matched.id if matched else None},
            services.now(),
        )
        if identity.binds_on_knowledge(msg.channel):  # WeCom, a privileged role: a code
            return [Reply(CODE_PROMPT)]
        return [Reply(PROOF_PROMPT, buttons=((CONTACT_BUTTON,),))]
    await repos.conversations.clear(msg.channel, msg.sender_id)
    if matched is None:
        return [
            Reply(
                "工号和姓名与花名册对不上,登记没有完成。请重新发送 /start 再试一次;"
                "如果花名册有误,请找支部书记核对。"
            )
        ]
    return [Reply(await _bind(services, matched, msg.channel, msg.sender_id))]


async def _proof(msg: Incoming, services: Services, person_id: int | None) -> list[Reply]:
    repos, now = services.repos, services.now()
    if await identity.locked_out(repos, msg.channel, msg.sender_id, now):
        await repos.conversations.clear(msg.channel, msg.sender_id)
        return [Reply(LOCKED_OUT)]
    contact = msg.contact
    if contact is not None:
        if contact.user_id != msg.sender_id:
            return [
                Reply(
                    "这是别人的名片,不能用来登记。请点下方按钮分享您自己的手机号。",
                    buttons=((CONTACT_BUTTON,),),
                )
            ]
        if person_id is not None and await identity.phone_matches(repos, person_id, contact.phone):
            return await _bind_proved(msg, services, person_id)
        return await _fail(msg, services)
    text = _clean(msg.text)
    if text in ASK_WORDS:
        return await _ask_secretary(msg, services, person_id)
    code = identity.as_code(text)
    if code is None:
        if identity.binds_on_knowledge(msg.channel):  # WeCom: no contact button there
            return [Reply(CODE_PROMPT)]
        return [Reply(PROOF_PROMPT, buttons=((CONTACT_BUTTON,),))]
    code_id = None
    if person_id is not None:
        code_id = await identity.matching_code(repos, person_id, code, now)
    if code_id is None:
        return await _fail(msg, services)
    replies = await _bind_proved(msg, services, person_id)
    if await repos.people.by_identity(msg.channel, msg.sender_id) is not None:
        await repos.proofs.use_code(code_id, now)  # only once it has bound someone
    return replies


async def _fail(msg: Incoming, services: Services) -> list[Reply]:
    repos = services.repos
    await repos.conversations.clear(msg.channel, msg.sender_id)
    await repos.proofs.record_failure(msg.channel, msg.sender_id, services.now())
    return [Reply(FAILED)]


async def _bind_proved(msg: Incoming, services: Services, person_id: int | None) -> list[Reply]:
    await services.repos.conversations.clear(msg.channel, msg.sender_id)
    person = await services.repos.people.by_id(person_id) if person_id is not None else None
    if person is None:
        return [Reply(FAILED)]
    return [Reply(await _bind(services, person, msg.channel, msg.sender_id))]


async def _bind(services: Services, person: Person, channel: str, external_id: str) -> str:
    """Bind the identity to the person; the text that tells them how it went."""
    people = services.repos.people
    bound = await people.identity_of(person.id, channel)
    if bound is not None and bound != external_id:
        return "这个工号已经绑定了另一个账号。如需换账号,请联系管理员解除原来的绑定。"
    if bound is None:
        try:
            await people.bind_identity(person.id, channel, external_id, services.now())
        except Duplicate:
            return "您的账号已经绑定了其他工号。如需更改,请联系管理员。"
    return (
        f"登记成功!{person.name},欢迎您({await _where(services, person)})。\n"
        "以后直接发送文字就是提交金点子,比如:井下回收复用锚杆,每月能省好几万。\n"
        "发送 /my 查看您提交过的金点子,/help 查看全部命令。"
    )


async def _ask_secretary(msg: Incoming, services: Services, person_id: int | None) -> list[Reply]:
    repos, now = services.repos, services.now()
    await repos.conversations.clear(msg.channel, msg.sender_id)
    person = await repos.people.by_id(person_id) if person_id is not None else None
    if person is None or not access.may_be_vouched_for(person):
        await repos.proofs.record_failure(msg.channel, msg.sender_id, now)
        return [Reply(ASKED)]  # the same words: nothing tells a privileged line apart
    try:
        request_id = await repos.proofs.request(person.id, msg.channel, msg.sender_id, now)
    except Duplicate:
        return [Reply(ASKED)]
    deciders = await audience.secretaries(services, person.branch_id)
    if not deciders:
        deciders = list(await repos.people.admin_identities())
    if not deciders:
        log.warning("bind request %s: nobody can decide it yet", request_id)
    buttons = ((Button("同意", f"ap:{request_id}:ok"), Button("拒绝", f"ap:{request_id}:no")),)
    await notify(
        services,
        deciders,
        f"{person.name}(工号 {person.employee_no},{await _where(services, person)})"
        "申请在机器人上登记。请先当面或打电话确认确实是本人申请,再点同意。",
        key=f"bind-request:{request_id}",
        buttons=buttons,
    )
    return [Reply(ASKED)]


async def on_approval(msg: Member, services: Services) -> list[Reply]:
    repos, now = services.repos, services.now()
    parts = (msg.callback or "").split(":")
    request = None
    request_id = parsing.number(parts[1]) if len(parts) == 3 else None
    if request_id is not None and parts[2] in ("ok", "no"):
        request = await repos.proofs.request_by_id(request_id)
    person = await repos.people.by_id(request.person_id) if request else None
    if request is None or person is None:
        return [Reply("这个按钮已经失效了。")]
    if not access.may_vouch(msg.person, person.branch_id):
        return [Reply(f"只有{await _where(services, person)}的支部书记或管理员可以确认这个申请。")]
    approved = parts[2] == "ok"
    if not await repos.proofs.decide(request.id, approved, msg.person.id, now):
        return [Reply(f"{person.name} 的登记申请已经处理过了。", edit=True)]
    who = f"{person.name}(工号 {person.employee_no})"
    if approved:
        told = await _bind(services, person, request.channel, request.external_id)
        done = f"已同意 {who} 的登记。"
    else:
        await repos.proofs.record_failure(request.channel, request.external_id, now)
        told = "支部书记没有同意您的登记申请。如有疑问,请当面找支部书记。"
        done = f"已拒绝 {who} 的登记申请。"
    return [
        Reply(done, edit=True),
        Reply(told, channel=request.channel, chat_id=request.external_id),
    ]


async def invite(msg: Member, services: Services) -> list[Reply]:
    """给本支部职工一个登记用的邀请码:/invite 工号"""
    if msg.chat_type != "private":
        return [Reply("邀请码请私聊我获取,不要发在群里。")]
    parts = msg.args.split()
    if len(parts) != 1:
        return [Reply(INVITE_USAGE)]
    target = await _roster_person(services, parts[0])
    if target is None:
        shown = parts[0] if len(parts[0]) <= 32 else parts[0][:32] + "…"
        return [Reply(f"花名册里没有工号 {shown}。")]
    if not access.may_invite(msg.person, target):
        return [
            Reply("支部书记只能给本支部的职工发邀请码;书记、督导、领导和管理员的邀请码请找管理员。")
        ]
    code, expires = await identity.issue_code(
        services.repos, target.id, msg.person.id, services.now()
    )
    until = services.local(expires).strftime("%Y-%m-%d %H:%M")
    return [
        Reply(
            f"{target.name}(工号 {target.employee_no})的邀请码:{code}\n"
            f"{until} 前有效,只能用一次;再发一次 /invite 会作废这一个。\n"
            "请当面交给本人:私聊我发送 /start,输入工号和姓名,再输入这个邀请码。"
        )
    ]


FEATURE = Feature(
    commands=[
        PublicCommand("start", start),
        PublicCommand("cancel", cancel),
        Command("invite", invite, access.INVITERS),
    ],
    callbacks={"ap": on_approval},
    states={"reg": on_state},
)

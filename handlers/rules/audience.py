"""Who is told: the chats that reach a branch's secretary, its group, the leaders, an author."""

from __future__ import annotations

from collections.abc import Iterable

from handlers.services import Services
from storage import Recipient


def unique(recipients: Iterable[Recipient]) -> tuple[Recipient, ...]:
    return tuple(dict.fromkeys(recipients))


async def person(services: Services, person_id: int) -> list[Recipient]:
    return list(await services.repos.people.identities_of(person_id))


async def secretaries(services: Services, branch_id: str) -> list[Recipient]:
    return list(await services.repos.people.identities_with_role("secretary", branch_id=branch_id))


async def leaders(services: Services) -> list[Recipient]:
    return list(await services.repos.people.identities_with_role("leader"))


async def finding_leaders(services: Services) -> list[Recipient]:
    """The leaders responsible for supervision (`supervision.finding_leaders`), or every
    leader when none is configured."""
    numbers = services.settings.finding_leaders
    if not numbers:
        return await leaders(services)
    found: list[Recipient] = []
    for number in numbers:
        person = await services.repos.people.by_employee_no(number)
        if person is not None and "leader" in {r.role for r in person.roles}:
            found += await services.repos.people.identities_of(person.id)
    return found


async def supervisors(services: Services, department_id: str | None = None) -> list[Recipient]:
    if department_id is None:
        return list(await services.repos.people.identities_with_role("supervisor"))
    return list(
        await services.repos.people.identities_with_role("supervisor", department_id=department_id)
    )


async def branch_groups(services: Services, branch_id: str) -> list[Recipient]:
    """The branch's bound group chats."""
    groups = await services.repos.groups.for_branch(branch_id)
    return [Recipient(g.channel, g.chat_id) for g in groups]


async def others(
    services: Services, recipients: Iterable[Recipient], person_id: int
) -> list[Recipient]:
    """`recipients` without the chats of `person_id`: nobody is told of their own action."""
    own = set(await person(services, person_id))
    return [r for r in unique(recipients) if r not in own]

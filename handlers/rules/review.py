"""The review steps that take more than a status move, shared by every face of the review
(the chat's /review and its buttons, the web 看板's queue): merging into another idea and
adopting into a key project, each checked against `handlers.access` and told to the authors."""

from __future__ import annotations

from handlers import access
from handlers.rules import ideas
from handlers.rules import projects as project_rules
from handlers.services import Services
from storage import Idea, Person, Project


def merge_target_ok(idea: Idea, target: Idea | None) -> bool:
    """Another idea, still standing, to merge `idea` into."""
    return target is not None and target.id != idea.id and target.status != "withdrawn"


async def merge(services: Services, person: Person, idea: Idea, target: Idea) -> str | None:
    """Merge `idea` into `target` (see `merge_target_ok`); a refusal or None."""
    if not access.may_merge(person, idea, target):
        return "只有党委领导可以把金点子合并到其他支部的金点子。"
    return await ideas.move(
        services, person, idea, "merged", f"与 #{target.id} 合并", merged_into=target.id
    )


async def adopt(services: Services, person: Person, idea: Idea, project: Project) -> str:
    """Adopt `idea` into `project`; what happened (or why not), in words."""
    if not access.may_adopt(person, idea, project.branches):
        return f"{project.number} 没有本支部参与,只有党委领导可以把这条金点子纳入。"
    return await project_rules.link(services, person, project, idea)

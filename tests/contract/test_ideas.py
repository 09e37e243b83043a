"""Contract: ideas (`repos.ideas`), the similarity index (`repos.ideas`, `repos.search`) and
attachments (`repos.attachments`)."""

from __future__ import annotations

from datetime import datetime

import pytest

from storage import (
    Attachment,
    CategoryCorrection,
    Idea,
    IdeaFact,
    IdeaFilter,
    IdeaScope,
    IdeaText,
    Repositories,
    SavedList,
    TermMatch,
    WaitingIdea,
)
from storage.models import BranchIdeaCounts, IdeaGroup
from tests.contract.seed import SHANGHAI, T0, Staff, add_idea, at

EVERYONE = IdeaScope(branches=None)
NO_FILTER = IdeaFilter()
UNCOUNTED = frozenset({"withdrawn"})
ADOPTED = frozenset({"adopted", "implemented", "rewarded"})


async def _ids(
    repos: Repositories, scope: IdeaScope, filters: IdeaFilter, **page: int
) -> list[int]:
    lines = await repos.ideas.listing(
        scope, filters, limit=page.get("limit", 50), offset=page.get("offset", 0)
    )
    return [line.idea.id for line in lines]


async def test_idea_add_round_trips_every_field(repos: Repositories, staff: Staff) -> None:
    moment = datetime(2026, 3, 2, 9, 30, 15, 123456, tzinfo=SHANGHAI)
    text = "综采工作面回收旧锚杆,修复后复用,每月可节约约4万元。"
    idea = await add_idea(
        repos, staff.worker, text, moment, category="repair_reuse", confidence=0.87,
        channel="telegram",
    )  # fmt: skip
    assert idea.author_id == staff.worker.id and idea.branch_id == "jj1"
    assert (idea.text, idea.category, idea.channel) == (text, "repair_reuse", "telegram")
    assert idea.confidence == pytest.approx(0.87) and isinstance(idea.confidence, float)
    assert idea.confirmed is False and idea.status == "submitted"
    assert idea.created_at == moment and idea.updated_at == moment
    assert idea.created_at.utcoffset() is not None  # aware
    assert await repos.ideas.get(idea.id) == idea
    assert await repos.ideas.get(idea.id + 1000) is None


async def test_ideas_get_increasing_ids(repos: Repositories, staff: Staff) -> None:
    first = await add_idea(repos, staff.worker, "第一条", T0)
    second = await add_idea(repos, staff.worker, "第二条", T0)
    assert second.id > first.id


async def test_by_author_is_newest_first_with_limit_offset_and_count(
    repos: Repositories, staff: Staff
) -> None:
    ids = [(await add_idea(repos, staff.worker, f"金点子{n}", at(n))).id for n in range(5)]
    await add_idea(repos, staff.worker2, "别人的", at(9))
    page = await repos.ideas.by_author(staff.worker.id, limit=2, offset=1)
    assert [i.id for i in page] == [ids[3], ids[2]]
    assert await repos.ideas.count_by_author(staff.worker.id) == 5
    assert await repos.ideas.count_by_author(staff.leader.id) == 0


async def test_confirm_and_set_status_update_the_idea(repos: Repositories, staff: Staff) -> None:
    idea = await add_idea(repos, staff.worker, "确认分类", T0)
    await repos.ideas.confirm(idea.id, at(1))
    await repos.ideas.set_status(idea.id, "under_review", at(2))
    got = await repos.ideas.get(idea.id)
    assert got is not None and got.confirmed is True and got.status == "under_review"
    assert got.updated_at == at(2) and got.created_at == T0
    assert await repos.ideas.history(idea.id) == []  # set_status keeps no history


async def test_move_keeps_history_oldest_first_with_actor_names(
    repos: Repositories, staff: Staff
) -> None:
    idea = await add_idea(repos, staff.worker, "改进皮带机托辊", T0)
    await repos.ideas.move(idea, "under_review", staff.secretary.id, "先看看", at(1))
    reviewed = await repos.ideas.get(idea.id)
    assert reviewed is not None
    await repos.ideas.move(reviewed, "adopted", staff.leader.id, "采纳", at(2, hours=3))
    events = await repos.ideas.history(idea.id)
    assert [(e.status, e.reason, e.actor_name) for e in events] == [
        ("under_review", "先看看", "王书记"),
        ("adopted", "采纳", "钱领导"),
    ]
    assert [e.at for e in events] == [at(1), at(2, hours=3)]
    final = await repos.ideas.get(idea.id)
    assert final is not None and final.status == "adopted" and final.updated_at == at(2, hours=3)


async def test_merged_authors_share_the_credit(repos: Repositories, staff: Staff) -> None:
    main = await add_idea(repos, staff.worker, "主金点子", T0)
    a = await add_idea(repos, staff.worker2, "重复一", T0)
    b = await add_idea(repos, staff.secretary, "重复二", T0)
    c = await add_idea(repos, staff.worker2, "重复三", T0)
    for dup in (a, b, c):
        await repos.ideas.move(dup, "merged", staff.leader.id, "合并", at(1), merged_into=main.id)
    assert await repos.ideas.merged_authors(main.id) == sorted(
        {staff.worker2.id, staff.secretary.id}
    )
    assert await repos.ideas.merged_authors(a.id) == []


async def _listing_set(repos: Repositories, staff: Staff) -> list[Idea]:
    return [
        await add_idea(repos, staff.worker, "回收锚杆", at(0), category="repair_reuse"),
        await add_idea(repos, staff.worker2, "皮带防跑偏", at(1), category="safety"),
        await add_idea(repos, staff.worker, "锚杆安全检查", at(2), category="safety"),
        await add_idea(repos, staff.secretary, "班前会提升", at(3), category="management"),
    ]


async def test_listing_scopes_are_newest_first(repos: Repositories, staff: Staff) -> None:
    i1, i2, i3, i4 = await _listing_set(repos, staff)
    assert await _ids(repos, EVERYONE, NO_FILTER) == [i4.id, i3.id, i2.id, i1.id]
    assert await _ids(repos, IdeaScope(("jj1",)), NO_FILTER) == [i4.id, i3.id, i1.id]
    own = IdeaScope((), author_id=staff.worker.id)
    assert await _ids(repos, own, NO_FILTER) == [i3.id, i1.id]
    branch_or_own = IdeaScope(("zc1",), author_id=staff.worker.id)
    assert await _ids(repos, branch_or_own, NO_FILTER) == [i3.id, i2.id, i1.id]
    assert await _ids(repos, IdeaScope(()), NO_FILTER) == []  # nothing in scope
    assert await _ids(repos, EVERYONE, NO_FILTER, limit=2, offset=1) == [i3.id, i2.id]


async def test_listing_filters_and_names(repos: Repositories, staff: Staff) -> None:
    i1, i2, i3, i4 = await _listing_set(repos, staff)
    await repos.ideas.set_status(i4.id, "adopted", at(4))
    safety = IdeaFilter(categories=("safety",))
    assert await _ids(repos, EVERYONE, safety) == [i3.id, i2.id]
    assert await _ids(repos, EVERYONE, IdeaFilter(statuses=("adopted",))) == [i4.id]
    two = IdeaFilter(statuses=("adopted", "submitted"), branches=("zc1", "jj1"))
    assert await _ids(repos, EVERYONE, two) == [i4.id, i3.id, i2.id, i1.id]
    window = IdeaFilter(since=at(1).astimezone(SHANGHAI), until=at(3))  # [since, until)
    assert await _ids(repos, EVERYONE, window) == [i3.id, i2.id]
    assert await _ids(repos, IdeaScope(("jj1",)), window) == [i3.id]
    lines = await repos.ideas.listing(EVERYONE, safety, limit=1, offset=0)
    assert [(line.author_name, line.branch_name) for line in lines] == [("张三", "机掘一队党支部")]
    line = await repos.ideas.line(i2.id)
    assert line is not None and line.idea == i2 and line.author_name == "李四"
    assert line.branch_name == "综采一队党支部"
    assert await repos.ideas.line(i4.id + 100) is None


async def test_listing_by_search_terms_needs_every_term(repos: Repositories, staff: Staff) -> None:
    i1, i2, i3, _ = await _listing_set(repos, staff)
    await repos.ideas.index_terms(i1.id, ["回收", "锚杆"])
    await repos.ideas.index_terms(i2.id, ["皮带", "跑偏"])
    await repos.ideas.index_terms(i3.id, ["锚杆", "安全", "检查"])
    anchor = IdeaFilter(terms=("锚杆",))
    assert await _ids(repos, EVERYONE, anchor) == [i3.id, i1.id]
    assert await _ids(repos, EVERYONE, IdeaFilter(terms=("锚杆", "回收"))) == [i1.id]
    assert await _ids(repos, IdeaScope(("zc1",)), anchor) == []
    own = IdeaScope((), author_id=staff.worker.id)  # one person's: each idea probed
    assert await _ids(repos, own, anchor) == [i3.id, i1.id]
    assert await _ids(repos, IdeaScope((), author_id=staff.worker2.id), anchor) == []


async def test_waiting_lists_submitted_ideas_oldest_first_after_an_id(
    repos: Repositories, staff: Staff
) -> None:
    i1, i2, i3, i4 = await _listing_set(repos, staff)
    await repos.ideas.set_status(i2.id, "adopted", at(5))
    waiting = await repos.ideas.waiting(EVERYONE, after=0, limit=10)
    assert [w.idea.id for w in waiting] == [i1.id, i3.id, i4.id]
    assert [w.idea.id for w in await repos.ideas.waiting(EVERYONE, after=i1.id, limit=1)] == [i3.id]
    jj1 = IdeaScope(("jj1",))
    assert [w.idea.id for w in await repos.ideas.waiting(jj1, after=0, limit=10)] == [
        i1.id,
        i3.id,
        i4.id,
    ]
    assert await repos.ideas.count_waiting(EVERYONE) == 3
    assert await repos.ideas.count_waiting(EVERYONE, after=i3.id) == 1
    assert await repos.ideas.count_waiting(IdeaScope(("zc1",))) == 0


async def test_saved_list_keeps_the_first_filter_of_a_token(
    repos: Repositories, staff: Staff
) -> None:
    await repos.ideas.save_list("t1", staff.worker.id, "类别:安全生产", T0)
    await repos.ideas.save_list("t1", staff.worker2.id, "其他", at(1))
    assert await repos.ideas.saved_list("t1") == SavedList(staff.worker.id, "类别:安全生产")
    assert await repos.ideas.saved_list("t2") is None


async def test_change_category_confirms_and_keeps_the_latest_correction(
    repos: Repositories, staff: Staff
) -> None:
    idea = await add_idea(repos, staff.worker, "风机变频改造", T0, category="other")
    other = await add_idea(repos, staff.worker, "保持原类", T0, category="safety")
    await repos.ideas.change_category(idea, "tech_innovation", staff.leader.id, at(1))
    changed = await repos.ideas.get(idea.id)
    assert changed is not None
    assert (changed.category, changed.confirmed) == ("tech_innovation", True)
    await repos.ideas.change_category(changed, "energy_environment", staff.leader.id, at(2))
    await repos.ideas.change_category(other, "safety", staff.leader.id, at(2))  # unchanged
    assert await repos.ideas.corrections() == [
        CategoryCorrection("风机变频改造", "tech_innovation", "energy_environment")
    ]
    same = await repos.ideas.get(other.id)
    assert same is not None and same.confirmed is True


async def test_index_terms_once_and_document_frequencies(repos: Repositories, staff: Staff) -> None:
    a = await add_idea(repos, staff.worker, "回收锚杆", T0)
    b = await add_idea(repos, staff.worker, "锚杆 PLC 改造", T0)
    c = await add_idea(repos, staff.worker, "未索引", T0)
    await repos.ideas.index_terms(a.id, ["回收", "锚杆"])
    await repos.ideas.index_terms(b.id, ["锚杆", "PLC", "改造"])
    await repos.ideas.index_terms(b.id, ["锚杆", "再来一次"])  # once per idea
    found = await repos.ideas.document_frequencies(["锚杆", "回收", "plc", "再来一次", "没有"])
    assert found.documents == 2
    assert found.by_term == {"锚杆": 2, "回收": 1, "plc": 1}  # terms kept lower-cased
    assert await repos.search.frequencies(["PLC", "锚杆"]) == found._replace(
        by_term={"plc": 1, "锚杆": 2}
    )
    assert await repos.ideas.unindexed() == [IdeaText(c.id, "未索引")]
    assert await repos.ideas.unindexed(limit=0) == []


async def test_term_candidates_leave_out_the_idea_itself_and_withdrawn_ones(
    repos: Repositories, staff: Staff
) -> None:
    a = await add_idea(repos, staff.worker, "回收锚杆", T0)
    b = await add_idea(repos, staff.worker, "锚杆复用", T0)
    c = await add_idea(repos, staff.worker, "锚杆回收再利用", T0)
    await repos.ideas.index_terms(a.id, ["回收", "锚杆"])
    await repos.ideas.index_terms(b.id, ["锚杆", "复用"])
    await repos.ideas.index_terms(c.id, ["锚杆", "回收", "利用"])
    found = await repos.ideas.term_candidates(["回收", "锚杆"], exclude=a.id, limit=10)
    assert {m.idea_id for m in found} == {b.id, c.id}
    assert found[0] == TermMatch(c.id, "锚杆 回收 利用")  # shares more weight
    await repos.ideas.set_status(c.id, "withdrawn", at(1))
    found = await repos.ideas.term_candidates(["回收", "锚杆"], exclude=a.id, limit=10)
    assert [m.idea_id for m in found] == [b.id]
    assert await repos.ideas.term_candidates([], exclude=a.id, limit=10) == []


async def test_search_holding_ranks_by_summed_weight_within_per_term(
    repos: Repositories, staff: Staff
) -> None:
    a = await add_idea(repos, staff.worker, "回收锚杆", T0)
    b = await add_idea(repos, staff.worker, "锚杆检查", T0)
    c = await add_idea(repos, staff.worker, "锚杆回收", T0)
    w = await add_idea(repos, staff.worker, "撤回的", T0)
    await repos.ideas.index_terms(a.id, ["回收", "锚杆"])
    await repos.ideas.index_terms(b.id, ["锚杆", "检查"])
    await repos.ideas.index_terms(c.id, ["锚杆", "回收"])
    await repos.ideas.index_terms(w.id, ["锚杆", "回收"])
    await repos.ideas.set_status(w.id, "withdrawn", at(1))
    weights = {"锚杆": 1.0, "回收": 2.0}
    found = await repos.search.holding(weights, per_term=10, limit=10)
    # a and c score 3 (ties: newest first), b scores 1; withdrawn w is left out.
    assert [m.idea_id for m in found] == [c.id, a.id, b.id]
    assert found[0].terms == "锚杆 回收"
    # Only the latest idea holding each term: 锚杆 → w (withdrawn), 回收 → w.
    assert await repos.search.holding(weights, per_term=1, limit=10) == []
    assert [m.idea_id for m in await repos.search.holding(weights, per_term=2, limit=1)] == [c.id]
    assert await repos.search.holding({}, per_term=10, limit=10) == []


# What `classifier.terms()` makes of texts such as "建议DN50管道用3.5mm钢板", "PLC控制的ABC泵改造",
# "CO2 5G基站", "ΟΔΟΣ café naïve Ⅻ号 m³", "Φ20锚杆 ß ž" (nlp/similarity.py: NFKC-folded,
# lower-cased, alphanumeric words; jieba keeps an ASCII run whole and cuts other scripts into
# single characters; "3.5" becomes "5mm", bare numbers are dropped). The last idea's terms are
# stored as another caller might give them, in capitals.
TERMED = (
    ["dn50", "管道", "5mm", "钢板"],
    ["plc", "控制", "abc", "泵", "改造"],
    ["co2", "5g", "基站", "钢板"],
    ["caf", "é", "na", "ï", "ve"],
    ["ο", "δ", "ς", "xii", "号", "m3"],
    ["φ", "锚杆", "ß", "ž", "dn50"],
    ["PLC", "Abc", "管道"],
)


async def index_termed(repos: Repositories, staff: Staff) -> list[int]:
    """An idea for each of TERMED, indexed with those terms, oldest first; their ids."""
    ids = []
    for terms in TERMED:
        idea = await add_idea(repos, staff.worker, "".join(terms), T0)
        await repos.ideas.index_terms(idea.id, terms)
        ids.append(idea.id)
    return ids


async def test_search_holding_finds_every_kind_of_term_the_classifier_makes(
    repos: Repositories, staff: Staff
) -> None:
    """FTS5's answer on SQLite, the postings' on PostgreSQL: the same ideas for each term,
    asked in any case (FTS5 folds it; the postings are lower-cased), newest first."""
    holders: dict[str, list[int]] = {}
    for idea_id, terms in zip(await index_termed(repos, staff), TERMED, strict=True):
        for term in {t.lower() for t in terms}:
            holders.setdefault(term, []).insert(0, idea_id)
    for term, ids in holders.items():
        asked = {term, term.upper()} if term.upper().lower() == term else {term}
        for spelling in asked:
            found = await repos.search.holding({spelling: 1.0}, per_term=10, limit=10)
            assert [m.idea_id for m in found] == ids, spelling
    plc, capitals = holders["plc"]
    found = await repos.search.holding({"PLC": 1.0, "plc": 1.0, "abc": 1.5}, per_term=10, limit=10)
    assert [m.idea_id for m in found] == [plc, capitals]
    assert found[0].terms == "PLC Abc 管道"  # the terms as stored
    # Each term's own latest one only: 钢板's latest is co2's idea, dn50's the 锚杆 one.
    found = await repos.search.holding({"钢板": 1.0, "dn50": 2.0}, per_term=1, limit=10)
    assert [m.idea_id for m in found] == [holders["dn50"][0], holders["钢板"][0]]


async def test_listing_by_terms_of_every_kind_the_classifier_makes(
    repos: Repositories, staff: Staff
) -> None:
    """The list's word filter over the same terms: FTS5 on SQLite, the postings (the rarest
    term walked, the others looked up) on PostgreSQL; every term needed, newest first."""
    ids = await index_termed(repos, staff)
    for asked in (("dn50",), ("管道", "dn50"), ("plc", "abc"), ("é", "caf"), ("ς", "m3"), ("ß",)):
        held = [
            i for i, ts in zip(ids, TERMED, strict=True) if set(asked) <= {t.lower() for t in ts}
        ]
        assert held, asked
        assert await _ids(repos, EVERYONE, IdeaFilter(terms=asked)) == held[::-1], asked
        assert await _ids(repos, EVERYONE, IdeaFilter(terms=asked), offset=1) == held[::-1][1:]
    assert await _ids(repos, EVERYONE, IdeaFilter(terms=("钢板", "泵"))) == []


async def test_search_holding_folds_diacritics_on_sqlite_only(
    repos: Repositories, staff: Staff, backend: str
) -> None:
    """The one known difference (IdeaSearch.holding): FTS5's unicode61 tokenizer folds
    diacritics, so "é" also finds an idea holding "e"; a posting is the term as stored."""
    plain = await add_idea(repos, staff.worker, "e型", T0)
    await repos.ideas.index_terms(plain.id, ["e", "型"])
    accented = await add_idea(repos, staff.worker, "é型", T0)
    await repos.ideas.index_terms(accented.id, ["é", "型"])
    found = [m.idea_id for m in await repos.search.holding({"é": 1.0}, per_term=10, limit=10)]
    assert found == ([accented.id, plain.id] if backend == "sqlite" else [accented.id])


async def test_search_ideas_keeps_the_given_order(repos: Repositories, staff: Staff) -> None:
    a = await add_idea(repos, staff.worker, "甲", T0)
    b = await add_idea(repos, staff.worker, "乙", T0)
    found = await repos.search.ideas([b.id, b.id + 100, a.id])
    assert found == [b, a]
    assert await repos.search.ideas([]) == []


async def test_for_branch_filters_by_time_and_status_in_id_order(
    repos: Repositories, staff: Staff
) -> None:
    old = await add_idea(repos, staff.worker, "旧的", at(-1))
    new = await add_idea(repos, staff.worker, "新的", at(1))
    adopted = await add_idea(repos, staff.secretary, "采纳的", at(2))
    await add_idea(repos, staff.worker2, "别的支部", at(1))
    await repos.ideas.set_status(adopted.id, "adopted", at(3))
    assert [i.id for i in await repos.ideas.for_branch("jj1")] == [old.id, new.id, adopted.id]
    assert [i.id for i in await repos.ideas.for_branch("jj1", since=T0)] == [new.id, adopted.id]
    found = await repos.ideas.for_branch("jj1", since=T0, status="adopted")
    assert [i.id for i in found] == [adopted.id]


async def test_facts_are_every_idea_since(repos: Repositories, staff: Staff) -> None:
    await add_idea(repos, staff.worker, "之前", at(-1))
    await add_idea(repos, staff.worker, "之后", at(1), category="safety")
    await add_idea(repos, staff.worker2, "也是之后", at(2, hours=5))
    facts = await repos.ideas.facts(T0.astimezone(SHANGHAI))
    assert sorted(facts) == [
        IdeaFact(at(1), "safety", "jj1", "submitted"),
        IdeaFact(at(2, hours=5), "other", "zc1", "submitted"),
    ]


async def _grouped_set(repos: Repositories, staff: Staff) -> None:
    """Five ideas from T0 on and one before: by hand, (repair_reuse, jj1) has 2 ideas,
    1 adopted; (safety, zc1) 2 ideas, 1 adopted (implemented); (safety, jj1) only a
    withdrawn one."""
    rows = [
        (staff.worker, "repair_reuse", "adopted", at(0)),
        (staff.worker, "repair_reuse", "submitted", at(1)),
        (staff.worker2, "safety", "implemented", at(2)),
        (staff.worker, "safety", "withdrawn", at(3)),
        (staff.worker2, "safety", "submitted", at(4)),
        (staff.worker, "repair_reuse", "adopted", at(-5)),  # before `since`
    ]
    for author, category, status, moment in rows:
        idea = await add_idea(repos, author, f"{category}{status}", moment, category=category)
        await repos.ideas.set_status(idea.id, status, moment)


async def test_groups_by_category_and_branch_in_first_idea_order(
    repos: Repositories, staff: Staff
) -> None:
    await _grouped_set(repos, staff)
    found = await repos.ideas.groups(T0, branch_id=None, adopted=ADOPTED, excluded=UNCOUNTED)
    assert found == [IdeaGroup("repair_reuse", "jj1", 2, 1), IdeaGroup("safety", "zc1", 2, 1)]
    assert all(isinstance(g.ideas, int) and isinstance(g.adopted, int) for g in found)
    zc1 = await repos.ideas.groups(T0, branch_id="zc1", adopted=ADOPTED, excluded=UNCOUNTED)
    assert zc1 == [IdeaGroup("safety", "zc1", 2, 1)]
    every = await repos.ideas.groups(T0, branch_id="jj1", adopted=(), excluded=())
    assert sorted(every) == [
        IdeaGroup("repair_reuse", "jj1", 2, 0),
        IdeaGroup("safety", "jj1", 1, 0),
    ]


async def _bucket_set(repos: Repositories, staff: Staff) -> list[datetime]:
    """Boundaries T0, T0+7d, T0+14d; ideas at -1d (out), 0 and 6.99d (bucket 0), 7d
    (bucket 1), 20d (bucket 2, open-ended) and a withdrawn one at 21d."""
    rows = [
        (staff.worker, "safety", at(-1)),
        (staff.worker, "safety", at(0)),
        (staff.worker2, "other", at(6, hours=23, minutes=59)),
        (staff.worker, "safety", at(7)),
        (staff.worker2, "safety", at(20)),
    ]
    for author, category, moment in rows:
        await add_idea(repos, author, "分桶", moment, category=category)
    gone = await add_idea(repos, staff.worker, "撤回", at(21), category="safety")
    await repos.ideas.set_status(gone.id, "withdrawn", at(21))
    return [T0.astimezone(SHANGHAI), at(7), at(14)]


async def test_buckets_count_ideas_per_time_range(repos: Repositories, staff: Staff) -> None:
    boundaries = await _bucket_set(repos, staff)
    assert await repos.ideas.buckets(boundaries, branch_id=None, excluded=UNCOUNTED) == [2, 1, 1]
    assert await repos.ideas.buckets(boundaries, branch_id=None, excluded=()) == [2, 1, 2]
    assert await repos.ideas.buckets(boundaries, branch_id="zc1", excluded=UNCOUNTED) == [1, 0, 1]
    assert await repos.ideas.buckets([at(30)], branch_id=None, excluded=UNCOUNTED) == [0]


async def test_category_buckets_count_per_range_and_category(
    repos: Repositories, staff: Staff
) -> None:
    boundaries = await _bucket_set(repos, staff)
    found = await repos.ideas.category_buckets(boundaries, branch_id=None, excluded=UNCOUNTED)
    assert sorted(found) == [(0, "other", 1), (0, "safety", 1), (1, "safety", 1), (2, "safety", 1)]
    jj1 = await repos.ideas.category_buckets(boundaries, branch_id="jj1", excluded=())
    assert sorted(jj1) == [(0, "safety", 1), (1, "safety", 1), (2, "safety", 1)]


async def test_speed_figures_per_branch_and_together(repos: Repositories, staff: Staff) -> None:
    # By hand (days from submission): review jj1 [1, 2], zc1 [0.5]; adopted jj1 [3],
    # zc1 [0.5]. A withdrawn idea (reviewed after 5 days) and one before `since` are out.
    a = await add_idea(repos, staff.worker, "甲", at(0))
    await repos.ideas.move(a, "under_review", staff.secretary.id, "", at(1))
    a_now = await repos.ideas.get(a.id)
    assert a_now is not None
    await repos.ideas.move(a_now, "adopted", staff.leader.id, "", at(3))
    b = await add_idea(repos, staff.secretary, "乙", at(0))
    await repos.ideas.move(b, "not_adopted", staff.leader.id, "不可行", at(2))
    c = await add_idea(repos, staff.worker2, "丙", at(0))
    await repos.ideas.move(c, "adopted", staff.leader.id, "", at(0, hours=12))
    d = await add_idea(repos, staff.worker, "丁", at(0))
    await repos.ideas.move(d, "under_review", staff.secretary.id, "", at(5))
    await repos.ideas.set_status(d.id, "withdrawn", at(6))
    e = await add_idea(repos, staff.worker, "戊", at(-3))
    await repos.ideas.move(e, "adopted", staff.leader.id, "", at(-2))
    await add_idea(repos, staff.worker, "未审", at(1))  # reached no step

    since = T0.astimezone(SHANGHAI)
    found = await repos.ideas.speed(since, branch_id=None, excluded=UNCOUNTED)
    # Rounded: days are differences of stored instants (floating point).
    got = {(f.branch_id, f.step): (f.ideas, round(f.mean_days, 6), round(f.median_days, 6))
           for f in found}  # fmt: skip
    assert got == {
        (None, "review"): (3, round(3.5 / 3, 6), 1.0),
        (None, "adopted"): (2, 1.75, 1.75),
        ("jj1", "review"): (2, 1.5, 1.5),
        ("jj1", "adopted"): (1, 3.0, 3.0),
        ("zc1", "review"): (1, 0.5, 0.5),
        ("zc1", "adopted"): (1, 0.5, 0.5),
    }
    assert len(found) == 6
    assert all(isinstance(f.mean_days, float) and isinstance(f.ideas, int) for f in found)
    zc1 = await repos.ideas.speed(since, branch_id="zc1", excluded=UNCOUNTED)
    assert {(f.branch_id, f.step, f.ideas) for f in zc1} == {
        (None, "review", 1),
        (None, "adopted", 1),
        ("zc1", "review", 1),
        ("zc1", "adopted", 1),
    }
    assert await repos.ideas.speed(at(30), branch_id=None, excluded=UNCOUNTED) == []


async def test_waiting_since_counts_and_lists_the_oldest(repos: Repositories, staff: Staff) -> None:
    late = await add_idea(repos, staff.worker, "晚", at(2))
    early = await add_idea(repos, staff.worker2, "早", at(1))
    done = await add_idea(repos, staff.worker, "已审", at(0))
    await repos.ideas.set_status(done.id, "adopted", at(3))
    await add_idea(repos, staff.worker, "太新", at(10))
    count, oldest = await repos.ideas.waiting_since(at(5), 1)
    assert count == 2
    assert oldest == [WaitingIdea(early.id, "zc1", at(1))]
    assert (await repos.ideas.waiting_since(at(5), 10))[1][1].id == late.id


async def test_week_counts_new_ideas_and_all_waiting(repos: Repositories, staff: Staff) -> None:
    await add_idea(repos, staff.worker, "上周的", at(-8))
    fresh = await add_idea(repos, staff.worker, "本周的", at(1))
    await add_idea(repos, staff.worker2, "本周也有", at(2))
    await repos.ideas.set_status(fresh.id, "adopted", at(2))
    assert await repos.ideas.week_counts(T0) == {
        "jj1": BranchIdeaCounts(1, 1),  # one new (adopted); the old one still waits
        "zc1": BranchIdeaCounts(1, 1),
    }


async def test_newest_per_branch_oldest_first(repos: Repositories, staff: Staff) -> None:
    jj1 = [await add_idea(repos, staff.worker, f"第{n}条", at(n)) for n in range(3)]
    zc1 = await add_idea(repos, staff.worker2, "只有一条", at(1))
    await add_idea(repos, staff.worker2, "太旧", at(-1))
    found = await repos.ideas.newest(T0, per_branch=2)
    assert {b: [i.id for i in ideas] for b, ideas in found.items()} == {
        "jj1": [jj1[1].id, jj1[2].id],
        "zc1": [zc1.id],
    }


async def test_ledger_reads_every_idea_in_chunks_with_names_and_reasons(
    repos: Repositories, staff: Staff
) -> None:
    a = await add_idea(repos, staff.worker, "台账甲", at(0), category="safety")
    b = await add_idea(repos, staff.worker2, "台账乙", at(0))
    c = await add_idea(repos, staff.worker, "台账丙", at(1))
    await repos.ideas.move(b, "not_adopted", staff.leader.id, "成本太高", at(2))
    project = await repos.projects.create(
        title="锚杆", category="safety", lead_id=staff.leader.id, branches=["jj1"],
        expected_fen=0, person_id=staff.leader.id, now=at(1),
    )  # fmt: skip
    await repos.projects.link(project, a.id)
    rows = [row async for row in repos.ideas.ledger(chunk=2)]
    assert [r["id"] for r in rows] == [a.id, b.id, c.id]
    first, second, _ = rows
    assert (first["employee_no"], first["author"], first["branch"]) == (
        "E001",
        "张三",
        "机掘一队党支部",
    )
    assert first["project_id"] == project and first["text"] == "台账甲"
    assert first["reason"] is None and first["review_days"] is None
    assert second["reason"] == "成本太高" and second["status"] == "not_adopted"
    assert second["review_days"] == pytest.approx(2.0) and second["adopted_days"] is None


# -- attachments --------------------------------------------------------------------------


async def test_attachments_loose_then_attached_to_their_senders_idea(
    repos: Repositories, staff: Staff
) -> None:
    mine = await repos.attachments.add(
        idea_id=None, person_id=staff.worker.id, channel="telegram", kind="photo",
        file_ref="file-1", now=T0,
    )  # fmt: skip
    theirs = await repos.attachments.add(
        idea_id=None, person_id=staff.worker2.id, channel="telegram", kind="photo",
        file_ref="file-2", now=T0,
    )  # fmt: skip
    idea = await add_idea(repos, staff.worker, "附图说明", at(1))
    direct = await repos.attachments.add(
        idea_id=idea.id, person_id=staff.worker.id, channel="wecom", kind="file",
        file_ref="媒体-3", now=at(1),
    )  # fmt: skip
    await repos.attachments.attach([mine, theirs], idea.id, staff.worker.id)
    assert await repos.attachments.for_idea(idea.id) == [
        Attachment(mine, idea.id, "photo", "file-1"),
        Attachment(direct, idea.id, "file", "媒体-3"),
    ]
    other = await add_idea(repos, staff.worker, "另一条", at(2))
    await repos.attachments.attach([mine], other.id, staff.worker.id)  # attached already
    assert await repos.attachments.for_idea(other.id) == []

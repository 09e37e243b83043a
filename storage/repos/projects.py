"""Key projects with their ideas, branches, progress, benefits and rewards."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from storage.models import (
    Benefit,
    BenefitSum,
    KeyPoint,
    Kpi,
    PendingClaim,
    Project,
    RewardReceived,
    RewardShare,
    VerifiedBenefit,
)
from storage.port import Row, SqlDatabase
from storage.repos.dialect import joined, mine_key
from storage.repos.times import bucket_case, from_db_time, to_db_time


class ProjectRepo:
    """Key projects, their ideas, branches, progress, benefits and rewards. Money is integer fen."""

    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    async def create(
        self,
        *,
        title: str,
        category: str,
        lead_id: int,
        branches: Sequence[str],
        expected_fen: int,
        person_id: int,
        now: datetime,
    ) -> int:
        stamp = to_db_time(now)
        project_id = await self._db.insert(
            "INSERT INTO projects (title, category, lead_id, expected_benefit_fen, created_by,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (title, category, lead_id, expected_fen, person_id, stamp, stamp),
        )
        await self._db.executemany(
            "INSERT INTO project_branches (project_id, branch_id) VALUES (?, ?)",
            [(project_id, b) for b in dict.fromkeys(branches)],
        )
        return project_id

    async def link(self, project_id: int, idea_id: int) -> None:
        """Raises Duplicate when the idea already belongs to a project."""
        async with (
            self._db.transaction()
        ):  # a savepoint: a Duplicate leaves the caller's unit usable
            await self._db.execute(
                "INSERT INTO project_ideas (idea_id, project_id) VALUES (?, ?)",
                (idea_id, project_id),
            )

    async def project_of(self, idea_id: int) -> int | None:
        row = await self._db.fetchone(
            "SELECT project_id FROM project_ideas WHERE idea_id = ?", (idea_id,)
        )
        return int(row[0]) if row else None

    async def get(self, project_id: int) -> Project | None:
        found = await self._select("WHERE p.id = ?", (project_id,))
        return found[0] if found else None

    async def all(self) -> list[Project]:
        return await self._select("", ())

    async def _select(self, where: str, params: Sequence[Any]) -> list[Project]:
        dialect = self._db.dialect
        branch_ids = joined(
            dialect, "branch_id", "FROM project_branches WHERE project_id = p.id", "position"
        )
        # any order: sorted below
        idea_ids = joined(dialect, "idea_id", "FROM project_ideas WHERE project_id = p.id")
        rows = await self._db.fetchall(
            "SELECT p.*, l.name AS lead_name,"
            # in the order they joined: the first named is the lead branch the rewards favour
            f" {branch_ids} AS branch_ids, {idea_ids} AS idea_ids,"
            " (SELECT coalesce(sum(amount_fen), 0) FROM benefits WHERE project_id = p.id"
            "   AND status = 'verified') AS verified_fen,"
            " (SELECT coalesce(sum(amount_fen), 0) FROM rewards WHERE project_id = p.id)"
            "   AS rewarded_fen,"
            " (SELECT text FROM project_progress WHERE project_id = p.id ORDER BY id DESC LIMIT 1)"
            "   AS last_text,"
            " CASE WHEN EXISTS (SELECT 1 FROM key_points WHERE project_id = p.id)"
            # with key points: their plain mean, one not reported on yet counting as 0 %
            "  THEN (SELECT CAST(round(avg(coalesce((SELECT g.percent FROM project_progress g"
            "   WHERE g.key_point_id = k.id AND g.percent IS NOT NULL ORDER BY g.id DESC LIMIT 1),"
            "   0))) AS INTEGER) FROM key_points k WHERE k.project_id = p.id)"
            "  ELSE (SELECT percent FROM project_progress WHERE project_id = p.id"
            "   AND percent IS NOT NULL ORDER BY id DESC LIMIT 1) END AS last_percent,"
            " (SELECT created_at FROM project_progress WHERE project_id = p.id"
            "   ORDER BY id DESC LIMIT 1) AS last_at"
            f" FROM projects p JOIN people l ON l.id = p.lead_id {where} ORDER BY p.id",
            params,
        )
        return [
            Project(
                id=r["id"],
                title=r["title"],
                category=r["category"],
                lead_id=r["lead_id"],
                lead_name=r["lead_name"],
                expected_benefit_fen=r["expected_benefit_fen"],
                branches=tuple((r["branch_ids"] or "").split()),
                idea_ids=tuple(sorted(int(i) for i in (r["idea_ids"] or "").split())),
                verified_fen=int(r["verified_fen"]),
                rewarded_fen=int(r["rewarded_fen"]),
                last_progress=r["last_text"],
                last_percent=r["last_percent"],
                last_progress_at=from_db_time(r["last_at"]) if r["last_at"] else None,
                created_at=from_db_time(r["created_at"]),
            )
            for r in rows
        ]

    async def add_progress(
        self,
        project_id: int,
        person_id: int,
        percent: int | None,
        text: str,
        now: datetime,
        key_point_id: int | None = None,
    ) -> int:
        return await self._db.insert(
            "INSERT INTO project_progress (project_id, person_id, percent, text, created_at,"
            " key_point_id) VALUES (?, ?, ?, ?, ?, ?)",
            (project_id, person_id, percent, text, to_db_time(now), key_point_id),
        )

    async def branch_percents(self, project_id: int) -> list[tuple[str, int]]:
        """(branch, latest percentage) reported by the secretaries of each of the project's
        branches on the project as a whole (not on a key point), in the branches' order."""
        rows = await self._db.fetchall(
            "SELECT b.branch_id, (SELECT g.percent FROM project_progress g"
            "  JOIN people r ON r.id = g.person_id WHERE g.project_id = b.project_id"
            "  AND g.key_point_id IS NULL AND g.percent IS NOT NULL AND r.branch_id = b.branch_id"
            "  ORDER BY g.id DESC LIMIT 1) AS percent"
            " FROM project_branches b WHERE b.project_id = ? ORDER BY b.position",
            (project_id,),
        )
        return [(str(r[0]), int(r[1])) for r in rows if r[1] is not None]

    async def add_key_point(
        self,
        project_id: int,
        branch_id: str,
        title: str,
        due_month: str,
        person_id: int,
        now: datetime,
        group_id: int | None = None,
    ) -> int:
        """A key point (owned by one of the branch's party groups when `group_id` is set); its
        branch joins the project if it was not in it."""
        await self._db.execute(
            "INSERT INTO project_branches (project_id, branch_id) VALUES (?, ?)"
            " ON CONFLICT DO NOTHING",
            (project_id, branch_id),
        )
        return await self._db.insert(
            "INSERT INTO key_points (project_id, branch_id, title, due_month, created_by,"
            " created_at, group_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (project_id, branch_id, title, due_month, person_id, to_db_time(now), group_id),
        )

    async def key_points(
        self, project_id: int | None = None, *, branch_id: str | None = None
    ) -> list[KeyPoint]:
        """A project's key points (None: every project's), in the order they were added; with
        `branch_id`, only those that branch (or one of its party groups) owns."""
        rows = await self._db.fetchall(
            "SELECT k.*,"
            " (SELECT percent FROM project_progress WHERE key_point_id = k.id"
            "   AND percent IS NOT NULL ORDER BY id DESC LIMIT 1) AS last_percent,"
            " (SELECT text FROM project_progress WHERE key_point_id = k.id"
            "   ORDER BY id DESC LIMIT 1) AS last_text,"
            " (SELECT created_at FROM project_progress WHERE key_point_id = k.id"
            "   ORDER BY id DESC LIMIT 1) AS last_at"
            # CAST: PostgreSQL must know a parameter's type, which `? IS NULL` alone does not say.
            " FROM key_points k WHERE (CAST(? AS INTEGER) IS NULL OR k.project_id = ?)"
            " AND (CAST(? AS TEXT) IS NULL OR k.branch_id = ?) ORDER BY k.project_id, k.id",
            (project_id, project_id, branch_id, branch_id),
        )
        return [
            KeyPoint(
                id=r["id"],
                project_id=r["project_id"],
                branch_id=r["branch_id"],
                title=r["title"],
                due_month=r["due_month"],
                percent=r["last_percent"],
                last_text=r["last_text"],
                last_at=from_db_time(r["last_at"]) if r["last_at"] else None,
                group_id=r["group_id"],
            )
            for r in rows
        ]

    async def add_kpi(
        self,
        project_id: int,
        name: str,
        unit: str,
        baseline: str,
        target: str,
        person_id: int,
        now: datetime,
    ) -> int:
        """Raises Duplicate when the project has a KPI of this name."""
        async with (
            self._db.transaction()
        ):  # a savepoint: a Duplicate leaves the caller's unit usable
            return await self._db.insert(
                "INSERT INTO kpis (project_id, name, unit, baseline, target, created_by,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (project_id, name, unit, baseline, target, person_id, to_db_time(now)),
            )

    async def add_kpi_value(self, kpi_id: int, value: str, person_id: int, now: datetime) -> int:
        return await self._db.insert(
            "INSERT INTO kpi_values (kpi_id, value, person_id, created_at) VALUES (?, ?, ?, ?)",
            (kpi_id, value, person_id, to_db_time(now)),
        )

    async def kpis(self, project_id: int | None = None) -> list[Kpi]:
        """A project's KPIs (None: every project's) with their values, oldest first."""
        rows = await self._db.fetchall(
            "SELECT * FROM kpis WHERE CAST(? AS INTEGER) IS NULL OR project_id = ?"
            " ORDER BY project_id, id",
            (project_id, project_id),
        )
        values = await self._db.fetchall(
            "SELECT v.kpi_id, v.value, v.created_at FROM kpi_values v JOIN kpis k"
            " ON k.id = v.kpi_id WHERE CAST(? AS INTEGER) IS NULL OR k.project_id = ?"
            " ORDER BY v.id",
            (project_id, project_id),
        )
        history: dict[int, list[tuple[str, datetime]]] = {}
        for v in values:
            history.setdefault(int(v[0]), []).append((str(v[1]), from_db_time(v[2])))
        return [
            Kpi(
                id=r["id"],
                project_id=r["project_id"],
                name=r["name"],
                unit=r["unit"],
                baseline=r["baseline"],
                target=r["target"],
                values=tuple(history.get(r["id"], ())),
            )
            for r in rows
        ]

    async def claim(
        self,
        project_id: int,
        amount_fen: int,
        text: str,
        person_id: int,
        now: datetime,
        *,
        quantity: str | None = None,
        unit: str = "",
        unit_price_fen: int | None = None,
        period: str | None = None,
    ) -> int:
        return await self._db.insert(
            "INSERT INTO benefits (project_id, amount_fen, text, claimed_by, created_at,"
            " quantity, unit, unit_price_fen, period) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                project_id,
                amount_fen,
                text,
                person_id,
                to_db_time(now),
                quantity,
                unit,
                unit_price_fen,
                period,
            ),
        )

    async def benefit(self, benefit_id: int) -> Benefit | None:
        row = await self._db.fetchone("SELECT * FROM benefits WHERE id = ?", (benefit_id,))
        return _benefit(row) if row is not None else None

    async def verified_between(self, start: datetime, end: datetime) -> list[Benefit]:
        """Benefits verified in [start, end), in the order they were verified."""
        rows = await self._db.fetchall(
            "SELECT * FROM benefits WHERE status = 'verified' AND decided_at >= ?"
            " AND decided_at < ? ORDER BY decided_at, id",
            (to_db_time(start), to_db_time(end)),
        )
        return [_benefit(r) for r in rows]

    async def decide(
        self, benefit_id: int, status: str, person_id: int, reason: str, now: datetime
    ) -> bool:
        count = await self._db.execute(
            "UPDATE benefits SET status = ?, decided_by = ?, decided_at = ?, reason = ?"
            " WHERE id = ? AND status = 'claimed'",
            (status, person_id, to_db_time(now), reason, benefit_id),
        )
        return count > 0

    async def verified_since(self, moment: datetime) -> list[Benefit]:
        rows = await self._db.fetchall(
            "SELECT id FROM benefits WHERE status = 'verified' AND decided_at >= ? ORDER BY id",
            (to_db_time(moment),),
        )
        found = [await self.benefit(r[0]) for r in rows]
        return [b for b in found if b is not None]

    async def record_reward(
        self,
        project_id: int,
        takes: Sequence[tuple[int, int]],
        recipients: Sequence[RewardShare],
        note: str,
        person_id: int,
        now: datetime,
    ) -> int:
        """Record a reward whose basis is `takes`: (benefit id, fen of that claim it uses)."""
        total = sum(r.amount_fen for r in recipients)
        reward_id = await self._db.insert(
            "INSERT INTO rewards (project_id, amount_fen, basis_fen, note, confirmed_by,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (
                project_id,
                total,
                sum(fen for _, fen in takes),
                note,
                person_id,
                to_db_time(now),
            ),
        )
        await self._db.executemany(
            "INSERT INTO reward_recipients (reward_id, person_id, branch_id, label, amount_fen,"
            " group_id) VALUES (?, ?, ?, ?, ?, ?)",
            [
                (reward_id, r.person_id, r.branch_id, r.label, r.amount_fen, r.group_id)
                for r in recipients
            ],
        )
        await self._db.executemany(
            "INSERT INTO reward_claims (reward_id, benefit_id, basis_fen) VALUES (?, ?, ?)",
            [(reward_id, benefit_id, fen) for benefit_id, fen in takes if fen > 0],
        )
        return reward_id

    async def pending_claims(self, project_id: int | None = None) -> list[PendingClaim]:
        """Verified claims not fully rewarded nor set aside, oldest first (None: every
        project)."""
        scope = " AND b.project_id = ?" if project_id is not None else ""
        rows = await self._db.fetchall(
            "SELECT b.id, b.project_id, b.amount_fen, b.decided_at,"
            " coalesce((SELECT sum(c.basis_fen) FROM reward_claims c"
            "   WHERE c.benefit_id = b.id), 0) AS rewarded"
            " FROM benefits b WHERE b.status = 'verified'"
            " AND b.id NOT IN (SELECT benefit_id FROM reward_set_asides)"
            f"{scope} ORDER BY b.id",
            (project_id,) if project_id is not None else (),
        )
        return [
            PendingClaim(int(r[0]), int(r[1]), int(r[2]), int(r[4]), from_db_time(r[3]))
            for r in rows
            if int(r[4]) < int(r[2])
        ]

    async def set_aside(
        self, benefit_ids: Sequence[int], reason: str, person_id: int, now: datetime
    ) -> int:
        """Take these claims off the reward list for `reason`; how many were set aside."""
        count = 0
        for benefit_id in benefit_ids:
            count += await self._db.execute(
                "INSERT INTO reward_set_asides (benefit_id, reason, person_id, created_at)"
                " VALUES (?, ?, ?, ?)"
                f" ON CONFLICT ({mine_key(self._db.dialect, 'benefit_id')}) DO NOTHING",
                (benefit_id, reason, person_id, to_db_time(now)),
            )
        return count

    async def verified_facts(self, since: datetime) -> list[VerifiedBenefit]:
        """(verified at, amount fen, project id) of benefits verified since `since`."""
        rows = await self._db.fetchall(
            "SELECT decided_at, amount_fen, project_id FROM benefits WHERE status = 'verified'"
            " AND decided_at >= ?",
            (to_db_time(since),),
        )
        return [VerifiedBenefit(from_db_time(r[0]), int(r[1]), int(r[2])) for r in rows]

    async def verified_sums(
        self, boundaries: Sequence[datetime], *, branch_id: str | None
    ) -> list[BenefitSum]:
        """Benefit verified from boundaries[0] on by time bucket, for the projects of one
        branch (None: all)."""
        case, params = bucket_case("decided_at", boundaries)
        scope = (
            " AND project_id IN (SELECT project_id FROM project_branches WHERE branch_id = ?)"
            if branch_id is not None
            else ""
        )
        rows = await self._db.fetchall(
            f"SELECT {case} AS bucket, sum(amount_fen) FROM benefits"
            f" WHERE status = 'verified' AND decided_at >= ?{scope} GROUP BY bucket",
            (*params, to_db_time(boundaries[0]), *([branch_id] if branch_id is not None else [])),
        )
        return [BenefitSum(int(r[0]), int(r[1])) for r in rows]

    async def rewarded_basis(self, project_id: int) -> int:
        """The verified benefit of the project that rewards have taken as their basis."""
        row = await self._db.fetchone(
            "SELECT coalesce(sum(c.basis_fen), 0) FROM reward_claims c"
            " JOIN benefits b ON b.id = c.benefit_id WHERE b.project_id = ?",
            (project_id,),
        )
        return int(row[0]) if row else 0

    async def rewards_of(self, person_id: int) -> list[RewardReceived]:
        """(project number, title, amount fen, when) of the rewards naming this person."""
        rows = await self._db.fetchall(
            "SELECT p.id, p.title, rr.amount_fen, r.created_at FROM reward_recipients rr"
            " JOIN rewards r ON r.id = rr.reward_id JOIN projects p ON p.id = r.project_id"
            " WHERE rr.person_id = ? ORDER BY r.id",
            (person_id,),
        )
        return [RewardReceived(f"P{r[0]:02d}", r[1], int(r[2]), from_db_time(r[3])) for r in rows]

    async def sheet(self, name: str) -> list[dict[str, Any]]:
        """Rows for the ledger export: progress, benefits or rewards."""
        queries = {
            "progress": f"SELECT {_number('g.project_id')} AS project, p.name AS person,"
            " g.percent, g.text, g.created_at FROM project_progress g"
            " JOIN people p ON p.id = g.person_id ORDER BY g.id",
            "benefits": f"SELECT b.id, {_number('b.project_id')} AS project,"
            " b.amount_fen, b.status, b.text, c.name AS claimed_by, d.name AS decided_by,"
            " b.created_at, b.decided_at, b.quantity, b.unit, b.unit_price_fen, b.period,"
            " b.reason"
            " FROM benefits b JOIN people c ON c.id = b.claimed_by"
            " LEFT JOIN people d ON d.id = b.decided_by ORDER BY b.id",
            "rewards": f"SELECT r.id, {_number('r.project_id')} AS project, rr.label,"
            " rr.amount_fen, r.basis_fen, r.note, c.name AS confirmed_by, r.created_at,"
            " CASE WHEN rr.group_id IS NOT NULL THEN '党小组'"
            "  WHEN rr.person_id IS NOT NULL THEN '个人' ELSE '支部' END AS kind"
            " FROM rewards r JOIN reward_recipients rr ON rr.reward_id = r.id"
            " JOIN people c ON c.id = r.confirmed_by ORDER BY r.id, rr.position",
        }
        return [dict(r) for r in await self._db.fetchall(queries[name])]


def _number(column: str) -> str:
    """A project's number as shown, P01, P72, P100 (printf('%02d') is SQLite's alone)."""
    return f"'P' || CASE WHEN {column} < 10 THEN '0' ELSE '' END || CAST({column} AS TEXT)"


def _benefit(row: Row) -> Benefit:
    return Benefit(
        row["id"],
        row["project_id"],
        row["amount_fen"],
        row["text"],
        row["claimed_by"],
        row["status"],
        from_db_time(row["decided_at"]) if row["decided_at"] else None,
        from_db_time(row["created_at"]),
        row["quantity"],
        row["unit"],
        row["unit_price_fen"],
        row["period"],
    )

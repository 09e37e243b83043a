-- A reward loop that closes: what each reward took from each verified claim, and claims set aside.
-- PostgreSQL translation of the SQLite migration with the same number and name.
CREATE TABLE reward_claims (
    reward_id       BIGINT NOT NULL REFERENCES rewards(id),
    benefit_id      BIGINT NOT NULL REFERENCES benefits(id),
    basis_fen       BIGINT NOT NULL CHECK (basis_fen > 0),
    PRIMARY KEY (reward_id, benefit_id)
);
CREATE INDEX reward_claims_benefit ON reward_claims(benefit_id);

-- A verified claim the leaders decided not to reward, with why; it leaves the reward list.
CREATE TABLE reward_set_asides (
    benefit_id      BIGINT PRIMARY KEY REFERENCES benefits(id),
    reason          TEXT NOT NULL,
    person_id       BIGINT NOT NULL REFERENCES people(id),
    created_at      TEXT NOT NULL
);

-- Rewards recorded before this change took their whole basis from the project's verified
-- claims, oldest first: spread each project's rewarded basis over its claims in that order.
INSERT INTO reward_claims (reward_id, benefit_id, basis_fen)
SELECT r.last_reward, b.id,
       least(b.amount_fen, r.total - coalesce(
           (SELECT sum(e.amount_fen) FROM benefits e
            WHERE e.project_id = b.project_id AND e.status = 'verified' AND e.id < b.id), 0))
FROM benefits b
JOIN (SELECT project_id, sum(basis_fen) AS total, max(id) AS last_reward
      FROM rewards GROUP BY project_id) r ON r.project_id = b.project_id
WHERE b.status = 'verified'
  AND r.total > coalesce(
      (SELECT sum(e.amount_fen) FROM benefits e
       WHERE e.project_id = b.project_id AND e.status = 'verified' AND e.id < b.id), 0);

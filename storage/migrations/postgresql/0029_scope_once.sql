-- A mine's scope is computed once per statement, not once per row.
-- 0028's policy, `mine = ANY (jindianzi_scope())`, calls a SQL function that PostgreSQL cannot
-- inline (its body has a subquery): where the policy is an index condition it runs once, but
-- where it is a filter (a join's inner side, a correlated subquery, a sequential scan) it runs
-- for every row it looks at. A registered person's look-up by their chat (people, identities
-- and the roles subquery) took 40 ms on the server in a 400-idea burst, the search's document
-- counts 6.6 ms (benchmarks/telegram_burst.py, BENCH_PG_STATEMENTS). As an uncorrelated scalar
-- subquery, `(SELECT jindianzi_scope())::text[]` (the cast keeps `= ANY` on an array, not on the
-- subquery's rows), the scope is an InitPlan: computed once, then a
-- parameter, in a filter as in an index condition. Same rows, same write check.
DO $scope_once$
DECLARE
    t text;
BEGIN
    FOR t IN
        SELECT c.relname FROM pg_class c JOIN pg_policy p ON p.polrelid = c.oid
        WHERE p.polname = 'mine_rows' AND c.relnamespace = 'public'::regnamespace
    LOOP
        EXECUTE format('ALTER POLICY mine_rows ON %I USING (mine = ANY ((SELECT jindianzi_scope())::text[]))', t);
    END LOOP;
END
$scope_once$;

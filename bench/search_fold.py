"""The accent-blind search's SQL against the case-only search it replaced, interleaved.

`python bench/search_fold.py [repeats] [database_url]` on a bench data set (`bench_data`) that
has both indexes: the old `lead_org_search_trgm` (UPPER(col) LIKE, from leads 0006, e.g. a data
set generated and migrated before leads 0012) and `lead_org_search_fold` (leads 0012; create it
by hand from `pg_get_indexdef` on a migrated database if the data set predates it). For each
organization (bench-1: 100,000 leads, bench-2: 10,000), term (common `silva`, rare
`quixabeira`) and query (the list's exact COUNT, and its first page), it runs old and new in
turn `repeats` times after two warm-ups and prints the median and minimum EXPLAIN ANALYZE
execution time (ms), the row count and the indexes used. Interleaving keeps a busy machine's
noise out of the comparison.
"""

import statistics
import sys

import psycopg

URL = sys.argv[2] if len(sys.argv) > 2 else "postgresql://postgres@127.0.0.1:5432/bench"
OLD = " OR ".join(
    f"UPPER({column}::text) LIKE UPPER(%(p)s)" for column in ("nome_completo", "email", "empresa")
)
# What config.search compiles to (leads.selectors.lead_search).
NEW = (
    "f_unaccent(LOWER((COALESCE((nome_completo), '') || chr(31) || COALESCE((email), '') "
    "|| chr(31) || COALESCE((empresa), ''))))::text LIKE %(p)s"
)
QUERIES = {
    "count": "SELECT COUNT(*) FROM leads WHERE organization_id = %(org)s AND ({cond})",
    "page": (
        "SELECT * FROM leads WHERE organization_id = %(org)s AND ({cond}) "
        "ORDER BY created_at DESC, id DESC LIMIT 20"
    ),
}


def indexes(plan: dict) -> list[str]:
    found: set[str] = set()

    def walk(node: dict) -> None:
        if "Index Name" in node:
            found.add(node["Index Name"])
        for child in node.get("Plans", []):
            walk(child)

    walk(plan)
    return sorted(found)


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    conn = psycopg.connect(URL, autocommit=True)
    orgs = dict(conn.execute("SELECT slug, id FROM organizations").fetchall())
    for slug in ("bench-1", "bench-2"):
        for term in ("silva", "quixabeira"):
            for kind, template in QUERIES.items():
                times: dict[str, list[float]] = {"old": [], "new": []}
                seen: dict[str, tuple[int, list[str]]] = {}
                for attempt in range(repeats + 2):
                    for label, cond in (("old", OLD), ("new", NEW)):
                        sql = template.format(cond=cond)
                        params = {"org": orgs[slug], "p": f"%{term}%"}
                        explained = conn.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params)
                        plan = explained.fetchone()[0][0]
                        if attempt >= 2:
                            times[label].append(plan["Execution Time"])
                        rows = conn.execute(sql, params).fetchall()
                        count = rows[0][0] if kind == "count" else len(rows)
                        seen[label] = (count, indexes(plan["Plan"]))
                for label, values in times.items():
                    median, fastest = statistics.median(values), min(values)
                    count, used = seen[label]
                    print(
                        f"{slug} {term:<10} {kind:<5} {label}: median {median:7.2f} ms, "
                        f"min {fastest:7.2f} ms, rows {count}, indexes {', '.join(used)}",
                        flush=True,
                    )


if __name__ == "__main__":
    main()

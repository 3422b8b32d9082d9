"""The search's SQL in its three forms, interleaved: the case-only search (leads 0006), the
accent-blind search over an expression (leads 0012) and over the stored column (leads 0019).

`python bench/search_fold.py [repeats] [database_url] [--create-indexes]` on a bench data set
(`bench_data`). Each form needs its index: `lead_org_search_trgm` (UPPER per column, 0006),
`lead_org_search_fold` (f_unaccent over the joined columns, 0012; 0019 drops it) and
`lead_org_search_col` (the stored `search_fold`, 0019). `--create-indexes` builds the two old
ones by hand on a migrated database (and ANALYZEs), as a bench database is migrated to the
latest state. For each organization (bench-1: 100,000 leads, bench-2: 10,000), term (common
`silva`, rare `quixabeira`) and query (the list's exact COUNT, and its first page), it runs the
forms in turn `repeats` times after two warm-ups and prints the median and minimum EXPLAIN
ANALYZE execution time (ms), the row count and the indexes used. Interleaving keeps a busy
machine's noise out of the comparison.
"""

import statistics
import sys

import psycopg

ARGS = [arg for arg in sys.argv[1:] if not arg.startswith("--")]
URL = ARGS[1] if len(ARGS) > 1 else "postgresql://postgres@127.0.0.1:5432/bench"
UPPER = " OR ".join(
    f"UPPER({column}::text) LIKE UPPER(%(p)s)" for column in ("nome_completo", "email", "empresa")
)
# What config.search compiled to before the stored column (leads 0012).
EXPRESSION = (
    "f_unaccent(LOWER((COALESCE((nome_completo), '') || chr(31) || COALESCE((email), '') "
    "|| chr(31) || COALESCE((empresa), ''))))::text LIKE %(p)s"
)
# What it compiles to now (leads.selectors.lead_search, leads 0019).
COLUMN = "search_fold::text LIKE %(p)s"
FORMS = (("upper", UPPER), ("expression", EXPRESSION), ("column", COLUMN))
OLD_INDEXES = (
    "CREATE INDEX IF NOT EXISTS lead_org_search_trgm ON leads USING gin (organization_id, "
    "UPPER(nome_completo) gin_trgm_ops, UPPER(email) gin_trgm_ops, UPPER(empresa) gin_trgm_ops, "
    "telefone gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS lead_org_search_fold ON leads USING gin (organization_id, "
    "f_unaccent(lower(COALESCE(nome_completo, '') || chr(31) || COALESCE(email, '') "
    "|| chr(31) || COALESCE(empresa, ''))) gin_trgm_ops, telefone gin_trgm_ops)",
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
    repeats = int(ARGS[0]) if ARGS else 15
    conn = psycopg.connect(URL, autocommit=True)
    if "--create-indexes" in sys.argv:
        for statement in OLD_INDEXES:
            conn.execute(statement)
        conn.execute("VACUUM (ANALYZE) leads")
    orgs = dict(conn.execute("SELECT slug, id FROM organizations").fetchall())
    for slug in ("bench-1", "bench-2"):
        for term in ("silva", "quixabeira"):
            for kind, template in QUERIES.items():
                times: dict[str, list[float]] = {label: [] for label, _cond in FORMS}
                seen: dict[str, tuple[int, list[str]]] = {}
                for attempt in range(repeats + 2):
                    for label, cond in FORMS:
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
                        f"{slug} {term:<10} {kind:<5} {label:<10}: median {median:7.2f} ms, "
                        f"min {fastest:7.2f} ms, rows {count}, indexes {', '.join(used)}",
                        flush=True,
                    )


if __name__ == "__main__":
    main()

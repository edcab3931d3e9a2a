"""The protocol fuzz test at length: many more mutated requests than CI sends, on fresh seeds.

Runs ``tests/protocol/test_protocol_fuzz.py`` (the same code CI runs, one real ``serve``
process per seed) with ``ATELIER_FUZZ_CASES`` and ``ATELIER_FUZZ_SEED`` set, and reports for
each seed whether every invariant held, how long it took and what the cases were answered. A
failure prints the test's own report: the seed, the case and its line, and how to replay it.
Run from the repository root:

    HF_HUB_OFFLINE=1 .venv/bin/python bench/protocol_fuzz.py [--cases 20000] [--seeds 3 | --seed N]
        [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEST = "tests/protocol/test_protocol_fuzz.py"


def run_seed(seed: int, cases: int) -> dict:
    """One pytest run of the fuzz test; its outcome, time and the test's summary lines."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "ATELIER_FUZZ_SEED": str(seed),
           "ATELIER_FUZZ_CASES": str(cases)}
    start = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", TEST],
                         cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    summary = [line for line in run.stdout.splitlines() if line.startswith("protocol fuzz:")]
    if run.returncode != 0:
        print(run.stdout[-6000:], file=sys.stderr)
    return {"seed": seed, "cases": cases, "passed": run.returncode == 0, "seconds": round(seconds, 1),
            "cases_per_second": round(cases / seconds, 1), "summary": summary}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=20_000, help="mutated requests per seed")
    parser.add_argument("--seeds", type=int, default=1, help="how many fresh random seeds to run")
    parser.add_argument("--seed", type=int, action="append", help="run this seed (repeatable)")
    parser.add_argument("--json", help="also write the numbers to this file")
    args = parser.parse_args()
    seeds = args.seed or [secrets.randbelow(2**31) for _ in range(args.seeds)]
    results = []
    for seed in seeds:
        print(f"seed {seed}: {args.cases} cases ...", flush=True)
        result = run_seed(seed, args.cases)
        results.append(result)
        print(f"seed {seed}: {'passed' if result['passed'] else 'FAILED'} in {result['seconds']} s "
              f"({result['cases_per_second']} cases/s)", *result["summary"], sep="\n  ", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    sys.exit(0 if all(r["passed"] for r in results) else 1)


if __name__ == "__main__":
    main()

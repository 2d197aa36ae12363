"""Time the dashboard in a real browser: sample run to Overview, a cached re-run, and page switches.

Starts ``streamlit run dashboard/app.py`` on a free port and drives it with
Playwright in the system Chromium (the same harness as tests/test_browser.py).
A page counts as rendered when its title is shown, the script run has finished
and every chart has been drawn (no placeholder left).

Usage: python bench/bench_dashboard.py [--preset quick|full] [--rounds 3] [--json bench/out/dashboard.json]
Target: a page switch on a finished audit under 1 s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.test_browser import PAGES, launch_chromium, streamlit_server, wait_idle, wait_title  # noqa: E402

RUN_TIMEOUT_MS = 30 * 60 * 1000


def open_start(page) -> None:
    page.locator("[data-testid='stSidebarNav'] a", has_text="New audit").first.click()
    wait_title(page, "New audit")
    wait_idle(page)


def run_sample(page, preset: str) -> float:
    """Seconds from the click on "Run the sample audit" to the Overview fully drawn."""
    page.get_by_text(preset.capitalize(), exact=True).click()
    wait_idle(page)
    t = time.perf_counter()
    page.get_by_role("button", name="Run the sample audit").click()
    wait_title(page, "Overview", RUN_TIMEOUT_MS)
    wait_idle(page, RUN_TIMEOUT_MS)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", choices=("quick", "full"), default="quick")
    ap.add_argument("--rounds", type=int, default=3, help="page-switch rounds over every page")
    ap.add_argument("--json", help="also write the figures to this JSON file")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    out: dict = {"preset": args.preset}
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        t0 = time.perf_counter()
        with streamlit_server(db=Path(tmp) / "audit.db", log=Path(tmp) / "streamlit.log") as url:
            browser = launch_chromium(p)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(120_000)
            page.goto(url)
            wait_title(page, "New audit", 120_000)
            wait_idle(page, 120_000)
            out["server_start_to_first_page_s"] = time.perf_counter() - t0

            out["run_to_overview_s"] = run_sample(page, args.preset)
            open_start(page)
            out["cached_rerun_to_overview_s"] = run_sample(page, args.preset)

            # The re-run left us on the Overview: start the rounds elsewhere so every click is a real switch.
            order = [*list(PAGES)[1:], list(PAGES)[0]]
            shown: dict[str, list[float]] = {label: [] for label in order}
            drawn: dict[str, list[float]] = {label: [] for label in order}
            for _ in range(args.rounds):
                for label in order:
                    t = time.perf_counter()
                    page.locator("[data-testid='stSidebarNav'] a", has_text=label).first.click()
                    wait_title(page, PAGES[label])
                    shown[label].append(time.perf_counter() - t)
                    wait_idle(page)
                    drawn[label].append(time.perf_counter() - t)
            out["page_switch_s"] = {k: {"shown_median": statistics.median(shown[k]), "drawn_median": statistics.median(v),
                                        "drawn_max": max(v)} for k, v in drawn.items()}
            for name, table in (("shown", shown), ("drawn", drawn)):
                every = sorted(x for v in table.values() for x in v)
                out[f"page_switch_{name}_s"] = {"median": statistics.median(every), "p90": every[int(0.9 * (len(every) - 1))],
                                                "max": every[-1], "n": len(every)}
            browser.close()

    print(f"preset {args.preset}")
    print(f"server start -> first page      {out['server_start_to_first_page_s']:7.2f} s")
    print(f"click Run -> Overview drawn     {out['run_to_overview_s']:7.2f} s")
    print(f"same audit again (cache hit)    {out['cached_rerun_to_overview_s']:7.2f} s")
    for name, what in (("shown", "title shown"), ("drawn", "fully drawn")):
        v = out[f"page_switch_{name}_s"]
        print(f"page switch, {what:<18} median {v['median']:.2f} s, p90 {v['p90']:.2f} s, max {v['max']:.2f} s ({v['n']} switches)")
    for label, v in out["page_switch_s"].items():
        print(f"  {label:<14} shown {v['shown_median']:.2f} s  drawn median {v['drawn_median']:.2f} s  max {v['drawn_max']:.2f} s")
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()

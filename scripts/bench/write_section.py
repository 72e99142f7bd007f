"""Writes a benchmark table into BENCHMARKS.md between its markers.

    python3 scripts/bench/write_section.py MARKER REPORT [--top]

REPORT holds the section, from `<!-- MARKER: begin -->` to
`<!-- MARKER: end -->`. The section replaces the one between the same
markers; without them it is added at the end, or with --top after the
file's title.
"""
import re
import sys

marker, report_path = sys.argv[1], sys.argv[2]
top = "--top" in sys.argv[3:]
path = "BENCHMARKS.md"
text = open(path).read()
report = open(report_path).read().rstrip("\n")
marked = re.compile(
    rf"<!-- {re.escape(marker)}: begin -->.*?<!-- {re.escape(marker)}: end -->", re.S
)
if marked.search(text):
    text = marked.sub(lambda _: report, text)
elif top:
    title, rest = text.split("\n", 1)
    text = title + "\n\n" + report + "\n" + rest
else:
    text = text.rstrip("\n") + "\n\n" + report + "\n"
open(path, "w").write(text)

#!/usr/bin/env python3
"""`make bench-report`: plots of what `make bench` printed.

Usage: bench_report.py RESULTS OUTDIR

RESULTS is the saved output of `make bench` (build/bench/bench-results.txt). Two kinds of line
are read, everything else is skipped, so added columns and new lines do not break the report:

- Google Benchmark rows: `NAME  TIME UNIT  CPU UNIT  ITERATIONS [counters...]`;
- target lines of our benchmarks: `WHAT  VALUE UNIT  target <= N[UNIT]  ok|MISSED`
  (also `target < N`; a line without a target is skipped). An indented target line (the
  `  CPU (process) / the floor's` line under a wall ratio) is named after the line above it.

Writes into OUTDIR: ratios.svg (every ratio against its target), latencies.svg (every ms figure
against its target), times.svg (time and CPU time per operation of every benchmark, log scale),
the data files the plots are drawn from, and summary.txt. Needs gnuplot (gnuplot-nox).
"""
import os
import re
import subprocess
import sys

ANSI = re.compile(r"\x1b\[[0-9;]*m")  # Google Benchmark colours its rows, also into a pipe
UNITS_US = {"ns": 1e-3, "us": 1.0, "µs": 1.0, "ms": 1e3, "s": 1e6}

BENCH_ROW = re.compile(
    r"^(?P<name>[A-Za-z_][\w/:.<>,\- ]*?)\s+"
    r"(?P<time>[\d.]+(?:e[-+]?\d+)?)\s+(?P<tunit>ns|us|µs|ms|s)\s+"
    r"(?P<cpu>[\d.]+(?:e[-+]?\d+)?)\s+(?P<cunit>ns|us|µs|ms|s)\s+"
    r"(?P<iters>\d+)\b")
TARGET_LINE = re.compile(
    r"^(?P<what>\S.*?)\s+(?P<value>-?[\d.]+)\s*(?P<unit>x|ms|%)?\s+(?:\([^)]*\)\s+)?"
    r"target\s*<=?\s*(?P<target>[\d.]+)\s*(?P<tunit>x|ms|%)?")


def parse(lines):
    """Returns (benchmarks, targets): lists of dicts, in the order they were printed."""
    benchmarks, targets = [], []
    for raw in lines:
        line = ANSI.sub("", raw).rstrip("\n")
        m = TARGET_LINE.match(line.lstrip())
        if m:
            unit = m.group("unit") or m.group("tunit") or ""
            what = m.group("what").strip()
            if line[:1].isspace() and targets:
                what = f"{targets[-1]['what']}: {what}"
            targets.append({
                "what": what,
                "value": float(m.group("value")),
                "unit": unit,
                "target": float(m.group("target")),
                "ok": "MISSED" not in line,
            })
            continue
        m = BENCH_ROW.match(line)
        if m and not line.startswith("Benchmark"):
            benchmarks.append({
                "name": m.group("name").strip(),
                "time_us": float(m.group("time")) * UNITS_US[m.group("tunit")],
                "cpu_us": float(m.group("cpu")) * UNITS_US[m.group("cunit")],
                "iterations": int(m.group("iters")),
            })
    return benchmarks, targets


def label(text):
    """A label for gnuplot's data file (tics are noenhanced), shortened to fit under a bar."""
    if len(text) > 48:
        text = text[:47] + "~"
    return '"' + text.replace("\\", "/").replace('"', "'") + '"'


def write_data(path, rows):
    with open(path, "w", encoding="utf-8") as out:
        for row in rows:
            out.write(" ".join(str(v) for v in row) + "\n")


def bar_plot(outdir, name, title, ylabel, rows, logscale=False, columns=("value", "target")):
    """A clustered bar chart of rows (label, a, b) into OUTDIR/NAME.svg."""
    data = os.path.join(outdir, name + ".dat")
    write_data(data, [(label(r[0]), r[1], r[2]) for r in rows])
    width = max(640, 90 * len(rows) + 200)
    script = f"""
set terminal svg size {width},520 dynamic font "Helvetica,11"
set output "{os.path.join(outdir, name + '.svg')}"
set title "{title}"
set ylabel "{ylabel}"
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set xtics rotate by -35 left noenhanced
set key top left
set grid ytics
set bmargin 16
{"set logscale y" if logscale else "set yrange [0:*]"}
plot "{data}" using 2:xtic(1) title "{columns[0]}" lc rgb "#3b6ea5", \\
     "" using 3 title "{columns[1]}" lc rgb "#c8a03c"
"""
    subprocess.run(["gnuplot"], input=script, text=True, check=True)


def main(argv):
    if len(argv) != 3:
        sys.stderr.write(__doc__)
        return 64
    results, outdir = argv[1], argv[2]
    try:
        with open(results, encoding="utf-8", errors="replace") as f:
            benchmarks, targets = parse(f)
    except OSError as e:
        sys.stderr.write(f"bench-report: cannot read {results}: {e.strerror} (run `make bench` first)\n")
        return 66
    if not benchmarks and not targets:
        sys.stderr.write(f"bench-report: {results} holds no benchmark results\n")
        return 65
    os.makedirs(outdir, exist_ok=True)
    written = []
    ratios = [(t["what"], t["value"], t["target"]) for t in targets if t["unit"] == "x"]
    if ratios:
        bar_plot(outdir, "ratios", "heartlock / floor measured in the same run (lower is better)",
                 "ratio", ratios, columns=("measured", "target"))
        written.append("ratios.svg")
    latencies = [(t["what"], t["value"], t["target"]) for t in targets if t["unit"] == "ms"]
    if latencies:
        bar_plot(outdir, "latencies", "latencies against their targets", "ms", latencies,
                 columns=("measured", "target"))
        written.append("latencies.svg")
    if benchmarks:
        bar_plot(outdir, "times", "time per operation (wall and CPU)", "microseconds",
                 [(b["name"], b["time_us"], b["cpu_us"]) for b in benchmarks], logscale=True,
                 columns=("wall", "CPU"))
        written.append("times.svg")
    with open(os.path.join(outdir, "summary.txt"), "w", encoding="utf-8") as out:
        for t in targets:
            out.write(f"{t['what']}: {t['value']:g}{t['unit']} (target {t['target']:g}{t['unit']}) "
                      f"{'ok' if t['ok'] else 'MISSED'}\n")
        for b in benchmarks:
            out.write(f"{b['name']}: {b['time_us']:.3f} us wall, {b['cpu_us']:.3f} us CPU\n")
    written.append("summary.txt")
    missed = sum(1 for t in targets if not t["ok"])
    print(f"bench-report: {len(benchmarks)} benchmarks, {len(targets)} targets ({missed} missed) "
          f"from {results}: {', '.join(os.path.join(outdir, w) for w in written)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

#!/usr/bin/env python3
"""The examples of README.md and docs/*.md work: every fenced block marked with an HTML comment
`<!-- test -->` (or `<!-- test: KIND -->`) on the line before it is run or checked.

Kinds, from the marker or else the fence's language:
  console  `$ COMMAND` lines (a trailing backslash continues one), each followed by the output it
           must print (stdout and stderr together), compared exactly; run with bash in a temporary
           directory, the built heartlock first in PATH and HEARTLOCK_DIR a fresh lock directory.
  sh       a script run the same way with `bash -eu`; it must exit 0.
  crontab  written to a file and checked with `heartlock cron --check` (schedules, directives).
  cpp      compiled with `CXX -std=c++23 -fsyntax-only -Wall -Wextra -Werror` against the include
           directory: #include lines at the top, the rest inside a function, after declarations of
           the helpers the examples call (work_left, do_some_work).
  systemd NAME  a unit file called NAME, checked with `systemd-analyze verify` together with the
           other units of the same document, /usr/bin/heartlock replaced by the built binary
           (skipped without systemd-analyze).

Usage: doc_examples_test.py HEARTLOCK_BINARY INCLUDE_DIR CXX FILE.md...
Each file must hold at least one marked block, so the markers cannot silently disappear.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

MARKER = re.compile(r"^<!--\s*test(?::\s*(\S+)(?:\s+(\S+))?)?\s*-->\s*$")
FENCE = re.compile(r"^```\s*(\S*)\s*$")

# README's C++ example calls these; they stand for the application's own code.
CPP_PRELUDE = """#include <cstdint>
bool work_left();
void do_some_work(std::uint64_t token);
"""
# -Wextra with -Werror, as a strict consumer compiles: the options aggregates give every member a
# default, so designated initialisers that leave some out do not warn (g++ 12).
CPP_FLAGS = ["-std=c++23", "-fsyntax-only", "-Wall", "-Wextra", "-Werror"]


def blocks(path):
    """Yields (line number, kind, argument, text) of every marked block of the file."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    i = 0
    while i < len(lines):
        m = MARKER.match(lines[i])
        if not m:
            i += 1
            continue
        start = i + 1
        while start < len(lines) and not lines[start].strip():
            start += 1
        fence = FENCE.match(lines[start]) if start < len(lines) else None
        if not fence:
            raise SystemExit(f"{path}:{i + 1}: a test marker not followed by a fenced block")
        end = start + 1
        while end < len(lines) and not lines[end].startswith("```"):
            end += 1
        kind = m.group(1) or fence.group(1)
        yield start + 1, kind, m.group(2), "\n".join(lines[start + 1:end]) + "\n"
        i = end + 1


def environment(work, binary):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("HEARTLOCK_") or k == "HEARTLOCK_TZ_MODULE"}
    env["PATH"] = os.path.dirname(os.path.abspath(binary)) + os.pathsep + env.get("PATH", "")
    env["HEARTLOCK_DIR"] = os.path.join(work, "locks")
    return env


def console_commands(text):
    """[(command, expected output)] of a console block."""
    result, command, expected, continued = [], None, [], False
    for line in text.rstrip("\n").split("\n"):
        if continued:
            command += "\n" + line
            continued = line.endswith("\\")
        elif line.startswith("$ "):
            if command is not None:
                result.append((command, "\n".join(expected)))
            command, expected = line[2:], []
            continued = line.endswith("\\")
        elif command is not None:
            expected.append(line)
    if command is not None:
        result.append((command, "\n".join(expected)))
    return result


def run_console(text, work, env):
    for command, expected in console_commands(text):
        out = subprocess.run(["bash", "-c", command], cwd=work, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, timeout=30)
        got = out.stdout.rstrip("\n")
        if got != expected.rstrip("\n"):
            return f"$ {command}\nexpected:\n{expected}\ngot (exit {out.returncode}):\n{got}"
    return None


def run_sh(text, work, env):
    out = subprocess.run(["bash", "-eu", "-c", text], cwd=work, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, timeout=30)
    return None if out.returncode == 0 else f"exit {out.returncode}:\n{out.stdout}"


def run_crontab(text, work, env, binary):
    path = os.path.join(work, "crontab")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    out = subprocess.run([binary, "cron", "--check", path], cwd=work, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=30)
    return None if out.returncode == 0 else f"cron --check: exit {out.returncode}:\n{out.stdout}"


def start_cpp(text, work, include, cxx, index):
    """Starts compiling a C++ block (the slowest check, so it runs while the others do)."""
    head = [l for l in text.split("\n") if l.startswith("#include")]
    body = [l for l in text.split("\n") if not l.startswith("#include")]
    source = os.path.join(work, f"example{index}.cc")
    with open(source, "w", encoding="utf-8") as f:
        f.write("\n".join(head) + "\n" + CPP_PRELUDE + "void example() {\n" + "\n".join(body) +
                "\n}\n")
    return subprocess.Popen([cxx, *CPP_FLAGS, "-I", include, source], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def verify_units(units, work, binary):
    """None if the units pass systemd-analyze verify with no warning about them."""
    if not units or not shutil.which("systemd-analyze"):
        return None
    paths = []
    for name, text in units:
        path = os.path.join(work, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text.replace("/usr/bin/heartlock", os.path.abspath(binary)))
        paths.append(path)
    out = subprocess.run(["systemd-analyze", "verify", "--man=no", *paths], cwd=work,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
    warned = [l for l in out.stdout.split("\n") if any(n for n, _ in units if n in l)]
    if out.returncode != 0 or warned:
        return f"systemd-analyze verify (exit {out.returncode}):\n{out.stdout}"
    return None


def check_file(path, binary, include, cxx):
    failures, count, units, compiles = [], 0, [], []
    with tempfile.TemporaryDirectory(prefix="heartlock-doc-") as work:
        env = environment(work, binary)
        for line, kind, arg, text in blocks(path):
            count += 1
            if kind == "console":
                failure = run_console(text, work, env)
            elif kind == "sh":
                failure = run_sh(text, work, env)
            elif kind == "crontab":
                failure = run_crontab(text, work, env, binary)
            elif kind == "cpp":
                compiles.append((line, start_cpp(text, work, include, cxx, len(compiles))))
                continue
            elif kind == "systemd" and arg:
                units.append((arg, text))
                failure = None
            else:
                failure = f"unknown test kind '{kind}'"
            print(f"{path}:{line}: {kind}{' ' + arg if arg else ''}: "
                  f"{'ok' if failure is None else 'FAILED'}")
            if failure is not None:
                failures.append(f"{path}:{line}: {failure}")
        failure = verify_units(units, work, binary)
        if failure is not None:
            failures.append(f"{path}: {failure}")
        for line, compile_job in compiles:
            output, _ = compile_job.communicate(timeout=120)
            print(f"{path}:{line}: cpp: {'ok' if compile_job.returncode == 0 else 'FAILED'}")
            if compile_job.returncode != 0:
                failures.append(f"{path}:{line}: {output}")
    if count == 0:
        failures.append(f"{path}: no <!-- test --> block")
    return failures


def main(argv):
    if len(argv) < 5:
        sys.stderr.write(__doc__)
        return 64
    binary, include, cxx = os.path.abspath(argv[1]), os.path.abspath(argv[2]), argv[3]
    failures = []
    for path in argv[4:]:
        failures += check_file(path, binary, include, cxx)
    for f in failures:
        print("\n" + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

#!/usr/bin/env python3
"""Checks that heartlock(1) and the CLI's --help agree.

Usage: man_options_test.py HEARTLOCK MAN_SOURCE            the option check
       man_options_test.py HEARTLOCK MAN_SOURCE --render SCDOC   render with scdoc (and man -l)

The option check: every subcommand `heartlock --help` lists has a `## NAME` section in the man
page; every option a `--help` prints (short and long) appears in the man page, a subcommand's own
options in its section (or under GLOBAL OPTIONS); and every `--option` the man page names is one
some `--help` prints. The render check exits 77 (skipped) when SCDOC is not an executable.
"""

import os
import re
import shutil
import subprocess
import sys

OPTION_LINE = re.compile(r"^\s+(-[^\s].*?)(\s{2,}|$)")
LONG_OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
SHORT_OPTION = re.compile(r"(?<![\w-])-[A-Za-z](?![\w-])")


def help_text(heartlock, *args):
    result = subprocess.run([heartlock, *args, "--help"], capture_output=True, text=True,
                            timeout=30, check=False)
    if result.returncode != 0:
        sys.exit(f"FAIL: heartlock {' '.join(args)} --help exited {result.returncode}")
    return result.stdout


def options_of(text):
    """The options of a --help: the option column of its OPTIONS lines (not the prose)."""
    options = set()
    section = ""
    for line in text.splitlines():
        if not line.strip():  # a section ends at a blank line (the footer follows)
            section = ""
            continue
        if re.match(r"^[A-Z][A-Za-z ]*:\s*$", line):
            section = line.strip().lower()
            continue
        match = OPTION_LINE.match(line)
        if section == "options:" and match:
            spec = match.group(1)
            options.update(LONG_OPTION.findall(spec))
            options.update(SHORT_OPTION.findall(spec))
    return options


def subcommands_of(text):
    names = []
    section = ""
    for line in text.splitlines():
        if not line.strip():  # a section ends at a blank line (the footer follows)
            section = ""
            continue
        if re.match(r"^[A-Z][A-Za-z ]*:\s*$", line):
            section = line.strip().lower()
            continue
        match = re.match(r"^\s+([a-z][a-z-]*)(\s|$)", line)
        if section == "subcommands:" and match:
            names.append(match.group(1))
    return names


def sections_of(man):
    """The man page's text per `#` and `##` heading, comments removed."""
    sections = {}
    current = ""
    for line in man.splitlines():
        if line.startswith(";"):
            continue
        heading = re.match(r"^#{1,2} (.+)$", line)
        if heading:
            current = heading.group(1).strip()
            sections[current] = ""
            continue
        sections[current] = sections.get(current, "") + line + "\n"
    return sections


def mentions(text, option):
    return re.search(r"(?<![\w-])" + re.escape(option) + r"(?![\w-])", text) is not None


def check_options(heartlock, man_path):
    with open(man_path, encoding="utf-8") as f:
        man = f.read()
    sections = sections_of(man)
    body = "".join(sections.values())
    errors = []

    top = help_text(heartlock)
    subcommands = subcommands_of(top)
    if not subcommands:
        errors.append("heartlock --help lists no subcommands (has its format changed?)")
    global_options = options_of(top)
    every_option = set(global_options)
    for option in sorted(global_options):
        if not mentions(sections.get("GLOBAL OPTIONS", ""), option):
            errors.append(f"global option {option} is not under GLOBAL OPTIONS in {man_path}")

    for sub in subcommands:
        section = sections.get(sub)
        if section is None:
            errors.append(f"subcommand {sub} has no '## {sub}' section in {man_path}")
            section = ""
        own = options_of(help_text(heartlock, sub))
        every_option |= own
        for option in sorted(own):
            if option in global_options and mentions(sections.get("GLOBAL OPTIONS", ""), option):
                continue
            if option in ("-h", "--help"):  # every subcommand takes it; GLOBAL OPTIONS says so
                continue
            if not mentions(section, option):
                errors.append(f"{sub} {option} (heartlock {sub} --help) is not in the man "
                              f"page's '## {sub}' section")

    for option in sorted(set(LONG_OPTION.findall(body))):
        if option not in every_option:
            errors.append(f"{option} is in {man_path} but in no --help of heartlock")

    for error in errors:
        print("FAIL:", error)
    if errors:
        return 1
    print(f"ok: {len(subcommands)} subcommands, {len(every_option)} options agree")
    return 0


def check_render(man_path, scdoc):
    if not scdoc or not os.access(scdoc, os.X_OK):
        print("SKIP: scdoc is not installed (Debian package scdoc)")
        return 77
    with open(man_path, "rb") as f:
        rendered = subprocess.run([scdoc], stdin=f, capture_output=True, timeout=30, check=False)
    if rendered.returncode != 0:
        print("FAIL: scdoc:", rendered.stderr.decode(errors="replace"))
        return 1
    man = shutil.which("man")
    if man is None:
        print("ok: rendered by scdoc (man is not installed: not formatted)")
        return 0
    tmp = os.environ.get("TMPDIR", "/tmp")
    page = os.path.join(tmp, f"heartlock-man-test-{os.getpid()}.1")
    try:
        with open(page, "wb") as f:
            f.write(rendered.stdout)
        formatted = subprocess.run([man, "--warnings", "-l", page], capture_output=True,
                                   env={**os.environ, "MANWIDTH": "80", "MAN_KEEP_FORMATTING": ""},
                                   timeout=60, check=False)
    finally:
        os.unlink(page)
    warnings = formatted.stderr.decode(errors="replace").strip()
    if formatted.returncode != 0 or warnings:
        print(f"FAIL: man -l exited {formatted.returncode}: {warnings}")
        return 1
    if b"heartlock run" not in formatted.stdout.replace(b"\x08", b""):
        print("FAIL: the formatted page does not mention 'heartlock run'")
        return 1
    print("ok: rendered by scdoc and formatted by man -l without warnings")
    return 0


def main(argv):
    if len(argv) == 3:
        return check_options(argv[1], argv[2])
    if len(argv) == 5 and argv[3] == "--render":
        return check_render(argv[2], argv[4])
    print(__doc__)
    return 64


if __name__ == "__main__":
    sys.exit(main(sys.argv))

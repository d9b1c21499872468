"""A small, complete content folder built in a temporary directory, for engine and loader tests.

Every template renders as ``<lang>:<file>.<block>`` so a test can see which one was used, in which
language, without depending on the wording of the real content.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from flows.loader import ACTION_BLOCKS, COMMON_BLOCKS

DEMO_FLOWS = """\
flows:
  demo:
    title: {fi: Demo fi, sv: Demo sv, en: Demo en}
    intents: [register_jobseeker]
    steps:
      - id: intro
        say: intro
      - id: citizenship
        choice: ask_citizenship
        slot: citizenship
        options:
          - id: eu
            next: codes
          - id: other
            next: in_person
      - id: codes
        ask: ask_codes
        slot: has_codes
        type: yes_no
      - id: check
        branch:
          - if: "has_codes"
            next: when
          - else: in_person
      - id: when
        ask: ask_when
        slot: start_date
        type: date
        future: true
      - id: count
        ask: ask_count
        slot: count
        type: number
        min: 0
        max: 10
      - id: deadline
        action: working_days_deadline
        args: {days: 2, slot: assessment_due}
      - id: helpme
        call: short
      - id: done
        end: done
      - id: in_person
        handoff: in_person
        reason: no_identification
  short:
    title: {fi: Lyhyt, sv: Kort, en: Short}
    intents: [startup_grant]
    steps:
      - say: answer
  video:
    title: {fi: Video fi, sv: Video sv, en: Video en}
    intents: [join_video_meeting]
    steps:
      - id: device
        choice: ask_device
        options: [computer, phone]
      - id: bye
        say: bye
"""

COMMANDS = """\
commands:
  back: {fi: [takaisin], sv: [tillbaka], en: [back]}
  repeat: {fi: [toista], sv: [upprepa], en: [repeat]}
  restart: {fi: [alusta], sv: [börja om], en: [start over]}
  cancel: {fi: [peruuta], sv: [avbryt], en: [cancel]}
  menu: {fi: [valikko], sv: [meny], en: [menu]}
  human: {fi: [ihminen], sv: [människa], en: [human]}
  language: {fi: [kieli], sv: [språk], en: [language]}
  yes: {fi: [kyllä, joo], sv: [ja], en: [yes]}
  no: {fi: [ei], sv: [nej], en: ["no"]}
languages:
  fi: [suomeksi]
  sv: [på svenska]
  en: [in english]
"""

FLOW_BLOCKS = {
    "demo": ["intro", "ask_citizenship", "opt_eu", "opt_other", "ask_codes", "ask_when", "ask_count",
             "done", "in_person"],
    "short": ["answer"],
    "video": ["ask_device", "opt_computer", "opt_phone", "bye"],
}


def _blocks(lang: str, stem: str, names: list[str]) -> str:
    return "\n".join(f"{{% block {n} %}}{lang}:{stem}.{n}{{% endblock %}}" for n in names) + "\n"


def write_content(root: Path, *, flows: str = DEMO_FLOWS, drop: tuple[str, ...] = ()) -> Path:
    """Write the mini content under ``root``; ``drop`` names ``lang/stem.block`` templates to leave out."""
    (root / "flows").mkdir(parents=True, exist_ok=True)
    (root / "flows" / "demo.yml").write_text(flows, encoding="utf-8")
    (root / "commands.yml").write_text(COMMANDS, encoding="utf-8")
    (root / "menu.yml").write_text("menu: [demo, video]\n", encoding="utf-8")
    (root / "settings.yml").write_text(
        textwrap.dedent("""\
            office:
              phone: "+358 29 000 000"
              phone_hours: {fi: ma–pe 9–16, sv: mån–fre 9–16, en: Mon–Fri 9–16}
        """),
        encoding="utf-8",
    )
    files = {"common": list(COMMON_BLOCKS), "actions": list(ACTION_BLOCKS), **FLOW_BLOCKS}
    for lang in ("fi", "sv", "en"):
        folder = root / "templates" / lang
        folder.mkdir(parents=True, exist_ok=True)
        for stem, names in files.items():
            kept = [n for n in names if f"{lang}/{stem}.{n}" not in drop]
            (folder / f"{stem}.j2").write_text(_blocks(lang, stem, kept), encoding="utf-8")
    return root

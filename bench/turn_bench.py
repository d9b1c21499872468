"""Turn latency: the pure engine alone, and a full turn with a SQLite commit.

    python bench/turn_bench.py [--turns 2000] [--nlu none|builtin]

A scripted customer walks the real content: it starts a menu topic, presses the first button of
every question, and starts the next topic when a flow ends. The same walk is timed

- core:  ``flows.engine.step`` on an already parsed message (no NLU, no I/O);
- full:  ``TurnProcessor.process``: load state, parse, step, one SQLite transaction (claim, state,
         redacted transcript, effects), render. ``--nlu none`` parses with a stub that only knows
         button payloads and ``/intent``, so the figure is the shell's own cost; ``--nlu builtin``
         adds the real classifier.

Prints p50/p99 latency, turns per second and the process's peak RSS.
Targets (issue #4): core p50 <= 0.2 ms; full turn with SQLite p50 <= 5 ms.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.store import Store  # noqa: E402
from bot.turns import TurnProcessor  # noqa: E402
from flows import engine  # noqa: E402
from flows.content import Content  # noqa: E402
from flows.loader import load_content  # noqa: E402
from flows.model import OUT_OF_SCOPE, Outcome, ParsedMessage, State  # noqa: E402
from flows.render import Renderer  # noqa: E402
from nlu.data import read_path  # noqa: E402

NOW = datetime(2025, 3, 4, 10, 0, tzinfo=ZoneInfo("Europe/Helsinki"))


@dataclass
class PayloadParser:
    """Knows only what buttons send (``/intent``, choice payloads); everything else is out of scope."""

    intents: frozenset[str]

    def parse(self, text: str, lang_hint: str | None = None, now: datetime | None = None) -> ParsedMessage:
        if text.startswith("/") and text[1:] in self.intents:
            return ParsedMessage(text=text, intent=text[1:], confidence=1.0, language=lang_hint)
        return ParsedMessage(text=text, intent=OUT_OF_SCOPE, confidence=0.0, language=lang_hint)


class Customer:
    """Chooses the next message from the last answer: the first button, or the next menu topic."""

    def __init__(self, content: Content) -> None:
        self._topics = [f"/{content.flows[f].intents[0]}" for f in content.menu]
        self._next_topic = 0

    def next_message(self, buttons: list[str], in_flow: bool) -> str:
        if buttons and in_flow:
            return buttons[0]
        topic = self._topics[self._next_topic % len(self._topics)]
        self._next_topic += 1
        return topic


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def report(name: str, samples: list[float], wall: float) -> None:
    ms = [s * 1000 for s in samples]
    print(
        f"{name:<28} n={len(ms):>5}  p50={statistics.median(ms):7.3f} ms  p99={percentile(ms, 99):7.3f} ms  "
        f"mean={statistics.fmean(ms):7.3f} ms  {len(ms) / wall:8.0f} turns/s"
    )


def bench_core(content: Content, turns: int) -> None:
    parser = PayloadParser(frozenset(content.intent_flows))
    customer = Customer(content)
    state = State(language="fi")
    outcome: Outcome | None = None
    samples: list[float] = []
    clock = time.perf_counter
    for _ in range(50):  # warm caches (compiled conditions, lru caches)
        state = engine.step(content, state, parser.parse(customer.next_message([], False)), now=NOW).state
    wall_start = clock()
    for _ in range(turns):
        buttons = [b.payload for r in (outcome.replies if outcome else ()) for b in r.buttons]
        message = parser.parse(customer.next_message(buttons, bool(state.stack)), lang_hint=state.language)
        start = clock()
        outcome = engine.step(content, state, message, now=NOW)
        samples.append(clock() - start)
        state = outcome.state
    report("core (engine.step)", samples, clock() - wall_start)


def bench_full(content: Content, renderer: Renderer, parser_name: str, turns: int) -> None:
    if parser_name == "builtin":
        from bot.settings import load_settings
        from bot.turns import build_interpreter

        interpreter = build_interpreter(load_settings())
    else:
        interpreter = PayloadParser(frozenset(content.intent_flows))
    with tempfile.TemporaryDirectory() as folder:
        store = Store.open(f"sqlite:///{folder}/bench.sqlite3")
        ticks = iter(NOW + timedelta(seconds=i) for i in range(10**9))
        clock_now: Callable[[], datetime] = lambda: next(ticks)  # noqa: E731
        processor = TurnProcessor(
            content=content, store=store, interpreter=interpreter, renderer=renderer, clock=clock_now
        )
        customer = Customer(content)
        samples: list[float] = []
        users = [f"user{i}" for i in range(20)]  # several conversations, as in real use
        last: dict[str, list[str]] = {u: [] for u in users}
        in_flow: dict[str, bool] = {u: False for u in users}
        for user in users:
            processor.start_conversation("bench", user, language="fi")
        clock = time.perf_counter
        wall_start = clock()
        for i in range(turns):
            user = users[i % len(users)]
            text = customer.next_message(last[user], in_flow[user])
            start = clock()
            result = processor.process("bench", user, text)
            samples.append(clock() - start)
            last[user] = [payload for m in result.messages for _, payload in m.buttons]
            in_flow[user] = bool(result.state and result.state.stack)
        report(f"full turn, SQLite, nlu={parser_name}", samples, clock() - wall_start)
        store.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=2000)
    parser.add_argument("--nlu", choices=("none", "builtin"), default="none")
    args = parser.parse_args()
    started = time.perf_counter()
    known = read_path(ROOT / "content" / "nlu").intents
    content = load_content(ROOT / "content", known_intents=known)
    renderer = Renderer(content)
    print(f"content loaded in {time.perf_counter() - started:.2f} s: {len(content.flows)} flows")
    bench_core(content, args.turns * 5)
    bench_full(content, renderer, args.nlu, args.turns)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"peak RSS {peak_kb / 1024:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
